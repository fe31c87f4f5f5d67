// The native "k6/html" module: parseHTML() and the Selection class (a jQuery
// subset over html::Document). Classes are registered, and prototypes built,
// the first time a context uses them.
#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "js/json_parse.h"
#include "js/runtime.h"
#include "k6/html_binding.h"
#include "k6/modules.h"
#include "k6/natives_util.h"

namespace herd::k6 {

namespace htmljs {

namespace {

using html::Node;
using SelPtr = std::shared_ptr<const SelectionData>;

JSClassID selection_class_id = 0;
JSClassID element_class_id = 0;

void selection_finalizer(JSRuntime*, JSValue v) {
  delete static_cast<SelPtr*>(JS_GetOpaque(v, selection_class_id));
}
void element_finalizer(JSRuntime*, JSValue v) {
  delete static_cast<ElementData*>(JS_GetOpaque(v, element_class_id));
}

SelPtr self(JSContext* ctx, JSValueConst this_val) {
  SelPtr s = selection_of(this_val);
  if (!s) JS_ThrowTypeError(ctx, "not a Selection");
  return s;
}

JSValue derive(JSContext* ctx, const SelPtr& s, std::vector<Node> nodes) {
  return new_selection(ctx, s->doc, std::move(nodes), s);
}

/// A filter argument: selector text, a function(index, Selection), a Selection or an Element.
struct Filter {
  enum class Kind { kAll, kSelector, kFunction, kNodes } kind = Kind::kAll;
  html::SelectorList sel;
  JSValueConst fn = JS_UNDEFINED;
  std::unordered_set<Node> nodes;
};

bool make_filter(JSContext* ctx, JSValueConst arg, Filter* f) {
  if (JS_IsUndefined(arg) || JS_IsNull(arg)) return true;
  if (JS_IsFunction(ctx, arg)) {
    f->kind = Filter::Kind::kFunction;
    f->fn = arg;
    return true;
  }
  if (SelPtr other = selection_of(arg)) {
    f->kind = Filter::Kind::kNodes;
    f->nodes.insert(other->nodes.begin(), other->nodes.end());
    return true;
  }
  if (const ElementData* e = element_of(arg)) {
    f->kind = Filter::Kind::kNodes;
    f->nodes.insert(e->node);
    return true;
  }
  f->kind = Filter::Kind::kSelector;
  return compile_selector(ctx, arg, &f->sel);
}

/// 1 if `n` (at `idx` in `s`) passes, 0 if not, -1 on a JS exception.
int passes(JSContext* ctx, const Filter& f, const SelPtr& s, std::size_t idx, Node n) {
  switch (f.kind) {
    case Filter::Kind::kAll:
      return 1;
    case Filter::Kind::kSelector:
      return html::is_element(n) && html::matches(f.sel, n) ? 1 : 0;
    case Filter::Kind::kNodes:
      return f.nodes.count(n) ? 1 : 0;
    case Filter::Kind::kFunction: {
      js::Value item(ctx, new_selection(ctx, s->doc, {n}, nullptr));
      JSValue args[2] = {JS_NewInt64(ctx, static_cast<int64_t>(idx)), item.get()};
      js::Value r(ctx, JS_Call(ctx, f.fn, item.get(), 2, args));
      if (r.is_exception()) return -1;
      return JS_ToBool(ctx, r.get());
    }
  }
  return 0;
}

// filter / not / is
JSValue sel_filter(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  Filter f;
  if (argc < 1 || JS_IsUndefined(argv[0]))
    return JS_ThrowTypeError(ctx, "%s() needs a selector, a function, a Selection or an Element",
                             magic == 0   ? "filter"
                             : magic == 1 ? "not"
                                          : "is");
  if (!make_filter(ctx, argv[0], &f)) return JS_EXCEPTION;
  std::vector<Node> out;
  for (std::size_t i = 0; i < s->nodes.size(); i++) {
    int p = passes(ctx, f, s, i, s->nodes[i]);
    if (p < 0) return JS_EXCEPTION;
    if (magic == 2 && p) return JS_TRUE;
    if ((magic == 0) == (p == 1)) out.push_back(s->nodes[i]);
  }
  if (magic == 2) return JS_FALSE;
  return derive(ctx, s, std::move(out));
}

JSValue sel_find(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (argc > 0 && !JS_IsString(argv[0])) {
    Filter f;
    if (!make_filter(ctx, argv[0], &f)) return JS_EXCEPTION;
    std::vector<Node> out;
    for (Node n : f.nodes)
      for (Node root : s->nodes)
        if (n != root && html::contains(root, n)) {
          out.push_back(n);
          break;
        }
    return derive(ctx, s, std::move(out));
  }
  html::SelectorList sel;
  if (!compile_selector(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, &sel)) return JS_EXCEPTION;
  return derive(ctx, s, html::select_descendants(sel, s->nodes));
}

JSValue sel_has(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  std::vector<Node> out;
  if (argc > 0 && !JS_IsString(argv[0])) {
    Filter f;
    if (!make_filter(ctx, argv[0], &f)) return JS_EXCEPTION;
    for (Node root : s->nodes)
      for (Node n : f.nodes)
        if (n != root && html::contains(root, n)) {
          out.push_back(root);
          break;
        }
    return derive(ctx, s, std::move(out));
  }
  html::SelectorList sel;
  if (!compile_selector(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, &sel)) return JS_EXCEPTION;
  for (Node root : s->nodes)
    if (!html::select_descendants(sel, {root}).empty()) out.push_back(root);
  return derive(ctx, s, std::move(out));
}

// eq(i) / first() / last() / slice(start, end)
JSValue sel_pick(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  auto n = static_cast<int64_t>(s->nodes.size());
  int64_t a = 0, b = n;
  auto arg = [&](int i, int64_t def) {
    int64_t v = def;
    if (argc > i && !JS_IsUndefined(argv[i])) JS_ToInt64(ctx, &v, argv[i]);
    return v < 0 ? v + n : v;
  };
  if (magic == 0) {
    a = arg(0, 0);
    b = a + 1;
  } else if (magic == 1) {
    b = 1;
  } else if (magic == 2) {
    a = n - 1;
  } else {
    a = arg(0, 0);
    b = arg(1, n);
  }
  a = std::max<int64_t>(a, 0);
  b = std::min<int64_t>(b, n);
  std::vector<Node> out;
  for (int64_t i = a; i < b; i++) out.push_back(s->nodes[static_cast<std::size_t>(i)]);
  return derive(ctx, s, std::move(out));
}

enum Trav {
  kChildren,
  kContents,
  kParent,
  kParents,
  kNext,
  kNextAll,
  kPrev,
  kPrevAll,
  kSiblings,
  kParentsUntil,
  kNextUntil,
  kPrevUntil,
  kClosest
};

Node step(int kind, Node n) {
  switch (kind) {
    case kParent:
    case kParents:
    case kParentsUntil: {
      Node p = html::parent_of(n);
      return html::is_element(p) ? p : nullptr;
    }
    case kNext:
    case kNextAll:
    case kNextUntil:
      return html::next_element(n);
    default:
      return html::prev_element(n);
  }
}

JSValue sel_traverse(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  bool until = magic == kParentsUntil || magic == kNextUntil || magic == kPrevUntil;
  Filter stop, keep;
  if (until && argc > 0 && !make_filter(ctx, argv[0], &stop)) return JS_EXCEPTION;
  int filter_arg = until ? 1 : 0;
  if (magic == kClosest && (argc < 1 || JS_IsUndefined(argv[0])))
    return JS_ThrowTypeError(ctx, "closest() needs a selector");
  if (argc > filter_arg && !make_filter(ctx, argv[filter_arg], &keep)) return JS_EXCEPTION;
  std::vector<Node> found;
  std::unordered_set<Node> seen;
  auto add = [&](Node n) {
    if (seen.insert(n).second) found.push_back(n);
  };
  for (Node n : s->nodes) {
    switch (magic) {
      case kChildren:
        for (Node c : html::element_children(n)) add(c);
        break;
      case kContents: {
        const GumboVector* v = html::child_vector(n);
        for (unsigned i = 0; i < v->length; i++) add(static_cast<Node>(v->data[i]));
        break;
      }
      case kSiblings:
        for (Node c : html::element_children(html::parent_of(n)))
          if (c != n) add(c);
        break;
      case kClosest:
        for (Node p = n; html::is_element(p); p = html::parent_of(p)) {
          int r = passes(ctx, keep, s, 0, p);
          if (r < 0) return JS_EXCEPTION;
          if (r) {
            add(p);
            break;
          }
        }
        break;
      case kParent:
      case kNext:
      case kPrev:
        if (Node p = step(magic, n)) add(p);
        break;
      default:
        for (Node p = step(magic, n); p; p = step(magic, p)) {
          if (until && stop.kind != Filter::Kind::kAll) {
            int r = passes(ctx, stop, s, 0, p);
            if (r < 0) return JS_EXCEPTION;
            if (r) break;
          }
          add(p);
        }
    }
  }
  if (magic == kClosest) return derive(ctx, s, std::move(found));
  std::vector<Node> out;
  for (std::size_t i = 0; i < found.size(); i++) {
    int r = passes(ctx, keep, s, i, found[i]);
    if (r < 0) return JS_EXCEPTION;
    if (r) out.push_back(found[i]);
  }
  return derive(ctx, s, std::move(out));
}

// each(fn(index, Element)) returns the selection; map(fn(index, Selection)) an array of results.
JSValue sel_iterate(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (argc < 1 || !JS_IsFunction(ctx, argv[0]))
    return JS_ThrowTypeError(ctx, "%s() needs a function", magic == 0 ? "each" : "map");
  js::Value out(ctx, magic == 0 ? JS_DupValue(ctx, this_val) : JS_NewArray(ctx));
  uint32_t k = 0;
  for (std::size_t i = 0; i < s->nodes.size(); i++) {
    js::Value item(
        ctx, magic == 0 ? new_element(ctx, s->doc, s->nodes[i]) : new_selection(ctx, s->doc, {s->nodes[i]}, nullptr));
    JSValue args[2] = {JS_NewInt64(ctx, static_cast<int64_t>(i)), item.get()};
    js::Value r(ctx, JS_Call(ctx, argv[0], item.get(), 2, args));
    if (r.is_exception()) return JS_EXCEPTION;
    if (magic == 1 && !JS_IsUndefined(r.get()) && !JS_IsNull(r.get()))
      JS_SetPropertyUint32(ctx, out.get(), k++, r.release());
  }
  return out.release();
}

JSValue sel_size(JSContext* ctx, JSValueConst this_val, int, JSValueConst*) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  return JS_NewInt64(ctx, static_cast<int64_t>(s->nodes.size()));
}

// get(i): Element (negative counts from the end; undefined out of range); get(): array of Elements.
// toArray(): array of one-element Selections.
JSValue sel_get(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  auto n = static_cast<int64_t>(s->nodes.size());
  if (magic == 0 && argc > 0 && !JS_IsUndefined(argv[0])) {
    int64_t i = 0;
    if (JS_ToInt64(ctx, &i, argv[0])) return JS_EXCEPTION;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return JS_UNDEFINED;
    return new_element(ctx, s->doc, s->nodes[static_cast<std::size_t>(i)]);
  }
  JSValue arr = JS_NewArray(ctx);
  for (std::size_t i = 0; i < s->nodes.size(); i++)
    JS_SetPropertyUint32(
        ctx, arr, static_cast<uint32_t>(i),
        magic == 0 ? new_element(ctx, s->doc, s->nodes[i]) : new_selection(ctx, s->doc, {s->nodes[i]}, nullptr));
  return arr;
}

JSValue sel_attr(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (argc < 1) return JS_ThrowTypeError(ctx, "attr() needs an attribute name");
  std::string name = js::to_string(ctx, argv[0]);
  const char* v = s->nodes.empty() ? nullptr : html::attribute(s->nodes[0], name);
  if (v) return JS_NewString(ctx, v);
  return argc > 1 ? JS_DupValue(ctx, argv[1]) : JS_UNDEFINED;
}

// text(): text of every node; html(): inner markup of the first (undefined if empty).
JSValue sel_text(JSContext* ctx, JSValueConst this_val, int, JSValueConst*, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (magic == 1) return s->nodes.empty() ? JS_UNDEFINED : new_string(ctx, html::inner_html(s->nodes[0]));
  std::string out;
  for (Node n : s->nodes) out += html::text_content(n);
  return new_string(ctx, out);
}

JSValue sel_val(JSContext* ctx, JSValueConst this_val, int, JSValueConst*) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  return s->nodes.empty() ? JS_UNDEFINED : element_value(ctx, s->nodes[0]);
}

// data-* values: "true"/"false"/"null", numbers and JSON objects/arrays are converted.
JSValue data_value(JSContext* ctx, const std::string& v) {
  if (v == "true") return JS_TRUE;
  if (v == "false") return JS_FALSE;
  if (v == "null") return JS_NULL;
  if (!v.empty() && (v[0] == '{' || v[0] == '[')) {
    JSValue j = js::parse_json(ctx, v.c_str(), v.size(), "<data attribute>");
    if (!JS_IsException(j)) return j;
    js::discard_exception(ctx);
  }
  if (!v.empty()) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() + v.size()) {
      js::Value num(ctx, JS_NewFloat64(ctx, d));
      if (js::to_string(ctx, num.get()) == v) return num.release();  // only values that round-trip, as jQuery
    }
  }
  return new_string(ctx, v);
}

