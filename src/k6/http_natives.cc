// http.request and http.batch: parameters, redirects (one sample per hop, as
// k6 does), cookies, metrics, and the Response object.
#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "k6/http_debug.h"
#include "k6/http_params.h"
#include "k6/natives_util.h"
#include "util/ascii.h"
#include "util/duration.h"

namespace herd::k6 {

namespace {

struct StatusRange {
  int lo, hi;
};

/// One logical request as the script described it.
struct RequestSpec {
  std::string method;
  std::string url;
  std::string body;
  bool has_body = false;
  http::Headers headers;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> cookies;  ///< request cookies (params.cookies)
  std::chrono::milliseconds timeout{60000};
  std::int64_t redirects = 10;
  std::string response_type = "text";  ///< text | binary | none
  bool has_expected = true;            ///< false: responseCallback null -> no http_req_failed
  std::vector<StatusRange> expected{{200, 399}};
  HttpParamExtras extras;  ///< compression, auth, jar (k6/http_params.h)
};

std::string canonical_header(const std::string& k) {
  std::string out = k;
  bool up = true;
  for (auto& c : out) {
    c = up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
           : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    up = c == '-';
  }
  return out;
}

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

// Fills `spec` from (method, url, body, params); on failure a JS exception is pending.
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
      spec->timeout = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    }
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
  if (spec->extras.digest_auth && split_user_info(spec->url, &spec->extras.digest_creds))
    spec->url = spec->extras.digest_creds.bare_url;  // as k6: the first request goes without credentials
  if (spec->has_body && !spec->extras.compression.empty()) {
    std::string warning;
    if (!compress_request_body(ctx, spec->extras.compression, &spec->body, &spec->headers, &warning)) return false;
    if (!warning.empty()) vu->run->logger->log(Logger::Level::kWarn, warning, "http");
  }
  if (!has_header(spec->headers, "User-Agent") && !vu->run->http.user_agent.empty())
    spec->headers.emplace_back("User-Agent", vu->run->http.user_agent);
  return true;
}

std::string resolve_location(const std::string& base, const std::string& loc) {
  CURLU* u = curl_url();
  std::string out = loc;
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, loc.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
      out = s;
      curl_free(s);
    }
  }
  curl_url_cleanup(u);
  return out;
}

/// A logical request in flight: its hops, their samples, the final response.
struct Flight : std::enable_shared_from_this<Flight> {
  VuState* vu = nullptr;
  RequestSpec spec;
  std::string current_url;
  std::string current_method;
  std::int64_t redirects_left = 0;
  http::Response final;
  std::vector<Cookie> set_cookies;  ///< cookies set by the final response
  bool done = false;
  bool abandoned = false;
  std::function<void()> on_done;  ///< async requests: called instead of waking the VU
  std::string sent_cookie_header;
  std::string digest_header;  ///< Authorization answering a digest challenge (k6/digest_auth.h)
  bool paced = false;         ///< options.rps slot taken

