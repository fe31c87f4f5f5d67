#include "k6/http_request_spec.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"
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
    js::Value v(ctx, JS_GetProperty(ctx, obj, props[i].atom));
    js::Value marker(ctx, JS_IsObject(v.get()) ? JS_GetPropertyStr(ctx, v.get(), "__herdFile") : JS_UNDEFINED);
    if (JS_ToBool(ctx, marker.get()) > 0) {
      multipart = f.file = true;
      js::Value d(ctx, JS_GetPropertyStr(ctx, v.get(), "data"));
      if (!binary_bytes(ctx, d.get(), &f.value)) f.value = js::to_string(ctx, d.get());
      f.filename = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, v.get(), "filename")).get());
      f.content_type = js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, v.get(), "content_type")).get());
    } else {
      f.value = js::to_string(ctx, v.get());
    }
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

// params.headers into `out`, sorted by name (as read_string_map's std::map
// would give them), with no map built and copied per request: an object's own
// property names are unique already.
void read_headers(JSContext* ctx, JSValueConst obj, http::Headers* out) {
  if (!JS_IsObject(obj)) return;
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return;
  if (js::ShapeKeeper* k = js::shape_keeper(ctx)) k->seen(ctx, obj, props, n);
  std::size_t first = out->size();
  out->reserve(first + n);
  std::string key, value;
  for (uint32_t i = 0; i < n; i++)
    if (read_entry(ctx, obj, props[i].atom, &key, &value)) out->emplace_back(std::move(key), std::move(value));
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

// The headers from `first` on are ones a request may carry: a name of token
// characters and a value with no control character but HTAB (as k6's Go client
// requires; a CR or LF would end the header early and start another). Throws
// a TypeError naming the header otherwise.
bool check_headers(JSContext* ctx, const http::Headers& headers, std::size_t first) {
  for (std::size_t i = first; i < headers.size(); i++) {
    const auto& [name, value] = headers[i];
    bool ok = !name.empty();
    for (char c : name) ok = ok && util::is_tchar(c);
    if (!ok) {
      JS_ThrowTypeError(ctx, "params.headers: invalid header name \"%s\"", util::escape_controls(name).c_str());
      return false;
    }
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7F) {
        JS_ThrowTypeError(ctx, "params.headers: invalid value for header \"%s\": control character \\x%02x",
                          name.c_str(), c);
        return false;
      }
    }
  }
  return true;
}

bool parse_expected(JSContext* ctx, JSValueConst cb, RequestSpec* spec) {
  if (JS_IsNull(cb)) {
    spec->has_expected = false;
    return true;
  }
  if (JS_IsUndefined(cb)) return true;
  js::Value list(ctx, JS_GetPropertyStr(ctx, cb, "__expectedStatuses"));
  if (!JS_IsArray(ctx, list.get())) {
    JS_ThrowTypeError(ctx, "responseCallback must be the result of http.expectedStatuses() or null");
    return false;
  }
  spec->expected.clear();
  spec->default_expected = false;
  int64_t len = 0;
  JS_ToInt64(ctx, &len, js::Value(ctx, JS_GetPropertyStr(ctx, list.get(), "length")).get());
  for (int64_t i = 0; i < len; i++) {
    js::Value pair(ctx, JS_GetPropertyUint32(ctx, list.get(), static_cast<uint32_t>(i)));
    js::Value a(ctx, JS_GetPropertyUint32(ctx, pair.get(), 0)), b(ctx, JS_GetPropertyUint32(ctx, pair.get(), 1));
    int32_t lo = 0, hi = 0;
    JS_ToInt32(ctx, &lo, a.get());
    JS_ToInt32(ctx, &hi, b.get());
    spec->expected.push_back({lo, hi});
  }
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
    const std::size_t first = spec->headers.size();
    read_headers(ctx, js::Value(ctx, get_prop(ctx, vu, params, PropAtom::kHeaders)).get(), &spec->headers);
    if (!check_headers(ctx, spec->headers, first)) return false;
    read_string_map(ctx, js::Value(ctx, get_prop(ctx, vu, params, PropAtom::kTags)).get(), &spec->tags);
    js::Value c(ctx, get_prop(ctx, vu, params, PropAtom::kCookies));
    if (JS_IsObject(c.get())) {
      JSPropertyEnum* props = nullptr;
      uint32_t n = 0;
      if (JS_GetOwnPropertyNames(ctx, &props, &n, c.get(), JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) == 0) {
        for (uint32_t i = 0; i < n; i++) {
          const char* k = JS_AtomToCString(ctx, props[i].atom);
          js::Value v(ctx, JS_GetProperty(ctx, c.get(), props[i].atom));
          if (JS_IsObject(v.get()))
            spec->cookies[k ? k : ""] =
                js::to_string(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, v.get(), "value")).get());
          else
            spec->cookies[k ? k : ""] = js::to_string(ctx, v.get());
          JS_FreeCString(ctx, k);
          JS_FreeAtom(ctx, props[i].atom);
        }
        js_free(ctx, props);
      }
    }
    js::Value to(ctx, get_prop(ctx, vu, params, PropAtom::kTimeout));
    if (JS_IsString(to.get())) {
      try {
        spec->timeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(util::parse_duration(js::to_string(ctx, to.get())));
      } catch (const std::exception& e) {
        JS_ThrowTypeError(ctx, "params.timeout: %s", e.what());
        return false;
      }
    } else if (JS_IsNumber(to.get())) {
      double ms = 0;
      JS_ToFloat64(ctx, &ms, to.get());
      spec->timeout = std::chrono::milliseconds(
          static_cast<std::int64_t>(std::isnan(ms) ? 0.0 : std::clamp(ms, -util::kMaxWaitMs, util::kMaxWaitMs)));
    }
    spec->timeout = std::min<std::chrono::milliseconds>(
        spec->timeout, std::chrono::duration_cast<std::chrono::milliseconds>(util::kMaxWait));
    {
      js::Value r(ctx, get_prop(ctx, vu, params, PropAtom::kRedirects));
      if (JS_IsNumber(r.get())) JS_ToInt64(ctx, &spec->redirects, r.get());
    }
    js::Value rt(ctx, get_prop(ctx, vu, params, PropAtom::kResponseType));
    if (JS_IsString(rt.get())) {
      spec->response_type = js::to_string(ctx, rt.get());
      if (spec->response_type != "text" && spec->response_type != "binary" && spec->response_type != "none") {
        JS_ThrowTypeError(ctx, "params.responseType must be \"text\", \"binary\" or \"none\"");
        return false;
      }
    }
    js::Value rc(ctx, get_prop(ctx, vu, params, PropAtom::kResponseCallback));
    if (!JS_IsUndefined(rc.get())) {
      spec->expected.clear();
      spec->default_expected = true;
      spec->has_expected = true;
      if (!parse_expected(ctx, rc.get(), spec)) return false;
    }
  }
  if (!JS_IsUndefined(body) && !JS_IsNull(body)) {
    // a string (or another primitive) as text, binary data as is, an object encoded
    if (binary_bytes(ctx, body, &spec->body)) {  // (false for any non-object)
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
