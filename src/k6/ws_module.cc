// The native half of k6's WebSocket modules ("herd:ws"): sessions of
// ws::Session on the VU's event loop, their events handed to the VU's fiber,
// k6's ws_* metrics. The JS halves are in k6/ws_sources.cc.
#include "k6/ws_module.h"

#include <strings.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <memory>

#include "http/netopts.h"
#include "k6/http_cookie_jar.h"
#include "k6/natives_util.h"
#include "ws/client.h"

namespace herd::k6 {

namespace {

struct WsMetrics {
  metrics::MetricId connecting, session_duration, sessions, msgs_sent, msgs_received, ping;
};

/// One socket of a VU. Its id is also its async op's id (the op keeps the
/// iteration alive and closes the socket when the iteration is cleared).
struct WsConn {
  std::int64_t id = 0;
  VuState* vu = nullptr;
  std::shared_ptr<ws::Session> session;
  bool legacy = false;  ///< k6/ws: the fiber waits in handshake()/wait()
  bool handshake_done = false;
  bool closed = false;
  ws::HandshakeResult hs;
  std::string url;
  std::map<std::string, std::string> tags;  ///< the script's tags
  metrics::TagSet set;                      ///< + url, status, subproto (after the handshake)
  std::chrono::steady_clock::time_point opened;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> pings;
  std::uint64_t next_ping = 1;
};

struct WsVu {
  std::map<std::int64_t, std::shared_ptr<WsConn>> conns;
  WsMetrics m{};
};

/// Each VU's sockets, by VU: a VU stays on its worker's thread, so the map is
/// per thread. Dropped by release_ws_state() when the VU goes.
thread_local std::map<const VuState*, std::unique_ptr<WsVu>> t_ws;

WsVu& ws_of(VuState* vu) {
  auto& slot = t_ws[vu];
  if (!slot) {
    slot = std::make_unique<WsVu>();
    auto* reg = vu->run->registry;
    using metrics::MetricType;
    using metrics::ValueType;
    slot->m.connecting = reg->define("ws_connecting", MetricType::kTrend, ValueType::kTime);
    slot->m.session_duration = reg->define("ws_session_duration", MetricType::kTrend, ValueType::kTime);
    slot->m.sessions = reg->define("ws_sessions", MetricType::kCounter, ValueType::kDefault);
    slot->m.msgs_sent = reg->define("ws_msgs_sent", MetricType::kCounter, ValueType::kDefault);
    slot->m.msgs_received = reg->define("ws_msgs_received", MetricType::kCounter, ValueType::kDefault);
    slot->m.ping = reg->define("ws_ping", MetricType::kTrend, ValueType::kTime);
  }
  return *slot;
}

void add_sample(WsConn& c, metrics::MetricId id, double v) {
  metrics::Sink::Batch b(*c.vu->sink);
  b.add(id, c.set, v, c.vu->now_us());
}

/// ws_session_duration, data_sent and data_received of a session that opened, at its end.
void end_metrics(WsConn& c) {
  VuState* vu = c.vu;
  add_sample(c, ws_of(vu).m.session_duration,
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c.opened).count());
  // The batch holds the sink's lock: it must end before the VU's fiber runs again (deliver wakes it).
  metrics::Sink::Batch b(*vu->sink);
  b.add(metrics::kDataSent, c.set, static_cast<double>(c.session->bytes_sent()), vu->now_us());
  b.add(metrics::kDataReceived, c.set, static_cast<double>(c.session->bytes_received()), vu->now_us());
}

std::shared_ptr<WsConn> conn_arg(JSContext* ctx, JSValueConst v) {
  VuState* vu = vu_of(ctx);
  std::int64_t id = 0;
  if (JS_ToInt64(ctx, &id, v) < 0) return nullptr;
  auto& w = ws_of(vu);
  auto it = w.conns.find(id);
  return it == w.conns.end() ? nullptr : it->second;
}

/// Calls the socket's JS handler (kept in its async op) with (kind, a, b), on the fiber.
void deliver(VuState* vu, std::int64_t id, const char* kind, std::function<JSValue(JSContext*)> a,
             std::function<JSValue(JSContext*)> b = nullptr, bool last = false) {
  vu->post_ready([vu, id, kind, a = std::move(a), b = std::move(b), last] {
    JSContext* ctx = vu->js_ctx;
    auto it = vu->async_ops.find(id);
    if (it == vu->async_ops.end() || it->second.values.empty()) return;
    js::Value fn = js::Value::dup(ctx, it->second.values[0]);
    if (last) {
      vu->erase_async(ctx, it);
      ws_of(vu).conns.erase(id);
    }
    JSValue args[3] = {JS_NewString(ctx, kind), a ? a(ctx) : JS_UNDEFINED, b ? b(ctx) : JS_UNDEFINED};
    js::Value r(ctx, JS_Call(ctx, fn.get(), JS_UNDEFINED, 3, args));
    for (JSValue v : args) JS_FreeValue(ctx, v);
    if (r.is_exception()) {
      if (vu->interrupted)
        js::discard_exception(ctx);
      else
        vu->run->logger->log(Logger::Level::kError, js::take_exception(ctx), "console");
    }
  });
}

std::function<JSValue(JSContext*)> str(std::string s) {
  return [s = std::move(s)](JSContext* ctx) { return new_string(ctx, s); };
}

void wire(const std::shared_ptr<WsConn>& cp, ws::SessionOptions opts) {
  std::weak_ptr<WsConn> w = cp;
  VuState* vu = cp->vu;
  std::int64_t id = cp->id;
  ws::Session::Callbacks cb;
  cb.on_handshake = [w, vu, id](const ws::HandshakeResult& r) {
    auto c = w.lock();
    if (!c) return;
    c->hs = r;
    c->handshake_done = true;
    auto& m = ws_of(vu).m;
    std::map<std::string, std::string> extra = c->tags;
    extra.emplace("url", c->url);
    extra["status"] = std::to_string(r.status);
    if (!r.protocol.empty()) extra["subproto"] = r.protocol;
    c->set = metrics::intern(tags_with(*vu, extra));
    if (r.error.empty()) {
      c->opened = std::chrono::steady_clock::now();
      add_sample(*c, m.sessions, 1);
      add_sample(*c, m.connecting, r.connecting_ms);
      if (!c->legacy) deliver(vu, id, "open", str(r.protocol));
    } else {
      c->closed = true;
      if (!c->legacy) {
        deliver(vu, id, "error", str(r.error));
        deliver(
            vu, id, "close", [](JSContext* ctx) { return JS_NewInt32(ctx, ws::kCloseAbnormal); }, str(""), true);
      }
    }
    vu->wake();
  };
  cb.on_event = [w, vu, id](ws::Event&& e) {
    auto c = w.lock();
    if (!c) return;
    auto& m = ws_of(vu).m;
    switch (e.kind) {
      case ws::Event::Kind::kText:
        add_sample(*c, m.msgs_received, 1);
        deliver(vu, id, "message", str(std::move(e.data)));
        break;
      case ws::Event::Kind::kBinary: {
        add_sample(*c, m.msgs_received, 1);
        auto data = std::make_shared<std::string>(std::move(e.data));
        deliver(vu, id, "binary", [data](JSContext* ctx) {
          return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(data->data()), data->size());
        });
        break;
      }
      case ws::Event::Kind::kPing:
        deliver(vu, id, "ping", str(std::move(e.data)));
        break;
      case ws::Event::Kind::kPong: {
        if (e.data.size() == 8) {
          std::uint64_t n = 0;
          std::memcpy(&n, e.data.data(), 8);
          auto it = c->pings.find(n);
          if (it != c->pings.end()) {
            add_sample(
                *c, m.ping,
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - it->second).count());
            c->pings.erase(it);
          }
        }
        deliver(vu, id, "pong", str(std::move(e.data)));
        break;
      }
      case ws::Event::Kind::kClose:
        break;
    }
  };
  cb.on_error = [w, vu, id](const std::string& err) {
    if (w.lock()) deliver(vu, id, "error", str(err));
  };
  cb.on_closed = [w, vu, id](int code, const std::string& reason) {
    auto c = w.lock();
    if (!c) return;
    c->closed = true;
    end_metrics(*c);
    deliver(
        vu, id, "close", [code](JSContext* ctx) { return JS_NewInt32(ctx, code); }, str(reason), true);
    vu->wake();
  };
  cp->session = ws::Session::start(*vu->loop, std::move(opts), std::move(cb));
}