  void start_hop() {
    if (!paced && vu->run->http.rps) {  // options.rps: the first hop waits for its slot
      paced = true;
      auto now = loop::Clock::now();
      std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
      std::int64_t wait_ns = vu->run->http.rps->reserve(now_ns) - now_ns;
      if (wait_ns > 0) {
        auto self = shared_from_this();
        vu->loop->add_timer(now + std::chrono::nanoseconds(wait_ns), [self] {
          if (!self->abandoned) self->start_hop();
        });
        return;
      }
    }
    http::Request req;
    req.method = current_method;
    req.url = current_url;
    req.headers = spec.headers;
    req.timeout = spec.timeout;
    req.keep_body = spec.response_type != "none";
    req.insecure_skip_tls_verify = vu->run->http.insecure_skip_tls_verify;
    req.conn_group = static_cast<std::uint64_t>(vu->id_in_test);  // each VU its own connections, as in k6
    if (const http::NetConfig* net = vu->run->http.net.get(); net && !net->local_ips.empty())
      req.local_ip = net->local_ips.get(static_cast<std::uint64_t>(std::max<std::int64_t>(0, vu->id_in_test - 1)));
    if (current_method == spec.method && spec.has_body) req.body = spec.body;
    CookieJar& vu_jar = spec.extras.jar ? *spec.extras.jar : vu->jar;  // params.jar, else the VU's
    std::string jar = vu_jar.empty() ? std::string() : vu_jar.header_for(current_url, vu->now_us() / 1000000);
    std::string cookie;
    if (!spec.cookies.empty()) {
      // Request cookies replace jar cookies of the same name.
      std::vector<Cookie> jc = vu_jar.for_url(current_url, vu->now_us() / 1000000);
      for (auto& c : jc)
        if (!spec.cookies.count(c.name)) cookie += (cookie.empty() ? "" : "; ") + c.name + "=" + c.value;
      for (auto& [k, v] : spec.cookies) cookie += (cookie.empty() ? "" : "; ") + k + "=" + v;
    } else {
      cookie = jar;
    }
    if (!cookie.empty()) req.headers.emplace_back("Cookie", cookie);
    if (!digest_header.empty()) req.headers.emplace_back("Authorization", digest_header);
    sent_cookie_header = cookie;
    debug_request(*vu, req);
    auto self = shared_from_this();
    vu->http->start(std::move(req), [self](http::Response&& r) { self->on_hop(std::move(r)); });
  }

  bool expected(int status) const {
    for (auto& r : spec.expected)
      if (status >= r.lo && status <= r.hi) return true;
    return false;
  }

  void emit(const http::Response& r) {
    bool ok = spec.has_expected && expected(r.status);
    // Fast path: same request shape and outcome as the VU's previous sample.
    char exp = spec.has_expected ? (ok ? 'T' : 'F') : '-';
    auto& last = vu->last_http;
    metrics::TagSet tags;
    if (last.valid && last.status == r.status && last.error_code == r.error_code && last.expected == exp &&
        last.base_hash == vu->base_tags.hash() && last.url == current_url && last.method == current_method &&
        last.proto == r.proto && last.tls_version == r.tls_version && last.tags == spec.tags) {
      tags = last.set;
    } else {
      std::map<std::string, std::string> extra = spec.tags;
      extra.emplace("method", current_method);
      std::string tag_url = mask_credentials(current_url);  // as k6: no password in metrics
      extra.emplace("url", tag_url);
      extra.emplace("name", tag_url);  // emplace: a user "name" tag wins
      extra["status"] = std::to_string(r.status);
      extra["proto"] = r.proto;
      if (!r.tls_version.empty()) extra["tls_version"] = r.tls_version;  // a k6 default system tag
      if (r.error_code) extra["error_code"] = std::to_string(r.error_code);
      if (spec.has_expected) extra["expected_response"] = ok ? "true" : "false";
      tags = metrics::intern(tags_with(*vu, extra));  // one storage for all VUs: series lookups by pointer
      last.valid = true;
      last.status = r.status;
      last.error_code = r.error_code;
      last.expected = exp;
      last.base_hash = vu->base_tags.hash();
      last.url = current_url;
      last.method = current_method;
      last.proto = r.proto;
      last.tls_version = r.tls_version;
      last.tags = spec.tags;
      last.set = tags;
    }
    std::int64_t now = vu->now_us();
    metrics::Sink::Batch b(*vu->sink);
    b.add(metrics::kHttpReqs, tags, 1, now);
    const auto& t = r.timings;
    b.add(metrics::kHttpReqDuration, tags, t.duration, now);
    b.add(metrics::kHttpReqBlocked, tags, t.blocked, now);
    b.add(metrics::kHttpReqConnecting, tags, t.connecting, now);
    b.add(metrics::kHttpReqTlsHandshaking, tags, t.tls_handshaking, now);
    b.add(metrics::kHttpReqSending, tags, t.sending, now);
    b.add(metrics::kHttpReqWaiting, tags, t.waiting, now);
    b.add(metrics::kHttpReqReceiving, tags, t.receiving, now);
    if (spec.has_expected) b.add(metrics::kHttpReqFailed, tags, ok ? 0 : 1, now);
    b.add(metrics::kDataSent, vu->base_tags, static_cast<double>(r.bytes_sent), now);
    b.add(metrics::kDataReceived, vu->base_tags, static_cast<double>(r.bytes_received), now);
  }

