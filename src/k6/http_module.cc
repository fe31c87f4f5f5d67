// The "k6/http" module, native: its exports are C functions over the natives
// in http_natives.cc. Per VU it costs a few function objects, nothing compiled.
#include <cstring>

#include "js/json_parse.h"
#include "js/runtime.h"
#include "k6/http_cookie_jar.h"
#include "k6/http_params.h"
#include "k6/json_path.h"
#include "k6/modules.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"

namespace herd::k6 {

namespace {

// http.get/head (url, params); post/put/patch/del/options (url, body, params).
JSValue n_method(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int magic) {
  static const std::string kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  JSValueConst url = argc > 0 ? argv[0] : JS_UNDEFINED;
  if (magic <= 1) return http_request_method(ctx, kMethods[magic], url, JS_NULL, argc > 1 ? argv[1] : JS_UNDEFINED);
  return http_request_method(ctx, kMethods[magic], url, argc > 1 ? argv[1] : JS_UNDEFINED,
                             argc > 2 ? argv[2] : JS_UNDEFINED);
}

JSValue n_request(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  std::string m = argc > 0 ? js::to_string(ctx, argv[0]) : "GET";
  for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  js::Value method(ctx, new_string(ctx, m));
  JSValue args[4] = {method.get(), argc > 1 ? argv[1] : JS_UNDEFINED, argc > 2 ? argv[2] : JS_UNDEFINED,
                     argc > 3 ? argv[3] : JS_UNDEFINED};
  return http_request(ctx, this_val, 4, args);
}

JSValue n_file(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "data", argc > 0 ? JS_DupValue(ctx, argv[0]) : JS_UNDEFINED);
  JS_SetPropertyStr(ctx, o, "filename",
                    argc > 1 && !JS_IsUndefined(argv[1]) ? JS_ToString(ctx, argv[1]) : JS_NewString(ctx, "file"));
  JS_SetPropertyStr(
      ctx, o, "content_type",
      argc > 2 && !JS_IsUndefined(argv[2]) ? JS_ToString(ctx, argv[2]) : JS_NewString(ctx, "application/octet-stream"));
  JS_DefinePropertyValueStr(ctx, o, "__herdFile", JS_TRUE, 0);
  return o;
}

JSValue n_expected_statuses(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  js::Value list(ctx, JS_NewArray(ctx));
  for (int i = 0; i < argc; i++) {
    int32_t lo = 0, hi = 0;
    if (JS_IsNumber(argv[i])) {
      JS_ToInt32(ctx, &lo, argv[i]);
      hi = lo;
    } else if (JS_IsObject(argv[i])) {
      js::Value a(ctx, JS_GetPropertyStr(ctx, argv[i], "min")), b(ctx, JS_GetPropertyStr(ctx, argv[i], "max"));
      bool ok = JS_IsNumber(a.get()) && JS_IsNumber(b.get());
      JS_ToInt32(ctx, &lo, a.get());
      JS_ToInt32(ctx, &hi, b.get());
      if (!ok) return JS_ThrowTypeError(ctx, "expectedStatuses: {min, max} objects need numeric min and max");
    } else {
      return JS_ThrowTypeError(ctx, "expectedStatuses: arguments must be integers or {min, max} objects");
    }
    JSValue pair = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, pair, 0, JS_NewInt32(ctx, lo));
    JS_SetPropertyUint32(ctx, pair, 1, JS_NewInt32(ctx, hi));
    JS_SetPropertyUint32(ctx, list.get(), static_cast<uint32_t>(i), pair);
  }
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "__expectedStatuses", list.release());
  return o;
}

// The response body as text (a string or an ArrayBuffer's bytes); false with
// an exception pending when there is none (responseType "none").
bool response_body_text(JSContext* ctx, JSValueConst res, std::string* text) {
  js::Value owned(ctx, JS_GetPropertyStr(ctx, res, "body"));
  JSValue body = owned.get();
  if (JS_IsNull(body) || JS_IsUndefined(body)) {
    JS_ThrowTypeError(ctx, "cannot parse JSON: the response has no body (responseType \"none\"?)");
    return false;
  }
  size_t size = 0;
  uint8_t* p = JS_IsString(body) ? nullptr : JS_GetArrayBuffer(ctx, &size, body);
  if (p) {
    text->assign(reinterpret_cast<char*>(p), size);
  } else {
    if (!JS_IsString(body)) js::discard_exception(ctx);
    *text = js::to_string(ctx, body);
  }
  return true;
}

