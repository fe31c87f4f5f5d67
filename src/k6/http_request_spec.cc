#include "k6/http_request_spec.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "k6/natives_util.h"
#include "util/ascii.h"
#include "util/duration.h"

namespace herd::k6 {

namespace {

using util::iequals;

bool has_header(const http::Headers& h, const char* name) {
  for (auto& kv : h)
    if (iequals(kv.first, name)) return true;
  return false;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Encodes an object body: multipart when any value is an http.file(), else urlencoded.
bool encode_object_body(JSContext* ctx, JSValueConst obj, RequestSpec* spec) {
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  struct Field {
    std::string name, value, filename, content_type;
    bool file = false;
  };
  std::vector<Field> fields;
  bool multipart = false;
  for (uint32_t i = 0; i < n; i++) {
    Field f;
    const char* k = JS_AtomToCString(ctx, props[i].atom);
    f.name = k ? k : "";
    JS_FreeCString(ctx, k);
    JSValue v = JS_GetProperty(ctx, obj, props[i].atom);
    JSValue marker = JS_IsObject(v) ? JS_GetPropertyStr(ctx, v, "__herdFile") : JS_UNDEFINED;
    if (JS_ToBool(ctx, marker) > 0) {
      multipart = f.file = true;
      JSValue d = JS_GetPropertyStr(ctx, v, "data");
      if (!binary_bytes(ctx, d, &f.value)) f.value = js::to_string(ctx, d);
      JS_FreeValue(ctx, d);
      JSValue fn = JS_GetPropertyStr(ctx, v, "filename");
      f.filename = js::to_string(ctx, fn);
      JS_FreeValue(ctx, fn);
      JSValue ct = JS_GetPropertyStr(ctx, v, "content_type");
      f.content_type = js::to_string(ctx, ct);
      JS_FreeValue(ctx, ct);
    } else {
      f.value = js::to_string(ctx, v);
    }
    JS_FreeValue(ctx, marker);
    JS_FreeValue(ctx, v);
    fields.push_back(std::move(f));
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  if (multipart) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char b[40];
    std::snprintf(b, sizeof b, "herdboundary%016llx", static_cast<unsigned long long>(rng()));
    std::string boundary = b;
    std::string body;
    for (auto& f : fields) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"";
      if (f.file) body += "; filename=\"" + f.filename + "\"\r\nContent-Type: " + f.content_type;
      body += "\r\n\r\n" + f.value + "\r\n";
    }
    body += "--" + boundary + "--\r\n";
    spec->body = std::move(body);
    if (!has_header(spec->headers, "Content-Type"))
      spec->headers.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
  } else {
    std::string body;
    for (auto& f : fields) {
      if (!body.empty()) body += '&';
      body += url_encode(f.name) + "=" + url_encode(f.value);
    }
    spec->body = std::move(body);
    if (!has_header(spec->headers, "Content-Type"))
      spec->headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  }
  spec->has_body = true;
  return true;
}

bool parse_expected(JSContext* ctx, JSValueConst cb, RequestSpec* spec) {
  if (JS_IsNull(cb)) {
    spec->has_expected = false;
    return true;
  }
  if (JS_IsUndefined(cb)) return true;
  JSValue list = JS_GetPropertyStr(ctx, cb, "__expectedStatuses");
  if (!JS_IsArray(ctx, list)) {
    JS_FreeValue(ctx, list);
    JS_ThrowTypeError(ctx, "responseCallback must be the result of http.expectedStatuses() or null");
    return false;
  }
  spec->expected.clear();
  JSValue lenv = JS_GetPropertyStr(ctx, list, "length");
  int64_t len = 0;
  JS_ToInt64(ctx, &len, lenv);
  JS_FreeValue(ctx, lenv);
  for (int64_t i = 0; i < len; i++) {
    JSValue pair = JS_GetPropertyUint32(ctx, list, static_cast<uint32_t>(i));
    JSValue a = JS_GetPropertyUint32(ctx, pair, 0), b = JS_GetPropertyUint32(ctx, pair, 1);
    int32_t lo = 0, hi = 0;
    JS_ToInt32(ctx, &lo, a);
    JS_ToInt32(ctx, &hi, b);
    spec->expected.push_back({lo, hi});
    JS_FreeValue(ctx, a);
    JS_FreeValue(ctx, b);
    JS_FreeValue(ctx, pair);
  }
  JS_FreeValue(ctx, list);
  return true;
}

}  // namespace

bool parse_request(JSContext* ctx, VuState* vu, const std::string& method, JSValueConst url, JSValueConst body,
                   JSValueConst params, RequestSpec* spec) {
  spec->method = method;
  std::string url_name;  // the name tag of an http.url`...` URL
  if (!http_url_parts(ctx, url, &spec->url, &url_name)) spec->url = js::to_string(ctx, url);
  spec->timeout = vu->run->http.timeout;
  spec->redirects = vu->run->http.max_redirects;
  if (vu->run->http.discard_response_bodies) spec->response_type = "none";
  if (spec->url.rfind("http://", 0) != 0 && spec->url.rfind("https://", 0) != 0) {
    JS_ThrowTypeError(ctx, "invalid URL \"%s\": only http:// and https:// URLs are supported", spec->url.c_str());
    return false;
  }
  if (!JS_IsUndefined(vu->response_callback) && !parse_expected(ctx, vu->response_callback, spec)) return false;
  if (!parse_param_extras(ctx, params, &spec->extras)) return false;
  if (JS_IsObject(params)) {
    JSValue h = JS_GetPropertyStr(ctx, params, "headers");
    std::map<std::string, std::string> hm;
    read_string_map(ctx, h, &hm);
    JS_FreeValue(ctx, h);
    for (auto& kv : hm) spec->headers.emplace_back(kv.first, kv.second);
    JSValue t = JS_GetPropertyStr(ctx, params, "tags");
    read_string_map(ctx, t, &spec->tags);
    JS_FreeValue(ctx, t);
    JSValue c = JS_GetPropertyStr(ctx, params, "cookies");
    if (JS_IsObject(c)) {
      JSPropertyEnum* props = nullptr;
      uint32_t n = 0;
      if (JS_GetOwnPropertyNames(ctx, &props, &n, c, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) == 0) {
        for (uint32_t i = 0; i < n; i++) {
          const char* k = JS_AtomToCString(ctx, props[i].atom);
          JSValue v = JS_GetProperty(ctx, c, props[i].atom);
          if (JS_IsObject(v)) {
            JSValue vv = JS_GetPropertyStr(ctx, v, "value");
            spec->cookies[k ? k : ""] = js::to_string(ctx, vv);
            JS_FreeValue(ctx, vv);
          } else {
            spec->cookies[k ? k : ""] = js::to_string(ctx, v);
          }
          JS_FreeValue(ctx, v);
          JS_FreeCString(ctx, k);
          JS_FreeAtom(ctx, props[i].atom);
        }
        js_free(ctx, props);
      }
    }
    JS_FreeValue(ctx, c);
    JSValue to = JS_GetPropertyStr(ctx, params, "timeout");
    if (JS_IsString(to)) {
      try {
        spec->timeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(util::parse_duration(js::to_string(ctx, to)));
      } catch (const std::exception& e) {
        JS_FreeValue(ctx, to);
        JS_ThrowTypeError(ctx, "params.timeout: %s", e.what());
        return false;
      }
    } else if (JS_IsNumber(to)) {
      double ms = 0;
      JS_ToFloat64(ctx, &ms, to);
      spec->timeout = std::chrono::milliseconds(
          static_cast<std::int64_t>(std::isnan(ms) ? 0.0 : std::clamp(ms, -util::kMaxWaitMs, util::kMaxWaitMs)));
    }
    spec->timeout = std::min<std::chrono::milliseconds>(
        spec->timeout, std::chrono::duration_cast<std::chrono::milliseconds>(util::kMaxWait));
    JS_FreeValue(ctx, to);
    JSValue r = JS_GetPropertyStr(ctx, params, "redirects");
    if (JS_IsNumber(r)) JS_ToInt64(ctx, &spec->redirects, r);
    JS_FreeValue(ctx, r);
    JSValue rt = JS_GetPropertyStr(ctx, params, "responseType");
    if (JS_IsString(rt)) {
      spec->response_type = js::to_string(ctx, rt);
      if (spec->response_type != "text" && spec->response_type != "binary" && spec->response_type != "none") {
        JS_FreeValue(ctx, rt);
        JS_ThrowTypeError(ctx, "params.responseType must be \"text\", \"binary\" or \"none\"");
        return false;
      }
    }
    JS_FreeValue(ctx, rt);
    JSValue rc = JS_GetPropertyStr(ctx, params, "responseCallback");
    if (!JS_IsUndefined(rc)) {
      spec->expected = {{200, 399}};
      spec->has_expected = true;
      if (!parse_expected(ctx, rc, spec)) {
        JS_FreeValue(ctx, rc);
        return false;
      }
    }
    JS_FreeValue(ctx, rc);
  }
  if (!JS_IsUndefined(body) && !JS_IsNull(body)) {
    if (JS_IsString(body)) {
      spec->body = js::to_string(ctx, body);
      spec->has_body = true;
    } else if (binary_bytes(ctx, body, &spec->body)) {
      spec->has_body = true;
    } else if (JS_IsObject(body)) {
      if (!encode_object_body(ctx, body, spec)) return false;
    } else {
      spec->body = js::to_string(ctx, body);
      spec->has_body = true;
    }
  }
  if (!url_name.empty()) spec->tags.emplace("name", url_name);  // a user "name" tag wins
  if (UserInfo creds; spec->extras.digest_auth && split_user_info(spec->url, &creds)) {
    spec->url = creds.bare_url;  // as k6: the first request goes without credentials
    spec->extras.digest_creds = std::make_shared<const UserInfo>(std::move(creds));
  }
  if (spec->has_body && !spec->extras.compression.empty()) {
    std::string warning;
    if (!compress_request_body(ctx, spec->extras.compression, &spec->body, &spec->headers, &warning)) return false;
    if (!warning.empty()) vu->run->logger->log(Logger::Level::kWarn, warning, "http");
  }
  if (!has_header(spec->headers, "User-Agent") && !vu->run->http.user_agent.empty())
    spec->headers.emplace_back("User-Agent", vu->run->http.user_agent);
  return true;
}

}  // namespace herd::k6