  void on_hop(http::Response&& r) {
    if (abandoned) return;
    debug_response(*vu, r);
    emit(r);
    std::int64_t now_s = 0;
    set_cookies.clear();
    std::optional<UrlParts> origin;
    for (auto& [k, v] : r.headers) {
      if (!iequals(k, "set-cookie")) continue;
      if (!origin) {
        origin = split_url(current_url);
        now_s = vu->now_us() / 1000000;
      }
      Cookie c;
      if (parse_set_cookie(v, *origin, now_s, &c)) {
        (spec.extras.jar ? *spec.extras.jar : vu->jar).store(c, now_s);
        set_cookies.push_back(c);
      }
    }
    if (r.status == 401 && spec.extras.digest_auth && digest_header.empty()) {
      // k6's digest: the 401 is a sample; the request is sent again with the answer
      std::string cnonce = new_cnonce();
      for (auto& [k, v] : r.headers)
        if (iequals(k, "www-authenticate") && digest_header.empty())
          digest_header =
              digest_authorization(v, current_method, request_target(current_url), spec.extras.digest_creds, cnonce);
      if (!digest_header.empty()) {
        start_hop();
        return;
      }
    }
    bool is_redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    std::string location;
    if (is_redirect)
      for (auto& [k, v] : r.headers)
        if (iequals(k, "location")) location = v;
    if (is_redirect && !location.empty()) {
      if (redirects_left > 0) {
        redirects_left--;
        current_url = resolve_location(current_url, location);
        if (r.status == 303 || ((r.status == 301 || r.status == 302) && current_method == "POST"))
          if (current_method != "HEAD") current_method = "GET";
        start_hop();
        return;
      }
      if (spec.redirects > 0)
        vu->run->logger->log(Logger::Level::kWarn,
                             "Stopped after " + std::to_string(spec.redirects) +
                                 " redirects and returned the redirection; pass { redirects: n } in request params or "
                                 "set global maxRedirects to avoid this",
                             "http");
    }
    final = std::move(r);
    final.url = current_url;
    done = true;
    if (on_done)
      on_done();
    else
      vu->wake();
  }
};

enum Atom : std::size_t {
  kAStatus,
  kAStatusText,
  kAProto,
  kAUrl,
  kARemoteIp,
  kARemotePort,
  kAError,
  kAErrorCode,
  kATlsVersion,
  kABody,
  kAHeaders,
  kABlocked,
  kAConnecting,
  kATlsHandshaking,
  kASending,
  kAWaiting,
  kAReceiving,
  kADuration,
  kATimings,
  kACookies,
  kARequest,
  kAMethod,
  kATlsCipherSuite,
  kAOcsp,
  kACount
};
const char* const kAtomNames[kACount] = {
    "status",     "status_text",     "proto",       "url",     "remote_ip",        "remote_port",
    "error",      "error_code",      "tls_version", "body",    "headers",          "blocked",
    "connecting", "tls_handshaking", "sending",     "waiting", "receiving",        "duration",
    "timings",    "cookies",         "request",     "method",  "tls_cipher_suite", "ocsp"};

void put(JSContext* ctx, VuState* vu, JSValue obj, Atom a, JSValue v) {
  JS_DefinePropertyValue(ctx, obj, vu->atoms[a], v, JS_PROP_C_W_E);
}

