#include "html/document.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace herd::html {

void* Document::allocate(void* self, size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (!p) std::abort();  // gumbo cannot handle a failed allocation
  static_cast<Document*>(self)->blocks_.insert(p);
  return p;
}

void Document::deallocate(void* self, void* ptr) {
  if (!ptr) return;
  static_cast<Document*>(self)->blocks_.erase(ptr);
  std::free(ptr);
}

std::shared_ptr<Document> Document::parse(std::string_view html) {
  std::shared_ptr<Document> d(new Document());
  d->source_.assign(html.data(), html.size());
  GumboOptions opts = kGumboDefaultOptions;
  opts.allocator = &Document::allocate;
  opts.deallocator = &Document::deallocate;
  opts.userdata = d.get();
  opts.max_errors = 0;
  d->output_ = gumbo_parse_with_options(&opts, d->source_.data(), d->source_.size());
  return d;
}

Document::~Document() {
  // Everything gumbo still holds is in blocks_: free it without walking the tree.
  for (void* p : blocks_) std::free(p);
}

bool is_element(Node n) {
  return n && (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE);
}

std::string tag_name(Node n) {
  if (!is_element(n)) return "";
  const GumboElement& e = n->v.element;
  if (e.tag != GUMBO_TAG_UNKNOWN) return gumbo_normalized_tagname(e.tag);
  GumboStringPiece piece = e.original_tag;
  gumbo_tag_from_original_text(&piece);
  std::string out(piece.data ? piece.data : "", piece.data ? piece.length : 0);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string node_name(Node n) {
  switch (n->type) {
    case GUMBO_NODE_DOCUMENT:
      return "#document";
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
      return tag_name(n);
    case GUMBO_NODE_COMMENT:
      return "#comment";
    case GUMBO_NODE_CDATA:
      return "#cdata-section";
    default:
      return "#text";
  }
}

int node_type(Node n) {
  switch (n->type) {
    case GUMBO_NODE_DOCUMENT:
      return 9;
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
      return 1;
    case GUMBO_NODE_COMMENT:
      return 8;
    case GUMBO_NODE_CDATA:
      return 4;
    default:
      return 3;
  }
}

const char* attribute(Node n, std::string_view name) {
  if (!is_element(n)) return nullptr;
  const GumboVector& attrs = n->v.element.attributes;
  for (unsigned i = 0; i < attrs.length; i++) {
    auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
    if (std::strlen(a->name) == name.size() && strncasecmp(a->name, name.data(), name.size()) == 0) return a->value;
  }
  return nullptr;
}

const GumboVector* child_vector(Node n) {
  static const GumboVector kEmpty = {nullptr, 0, 0};
  if (!n) return &kEmpty;
  if (n->type == GUMBO_NODE_DOCUMENT) return &n->v.document.children;
  if (is_element(n)) return &n->v.element.children;
  return &kEmpty;
}

std::vector<Node> element_children(Node n) {
  std::vector<Node> out;
  const GumboVector* v = child_vector(n);
  for (unsigned i = 0; i < v->length; i++) {
    auto c = static_cast<Node>(v->data[i]);
    if (is_element(c)) out.push_back(c);
  }
  return out;
}

Node parent_of(Node n) {
  return n ? n->parent : nullptr;
}

Node prev_sibling(Node n) {
  Node p = parent_of(n);
  if (!p || n->index_within_parent == 0) return nullptr;
  const GumboVector* v = child_vector(p);
  std::size_t i = n->index_within_parent;
  return i - 1 < v->length ? static_cast<Node>(v->data[i - 1]) : nullptr;
}

Node next_sibling(Node n) {
  Node p = parent_of(n);
  if (!p) return nullptr;
  const GumboVector* v = child_vector(p);
  std::size_t i = n->index_within_parent + 1;
  return i < v->length ? static_cast<Node>(v->data[i]) : nullptr;
}

Node prev_element(Node n) {
  for (Node s = prev_sibling(n); s; s = prev_sibling(s))
    if (is_element(s)) return s;
  return nullptr;
}

Node next_element(Node n) {
  for (Node s = next_sibling(n); s; s = next_sibling(s))
    if (is_element(s)) return s;
  return nullptr;
}

Node next_in_subtree(Node n, Node scope) {
  const GumboVector* kids = child_vector(n);
  if (kids->length > 0) return static_cast<Node>(kids->data[0]);
  while (n && n != scope) {
    if (Node s = next_sibling(n)) return s;
    n = parent_of(n);
  }
  return nullptr;
}

namespace {

bool is_text(Node n) {
  return n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA;
}

bool is_void(GumboTag t) {
  switch (t) {
    case GUMBO_TAG_AREA:
    case GUMBO_TAG_BASE:
    case GUMBO_TAG_BR:
    case GUMBO_TAG_COL:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_IMG:
    case GUMBO_TAG_INPUT:
    case GUMBO_TAG_KEYGEN:
    case GUMBO_TAG_LINK:
    case GUMBO_TAG_META:
    case GUMBO_TAG_PARAM:
    case GUMBO_TAG_SOURCE:
    case GUMBO_TAG_TRACK:
    case GUMBO_TAG_WBR:
      return true;
    default:
      return false;
  }
}

bool is_raw_text(Node parent) {
  if (!is_element(parent)) return false;
  switch (parent->v.element.tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_XMP:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_NOEMBED:
    case GUMBO_TAG_NOFRAMES:
    case GUMBO_TAG_PLAINTEXT:
      return true;
    default:
      return false;
  }
}

void escape(std::string* out, const char* s, bool attr) {
  for (; *s; ++s) {
    switch (*s) {
      case '&':
        out->append("&amp;");
        break;
      case '<':
        if (attr)
          out->push_back('<');
        else
          out->append("&lt;");
        break;
      case '>':
        if (attr)
          out->push_back('>');
        else
          out->append("&gt;");
        break;
      case '"':
        if (attr)
          out->append("&quot;");
        else
          out->push_back('"');
        break;
      default:
        out->push_back(*s);
    }
  }
}

void open_tag(std::string* out, Node n) {
  out->push_back('<');
  out->append(tag_name(n));
  const GumboVector& attrs = n->v.element.attributes;
  for (unsigned i = 0; i < attrs.length; i++) {
    auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
    out->push_back(' ');
    out->append(a->name);
    out->append("=\"");
    escape(out, a->value, true);
    out->push_back('"');
  }
  out->push_back('>');
}

void close_tag(std::string* out, Node n) {
  if (is_void(n->v.element.tag)) return;
  out->append("</");
  out->append(tag_name(n));
  out->push_back('>');
}

// Serializes one node without its children (the opening part).
void serialize_open(std::string* out, Node n) {
  switch (n->type) {
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
      open_tag(out, n);
      break;
    case GUMBO_NODE_COMMENT:
      out->append("<!--");
      out->append(n->v.text.text);
      out->append("-->");
      break;
    case GUMBO_NODE_CDATA:
      out->append("<![CDATA[");
      out->append(n->v.text.text);
      out->append("]]>");
      break;
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_WHITESPACE:
      if (is_raw_text(n->parent))
        out->append(n->v.text.text);
      else
        escape(out, n->v.text.text, false);
      break;
    default:
      break;
  }
}

// Appends the markup of `scope`'s descendants, walking iteratively.
void serialize_children(std::string* out, Node scope) {
  const GumboVector* kids = child_vector(scope);
  if (kids->length == 0) return;
  Node n = static_cast<Node>(kids->data[0]);
  while (n) {
    serialize_open(out, n);
    const GumboVector* k = child_vector(n);
    if (k->length > 0) {
      n = static_cast<Node>(k->data[0]);
      continue;
    }
    // leaf: close it (elements) and climb until a next sibling exists
    for (;;) {
      if (is_element(n)) close_tag(out, n);
      Node s = next_sibling(n);
      if (s) {
        n = s;
        break;
      }
      n = parent_of(n);
      if (n == scope || !n) {
        n = nullptr;
        break;
      }
    }
  }
}

}  // namespace

std::string text_content(Node n) {
  std::string out;
  if (!is_element(n) && n->type != GUMBO_NODE_DOCUMENT) {
    if (n->type != GUMBO_NODE_COMMENT) out = n->v.text.text;
    return out;
  }
  for (Node c = next_in_subtree(n, n); c; c = next_in_subtree(c, n))
    if (is_text(c)) out.append(c->v.text.text);
  return out;
}

std::string own_text(Node n) {
  std::string out;
  const GumboVector* v = child_vector(n);
  for (unsigned i = 0; i < v->length; i++) {
    auto c = static_cast<Node>(v->data[i]);
    if (is_text(c)) out.append(c->v.text.text);
  }
  return out;
}

std::string inner_html(Node n) {
  std::string out;
  serialize_children(&out, n);
  return out;
}

std::string outer_html(Node n) {
  std::string out;
  if (n->type == GUMBO_NODE_DOCUMENT) {
    serialize_children(&out, n);
    return out;
  }
  serialize_open(&out, n);
  if (is_element(n)) {
    serialize_children(&out, n);
    close_tag(&out, n);
  }
  return out;
}

std::vector<std::string> class_list(Node n) {
  std::vector<std::string> out;
  const char* c = attribute(n, "class");
  if (!c) return out;
  std::string cur;
  for (const char* p = c;; ++p) {
    bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\0';
    if (ws) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur.push_back(*p);
    }
  }
  return out;
}

bool contains(Node ancestor, Node n) {
  for (; n; n = parent_of(n))
    if (n == ancestor) return true;
  return false;
}

}  // namespace herd::html