JSValue sel_data(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (s->nodes.empty() || !html::is_element(s->nodes[0])) return JS_UNDEFINED;
  Node n = s->nodes[0];
  if (argc > 0 && !JS_IsUndefined(argv[0])) {
    std::string key = js::to_string(ctx, argv[0]), attr = "data-";
    for (char c : key) {
      if (c >= 'A' && c <= 'Z') {
        attr += '-';
        attr += static_cast<char>(c - 'A' + 'a');
      } else {
        attr += c;
      }
    }
    const char* v = html::attribute(n, attr);
    return v ? data_value(ctx, v) : JS_UNDEFINED;
  }
  JSValue obj = JS_NewObject(ctx);
  const GumboVector& attrs = n->v.element.attributes;
  for (unsigned i = 0; i < attrs.length; i++) {
    auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
    std::string name = a->name;
    if (name.rfind("data-", 0) != 0 || name.size() == 5) continue;
    std::string key;
    for (std::size_t j = 5; j < name.size(); j++) {
      if (name[j] == '-' && j + 1 < name.size() && name[j + 1] >= 'a' && name[j + 1] <= 'z') {
        key += static_cast<char>(name[++j] - 'a' + 'A');
      } else {
        key += name[j];
      }
    }
    JS_SetPropertyStr(ctx, obj, key.c_str(), data_value(ctx, a->value));
  }
  return obj;
}