JSValue build_headers(JSContext* ctx, const http::Headers& headers) {
  JSValue h = JS_NewObject(ctx);
  std::vector<std::pair<std::string, std::string>> hv;
  hv.reserve(headers.size());
  for (auto& [k, v] : headers) {
    std::string ck = canonical_header(k);
    bool merged = false;
    for (auto& e : hv)
      if (e.first == ck) {
        e.second += ", " + v;
        merged = true;
      }
    if (!merged) hv.emplace_back(std::move(ck), v);
  }
  for (auto& [k, v] : hv) JS_SetPropertyStr(ctx, h, k.c_str(), new_string(ctx, v));
  return h;
}

// k6's res.ocsp: the stapled OCSP response's fields (unix seconds).
JSValue build_ocsp(JSContext* ctx, const http::Response& r) {
  const http::OcspInfo& o = r.ocsp;
  JSValue v = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, v, "produced_at", JS_NewInt64(ctx, o.produced_at));
  JS_SetPropertyStr(ctx, v, "this_update", JS_NewInt64(ctx, o.this_update));
  JS_SetPropertyStr(ctx, v, "next_update", JS_NewInt64(ctx, o.next_update));
  JS_SetPropertyStr(ctx, v, "revoked_at", JS_NewInt64(ctx, o.revoked_at));
  JS_SetPropertyStr(ctx, v, "revocation_reason", new_string(ctx, o.revocation_reason));
  JS_SetPropertyStr(ctx, v, "status", new_string(ctx, o.status));
  return v;
}

JSValue build_timings(JSContext* ctx, VuState* vu, const http::Timings& t) {
  JSValue tm = JS_NewObject(ctx);
  put(ctx, vu, tm, kABlocked, JS_NewFloat64(ctx, t.blocked));
  put(ctx, vu, tm, kAConnecting, JS_NewFloat64(ctx, t.connecting));
  put(ctx, vu, tm, kATlsHandshaking, JS_NewFloat64(ctx, t.tls_handshaking));
  put(ctx, vu, tm, kASending, JS_NewFloat64(ctx, t.sending));
  put(ctx, vu, tm, kAWaiting, JS_NewFloat64(ctx, t.waiting));
  put(ctx, vu, tm, kAReceiving, JS_NewFloat64(ctx, t.receiving));
  put(ctx, vu, tm, kADuration, JS_NewFloat64(ctx, t.duration));
  return tm;
}

JSValue build_cookies(JSContext* ctx, const Flight& f) {
  JSValue cookies = JS_NewObject(ctx);
  std::map<std::string, std::vector<const Cookie*>> by_name;
  for (auto& c : f.set_cookies) by_name[c.name].push_back(&c);
  for (auto& [name, list] : by_name) {
    JSValue arr = JS_NewArray(ctx);
    for (uint32_t i = 0; i < list.size(); i++) {
      const Cookie& c = *list[i];
      JSValue co = JS_NewObject(ctx);
      JS_SetPropertyStr(ctx, co, "name", new_string(ctx, c.name));
      JS_SetPropertyStr(ctx, co, "value", new_string(ctx, c.value));
      JS_SetPropertyStr(ctx, co, "domain", new_string(ctx, c.domain));
      JS_SetPropertyStr(ctx, co, "path", new_string(ctx, c.path));
      JS_SetPropertyStr(ctx, co, "http_only", JS_NewBool(ctx, c.http_only));
      JS_SetPropertyStr(ctx, co, "secure", JS_NewBool(ctx, c.secure));
      JS_SetPropertyStr(ctx, co, "max_age", JS_NewInt64(ctx, c.max_age));
      JS_SetPropertyStr(ctx, co, "expires", JS_NewInt64(ctx, c.expires_unix * 1000));
      JS_SetPropertyUint32(ctx, arr, i, co);
    }
    JS_SetPropertyStr(ctx, cookies, name.c_str(), arr);
  }
  return cookies;
}