/// The run's network and TLS options for a ws:// or wss:// URL: `hosts`,
/// blockHostnames and blacklistIPs (as for HTTP requests), insecureSkipTLSVerify,
/// tlsVersion, tlsCipherSuites and tlsAuth.
void apply_net_options(const HttpDefaults& http, ws::SessionOptions* opts) {
  opts->tls.insecure_skip_verify = http.insecure_skip_tls_verify;
  if (!http.net) return;
  const http::NetConfig& net = *http.net;
  ws::WsUrl u;
  try {
    u = ws::parse_url(opts->url);
  } catch (const std::exception&) {
    return;  // the session reports the bad URL
  }
  std::string host = u.host;
  for (char& ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string bracketed = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  http::NetRoute route =
      http::route_request(net, (u.tls ? "https://" : "http://") + bracketed + ":" + std::to_string(u.port) + "/");
  if (route.error_code != 0) {
    opts->refuse = route.error;
    return;
  }
  if (!http::IpAddr::parse(host)) {
    if (const http::HostMap::Target* to = net.hosts.find(host, u.port)) {
      opts->connect_ip = to->ip.str();
      opts->connect_port = to->port;
    }
  }
  opts->dns_policy = net.dns.policy;
  opts->dns_ttl_seconds = net.dns.ttl_seconds;
  if (!net.blacklist.empty()) {
    // blacklistIPs on the address a name resolved to (IP literals were checked above).
    std::shared_ptr<const http::NetConfig> keep = http.net;
    opts->vet_ip = [keep](const std::string& ip) -> std::string {
      auto addr = http::IpAddr::parse(ip);
      if (!addr) return "";
      const http::IpNet* n = keep->blacklisted(*addr);
      return n ? http::blacklisted_ip_message(*addr, *n) : "";
    };
  }
  opts->tls.min_version = net.tls.min_version;
  opts->tls.max_version = net.tls.max_version;
  opts->tls.cipher_list = net.tls.cipher_list;
  if (const http::ClientCert* cc = net.tls.cert_for(host)) {
    opts->tls.cert_pem = cc->cert_pem;
    opts->tls.key_pem = cc->key_pem;
    opts->tls.key_password = cc->password;
  }
}

bool read_protocols(JSContext* ctx, JSValueConst v, std::vector<std::string>* out) {
  if (JS_IsUndefined(v) || JS_IsNull(v)) return true;
  if (JS_IsString(v)) {
    out->push_back(js::to_string(ctx, v));
    return true;
  }
  if (!JS_IsArray(ctx, v)) {
    JS_ThrowTypeError(ctx, "WebSocket protocols must be a string or an array of strings");
    return false;
  }
  js::Value len(ctx, JS_GetPropertyStr(ctx, v, "length"));
  std::int64_t n = 0;
  JS_ToInt64(ctx, &n, len.get());
  for (std::int64_t i = 0; i < n; ++i) {
    js::Value e(ctx, JS_GetPropertyUint32(ctx, v, static_cast<std::uint32_t>(i)));
    out->push_back(js::to_string(ctx, e.get()));
  }
  return true;
}

/// open(url, protocols, params, handler, legacy) -> id
JSValue n_open(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "WebSocket connections cannot be opened in the init context");
  if (argc < 5 || !JS_IsFunction(ctx, argv[3])) return JS_ThrowTypeError(ctx, "herd:ws open: bad arguments");
  if (vu->interrupted) return throw_interrupted(ctx);
  auto c = std::make_shared<WsConn>();
  c->vu = vu;
  c->legacy = JS_ToBool(ctx, argv[4]) > 0;
  c->url = js::to_string(ctx, argv[0]);
  ws::SessionOptions opts;
  opts.url = c->url;
  opts.handshake_timeout = vu->run->http.timeout;
  apply_net_options(vu->run->http, &opts);
  if (!read_protocols(ctx, argv[1], &opts.protocols)) return JS_EXCEPTION;
  JSValueConst params = argv[2];
  std::map<std::string, std::string> headers;
  std::shared_ptr<CookieJar> jar;
  if (JS_IsObject(params)) {
    js::Value h(ctx, JS_GetPropertyStr(ctx, params, "headers"));
    if (JS_IsObject(h.get()) && !read_string_map(ctx, h.get(), &headers)) return JS_EXCEPTION;
    js::Value t(ctx, JS_GetPropertyStr(ctx, params, "tags"));
    if (JS_IsObject(t.get()) && !read_string_map(ctx, t.get(), &c->tags)) return JS_EXCEPTION;
    js::Value comp(ctx, JS_GetPropertyStr(ctx, params, "compression"));
    std::string algo = JS_IsUndefined(comp.get()) || JS_IsNull(comp.get()) ? "" : js::to_string(ctx, comp.get());
    if (algo == "deflate")
      opts.deflate = true;
    else if (!algo.empty())
      return JS_ThrowTypeError(ctx, "unsupported WebSocket compression algorithm \"%s\" (the only one is \"deflate\")",
                               algo.c_str());
    js::Value j(ctx, JS_GetPropertyStr(ctx, params, "jar"));
    if (!JS_IsUndefined(j.get()) && !JS_IsNull(j.get())) {
      jar = cookie_jar_of(ctx, j.get());
      if (!jar)
        return JS_ThrowTypeError(ctx, "params.jar must be a CookieJar from http.cookieJar() or new http.CookieJar()");
    }
    js::Value ck(ctx, JS_GetPropertyStr(ctx, params, "cookies"));
    if (JS_IsObject(ck.get())) {
      std::map<std::string, std::string> cookies;
      if (!read_string_map(ctx, ck.get(), &cookies)) return JS_EXCEPTION;
      std::string line;
      for (auto& [k, v] : cookies) line += (line.empty() ? "" : "; ") + k + "=" + v;
      if (!line.empty()) headers["Cookie"] = line;
    }
  }
  bool has_ua = false, has_cookie = false;
  for (auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), "User-Agent") == 0) has_ua = true;
    if (strcasecmp(k.c_str(), "Cookie") == 0) has_cookie = true;
    if (strcasecmp(k.c_str(), "Sec-WebSocket-Protocol") == 0) {
      // k6/ws scripts ask for subprotocols with this header.
      std::string s = v;
      std::size_t p = 0;
      while (p <= s.size()) {
        std::size_t e = s.find(',', p);
        std::string one = s.substr(p, e == std::string::npos ? std::string::npos : e - p);
        while (!one.empty() && one.front() == ' ') one.erase(0, 1);
        while (!one.empty() && one.back() == ' ') one.pop_back();
        if (!one.empty()) opts.protocols.push_back(one);
        if (e == std::string::npos) break;
        p = e + 1;
      }
      continue;
    }
    opts.headers.emplace_back(k, v);
  }
  if (!has_ua && !vu->run->http.user_agent.empty()) opts.headers.emplace_back("User-Agent", vu->run->http.user_agent);
  if (!has_cookie) {
    std::string http_url = c->url.rfind("wss://", 0) == 0  ? "https://" + c->url.substr(6)
                           : c->url.rfind("ws://", 0) == 0 ? "http://" + c->url.substr(5)
                                                           : c->url;
    std::int64_t now_s = vu->now_us() / 1000000;
    std::string cookie = jar ? jar->header_for(http_url, now_s) : vu->jar.header_for(http_url, now_s);
    if (!cookie.empty()) opts.headers.emplace_back("Cookie", cookie);
  }
  std::int64_t id = vu->next_async_id++;
  c->id = id;
  VuState::AsyncOp op;
  op.values.push_back(JS_DupValue(ctx, argv[3]));
  std::weak_ptr<WsConn> w = c;
  op.cancel = [w] {
    if (auto cc = w.lock()) {
      if (cc->session) cc->session->abort(ws::kCloseGoingAway);
      cc->closed = true;
      ws_of(cc->vu).conns.erase(cc->id);
    }
  };
  vu->async_ops.emplace(id, std::move(op));
  ws_of(vu).conns.emplace(id, c);
  wire(c, std::move(opts));
  return JS_NewInt64(ctx, id);
}