// serialize() / serializeArray() / serializeObject()
JSValue sel_serialize(JSContext* ctx, JSValueConst this_val, int, JSValueConst*, int magic) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  auto pairs = form_pairs(s->nodes);
  if (magic == 0) return new_string(ctx, url_encode_pairs(pairs));
  if (magic == 1) {
    JSValue arr = JS_NewArray(ctx);
    for (std::size_t i = 0; i < pairs.size(); i++) {
      JSValue o = JS_NewObject(ctx);
      JS_SetPropertyStr(ctx, o, "name", new_string(ctx, pairs[i].first));
      JS_SetPropertyStr(ctx, o, "value", new_string(ctx, pairs[i].second));
      JS_SetPropertyUint32(ctx, arr, static_cast<uint32_t>(i), o);
    }
    return arr;
  }
  JSValue obj = JS_NewObject(ctx);
  for (auto& [k, v] : pairs) {
    js::Value prev(ctx, JS_GetPropertyStr(ctx, obj, k.c_str()));
    if (JS_IsUndefined(prev.get())) {
      JS_SetPropertyStr(ctx, obj, k.c_str(), new_string(ctx, v));
    } else if (JS_IsArray(ctx, prev.get()) > 0) {
      uint32_t l = 0;
      JS_ToUint32(ctx, &l, js::Value(ctx, JS_GetPropertyStr(ctx, prev.get(), "length")).get());
      JS_SetPropertyUint32(ctx, prev.get(), l, new_string(ctx, v));
    } else {
      JSValue arr = JS_NewArray(ctx);
      JS_SetPropertyUint32(ctx, arr, 0, JS_DupValue(ctx, prev.get()));
      JS_SetPropertyUint32(ctx, arr, 1, new_string(ctx, v));
      JS_SetPropertyStr(ctx, obj, k.c_str(), arr);
    }
  }
  return obj;
}