JSValue build_request(JSContext* ctx, VuState* vu, const Flight& f) {
  JSValue rq = JS_NewObject(ctx);
  put(ctx, vu, rq, kAMethod, new_string(ctx, f.current_method));
  put(ctx, vu, rq, kAUrl, new_string(ctx, f.current_url));
  put(ctx, vu, rq, kABody, new_string(ctx, f.spec.has_body ? f.spec.body : ""));
  JSValue rh = JS_NewObject(ctx);
  for (auto& [k, v] : f.spec.headers) {
    JSValue arr = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, arr, 0, new_string(ctx, v));
    JS_SetPropertyStr(ctx, rh, canonical_header(k).c_str(), arr);
  }
  if (!f.sent_cookie_header.empty()) {
    JSValue arr = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, arr, 0, new_string(ctx, f.sent_cookie_header));
    JS_SetPropertyStr(ctx, rh, "Cookie", arr);
  }
  put(ctx, vu, rq, kAHeaders, rh);
  return rq;
}

/// Lazily built Response fields, in the order of kLazyFields.
enum LazyField {
  kLHeaders,
  kLTimings,
  kLCookies,
  kLRequest,
  kLRemoteIp,
  kLRemotePort,
  kLStatusText,
  kLProto,
  kLUrl,
  kLError,
  kLTlsVersion,
  kLTlsCipherSuite,
  kLOcsp
};
const Atom kLazyAtoms[] = {kAHeaders, kATimings, kACookies, kARequest,    kARemoteIp,       kARemotePort, kAStatusText,
                           kAProto,   kAUrl,     kAError,   kATlsVersion, kATlsCipherSuite, kAOcsp};

JSClassID response_class_id = 0;

/// What a Response object holds on the C++ side: the exchange it describes.
struct ResponseData {
  std::shared_ptr<Flight> flight;
};

void response_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<ResponseData*>(JS_GetOpaque(val, response_class_id));
}

JSValue build_lazy(JSContext* ctx, VuState* vu, Flight& f, int field) {
  http::Response& r = f.final;
  switch (field) {
    case kLHeaders:
      return build_headers(ctx, r.headers);
    case kLTimings:
      return build_timings(ctx, vu, r.timings);
    case kLCookies:
      return build_cookies(ctx, f);
    case kLRequest:
      return build_request(ctx, vu, f);
    case kLRemoteIp:
      return new_string(ctx, r.remote_ip);
    case kLRemotePort:
      return JS_NewInt32(ctx, r.remote_port);
    case kLStatusText:
      return new_string(ctx, r.status_text);
    case kLProto:
      return new_string(ctx, r.proto);
    case kLUrl:
      return new_string(ctx, r.url);
    case kLError:
      return new_string(ctx, r.error);
    case kLTlsVersion:
      return new_string(ctx, r.tls_version);
    case kLTlsCipherSuite:
      return new_string(ctx, r.tls_cipher_suite);
    case kLOcsp:
      return build_ocsp(ctx, r);
    default:
      return new_string(ctx, "");
  }
}

void ensure_atoms(JSContext* ctx, VuState* vu) {
  if (vu->atoms.empty())
    for (std::size_t i = 0; i < kACount; i++) vu->atoms.push_back(JS_NewAtom(ctx, kAtomNames[i]));
}

/// Getter on Response.prototype: builds the field once and caches it on the instance.
JSValue response_lazy_get(JSContext* ctx, JSValueConst this_val, int magic) {
  auto* d = static_cast<ResponseData*>(JS_GetOpaque(this_val, response_class_id));
  if (!d) return JS_UNDEFINED;
  VuState* vu = vu_of(ctx);
  ensure_atoms(ctx, vu);
  JSValue v = build_lazy(ctx, vu, *d->flight, magic);
  JS_DefinePropertyValue(ctx, this_val, vu->atoms[kLazyAtoms[magic]], JS_DupValue(ctx, v), JS_PROP_C_W_E);
  return v;
}