/// send(id, data, binary) -> false when the socket is not open
JSValue n_send(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 3) return JS_ThrowTypeError(ctx, "herd:ws send: bad arguments");
  auto c = conn_arg(ctx, argv[0]);
  if (!c || !c->session || !c->session->open()) return JS_FALSE;
  std::string data;
  bool binary = JS_ToBool(ctx, argv[2]) > 0;
  if (binary) {
    if (!binary_bytes(ctx, argv[1], &data))
      return JS_ThrowTypeError(ctx, "binary data must be an ArrayBuffer or a typed array");
  } else {
    data = js::to_string(ctx, argv[1]);
  }
  c->session->send(binary ? ws::Opcode::kBinary : ws::Opcode::kText, data);
  add_sample(*c, ws_of(c->vu).m.msgs_sent, 1);
  return JS_TRUE;
}

JSValue n_ping(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = conn_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c || !c->session || !c->session->open()) return JS_FALSE;
  std::uint64_t n = c->next_ping++;
  c->pings[n] = std::chrono::steady_clock::now();
  c->session->send(ws::Opcode::kPing, std::string_view(reinterpret_cast<const char*>(&n), 8));
  return JS_TRUE;
}

/// close(id, code, reason)
JSValue n_close(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = conn_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c || !c->session) return JS_UNDEFINED;
  std::int32_t code = ws::kCloseNormal;
  if (argc > 1 && !JS_IsUndefined(argv[1]) && JS_ToInt32(ctx, &code, argv[1]) < 0) return JS_EXCEPTION;
  std::string reason = argc > 2 && !JS_IsUndefined(argv[2]) ? js::to_string(ctx, argv[2]) : "";
  if (c->legacy) {  // k6/ws: any code a peer may send (RFC 6455 7.4), e.g. its default 1001
    const bool sendable =
        (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    if (!sendable) return JS_ThrowRangeError(ctx, "close code %d cannot be sent (RFC 6455 section 7.4)", code);
  } else if (code != ws::kCloseNormal && (code < 3000 || code > 4999)) {
    return JS_ThrowRangeError(ctx, "close code %d: must be 1000 or in 3000..4999", code);
  }
  if (reason.size() > 123) return JS_ThrowSyntaxError(ctx, "close reason longer than 123 bytes");
  if (!c->handshake_done) {
    // Closing while connecting: give up the connection (WHATWG: fail it).
    c->session->abort(ws::kCloseGoingAway);
    c->closed = true;
    c->hs.error = "websocket: closed before the connection was established";
    if (!c->legacy)
      deliver(
          c->vu, c->id, "close", [](JSContext* cx) { return JS_NewInt32(cx, ws::kCloseAbnormal); }, str(""), true);
    return JS_UNDEFINED;
  }
  c->session->close(code, reason);
  return JS_UNDEFINED;
}