// index(): position of the first node among its element siblings; index(selector): position of the
// first node among the elements the selector finds; index(Selection|Element): position of that node here.
JSValue sel_index(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (s->nodes.empty()) return JS_NewInt32(ctx, -1);
  std::vector<Node> pool;
  Node want = s->nodes[0];
  if (argc < 1 || JS_IsUndefined(argv[0])) {
    pool = html::element_children(html::parent_of(want));
  } else if (JS_IsString(argv[0])) {
    html::SelectorList sel;
    if (!compile_selector(ctx, argv[0], &sel)) return JS_EXCEPTION;
    pool = html::select_descendants(sel, {s->doc->root()});
  } else {
    pool = s->nodes;
    if (SelPtr o = selection_of(argv[0]))
      want = o->nodes.empty() ? nullptr : o->nodes[0];
    else if (const ElementData* e = element_of(argv[0]))
      want = e->node;
    else
      want = nullptr;
  }
  for (std::size_t i = 0; i < pool.size(); i++)
    if (pool[i] == want) return JS_NewInt64(ctx, static_cast<int64_t>(i));
  return JS_NewInt32(ctx, -1);
}

JSValue sel_end(JSContext* ctx, JSValueConst this_val, int, JSValueConst*) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  if (!s->prev) return new_selection(ctx, s->doc, {}, nullptr);
  return new_selection(ctx, s->prev->doc, s->prev->nodes, s->prev->prev);
}