JSValue make_response(JSContext* ctx, VuState* vu, std::shared_ptr<Flight> fp) {
  ensure_atoms(ctx, vu);
  Flight& f = *fp;
  http::Response& r = f.final;
  bool lazy = JS_IsObject(vu->response_proto) && response_class_id != 0 &&
              JS_IsRegisteredClass(JS_GetRuntime(ctx), response_class_id);
  JSValue o = lazy ? JS_NewObjectProtoClass(ctx, vu->response_proto, response_class_id) : JS_NewObject(ctx);
  // status, error_code and body are set now; the rest are built when read (Response.prototype getters)
  put(ctx, vu, o, kAStatus, JS_NewInt32(ctx, r.status));
  put(ctx, vu, o, kAErrorCode, JS_NewInt32(ctx, r.error_code));
  if (f.spec.response_type == "none") {
    put(ctx, vu, o, kABody, JS_NULL);
  } else if (f.spec.response_type == "binary") {
    js::ensure_typed_arrays(ctx);
    put(ctx, vu, o, kABody, JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()));
  } else {
    put(ctx, vu, o, kABody, new_string(ctx, r.body));
  }
  if (lazy) {
    JS_SetOpaque(o, new ResponseData{std::move(fp)});
  } else {
    for (int field = kLHeaders; field <= kLOcsp; field++)
      put(ctx, vu, o, kLazyAtoms[field], build_lazy(ctx, vu, f, field));
  }
  return o;
}

std::shared_ptr<Flight> new_flight(VuState* vu, RequestSpec&& spec) {
  auto f = std::make_shared<Flight>();
  f->vu = vu;
  f->spec = std::move(spec);
  f->current_url = f->spec.url;
  f->current_method = f->spec.method;
  f->redirects_left = f->spec.redirects;
  return f;
}

/// Waits until every flight is done. False (and all abandoned) if interrupted.
bool wait_all(VuState* vu, const std::vector<std::shared_ptr<Flight>>& flights) {
  for (;;) {
    bool all = true;
    for (auto& f : flights) all = all && f->done;
    if (all) return true;
    if (!vu->suspend()) {
      for (auto& f : flights) f->abandoned = true;
      return false;
    }
  }
}

// After a completed flight: log or throw on network errors (options.throw).
bool report_error(JSContext* ctx, VuState* vu, const Flight& f) {
  // HTTP error statuses carry error_code 1000+status but are not request failures;
  // a body that failed to decompress (1701) is one, though a status came.
  if (f.final.error_code == 0 || (f.final.status != 0 && f.final.error.empty())) return true;
  if (vu->run->http.throw_errors) {
    JS_ThrowInternalError(ctx, "%s", f.final.error.c_str());
    return false;
  }
  vu->run->logger->log(Logger::Level::kWarn,
                       "Request Failed error=\"" + f.final.error + "\" url=" + mask_credentials(f.current_url), "http");
  return true;
}

}  // namespace

void install_response_class(JSContext* ctx, JSValue proto) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&response_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, response_class_id)) {
    JSClassDef def{};
    def.class_name = "Response";
    def.finalizer = response_finalizer;
    JS_NewClass(rt, response_class_id, &def);
  }
  for (int field = kLHeaders; field <= kLOcsp; field++) {
    JSCFunctionType fn;
    fn.getter_magic = response_lazy_get;
    const char* name = kAtomNames[kLazyAtoms[field]];
    JSValue getter = JS_NewCFunction2(ctx, fn.generic, name, 0, JS_CFUNC_getter_magic, field);
    JSAtom a = JS_NewAtom(ctx, name);
    JS_DefineProperty(ctx, proto, a, JS_UNDEFINED, getter, JS_UNDEFINED,
                      JS_PROP_CONFIGURABLE | JS_PROP_HAS_GET | JS_PROP_HAS_CONFIGURABLE);
    JS_FreeAtom(ctx, a);
    JS_FreeValue(ctx, getter);
  }
}