/// abort(id, code): ends the socket now, with a best-effort close frame of `code` (none when 0), without
/// further events; k6/ws and k6/websockets after a handler threw.
JSValue n_abort(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  auto c = conn_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_UNDEFINED;
  std::int32_t code = ws::kCloseGoingAway;
  if (argc > 1 && JS_ToInt32(ctx, &code, argv[1]) < 0) return JS_EXCEPTION;
  if (c->session) {
    bool was_open = c->session->open();
    c->session->abort(code);
    if (was_open) end_metrics(*c);
  }
  c->closed = true;
  auto it = vu->async_ops.find(c->id);
  if (it != vu->async_ops.end()) vu->erase_async(ctx, it);
  ws_of(vu).conns.erase(c->id);
  return JS_UNDEFINED;
}

JSValue raise_job(JSContext* ctx, int argc, JSValueConst* argv) {
  return JS_Throw(ctx, JS_DupValue(ctx, argc > 0 ? argv[0] : JS_UNDEFINED));
}

/// raise(exception): fails the iteration with `exception` once the current event's work is done (a job that
/// throws it: the VU's event loop ends the iteration with its message and stack).
JSValue n_raise(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  JSValueConst e = argc > 0 ? argv[0] : JS_UNDEFINED;
  if (JS_EnqueueJob(ctx, raise_job, 1, &e) < 0) return JS_EXCEPTION;
  return JS_UNDEFINED;
}