JSValue sel_add(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  SelPtr s = self(ctx, this_val);
  if (!s) return JS_EXCEPTION;
  std::vector<Node> extra;
  if (argc > 0 && JS_IsString(argv[0])) {
    html::SelectorList sel;
    if (!compile_selector(ctx, argv[0], &sel)) return JS_EXCEPTION;
    extra = html::select_descendants(sel, {s->doc->root()});
  } else if (SelPtr o = argc > 0 ? selection_of(argv[0]) : nullptr) {
    if (o->doc != s->doc) return JS_ThrowTypeError(ctx, "add(): the Selection belongs to another document");
    extra = o->nodes;
  } else if (const ElementData* e = argc > 0 ? element_of(argv[0]) : nullptr) {
    if (e->doc != s->doc) return JS_ThrowTypeError(ctx, "add(): the Element belongs to another document");
    extra = {e->node};
  } else {
    return JS_ThrowTypeError(ctx, "add() needs a selector, a Selection or an Element");
  }
  std::vector<Node> out = s->nodes;
  std::unordered_set<Node> seen(out.begin(), out.end());
  for (Node n : extra)
    if (seen.insert(n).second) out.push_back(n);
  return derive(ctx, s, std::move(out));
}

struct Method {
  const char* name;
  JSCFunction* fn;
  JSCFunctionMagic* fn_magic;
  int length;
  int magic;
};

