#include "k6/http_params.h"

#include "js/runtime.h"
#include "k6/http_cookie_jar.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"
#include "util/ascii.h"

namespace herd::k6 {

namespace {

constexpr const char* kUrlMarker = "__herdUrl";

bool parse_compression(JSContext* ctx, JSValueConst v, std::vector<http::Coding>* out) {
  if (!JS_IsString(v)) {
    JS_ThrowTypeError(ctx, "params.compression must be a string such as \"gzip\" or \"gzip, br\"");
    return false;
  }
  std::string list = js::to_string(ctx, v);
  std::string_view rest = list;
  while (!rest.empty()) {
    std::string_view tok = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), tok.size() + 1));
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    http::Coding c;
    if (tok.empty() && rest.empty() && out->empty()) break;
    if (!http::parse_coding(tok, &c) || util::iequals(tok, "x-gzip")) {
      JS_ThrowTypeError(ctx,
                        "params.compression: unknown compression algorithm \"%.*s\", supported algorithms are "
                        "gzip, deflate, br, zstd",
                        static_cast<int>(tok.size()), tok.data());
      return false;
    }
    out->push_back(c);
  }
  return true;
}

bool parse_auth(JSContext* ctx, JSValueConst v, bool* digest) {
  std::string a = js::to_string(ctx, v);
  if (a == "digest") {
    *digest = true;
    return true;
  }
  if (a == "basic") return true;  // as in k6: basic comes from the URL's user info anyway
  if (a == "ntlm") {
    JS_ThrowTypeError(ctx, "params.auth \"ntlm\" is not supported by herd (supported: \"basic\", \"digest\")");
    return false;
  }
  JS_ThrowTypeError(ctx, "params.auth: unknown authentication method \"%s\" (supported: \"basic\", \"digest\")",
                    a.c_str());
  return false;
}

}  // namespace

bool parse_param_extras(JSContext* ctx, JSValueConst params, HttpParamExtras* out) {
  if (!JS_IsObject(params)) return true;
  VuState* vu = vu_of(ctx);
  js::Value v(ctx, get_prop(ctx, vu, params, PropAtom::kCompression));
  if (!JS_IsUndefined(v.get()) && !JS_IsNull(v.get()) && !parse_compression(ctx, v.get(), &out->compression))
    return false;
  v = js::Value(ctx, get_prop(ctx, vu, params, PropAtom::kAuth));
  if (!JS_IsUndefined(v.get()) && !JS_IsNull(v.get()) && !parse_auth(ctx, v.get(), &out->digest_auth)) return false;
  v = js::Value(ctx, get_prop(ctx, vu, params, PropAtom::kJar));
  if (!JS_IsUndefined(v.get()) && !JS_IsNull(v.get())) {
    out->jar = cookie_jar_of(ctx, v.get());
    if (!out->jar) {
      JS_ThrowTypeError(ctx, "params.jar must be a CookieJar (http.cookieJar() or new http.CookieJar())");
      return false;
    }
  }
  return true;
}

bool compress_request_body(JSContext* ctx, const std::vector<http::Coding>& codings, std::string* body,
                           http::Headers* headers, std::string* warning) {
  std::string names;
  for (auto c : codings) names += (names.empty() ? "" : ", ") + std::string(http::coding_name(c));
  try {
    *body = http::encode_content(*body, codings);
  } catch (const std::exception& e) {
    JS_ThrowInternalError(ctx, "params.compression: %s", e.what());
    return false;
  }
  for (auto& [k, v] : *headers) {
    if (!util::iequals(k, "content-encoding")) continue;
    if (v != names)
      *warning =
          "There's a mismatch between the desired `compression` and the manually set `Content-Encoding` "
          "header in the request: \"" +
          v + "\" != \"" + names + "\"";
    return true;
  }
  headers->emplace_back("Content-Encoding", names);
  return true;
}

std::string mask_credentials(const std::string& url) {
  std::size_t start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  std::size_t end = url.find_first_of("/?#", start);
  std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) return url;
  bool has_password = url.find(':', start) < at;
  return url.substr(0, start) + (has_password ? "****:****" : "****") + url.substr(at);
}

bool http_url_parts(JSContext* ctx, JSValueConst v, std::string* url, std::string* name) {
  if (!JS_IsObject(v)) return false;
  if (JS_ToBool(ctx, js::Value(ctx, get_prop(ctx, vu_of(ctx), v, PropAtom::kUrlMarker)).get()) <= 0) return false;
  *url = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, v, "url")).get());
  *name = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, v, "name")).get());
  return true;
}

JSValue http_url_template(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 1 || JS_IsArray(ctx, argv[0]) <= 0)
    return JS_ThrowTypeError(ctx, "http.url is a template tag: use http.url`http://host/items/${id}`");
  int64_t len = 0;
  JS_ToInt64(ctx, &len, js::Value(ctx, JS_GetPropertyStr(ctx, argv[0], "length")).get());
  std::string url, name;
  for (int64_t i = 0; i < len; i++) {
    std::string part =
        js::to_string(ctx, js::Value(ctx, JS_GetPropertyUint32(ctx, argv[0], static_cast<uint32_t>(i))).get());
    url += part;
    name += part;
    if (i + 1 < len) {
      name += "${}";
      if (i + 1 < argc) {
        js::Value str(ctx, JS_ToString(ctx, argv[i + 1]));
        if (str.is_exception()) return JS_EXCEPTION;
        url += js::to_string(ctx, str.get());
      }
    }
  }
  JSValue o = JS_NewObject(ctx);
  JS_DefinePropertyValueStr(ctx, o, kUrlMarker, JS_TRUE, 0);
  JS_SetPropertyStr(ctx, o, "url", new_string(ctx, url));
  JS_SetPropertyStr(ctx, o, "name", new_string(ctx, name));
  return o;
}

}  // namespace herd::k6