JSValue http_request(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 0 ? js::to_string(ctx, argv[0]) : "GET";
  RequestSpec spec;
  if (!parse_request(ctx, vu, method, argc > 1 ? argv[1] : JS_UNDEFINED, argc > 2 ? argv[2] : JS_UNDEFINED,
                     argc > 3 ? argv[3] : JS_UNDEFINED, &spec))
    return JS_EXCEPTION;
  auto f = new_flight(vu, std::move(spec));
  f->start_hop();
  if (!wait_all(vu, {f})) return throw_interrupted(ctx);
  if (!report_error(ctx, vu, *f)) return JS_EXCEPTION;
  return make_response(ctx, vu, f);
}

JSValue http_async_request(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 0 ? js::to_string(ctx, argv[0]) : "GET";
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  RequestSpec spec;
  if (!parse_request(ctx, vu, method, argc > 1 ? argv[1] : JS_UNDEFINED, argc > 2 ? argv[2] : JS_UNDEFINED,
                     argc > 3 ? argv[3] : JS_UNDEFINED, &spec))
    return JS_EXCEPTION;
  JSValue funcs[2];
  JSValue promise = JS_NewPromiseCapability(ctx, funcs);
  if (JS_IsException(promise)) return promise;
  std::int64_t id = vu->next_async_id++;
  auto f = new_flight(vu, std::move(spec));
  VuState::AsyncOp op;
  op.values = {funcs[0], funcs[1]};
  std::weak_ptr<Flight> weak = f;
  op.cancel = [weak] {
    if (auto fl = weak.lock()) fl->abandoned = true;
  };
  vu->async_ops.emplace(id, std::move(op));
  f->on_done = [vu, id, f_raw = f.get()] {
    // The HTTP callback holds the flight alive right now; the queued work keeps it alive after.
    std::shared_ptr<Flight> keep = f_raw->shared_from_this();
    vu->post_ready([vu, id, keep] {
      Flight* f_raw = keep.get();
      auto it = vu->async_ops.find(id);
      if (it == vu->async_ops.end()) return;
      JSContext* c = vu->js_ctx;
      JSValue resolve = it->second.values[0], reject = it->second.values[1];
      it->second.values.clear();
      vu->async_ops.erase(it);
      JSValue arg;
      JSValue fn;
      bool failed = f_raw->final.error_code != 0 && (f_raw->final.status == 0 || !f_raw->final.error.empty());
      if (failed && vu->run->http.throw_errors) {
        arg = JS_NewError(c);
        JS_SetPropertyStr(c, arg, "message", new_string(c, f_raw->final.error));
        fn = reject;
      } else {
        if (failed)
          vu->run->logger->log(
              Logger::Level::kWarn,
              "Request Failed error=\"" + f_raw->final.error + "\" url=" + mask_credentials(f_raw->current_url),
              "http");
        arg = make_response(c, vu, keep);
        fn = resolve;
      }
      JSValue r = JS_Call(c, fn, JS_UNDEFINED, 1, &arg);
      JS_FreeValue(c, r);
      JS_FreeValue(c, arg);
      JS_FreeValue(c, resolve);
      JS_FreeValue(c, reject);
    });
  };
  f->start_hop();
  return promise;
}