// Response.prototype.json(selector): without a selector, parses the body once
// (cached on the response); with one, evaluates the GJSON-style path
// (k6/json_path.h). As in k6, a selector that selects nothing, an empty one and
// a body that is not JSON give undefined; a selector herd cannot evaluate throws.
JSValue n_response_json(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  if (argc > 0 && !JS_IsUndefined(argv[0]) && !JS_IsNull(argv[0])) {
    std::string sel = js::to_string(ctx, argv[0]);
    std::string text;
    if (!response_body_text(ctx, this_val, &text)) return JS_EXCEPTION;
    if (sel.empty()) return JS_UNDEFINED;
    nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text, nullptr, false);
    if (doc.is_discarded()) return JS_UNDEFINED;
    std::optional<nlohmann::ordered_json> r;
    try {
      r = select_json_path(doc, sel);
    } catch (const JsonPathError& e) {
      return JS_ThrowSyntaxError(ctx, "%s", e.what());
    }
    if (!r) return JS_UNDEFINED;
    std::string out = r->dump();
    return js::parse_json(ctx, out.c_str(), out.size(), "<json selector>");
  }
  VuState* vu = vu_of(ctx);
  JSValue cached = get_prop(ctx, vu, this_val, PropAtom::kJson);
  if (JS_IsUndefined(cached)) {
    js::Value body(ctx, get_prop(ctx, vu, this_val, PropAtom::kBody));
    // parses and, for a small object, keeps its shapes for the next same-shaped body
    auto parse = [&](const char* p, std::size_t n) {
      cached = js::parse_json_keeping_shapes(ctx, p, n, "<response body>", &vu->json_shape_keeper,
                                             VuState::kJsonShapeKeepBytes);
    };
    std::string_view ascii;
    // the response's own bytes (a std::string's: NUL-terminated, as js::parse_json needs), no conversion
    if (response_ascii_body(this_val, body.get(), &ascii)) {
      parse(ascii.data(), ascii.size());
    } else if (JS_IsString(body.get())) {  // a text body: parsed from its UTF-8 bytes, with no copy of them
      size_t len = 0;
      const char* p = JS_ToCStringLen(ctx, &len, body.get());
      if (!p) return JS_EXCEPTION;
      parse(p, len);
      JS_FreeCString(ctx, p);
    } else {
      std::string text;
      if (!response_body_text(ctx, this_val, &text)) return JS_EXCEPTION;
      parse(text.c_str(), text.size());
    }
    if (JS_IsException(cached)) return cached;
    JS_DefinePropertyValue(ctx, this_val, prop_atom(ctx, vu, PropAtom::kJson), JS_DupValue(ctx, cached),
                           JS_PROP_CONFIGURABLE);
  }
  return cached;
}

JSValue n_response_ctor(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  return JS_ThrowTypeError(ctx, "Response objects are created by http requests");
}

JSValue n_set_callback(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  js::Value g(ctx, JS_GetGlobalObject(ctx));
  js::Value h(ctx, JS_GetPropertyStr(ctx, g.get(), "__herd"));
  js::Value f(ctx, JS_GetPropertyStr(ctx, h.get(), "setResponseCallback"));
  return JS_Call(ctx, f.get(), JS_UNDEFINED, argc, argv);
}

struct Export {
  const char* name;
  JSCFunction* fn;
  JSCFunctionMagic* fn_magic;
  int length;
  int magic;
};