/// Runs the VU's ready work (socket events, timers) until `done()`; false if interrupted.
template <typename F>
bool run_until(JSContext* ctx, VuState* vu, F done, std::string* err) {
  for (;;) {
    while (!vu->ready.empty() && !vu->interrupted) {
      auto fn = std::move(vu->ready.front());
      vu->ready.pop_front();
      fn();
      for (;;) {
        JSContext* jc = nullptr;
        int r = JS_ExecutePendingJob(JS_GetRuntime(ctx), &jc);
        if (r == 0) break;
        if (r < 0) {
          *err = js::take_exception(jc ? jc : ctx);
          return true;
        }
      }
    }
    if (vu->interrupted) return false;
    if (done()) return true;
    if (!vu->suspend()) return false;
  }
}

/// handshake(id) -> {url, status, status_text, headers, protocol, error}: waits for the opening handshake (k6/ws).
JSValue n_handshake(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  auto c = conn_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_ThrowTypeError(ctx, "herd:ws handshake: unknown socket");
  while (!c->handshake_done) {
    if (!vu->suspend()) {
      c->session->abort(ws::kCloseGoingAway);
      return throw_interrupted(ctx);
    }
  }
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "url", new_string(ctx, c->url));
  JS_SetPropertyStr(ctx, o, "status", JS_NewInt32(ctx, c->hs.status));
  JS_SetPropertyStr(ctx, o, "status_text", new_string(ctx, c->hs.status_text));
  JS_SetPropertyStr(ctx, o, "protocol", new_string(ctx, c->hs.protocol));
  JS_SetPropertyStr(ctx, o, "error", new_string(ctx, c->hs.error));
  JSValue h = JS_NewObject(ctx);
  for (auto& [k, v] : c->hs.headers) JS_SetPropertyStr(ctx, h, k.c_str(), new_string(ctx, v));
  JS_SetPropertyStr(ctx, o, "headers", h);
  if (!c->hs.error.empty()) {
    auto it = vu->async_ops.find(c->id);
    if (it != vu->async_ops.end()) vu->erase_async(ctx, it);
    ws_of(vu).conns.erase(c->id);
  }
  return o;
}

