// Form values for k6/html (val, serialize*) and the Response methods that
// use HTML: html(), submitForm() and clickLink().
#include <curl/curl.h>

#include <cstring>

#include "js/runtime.h"
#include "k6/html_binding.h"
#include "k6/modules.h"
#include "k6/natives_util.h"
#include "util/url.h"

namespace herd::k6 {

namespace htmljs {

namespace {

using html::Node;

bool ieq(const char* a, const char* b) {
  return a && b && strcasecmp(a, b) == 0;
}

GumboTag tag_of(Node n) {
  return html::is_element(n) ? n->v.element.tag : GUMBO_TAG_UNKNOWN;
}

std::string collapse_ws(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

std::string option_value(Node o) {
  const char* v = html::attribute(o, "value");
  return v ? v : collapse_ws(html::text_content(o));
}

/// The options of a select, in order (inside optgroups too).
std::vector<Node> options_of(Node select) {
  std::vector<Node> out;
  for (Node n = html::next_in_subtree(select, select); n; n = html::next_in_subtree(n, select))
    if (tag_of(n) == GUMBO_TAG_OPTION) out.push_back(n);
  return out;
}

/// Values a select submits: the selected options, or the first option of a single select.
std::vector<std::string> select_values(Node select, bool* multiple) {
  *multiple = html::attribute(select, "multiple") != nullptr;
  auto opts = options_of(select);
  std::vector<std::string> out;
  for (Node o : opts)
    if (html::attribute(o, "selected")) {
      out.push_back(option_value(o));
      if (!*multiple) break;
    }
  if (out.empty() && !*multiple && !opts.empty()) out.push_back(option_value(opts[0]));
  return out;
}

std::string input_value(Node n) {
  const char* v = html::attribute(n, "value");
  if (v) return v;
  const char* type = html::attribute(n, "type");
  return ieq(type, "checkbox") || ieq(type, "radio") ? "on" : "";
}

void add_control(Node n, std::vector<std::pair<std::string, std::string>>* out) {
  GumboTag t = tag_of(n);
  if (t != GUMBO_TAG_INPUT && t != GUMBO_TAG_SELECT && t != GUMBO_TAG_TEXTAREA) return;
  const char* name = html::attribute(n, "name");
  if (!name || !*name || html::attribute(n, "disabled")) return;
  if (t == GUMBO_TAG_SELECT) {
    bool multiple = false;
    for (auto& v : select_values(n, &multiple)) out->emplace_back(name, v);
    return;
  }
  if (t == GUMBO_TAG_TEXTAREA) {
    out->emplace_back(name, html::text_content(n));
    return;
  }
  const char* type = html::attribute(n, "type");
  for (const char* skip : {"submit", "button", "image", "reset", "file"})
    if (ieq(type, skip)) return;
  if ((ieq(type, "checkbox") || ieq(type, "radio")) && !html::attribute(n, "checked")) return;
  out->emplace_back(name, input_value(n));
}

void append_encoded(std::string* out, const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
      out->push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> form_pairs(const std::vector<Node>& nodes) {
  std::vector<std::pair<std::string, std::string>> out;
  for (Node n : nodes) {
    if (tag_of(n) == GUMBO_TAG_FORM) {
      for (Node c = html::next_in_subtree(n, n); c; c = html::next_in_subtree(c, n)) add_control(c, &out);
    } else {
      add_control(n, &out);
    }
  }
  return out;
}

JSValue element_value(JSContext* ctx, Node n) {
  switch (tag_of(n)) {
    case GUMBO_TAG_TEXTAREA:
      return new_string(ctx, html::text_content(n));
    case GUMBO_TAG_OPTION:
      return new_string(ctx, option_value(n));
    case GUMBO_TAG_INPUT:
      return new_string(ctx, input_value(n));
    case GUMBO_TAG_SELECT: {
      bool multiple = false;
      auto values = select_values(n, &multiple);
      if (!multiple) return values.empty() ? JS_UNDEFINED : new_string(ctx, values[0]);
      JSValue arr = JS_NewArray(ctx);
      for (std::size_t i = 0; i < values.size(); i++)
        JS_SetPropertyUint32(ctx, arr, static_cast<uint32_t>(i), new_string(ctx, values[i]));
      return arr;
    }
    default: {
      const char* v = html::attribute(n, "value");
      return v ? JS_NewString(ctx, v) : JS_UNDEFINED;
    }
  }
}

std::string url_encode_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    append_encoded(&out, k);
    out += '=';
    append_encoded(&out, v);
  }
  return out;
}

}  // namespace htmljs

namespace {

using htmljs::SelectionData;

/// The response's parsed body as a Selection, parsed once and cached on the response.
JSValue body_selection(JSContext* ctx, JSValueConst res) {
  JSValue cached = JS_GetPropertyStr(ctx, res, "__html");
  if (!JS_IsUndefined(cached)) return cached;
  js::Value body(ctx, JS_GetPropertyStr(ctx, res, "body"));
  if (!JS_IsString(body.get()))
    return JS_ThrowTypeError(ctx, "cannot parse HTML: the response body is not text (responseType \"text\" is needed)");
  std::string text = js::to_string(ctx, body.get());
  JSValue sel = guarded(ctx, [&] { return htmljs::parse_to_selection(ctx, text); });
  if (JS_IsException(sel)) return sel;
  JS_DefinePropertyValueStr(ctx, res, "__html", JS_DupValue(ctx, sel), JS_PROP_CONFIGURABLE);
  return sel;
}

/// The first element `selector` finds in the response body (nullptr + exception pending on error,
/// nullptr without one when nothing matches).
std::shared_ptr<const SelectionData> find_in_body(JSContext* ctx, JSValueConst res, const std::string& selector) {
  js::Value doc(ctx, body_selection(ctx, res));
  if (doc.is_exception()) return nullptr;
  auto d = htmljs::selection_of(doc.get());
  if (!d) {
    JS_ThrowTypeError(ctx, "the response's parsed HTML was replaced by a non-Selection value");
    return nullptr;
  }
  std::string err;
  auto sel = html::parse_selector(selector, &err);
  if (!sel) {
    JS_ThrowSyntaxError(ctx, "%s", err.c_str());
    return nullptr;
  }
  auto found = html::select_descendants(*sel, d->nodes);
  if (found.empty()) return std::make_shared<SelectionData>();
  return std::make_shared<SelectionData>(SelectionData{d->doc, {found[0]}, nullptr});
}

/// String option `name` of the options object, or `def`.
std::string option(JSContext* ctx, JSValueConst opts, const char* name, const char* def) {
  if (!JS_IsObject(opts)) return def;
  js::Value v(ctx, JS_GetPropertyStr(ctx, opts, name));
  return JS_IsUndefined(v.get()) || JS_IsNull(v.get()) ? def : js::to_string(ctx, v.get());
}

/// Refuses options k6 does not have, so a typo is not silently ignored.
bool check_options(JSContext* ctx, JSValueConst opts, const char* method, std::initializer_list<const char*> known) {
  if (JS_IsUndefined(opts) || JS_IsNull(opts)) return true;
  if (!JS_IsObject(opts)) {
    JS_ThrowTypeError(ctx, "%s: the argument must be an object", method);
    return false;
  }
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, opts, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  bool ok = true;
  for (uint32_t i = 0; i < n; i++) {
    const char* k = JS_AtomToCString(ctx, props[i].atom);
    bool found = false;
    for (const char* name : known) found = found || (k && std::strcmp(k, name) == 0);
    if (!found && ok) {
      JS_ThrowTypeError(ctx, "%s: unknown option \"%s\"", method, k ? k : "?");
      ok = false;
    }
    JS_FreeCString(ctx, k);
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  return ok;
}

/// Copies `from`'s own enumerable properties onto `to`; returns whether one was named `ci_name` (any case).
bool copy_props(JSContext* ctx, JSValueConst from, JSValueConst to, const char* ci_name) {
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  bool seen = false;
  if (!JS_IsObject(from) || JS_GetOwnPropertyNames(ctx, &props, &n, from, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0)
    return false;
  for (uint32_t i = 0; i < n; i++) {
    const char* k = JS_AtomToCString(ctx, props[i].atom);
    seen = seen || (k && ci_name && strcasecmp(k, ci_name) == 0);
    JS_FreeCString(ctx, k);
    JS_SetProperty(ctx, to, props[i].atom, JS_GetProperty(ctx, from, props[i].atom));
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  return seen;
}

/// A copy of the user's params whose headers carry the form Content-Type unless they set one.
JSValue form_params(JSContext* ctx, JSValueConst params) {
  js::Value out(ctx, JS_NewObject(ctx)), headers(ctx, JS_NewObject(ctx));
  copy_props(ctx, params, out.get(), nullptr);
  js::Value h(ctx, JS_IsObject(params) ? JS_GetPropertyStr(ctx, params, "headers") : JS_UNDEFINED);
  if (!copy_props(ctx, h.get(), headers.get(), "content-type"))
    JS_SetPropertyStr(ctx, headers.get(), "Content-Type", JS_NewString(ctx, "application/x-www-form-urlencoded"));
  JS_SetPropertyStr(ctx, out.get(), "headers", headers.release());
  return out.release();
}

JSValue issue(JSContext* ctx, const std::string& method, const std::string& url, JSValue body, JSValueConst opts) {
  js::Value owned_body(ctx, body);
  js::Value params(ctx, JS_IsObject(opts) ? JS_GetPropertyStr(ctx, opts, "params") : JS_UNDEFINED);
  if (!JS_IsNull(body)) params = js::Value(ctx, form_params(ctx, params.get()));
  js::Value m(ctx, new_string(ctx, method)), u(ctx, new_string(ctx, url));
  JSValue args[4] = {m.get(), u.get(), owned_body.get(), params.get()};
  return http_request(ctx, JS_UNDEFINED, 4, args);
}

}  // namespace

JSValue response_html(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  js::Value doc(ctx, body_selection(ctx, this_val));
  if (doc.is_exception() || argc < 1 || JS_IsUndefined(argv[0])) return doc.release();
  js::Value find(ctx, JS_GetPropertyStr(ctx, doc.get(), "find"));
  return JS_Call(ctx, find.get(), doc.get(), 1, argv);
}

JSValue response_submit_form(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  JSValueConst opts = argc > 0 ? argv[0] : JS_UNDEFINED;
  if (!check_options(ctx, opts, "submitForm", {"formSelector", "fields", "submitSelector", "params"}))
    return JS_EXCEPTION;
  std::string form_sel = option(ctx, opts, "formSelector", "form");
  auto form = find_in_body(ctx, this_val, form_sel);
  if (!form) return JS_EXCEPTION;
  if (form->nodes.empty())
    return JS_ThrowTypeError(ctx, "submitForm: no form found for selector \"%s\"", form_sel.c_str());
  html::Node f = form->nodes[0];
  if (html::tag_name(f) != "form")
    return JS_ThrowTypeError(ctx, "submitForm: \"%s\" selected a <%s>, not a <form>", form_sel.c_str(),
                             html::tag_name(f).c_str());
  auto pairs = htmljs::form_pairs({f});
  // the submit button's own name/value, when it has a name
  std::string err;
  auto submit = html::parse_selector(option(ctx, opts, "submitSelector", "[type=\"submit\"]"), &err);
  if (!submit) return JS_ThrowSyntaxError(ctx, "submitForm: %s", err.c_str());
  auto buttons = html::select_descendants(*submit, {f});
  if (!buttons.empty()) {
    const char* name = html::attribute(buttons[0], "name");
    const char* value = html::attribute(buttons[0], "value");
    if (name && *name) pairs.emplace_back(name, value ? value : "");
  }
  // fields override form values (one value per name)
  std::map<std::string, std::string> overrides;
  {
    js::Value fields(ctx, JS_IsObject(opts) ? JS_GetPropertyStr(ctx, opts, "fields") : JS_UNDEFINED);
    if (!read_string_map(ctx, fields.get(), &overrides)) return JS_EXCEPTION;
  }
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& [k, v] : pairs)
    if (!overrides.count(k)) merged.emplace_back(k, v);
  for (auto& kv : overrides) merged.push_back(kv);

  std::string base = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, this_val, "url")).get());
  const char* action = html::attribute(f, "action");
  std::string url = action && *action ? util::resolve_url(base, action) : base;
  std::string method = html::attribute(f, "method") ? html::attribute(f, "method") : "GET";
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string encoded = htmljs::url_encode_pairs(merged);
  if (method == "GET") {
    url = url.substr(0, url.find('#'));
    url = url.substr(0, url.find('?'));
    if (!encoded.empty()) url += "?" + encoded;
    return issue(ctx, method, url, JS_NULL, opts);
  }
  return issue(ctx, method, url, new_string(ctx, encoded), opts);
}

JSValue response_click_link(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  JSValueConst opts = argc > 0 ? argv[0] : JS_UNDEFINED;
  if (!check_options(ctx, opts, "clickLink", {"selector", "params"})) return JS_EXCEPTION;
  std::string sel = option(ctx, opts, "selector", "a[href]");
  auto link = find_in_body(ctx, this_val, sel);
  if (!link) return JS_EXCEPTION;
  if (link->nodes.empty())
    return JS_ThrowTypeError(ctx, "clickLink: no element found for selector \"%s\"", sel.c_str());
  const char* href = html::attribute(link->nodes[0], "href");
  if (!href) return JS_ThrowTypeError(ctx, "clickLink: the element \"%s\" selected has no href", sel.c_str());
  std::string base = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, this_val, "url")).get());
  return issue(ctx, "GET", util::resolve_url(base, href), JS_NULL, opts);
}

}  // namespace herd::k6
