#pragma once
// A parsed HTML5 document (gumbo) and read-only helpers over its nodes: text,
// serialization, attributes, tree walking. No JavaScript here: src/k6/html_module.cc
// binds it to k6/html.

#include <gumbo.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace herd::html {

using Node = const GumboNode*;

/// Owns one parsed document. Every allocation gumbo makes goes through this
/// object and is released in the destructor without walking the tree, so a
/// hostile page nested 100k levels deep cannot overflow a fiber's stack.
/// Nodes stay valid while the Document lives; it is never modified after
/// parsing. Not thread-safe (one VU uses it).
class Document {
 public:
  /// Parses `html` as a whole HTML5 document (any bytes: the parser never fails).
  static std::shared_ptr<Document> parse(std::string_view html);
  ~Document();
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  /// The document node (GUMBO_NODE_DOCUMENT); never null.
  Node root() const { return output_->document; }

 private:
  Document() = default;
  static void* allocate(void* self, size_t size);
  static void deallocate(void* self, void* ptr);

  std::string source_;  ///< gumbo's original_tag pieces point into it
  std::unordered_set<void*> blocks_;
  GumboOutput* output_ = nullptr;
};

/// True for element and template nodes.
bool is_element(Node n);
/// Lower-case tag name of an element ("div", or the original name of an unknown tag); "" otherwise.
std::string tag_name(Node n);
/// DOM nodeName: the tag name for elements (lower case), "#text", "#comment", "#document", "#cdata-section".
std::string node_name(Node n);
/// DOM nodeType: 1 element, 3 text, 4 CDATA, 8 comment, 9 document.
int node_type(Node n);
/// An attribute's value, or nullptr if absent (names compare case-insensitively).
const char* attribute(Node n, std::string_view name);
/// The node's children (elements, text, comments...), empty for leaves.
const GumboVector* child_vector(Node n);
/// Element children only, in order.
std::vector<Node> element_children(Node n);
/// Parent node, or nullptr at the document.
Node parent_of(Node n);
/// Previous / next sibling node of any type, or nullptr.
Node prev_sibling(Node n);
Node next_sibling(Node n);
/// Previous / next element sibling, or nullptr.
Node prev_element(Node n);
Node next_element(Node n);
/// The node following `n` in document order inside `scope`'s subtree, or nullptr.
/// Iterative (no recursion): safe on any depth.
Node next_in_subtree(Node n, Node scope);
/// Concatenated text of every text/CDATA/whitespace node under `n` (DOM textContent).
std::string text_content(Node n);
/// The text of `n`'s direct text children only.
std::string own_text(Node n);
/// Markup of `n`'s children / of `n` itself (HTML serialization: escaped text,
/// quoted attributes, no end tags for void elements).
std::string inner_html(Node n);
std::string outer_html(Node n);
/// Whitespace-separated tokens of the class attribute.
std::vector<std::string> class_list(Node n);
/// True if `n` is `ancestor` or lies inside it.
bool contains(Node ancestor, Node n);

}  // namespace herd::html