/// wait(id): runs the socket's events (and the VU's timers) until it closed (k6/ws).
JSValue n_wait(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::int64_t id = 0;
  if (argc < 1 || JS_ToInt64(ctx, &id, argv[0]) < 0) return JS_EXCEPTION;
  std::string err;
  bool ok = run_until(
      ctx, vu, [vu, id] { return vu->async_ops.find(id) == vu->async_ops.end(); }, &err);
  if (!ok) {
    auto it = ws_of(vu).conns.find(id);
    if (it != ws_of(vu).conns.end() && it->second->session) it->second->session->abort(ws::kCloseGoingAway);
    return throw_interrupted(ctx);
  }
  if (!err.empty()) {
    auto it = ws_of(vu).conns.find(id);
    if (it != ws_of(vu).conns.end() && it->second->session) it->second->session->abort(ws::kCloseGoingAway);
    return JS_ThrowInternalError(ctx, "%s", err.c_str());
  }
  return JS_UNDEFINED;
}

/// utf8(string) -> ArrayBuffer; text(ArrayBuffer) -> string (for Blob).
JSValue n_utf8(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  std::string s = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
JSValue n_text(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  std::string s;
  if (argc < 1 || !binary_bytes(ctx, argv[0], &s)) return JS_ThrowTypeError(ctx, "text() needs an ArrayBuffer");
  return new_string(ctx, s);
}

JSValue n_throws(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  return JS_NewBool(ctx, vu_of(ctx)->run->http.throw_errors);
}

struct Fn {
  const char* name;
  JSCFunction* fn;
  int len;
};
const Fn kFns[] = {{"open", n_open, 5},           {"send", n_send, 3},   {"ping", n_ping, 1},  {"close", n_close, 3},
                   {"handshake", n_handshake, 1}, {"wait", n_wait, 1},   {"utf8", n_utf8, 1},  {"text", n_text, 1},
                   {"throws", n_throws, 0},       {"abort", n_abort, 2}, {"raise", n_raise, 1}};

int ws_init(JSContext* ctx, JSModuleDef* m) {
  for (const auto& f : kFns) JS_SetModuleExport(ctx, m, f.name, JS_NewCFunction(ctx, f.fn, f.name, f.len));
  return 0;
}

}  // namespace

void release_ws_state(const VuState* vu) {
  auto it = t_ws.find(vu);
  if (it == t_ws.end()) return;
  for (auto& [id, c] : it->second->conns)
    if (c->session) c->session->abort(ws::kCloseGoingAway);
  t_ws.erase(it);
}

JSModuleDef* ws_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, ws_init);
  if (!m) return nullptr;
  for (const auto& f : kFns) JS_AddModuleExport(ctx, m, f.name);
  VuState* vu = vu_of(ctx);
  if (vu && vu->run && vu->run->registry) ws_of(vu);  // defines the ws_* metrics when a script imports them
  return m;
}

}  // namespace herd::k6
