// k6/html Element: DOM-style accessors (all methods, as in k6) over one node.
#include "k6/html_binding.h"
#include "k6/natives_util.h"

namespace herd::k6::htmljs {

namespace {

using html::Node;

enum Prop {
  kSelection,
  kNodeName,
  kNodeType,
  kNodeValue,
  kId,
  kInnerHTML,
  kTextContent,
  kOwnerDocument,
  kAttributes,
  kFirstChild,
  kLastChild,
  kChildElementCount,
  kFirstElementChild,
  kLastElementChild,
  kPreviousSibling,
  kNextSibling,
  kPreviousElementSibling,
  kNextElementSibling,
  kParentElement,
  kParentNode,
  kChildNodes,
  kChildren,
  kClassList,
  kClassName,
  kLang,
  kToString,
  kHasAttributes,
  kHasChildNodes,
  kNamespaceURI,
  kOuterHTML
};

JSValue node_array(JSContext* ctx, const ElementData& e, const std::vector<Node>& nodes) {
  JSValue arr = JS_NewArray(ctx);
  for (std::size_t i = 0; i < nodes.size(); i++)
    JS_SetPropertyUint32(ctx, arr, static_cast<uint32_t>(i), new_element(ctx, e.doc, nodes[i]));
  return arr;
}

std::vector<Node> all_children(Node n) {
  std::vector<Node> out;
  const GumboVector* v = html::child_vector(n);
  for (unsigned i = 0; i < v->length; i++) out.push_back(static_cast<Node>(v->data[i]));
  return out;
}

JSValue attribute_object(JSContext* ctx, const ElementData& e, const GumboAttribute* a) {
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "name", JS_NewString(ctx, a->name));
  JS_SetPropertyStr(ctx, o, "localName", JS_NewString(ctx, a->name));
  JS_SetPropertyStr(ctx, o, "prefix", JS_NewString(ctx, ""));
  JS_SetPropertyStr(ctx, o, "namespaceURI", JS_NewString(ctx, ""));
  JS_SetPropertyStr(ctx, o, "value", JS_NewString(ctx, a->value));
  JS_SetPropertyStr(ctx, o, "ownerElement", new_element(ctx, e.doc, e.node));
  return o;
}

const ElementData* self(JSContext* ctx, JSValueConst this_val) {
  const ElementData* e = element_of(this_val);
  if (!e) JS_ThrowTypeError(ctx, "not an Element");
  return e;
}

std::string attr_or_empty(Node n, const char* name) {
  const char* v = html::attribute(n, name);
  return v ? v : "";
}

JSValue el_prop(JSContext* ctx, JSValueConst this_val, int, JSValueConst*, int magic) {
  const ElementData* e = self(ctx, this_val);
  if (!e) return JS_EXCEPTION;
  Node n = e->node;
  auto el = [&](Node m) { return new_element(ctx, e->doc, m); };
  auto first_el = [&](bool last) -> Node {
    auto kids = html::element_children(n);
    return kids.empty() ? nullptr : last ? kids.back() : kids.front();
  };
  switch (magic) {
    case kSelection:
      return new_selection(ctx, e->doc, {n}, nullptr);
    case kNodeName:
      return new_string(ctx, html::node_name(n));
    case kNodeType:
      return JS_NewInt32(ctx, html::node_type(n));
    case kNodeValue:
      if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE || n->type == GUMBO_NODE_DOCUMENT)
        return JS_NULL;
      return JS_NewString(ctx, n->v.text.text);
    case kId:
      return new_string(ctx, attr_or_empty(n, "id"));
    case kInnerHTML:
      return new_string(ctx, html::inner_html(n));
    case kOuterHTML:
      return new_string(ctx, html::outer_html(n));
    case kTextContent:
      return new_string(ctx, html::text_content(n));
    case kOwnerDocument:
      return el(e->doc->root());
    case kAttributes: {
      JSValue o = JS_NewObject(ctx);
      if (html::is_element(n)) {
        const GumboVector& attrs = n->v.element.attributes;
        for (unsigned i = 0; i < attrs.length; i++) {
          auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
          JS_SetPropertyStr(ctx, o, a->name, attribute_object(ctx, *e, a));
        }
      }
      return o;
    }
    case kFirstChild: {
      auto kids = all_children(n);
      return kids.empty() ? JS_UNDEFINED : el(kids.front());
    }
    case kLastChild: {
      auto kids = all_children(n);
      return kids.empty() ? JS_UNDEFINED : el(kids.back());
    }
    case kChildElementCount:
      return JS_NewInt64(ctx, static_cast<int64_t>(html::element_children(n).size()));
    case kFirstElementChild:
      return el(first_el(false));
    case kLastElementChild:
      return el(first_el(true));
    case kPreviousSibling:
      return el(html::prev_sibling(n));
    case kNextSibling:
      return el(html::next_sibling(n));
    case kPreviousElementSibling:
      return el(html::prev_element(n));
    case kNextElementSibling:
      return el(html::next_element(n));
    case kParentElement: {
      Node p = html::parent_of(n);
      return html::is_element(p) ? el(p) : JS_UNDEFINED;
    }
    case kParentNode:
      return el(html::parent_of(n));
    case kChildNodes:
      return node_array(ctx, *e, all_children(n));
    case kChildren:
      return node_array(ctx, *e, html::element_children(n));
    case kClassList: {
      JSValue arr = JS_NewArray(ctx);
      auto list = html::class_list(n);
      for (std::size_t i = 0; i < list.size(); i++)
        JS_SetPropertyUint32(ctx, arr, static_cast<uint32_t>(i), new_string(ctx, list[i]));
      return arr;
    }
    case kClassName:
      return new_string(ctx, attr_or_empty(n, "class"));
    case kLang:
      return new_string(ctx, attr_or_empty(n, "lang"));
    case kToString:
      return new_string(ctx, "[object " + html::node_name(n) + "]");
    case kHasAttributes:
      return JS_NewBool(ctx, html::is_element(n) && n->v.element.attributes.length > 0);
    case kHasChildNodes:
      return JS_NewBool(ctx, html::child_vector(n)->length > 0);
    case kNamespaceURI:
      if (!html::is_element(n)) return JS_UNDEFINED;
      switch (n->v.element.tag_namespace) {
        case GUMBO_NAMESPACE_SVG:
          return JS_NewString(ctx, "http://www.w3.org/2000/svg");
        case GUMBO_NAMESPACE_MATHML:
          return JS_NewString(ctx, "http://www.w3.org/1998/Math/MathML");
        default:
          return JS_NewString(ctx, "http://www.w3.org/1999/xhtml");
      }
  }
  return JS_UNDEFINED;
}

