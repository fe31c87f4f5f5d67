// http.request, http.asyncRequest and http.batch: a Flight per request, its
// hops (redirects and digest challenges, one sample per hop, as k6 does),
// cookies, metrics, options.batch/batchPerHost and options.rps. The request is
// built by k6/http_request_spec.cc, the Response object by k6/http_response.cc.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "js/runtime.h"
#include "k6/http_debug.h"
#include "k6/http_flight.h"
#include "k6/http_params.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"
#include "util/ascii.h"
#include "util/url.h"

namespace herd::k6 {

using util::iequals;

namespace {

void init_flight(VuState* vu, Flight& f) {
  f.vu = vu;
  f.current_url = std::move(f.spec.url);  // (spec.url is not read after this)
  f.current_method = f.spec.method;
  f.redirects_left = f.spec.redirects;
}

// The flight for (method, url, body, params), its spec parsed in place; null with a JS exception pending.
std::shared_ptr<Flight> parse_flight(JSContext* ctx, VuState* vu, const std::string& method, JSValueConst url,
                                     JSValueConst body, JSValueConst params) {
  auto f = std::make_shared<Flight>();
  if (!parse_request(ctx, vu, method, url, body, params, &f->spec)) return nullptr;
  init_flight(vu, *f);
  return f;
}

std::shared_ptr<Flight> new_flight(VuState* vu, RequestSpec&& spec) {
  auto f = std::make_shared<Flight>(std::move(spec));
  init_flight(vu, *f);
  return f;
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

/// Waits until the flight is done. False (and it abandoned) if interrupted.
bool wait_one(VuState* vu, Flight& f) {
  while (!f.done) {
    if (!vu->suspend()) {
      f.abandoned = true;
      return false;
    }
  }
  return true;
}

}  // namespace

void Flight::start_hop() {
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
  req.shared_headers = &spec.headers;  // borrowed: the callback below keeps this flight alive
  req.timeout = spec.timeout;
  req.keep_body = spec.response_type != std::string_view("none");
  req.insecure_skip_tls_verify = vu->run->http.insecure_skip_tls_verify;
  req.conn_group = static_cast<std::uint64_t>(vu->id_in_test);  // each VU its own connections, as in k6
  if (const http::NetConfig* net = vu->run->http.net.get()) {
    if (!net->local_ips.empty())
      req.local_ip = net->local_ips.get(static_cast<std::uint64_t>(std::max<std::int64_t>(0, vu->id_in_test - 1)));
    req.max_body = req.max_decoded_body = net->max_response_body;  // maxResponseBodyBytes
  }
  if (current_method == spec.method && spec.has_body) req.shared_body = &spec.body;
  CookieJar& vu_jar = spec.extras.jar ? *spec.extras.jar : vu->jar;  // params.jar, else the VU's
  std::string cookie;
  if (!spec.cookies.empty()) {
    // Request cookies replace jar cookies of the same name.
    std::vector<Cookie> jc = vu_jar.for_url(current_url, vu->now_us() / 1000000);
    for (auto& c : jc)
      if (!spec.cookies.count(c.name)) cookie += (cookie.empty() ? "" : "; ") + c.name + "=" + c.value;
    for (auto& [k, v] : spec.cookies) cookie += (cookie.empty() ? "" : "; ") + k + "=" + v;
  } else if (!vu_jar.empty()) {
    cookie = vu_jar.header_for(current_url, vu->now_us() / 1000000);
  }
  if (!cookie.empty()) req.headers.emplace_back("Cookie", cookie);
  if (!digest_header.empty()) req.headers.emplace_back("Authorization", digest_header);
  if (cookie.empty())
    sent_cookie_header.clear();
  else
    sent_cookie_header = std::move(cookie);
  if (!vu->run->http.debug.empty()) {  // (the dump shows the request's own headers and body)
    http::Request owned = req;
    owned.own();
    debug_request(*vu, owned);
  }
  auto self = shared_from_this();
  vu->http->start(std::move(req), [self](http::Response&& r) { self->on_hop(std::move(r)); });
}

bool Flight::expected(int status) const {
  if (spec.default_expected) return status >= 200 && status <= 399;
  for (auto& r : spec.expected)
    if (status >= r.lo && status <= r.hi) return true;
  return false;
}

void Flight::emit(const http::Response& r) {
  bool ok = spec.has_expected && expected(r.status);
  // Fast path: same request shape and outcome as the VU's previous sample.
  char exp = spec.has_expected ? (ok ? 'T' : 'F') : '-';
  auto& last = vu->last_http;
  if (!(last.valid && last.status == r.status && last.error_code == r.error_code && last.expected == exp &&
        last.base_hash == vu->base_tags.hash() && last.url == current_url && last.method == current_method &&
        last.proto == r.proto && last.tls_version == r.tls_version && last.tags == spec.tags)) {
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
    last.set = metrics::intern(tags_with(*vu, extra));  // one storage for all VUs: series lookups by pointer
    last.series.reset();                                // the cached series belong to the old set
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
  }
  const metrics::TagSet& tags = last.set;
  std::int64_t now = vu->now_us();
  const auto& t = r.timings;
  static constexpr metrics::MetricId kIds[] = {
      metrics::kHttpReqs,          metrics::kHttpReqDuration,       metrics::kHttpReqBlocked,
      metrics::kHttpReqConnecting, metrics::kHttpReqTlsHandshaking, metrics::kHttpReqSending,
      metrics::kHttpReqWaiting,    metrics::kHttpReqReceiving,      metrics::kHttpReqFailed,
      metrics::kDataSent,          metrics::kDataReceived};
  const double values[] = {1,
                           t.duration,
                           t.blocked,
                           t.connecting,
                           t.tls_handshaking,
                           t.sending,
                           t.waiting,
                           t.receiving,
                           ok ? 0.0 : 1.0,
                           static_cast<double>(r.bytes_sent),
                           static_cast<double>(r.bytes_received)};
  metrics::Sink::Batch b(*vu->sink);
  if (!b.direct()) {  // a tag filter or outputs see every sample
    for (int i = 0; i < 11; ++i) {
      if (i == 8 && !spec.has_expected) continue;
      b.add(kIds[i], i < 9 ? tags : vu->base_tags, values[i], now);
    }
    return;
  }
  auto& series = last.series.series;
  if (!b.reuse(last.series, vu->base_tags)) {
    for (int i = 0; i < 9; ++i) series[i] = i == 8 && !spec.has_expected ? nullptr : b.series(kIds[i], tags);
    series[9] = b.series(metrics::kDataSent, vu->base_tags);
    series[10] = b.series(metrics::kDataReceived, vu->base_tags);
  }
  for (int i = 0; i < 11; ++i)
    if (series[i]) b.add_direct(series[i], kIds[i], values[i], now);
}

void Flight::on_hop(http::Response&& r) {
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
    static const UserInfo kNoCredentials;
    const UserInfo& creds = spec.extras.digest_creds ? *spec.extras.digest_creds : kNoCredentials;
    for (auto& [k, v] : r.headers)
      if (iequals(k, "www-authenticate") && digest_header.empty())
        digest_header = digest_authorization(v, current_method, request_target(current_url), creds, cnonce);
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
      current_url = util::resolve_url(current_url, location);
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

JSValue http_request(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 0 ? js::to_string(ctx, argv[0]) : "GET";
  return http_request_method(ctx, method, argc > 1 ? argv[1] : JS_UNDEFINED, argc > 2 ? argv[2] : JS_UNDEFINED,
                             argc > 3 ? argv[3] : JS_UNDEFINED);
}

JSValue http_request_method(JSContext* ctx, const std::string& method, JSValueConst url, JSValueConst body,
                            JSValueConst params) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  auto f = parse_flight(ctx, vu, method, url, body, params);
  if (!f) return JS_EXCEPTION;
  f->start_hop();
  if (!wait_one(vu, *f)) return throw_interrupted(ctx);
  if (!report_error(ctx, vu, *f)) return JS_EXCEPTION;
  return make_response(ctx, vu, f);
}

JSValue http_async_request(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "making HTTP requests in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 0 ? js::to_string(ctx, argv[0]) : "GET";
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto f = parse_flight(ctx, vu, method, argc > 1 ? argv[1] : JS_UNDEFINED, argc > 2 ? argv[2] : JS_UNDEFINED,
                        argc > 3 ? argv[3] : JS_UNDEFINED);
  if (!f) return JS_EXCEPTION;
  JSValue funcs[2];
  JSValue promise = JS_NewPromiseCapability(ctx, funcs);
  if (JS_IsException(promise)) return promise;
  std::int64_t id = vu->next_async_id++;
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
      js::Value resolve(c, it->second.values[0]), reject(c, it->second.values[1]);
      it->second.values.clear();
      vu->async_ops.erase(it);
      js::Value arg;
      JSValue fn;
      bool failed = f_raw->final.error_code != 0 && (f_raw->final.status == 0 || !f_raw->final.error.empty());
      if (failed && vu->run->http.throw_errors) {
        arg = js::Value(c, JS_NewError(c));
        JS_SetPropertyStr(c, arg.get(), "message", new_string(c, f_raw->final.error));
        fn = reject.get();
      } else {
        if (failed)
          vu->run->logger->log(
              Logger::Level::kWarn,
              "Request Failed error=\"" + f_raw->final.error + "\" url=" + mask_credentials(f_raw->current_url),
              "http");
        arg = js::Value(c, make_response(c, vu, keep));
        fn = resolve.get();
      }
      JSValue argv = arg.get();
      js::Value called(c, JS_Call(c, fn, JS_UNDEFINED, 1, &argv));
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
    js::Value owned(ctx, JS_GetProperty(ctx, reqs, props[i].atom));
    JSValue item = owned.get();
    RequestSpec spec;
    std::string u_url, u_name;
    if (JS_IsString(item) || http_url_parts(ctx, item, &u_url, &u_name)) {
      ok = parse_request(ctx, vu, "GET", item, JS_UNDEFINED, JS_UNDEFINED, &spec);
    } else if (JS_IsArray(ctx, item) > 0) {
      js::Value m(ctx, JS_GetPropertyUint32(ctx, item, 0)), u(ctx, JS_GetPropertyUint32(ctx, item, 1)),
          b(ctx, JS_GetPropertyUint32(ctx, item, 2)), p(ctx, JS_GetPropertyUint32(ctx, item, 3));
      std::string method = js::to_string(ctx, m.get());
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ok = parse_request(ctx, vu, method, u.get(), b.get(), p.get(), &spec);
    } else if (JS_IsObject(item)) {
      js::Value m(ctx, JS_GetPropertyStr(ctx, item, "method")), u(ctx, JS_GetPropertyStr(ctx, item, "url")),
          b(ctx, JS_GetPropertyStr(ctx, item, "body")), p(ctx, JS_GetPropertyStr(ctx, item, "params"));
      std::string method = JS_IsUndefined(m.get()) ? "GET" : js::to_string(ctx, m.get());
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ok = parse_request(ctx, vu, method, u.get(), b.get(), p.get(), &spec);
    } else {
      JS_ThrowTypeError(ctx, "http.batch(): each request must be a URL string, an array or an object");
      ok = false;
    }
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
    auto u = http::split_url_host(f->current_url);
    hosts.push_back(u ? u->host : f->current_url);
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
  js::Value out(ctx, is_array ? JS_NewArray(ctx) : JS_NewObject(ctx));
  for (size_t i = 0; i < flights.size(); i++) {
    if (!report_error(ctx, vu, *flights[i])) {
      free_keys();
      return JS_EXCEPTION;
    }
    JS_SetProperty(ctx, out.get(), keys[i], make_response(ctx, vu, flights[i]));
  }
  free_keys();
  return out.release();
}

}  // namespace herd::k6