const Method kSelectionMethods[] = {
    {"find", sel_find, nullptr, 1, 0},
    {"filter", nullptr, sel_filter, 1, 0},
    {"not", nullptr, sel_filter, 1, 1},
    {"is", nullptr, sel_filter, 1, 2},
    {"has", sel_has, nullptr, 1, 0},
    {"eq", nullptr, sel_pick, 1, 0},
    {"first", nullptr, sel_pick, 0, 1},
    {"last", nullptr, sel_pick, 0, 2},
    {"slice", nullptr, sel_pick, 2, 3},
    {"children", nullptr, sel_traverse, 1, kChildren},
    {"contents", nullptr, sel_traverse, 0, kContents},
    {"parent", nullptr, sel_traverse, 1, kParent},
    {"parents", nullptr, sel_traverse, 1, kParents},
    {"parentsUntil", nullptr, sel_traverse, 2, kParentsUntil},
    {"closest", nullptr, sel_traverse, 1, kClosest},
    {"next", nullptr, sel_traverse, 1, kNext},
    {"nextAll", nullptr, sel_traverse, 1, kNextAll},
    {"nextUntil", nullptr, sel_traverse, 2, kNextUntil},
    {"prev", nullptr, sel_traverse, 1, kPrev},
    {"prevAll", nullptr, sel_traverse, 1, kPrevAll},
    {"prevUntil", nullptr, sel_traverse, 2, kPrevUntil},
    {"siblings", nullptr, sel_traverse, 1, kSiblings},
    {"each", nullptr, sel_iterate, 1, 0},
    {"map", nullptr, sel_iterate, 1, 1},
    {"size", sel_size, nullptr, 0, 0},
    {"get", nullptr, sel_get, 1, 0},
    {"toArray", nullptr, sel_get, 0, 1},
    {"attr", sel_attr, nullptr, 2, 0},
    {"text", nullptr, sel_text, 0, 0},
    {"html", nullptr, sel_text, 0, 1},
    {"val", sel_val, nullptr, 0, 0},
    {"data", sel_data, nullptr, 1, 0},
    {"serialize", nullptr, sel_serialize, 0, 0},
    {"serializeArray", nullptr, sel_serialize, 0, 1},
    {"serializeObject", nullptr, sel_serialize, 0, 2},
    {"index", sel_index, nullptr, 1, 0},
    {"end", sel_end, nullptr, 0, 0},
    {"add", sel_add, nullptr, 1, 0},
};

JSValue n_parse_html(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 1 || !JS_IsString(argv[0])) return JS_ThrowTypeError(ctx, "parseHTML(src) needs a string");
  return guarded(ctx, [&] { return parse_to_selection(ctx, js::to_string(ctx, argv[0])); });
}

int html_module_init(JSContext* ctx, JSModuleDef* m) {
  ensure_classes(ctx);
  JSValue fn = JS_NewCFunction(ctx, n_parse_html, "parseHTML", 1);
  JSValue def = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, def, "parseHTML", JS_DupValue(ctx, fn));
  JS_SetModuleExport(ctx, m, "parseHTML", fn);
  // NodeType: what Element.nodeType() returns, by name (read-only, as a TS enum reads).
  JSValue types = JS_NewObject(ctx);
  static const std::pair<const char*, int> kNodeTypes[] = {
      {"ElementNode", 1}, {"TextNode", 3}, {"CommentNode", 8}, {"DocumentNode", 9}, {"DoctypeNode", 10}};
  for (const auto& [name, value] : kNodeTypes)
    JS_DefinePropertyValueStr(ctx, types, name, JS_NewInt32(ctx, value), JS_PROP_ENUMERABLE);
  JS_PreventExtensions(ctx, types);
  JS_SetPropertyStr(ctx, def, "NodeType", JS_DupValue(ctx, types));
  JS_SetModuleExport(ctx, m, "NodeType", types);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