enum Call { kGetAttribute, kHasAttribute, kGetAttributeNode, kIsSameNode, kIsEqualNode, kContains };

JSValue el_call(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  const ElementData* e = self(ctx, this_val);
  if (!e) return JS_EXCEPTION;
  if (argc < 1) return JS_ThrowTypeError(ctx, "missing argument");
  if (magic == kIsSameNode || magic == kIsEqualNode || magic == kContains) {
    const ElementData* o = element_of(argv[0]);
    if (!o) return JS_FALSE;
    if (magic == kIsSameNode) return JS_NewBool(ctx, o->node == e->node);
    if (magic == kContains) return JS_NewBool(ctx, html::contains(e->node, o->node));
    return JS_NewBool(ctx, html::outer_html(o->node) == html::outer_html(e->node));
  }
  std::string name = js::to_string(ctx, argv[0]);
  const char* v = html::attribute(e->node, name);
  if (magic == kHasAttribute) return JS_NewBool(ctx, v != nullptr);
  if (!v) return JS_UNDEFINED;
  if (magic == kGetAttribute) return JS_NewString(ctx, v);
  const GumboVector& attrs = e->node->v.element.attributes;
  for (unsigned i = 0; i < attrs.length; i++) {
    auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
    if (a->value == v) return attribute_object(ctx, *e, a);
  }
  return JS_UNDEFINED;
}

