#pragma once
// Internals shared by the k6/html binding files (html_module.cc: the module
// and Selection; html_element.cc: Element; html_forms.cc: form values and
// Response.submitForm/clickLink). Not part of the k6 module API.

#include <quickjs.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "html/document.h"
#include "html/selector.h"

namespace herd::k6::htmljs {

/// What a JS Selection holds: the document (kept alive), the matched nodes in
/// order, and the selection it was derived from (for end()). Immutable.
struct SelectionData {
  std::shared_ptr<html::Document> doc;
  std::vector<html::Node> nodes;
  std::shared_ptr<const SelectionData> prev;
};

/// What a JS Element holds: one node of a document kept alive.
struct ElementData {
  std::shared_ptr<html::Document> doc;
  html::Node node;
};

/// Registers the Selection and Element classes in the runtime and their
/// prototypes in `ctx`, once per context (nothing until a script uses k6/html).
void ensure_classes(JSContext* ctx);

/// A new JS Selection object.
JSValue new_selection(JSContext* ctx, std::shared_ptr<html::Document> doc, std::vector<html::Node> nodes,
                      std::shared_ptr<const SelectionData> prev);
/// A Selection over the whole parsed `html` text.
JSValue parse_to_selection(JSContext* ctx, std::string_view html);
/// A new JS Element for `n`, or undefined when `n` is null.
JSValue new_element(JSContext* ctx, const std::shared_ptr<html::Document>& doc, html::Node n);
/// The Selection behind a JS value, or null (no exception) if it is not one.
std::shared_ptr<const SelectionData> selection_of(JSValueConst v);
/// The data behind a JS Element value, or null if it is not one.
const ElementData* element_of(JSValueConst v);

/// Parses a selector argument; on failure throws a JS SyntaxError and returns false.
bool compile_selector(JSContext* ctx, JSValueConst arg, html::SelectorList* out);

/// Element methods, installed on the Element prototype by ensure_classes.
void install_element_methods(JSContext* ctx, JSValue proto);

/// Form values, jQuery rules: the successful controls of the given forms or
/// controls, as (name, value) pairs in document order.
std::vector<std::pair<std::string, std::string>> form_pairs(const std::vector<html::Node>& nodes);
/// .val() of one element: a string, an array (select multiple) or undefined.
JSValue element_value(JSContext* ctx, html::Node n);
/// application/x-www-form-urlencoded encoding of pairs ("a=1&b=x+y").
std::string url_encode_pairs(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace herd::k6::htmljs