JSValue http_batch(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  JSValueConst reqs = argc > 0 ? argv[0] : JS_UNDEFINED;
  if (!JS_IsObject(reqs)) return JS_ThrowTypeError(ctx, "http.batch() needs an array or object of requests");
  bool is_array = JS_IsArray(ctx, reqs) > 0;
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, reqs, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return JS_EXCEPTION;
  std::vector<std::shared_ptr<Flight>> flights;
  std::vector<JSAtom> keys;
  bool ok = true;
  for (uint32_t i = 0; i < n && ok; i++) {
    JSValue item = JS_GetProperty(ctx, reqs, props[i].atom);
    RequestSpec spec;
    std::string u_url, u_name;
    if (JS_IsString(item) || http_url_parts(ctx, item, &u_url, &u_name)) {
      ok = parse_request(ctx, vu, "GET", item, JS_UNDEFINED, JS_UNDEFINED, &spec);
    } else if (JS_IsArray(ctx, item) > 0) {
      JSValue m = JS_GetPropertyUint32(ctx, item, 0), u = JS_GetPropertyUint32(ctx, item, 1),
              b = JS_GetPropertyUint32(ctx, item, 2), p = JS_GetPropertyUint32(ctx, item, 3);
      std::string method = js::to_string(ctx, m);
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ok = parse_request(ctx, vu, method, u, b, p, &spec);
      JS_FreeValue(ctx, m);
      JS_FreeValue(ctx, u);
      JS_FreeValue(ctx, b);
      JS_FreeValue(ctx, p);
    } else if (JS_IsObject(item)) {
      JSValue m = JS_GetPropertyStr(ctx, item, "method"), u = JS_GetPropertyStr(ctx, item, "url"),
              b = JS_GetPropertyStr(ctx, item, "body"), p = JS_GetPropertyStr(ctx, item, "params");
      std::string method = JS_IsUndefined(m) ? "GET" : js::to_string(ctx, m);
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ok = parse_request(ctx, vu, method, u, b, p, &spec);
      JS_FreeValue(ctx, m);
      JS_FreeValue(ctx, u);
      JS_FreeValue(ctx, b);
      JS_FreeValue(ctx, p);
    } else {
      JS_ThrowTypeError(ctx, "http.batch(): each request must be a URL string, an array or an object");
      ok = false;
    }
    JS_FreeValue(ctx, item);
    if (ok) {
      flights.push_back(new_flight(vu, std::move(spec)));
      keys.push_back(JS_DupAtom(ctx, props[i].atom));
    }
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  auto free_keys = [&] {
    for (auto a : keys) JS_FreeAtom(ctx, a);
  };
  if (!ok) {
    free_keys();
    return JS_EXCEPTION;
  }
  // At most options.batch requests in flight at once, and options.batchPerHost per host
  // name; a request whose host is busy lets later ones for other hosts go first.
  size_t limit = vu->run->http.batch > 0 ? static_cast<size_t>(vu->run->http.batch) : flights.size();
  size_t per_host = vu->run->http.batch_per_host > 0 ? static_cast<size_t>(vu->run->http.batch_per_host) : limit;
  std::vector<std::string> hosts;
  for (auto& f : flights) {
    auto u = http::split_url_host(f->spec.url);
    hosts.push_back(u ? u->host : f->spec.url);
  }
  std::vector<bool> started(flights.size(), false);
  for (;;) {  // start what the limits allow, wait for a completion, until all are done
    size_t in_flight = 0, waiting = 0;
    std::map<std::string, size_t> busy;
    for (size_t i = 0; i < flights.size(); i++) {
      if (!started[i]) waiting++;
      if (started[i] && !flights[i]->done) {
        in_flight++;
        busy[hosts[i]]++;
      }
    }
    for (size_t i = 0; i < flights.size() && in_flight < limit; i++) {
      if (started[i] || busy[hosts[i]] >= per_host) continue;
      started[i] = true;
      waiting--;
      in_flight++;
      busy[hosts[i]]++;
      flights[i]->start_hop();
    }
    if (in_flight == 0 && waiting == 0) break;
    if (!vu->suspend()) {
      for (auto& f : flights) f->abandoned = true;
      free_keys();
      return throw_interrupted(ctx);
    }
  }
  JSValue out = is_array ? JS_NewArray(ctx) : JS_NewObject(ctx);
  for (size_t i = 0; i < flights.size(); i++) {
    if (!report_error(ctx, vu, *flights[i])) {
      JS_FreeValue(ctx, out);
      free_keys();
      return JS_EXCEPTION;
    }
    JS_SetProperty(ctx, out, keys[i], make_response(ctx, vu, flights[i]));
  }
  free_keys();
  return out;
}

}  // namespace herd::k6