enum Query { kByClass, kByTag, kQuerySelector, kQuerySelectorAll, kMatches };

JSValue el_query(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  const ElementData* e = self(ctx, this_val);
  if (!e) return JS_EXCEPTION;
  if (argc < 1) return JS_ThrowTypeError(ctx, "missing argument");
  html::SelectorList sel;
  if (magic == kByClass || magic == kByTag) {
    // class names become ".a.b"; a tag name is used as a type selector
    std::string text, word;
    std::string in = js::to_string(ctx, argv[0]) + " ";
    for (char c : in) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        if (!word.empty())
          text += magic == kByClass ? "." + word : text.empty() ? word : "!";  // "!": no tag has spaces
        word.clear();
      } else {
        word += c;
      }
    }
    std::string err;
    auto parsed = html::parse_selector(text, &err);
    if (!parsed) return JS_NewArray(ctx);  // a name no element can have
    sel = std::move(*parsed);
  } else if (!compile_selector(ctx, argv[0], &sel)) {
    return JS_EXCEPTION;
  }
  if (magic == kMatches) return JS_NewBool(ctx, html::is_element(e->node) && html::matches(sel, e->node));
  auto found = html::select_descendants(sel, {e->node});
  if (magic == kQuerySelector) return found.empty() ? JS_UNDEFINED : new_element(ctx, e->doc, found[0]);
  return node_array(ctx, *e, found);
}

const struct {
  const char* name;
  int magic;
} kProps[] = {{"selection", kSelection},
              {"nodeName", kNodeName},
              {"nodeType", kNodeType},
              {"nodeValue", kNodeValue},
              {"id", kId},
              {"innerHTML", kInnerHTML},
              {"outerHTML", kOuterHTML},
              {"textContent", kTextContent},
              {"ownerDocument", kOwnerDocument},
              {"attributes", kAttributes},
              {"firstChild", kFirstChild},
              {"lastChild", kLastChild},
              {"childElementCount", kChildElementCount},
              {"firstElementChild", kFirstElementChild},
              {"lastElementChild", kLastElementChild},
              {"previousSibling", kPreviousSibling},
              {"nextSibling", kNextSibling},
              {"previousElementSibling", kPreviousElementSibling},
              {"nextElementSibling", kNextElementSibling},
              {"parentElement", kParentElement},
              {"parentNode", kParentNode},
              {"childNodes", kChildNodes},
              {"children", kChildren},
              {"classList", kClassList},
              {"className", kClassName},
              {"lang", kLang},
              {"toString", kToString},
              {"hasAttributes", kHasAttributes},
              {"hasChildNodes", kHasChildNodes},
              {"namespaceURI", kNamespaceURI}};

const struct {
  const char* name;
  JSCFunctionMagic* fn;
  int magic;
} kCalls[] = {{"getAttribute", el_call, kGetAttribute},
              {"hasAttribute", el_call, kHasAttribute},
              {"getAttributeNode", el_call, kGetAttributeNode},
              {"isSameNode", el_call, kIsSameNode},
              {"isEqualNode", el_call, kIsEqualNode},
              {"contains", el_call, kContains},
              {"getElementsByClassName", el_query, kByClass},
              {"getElementsByTagName", el_query, kByTag},
              {"querySelector", el_query, kQuerySelector},
              {"querySelectorAll", el_query, kQuerySelectorAll},
              {"matches", el_query, kMatches}};

}  // namespace

void install_element_methods(JSContext* ctx, JSValue proto) {
  for (const auto& p : kProps)
    JS_SetPropertyStr(ctx, proto, p.name,
                      JS_NewCFunctionMagic(ctx, el_prop, p.name, 0, JS_CFUNC_generic_magic, p.magic));
  for (const auto& c : kCalls)
    JS_SetPropertyStr(ctx, proto, c.name, JS_NewCFunctionMagic(ctx, c.fn, c.name, 1, JS_CFUNC_generic_magic, c.magic));
}

}  // namespace herd::k6::htmljs