void ensure_classes(JSContext* ctx) {
  static std::once_flag once;
  std::call_once(once, [] {
    JS_NewClassID(&selection_class_id);
    JS_NewClassID(&element_class_id);
  });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, selection_class_id)) {
    JSClassDef def{};
    def.class_name = "Selection";
    def.finalizer = selection_finalizer;
    JS_NewClass(rt, selection_class_id, &def);
    JSClassDef edef{};
    edef.class_name = "Element";
    edef.finalizer = element_finalizer;
    JS_NewClass(rt, element_class_id, &edef);
  }
  if (JS_IsObject(js::Value(ctx, JS_GetClassProto(ctx, selection_class_id)).get())) return;
  JSValue proto = JS_NewObject(ctx);
  for (const auto& m : kSelectionMethods) {
    JSValue f = m.fn ? JS_NewCFunction(ctx, m.fn, m.name, m.length)
                     : JS_NewCFunctionMagic(ctx, m.fn_magic, m.name, m.length, JS_CFUNC_generic_magic, m.magic);
    JS_SetPropertyStr(ctx, proto, m.name, f);
  }
  JS_SetClassProto(ctx, selection_class_id, proto);
  JSValue eproto = JS_NewObject(ctx);
  install_element_methods(ctx, eproto);
  JS_SetClassProto(ctx, element_class_id, eproto);
}

JSValue new_selection(JSContext* ctx, std::shared_ptr<html::Document> doc, std::vector<Node> nodes, SelPtr prev) {
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(selection_class_id));
  if (JS_IsException(o)) return o;
  auto data = std::make_shared<SelectionData>();
  data->doc = std::move(doc);
  data->nodes = std::move(nodes);
  data->prev = std::move(prev);
  JS_SetOpaque(o, new SelPtr(std::move(data)));
  return o;
}

JSValue parse_to_selection(JSContext* ctx, std::string_view text) {
  ensure_classes(ctx);
  auto doc = html::Document::parse(text);
  Node root = doc->root();
  return new_selection(ctx, std::move(doc), {root}, nullptr);
}

JSValue new_element(JSContext* ctx, const std::shared_ptr<html::Document>& doc, Node n) {
  if (!n) return JS_UNDEFINED;
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(element_class_id));
  if (JS_IsException(o)) return o;
  JS_SetOpaque(o, new ElementData{doc, n});
  return o;
}

SelPtr selection_of(JSValueConst v) {
  if (selection_class_id == 0) return nullptr;
  auto* p = static_cast<SelPtr*>(JS_GetOpaque(v, selection_class_id));
  return p ? *p : nullptr;
}

const ElementData* element_of(JSValueConst v) {
  if (element_class_id == 0) return nullptr;
  return static_cast<const ElementData*>(JS_GetOpaque(v, element_class_id));
}

bool compile_selector(JSContext* ctx, JSValueConst arg, html::SelectorList* out) {
  if (!JS_IsString(arg)) {
    JS_ThrowTypeError(ctx, "a selector must be a string");
    return false;
  }
  std::string err;
  auto sel = html::parse_selector(js::to_string(ctx, arg), &err);
  if (!sel) {
    JS_ThrowSyntaxError(ctx, "%s", err.c_str());
    return false;
  }
  *out = std::move(*sel);
  return true;
}

}  // namespace htmljs

JSModuleDef* html_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, htmljs::html_module_init);
  if (!m) return nullptr;
  JS_AddModuleExport(ctx, m, "parseHTML");
  JS_AddModuleExport(ctx, m, "NodeType");
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::k6