const Export kExports[] = {
    {"request", n_request, nullptr, 4, 0},
    {"asyncRequest", http_async_request, nullptr, 4, 0},
    {"get", nullptr, n_method, 2, 0},
    {"head", nullptr, n_method, 2, 1},
    {"post", nullptr, n_method, 3, 2},
    {"put", nullptr, n_method, 3, 3},
    {"patch", nullptr, n_method, 3, 4},
    {"del", nullptr, n_method, 3, 5},
    {"options", nullptr, n_method, 3, 6},
    {"batch", http_batch, nullptr, 1, 0},
    {"file", n_file, nullptr, 3, 0},
    {"expectedStatuses", n_expected_statuses, nullptr, 0, 0},
    {"setResponseCallback", n_set_callback, nullptr, 1, 0},
    {"cookieJar", http_cookie_jar, nullptr, 0, 0},
    {"url", http_url_template, nullptr, 1, 0},
};
const char* const kConstants[][2] = {
    {"TLS_1_0", "tls1.0"},
    {"TLS_1_1", "tls1.1"},
    {"TLS_1_2", "tls1.2"},
    {"TLS_1_3", "tls1.3"},
    // The values of res.ocsp.status and res.ocsp.revocation_reason.
    {"OCSP_STATUS_GOOD", "good"},
    {"OCSP_STATUS_REVOKED", "revoked"},
    {"OCSP_STATUS_SERVER_FAILED", "server_failed"},
    {"OCSP_STATUS_UNKNOWN", "unknown"},
    {"OCSP_REASON_AA_COMPROMISE", "aa_compromise"},
    {"OCSP_REASON_AFFILIATION_CHANGED", "affiliation_changed"},
    {"OCSP_REASON_CA_COMPROMISE", "ca_compromise"},
    {"OCSP_REASON_CERTIFICATE_HOLD", "certificate_hold"},
    {"OCSP_REASON_CESSATION_OF_OPERATION", "cessation_of_operation"},
    {"OCSP_REASON_KEY_COMPROMISE", "key_compromise"},
    {"OCSP_REASON_PRIVILEGE_WITHDRAWN", "privilege_withdrawn"},
    {"OCSP_REASON_REMOVE_FROM_CRL", "remove_from_crl"},
    {"OCSP_REASON_SUPERSEDED", "superseded"},
    {"OCSP_REASON_UNSPECIFIED", "unspecified"},
};

int http_module_init(JSContext* ctx, JSModuleDef* m) {
  VuState* vu = vu_of(ctx);
  JSValue def = JS_NewObject(ctx);
  auto set = [&](const char* name, JSValue v) {
    JS_SetPropertyStr(ctx, def, name, JS_DupValue(ctx, v));
    JS_SetModuleExport(ctx, m, name, v);
  };
  for (const auto& e : kExports) {
    JSValue fn = e.fn ? JS_NewCFunction(ctx, e.fn, e.name, e.length)
                      : JS_NewCFunctionMagic(ctx, e.fn_magic, e.name, e.length, JS_CFUNC_generic_magic, e.magic);
    set(e.name, fn);
  }
  for (const auto& c : kConstants) set(c[0], JS_NewString(ctx, c[1]));
  set("CookieJar", install_cookie_jar_class(ctx));
  // Response: a constructor whose prototype every response object inherits.
  JSValue proto = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, proto, "json", JS_NewCFunction(ctx, n_response_json, "json", 1));
  JS_SetPropertyStr(ctx, proto, "html", JS_NewCFunction(ctx, response_html, "html", 1));
  JS_SetPropertyStr(ctx, proto, "submitForm", JS_NewCFunction(ctx, response_submit_form, "submitForm", 1));
  JS_SetPropertyStr(ctx, proto, "clickLink", JS_NewCFunction(ctx, response_click_link, "clickLink", 1));
  install_response_class(ctx, proto);
  JSValue ctor = JS_NewCFunction2(ctx, n_response_ctor, "Response", 0, JS_CFUNC_constructor, 0);
  JS_SetConstructor(ctx, ctor, proto);
  JS_FreeValue(ctx, vu->response_proto);  // a VuState field: plain JSValue (vu_state.h)
  vu->response_proto = proto;
  set("Response", ctor);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

JSModuleDef* http_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, http_module_init);
  if (!m) return nullptr;
  for (const auto& e : kExports) JS_AddModuleExport(ctx, m, e.name);
  for (const auto& c : kConstants) JS_AddModuleExport(ctx, m, c[0]);
  JS_AddModuleExport(ctx, m, "Response");
  JS_AddModuleExport(ctx, m, "CookieJar");
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::k6
