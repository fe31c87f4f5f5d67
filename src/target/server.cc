#include "target/server.h"
#include "target/semantics_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "loop/event_loop.h"
#include "target/form_urlencoded.h"
#include "target/html_pages.h"
#include "target/request_parser.h"
#include "target/ws_route.h"
#include "util/ascii.h"
#include "util/base64.h"
#include "util/http_status.h"

namespace herd::target {

namespace {

using loop::Clock;
using loop::EventLoop;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;
constexpr RequestLimits kLimits{kMaxHeaderBytes, kMaxBodyBytes};
constexpr std::size_t kMaxBytesRoute = 64 * 1024 * 1024;
constexpr long kMaxDelayMs = 10 * 60 * 1000;
constexpr std::size_t kReadChunk = 64 * 1024;

// ---------------------------------------------------------------- helpers

using util::iequals;

std::string_view reason_phrase(int code) {
  std::string_view r = util::http_reason_phrase(code);
  return r.empty() ? "Status" : r;
}

// Accepts 127.0.0.0/8, ::1, "localhost"; fills `ss`.
bool loopback_sockaddr(const std::string& host, std::uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  std::string h = host;
  if (h == "localhost") h = "127.0.0.1";
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) != 127) return false;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_addr = a4;
    sin->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&a6)) return false;
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = a6;
    sin6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

const std::string kJsonDoc =
    R"({"name":"herd","kind":"load-testing target","version":1,"ok":true,"numbers":[1,2,3,4,5],)"
    R"("nested":{"pi":3.14159,"list":["a","b","c"],"empty":null}})";

struct Counters {
  std::mutex mu;
  std::unordered_map<std::string, std::uint64_t> values;
};

class Worker;

struct Conn {
  int fd = -1;
  std::string in;   // unparsed input (only when a request spans reads or is held)
  std::string out;  // pending output
  std::size_t out_off = 0;
  bool want_write = false;
  bool close_after_write = false;
  bool closed = false;
  bool sent_continue = false;
  // a /delay response in progress: parsing waits for it (keeps responses in order)
  bool delay_pending = false;
  loop::TimerId delay_timer = 0;
  std::string chunk_body;  // decoded chunked request body
  // After a GET /ws upgrade: frames, not requests (target/ws_route.h).
  std::unique_ptr<WsEcho> ws;
};

class Worker {
 public:
  Worker(int listen_fd, Counters& counters) : listen_fd_(listen_fd), counters_(counters) {
    scratch_.resize(kReadChunk);
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c && !c->closed) ::close(c->fd);
  }

  EventLoop& loop() { return loop_; }
  std::uint64_t served() const { return served_.load(std::memory_order_relaxed); }

  void run() {
    loop_.watch(listen_fd_, EPOLLIN, [this](std::uint32_t) { on_accept(); });
    loop_.run();
    loop_.unwatch(listen_fd_);
    for (auto& c : conns_)
      if (c && !c->closed) close_conn(c.get());
  }

 private:
  void on_accept() {
    for (int i = 0; i < 64; ++i) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or EMFILE etc.: try again on the next readiness
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
      auto& slot = conns_[fd];
      if (!slot) slot = std::make_unique<Conn>();
      Conn* c = slot.get();
      c->fd = fd;
      c->in.clear();
      c->out.clear();
      c->out_off = 0;
      c->want_write = false;
      c->close_after_write = false;
      c->closed = false;
      c->sent_continue = false;
      c->delay_pending = false;
      c->delay_timer = 0;
      loop_.watch(fd, EPOLLIN | EPOLLRDHUP, [this, c](std::uint32_t ev) { on_event(c, ev); });
    }
  }

  void close_conn(Conn* c) {
    if (c->closed) return;
    if (c->delay_pending) loop_.cancel_timer(c->delay_timer);
    c->delay_pending = false;
    loop_.unwatch(c->fd);
    ::close(c->fd);
    c->closed = true;
    // release big buffers
    if (c->in.capacity() > kReadChunk) std::string().swap(c->in);
    if (c->out.capacity() > kReadChunk) std::string().swap(c->out);
    c->in.clear();
    c->out.clear();
    c->chunk_body.clear();
    c->ws.reset();
  }

  void on_event(Conn* c, std::uint32_t ev) {
    if (ev & (EPOLLERR)) {
      close_conn(c);
      return;
    }
    if (ev & EPOLLOUT) {
      if (!flush(c)) return;  // closed
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
      bool eof = false;
      for (;;) {
        ssize_t n = ::read(c->fd, scratch_.data(), scratch_.size());
        if (n > 0) {
          std::string_view data(scratch_.data(), static_cast<std::size_t>(n));
          if (!consume(c, data)) return;  // closed
          if (static_cast<std::size_t>(n) < scratch_.size()) break;
          continue;
        }
        if (n == 0) {
          eof = true;
          break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close_conn(c);
        return;
      }
      if (eof) {
        // Peer finished sending: answer what we have (unless waiting on a delay), then close.
        if (c->delay_pending || (c->out.size() > c->out_off)) {
          c->close_after_write = true;
          loop_.modify(c->fd, c->want_write ? EPOLLOUT : 0u);
          if (!c->delay_pending) flush(c);
        } else {
          close_conn(c);
        }
        return;
      }
    }
    if (!c->closed) flush(c);
  }

  // Feeds newly read bytes; returns false if the connection was closed.
  bool consume(Conn* c, std::string_view data) {
    if (c->ws) {
      if (!c->ws->feed(data, &c->out)) c->close_after_write = true;
      return true;
    }
    if (c->in.empty() && !c->delay_pending) {
      std::size_t used = 0;
      bool ok = process(c, data, used);
      if (c->closed) return false;
      if (used < data.size()) c->in.assign(data.substr(used));
      return ok;
    }
    c->in.append(data);
    if (c->delay_pending) {
      if (c->in.size() > kMaxBodyBytes + kMaxHeaderBytes) {
        close_conn(c);
        return false;
      }
      return true;
    }
    return process_buffered(c);
  }

  bool process_buffered(Conn* c) {
    std::size_t used = 0;
    bool ok = process(c, c->in, used);
    if (c->closed) return false;
    c->in.erase(0, used);
    return ok;
  }

  // Parses and answers as many complete requests as `data` holds.
  bool process(Conn* c, std::string_view data, std::size_t& used) {
    while (!c->delay_pending && !c->close_after_write && used < data.size()) {
      ParseResult p = parse_request(data.substr(used), req_, c->chunk_body, kLimits);
      if (p.status == ParseResult::kNeedMore) {
        if (p.expect_continue && !c->sent_continue) {
          c->sent_continue = true;
          c->out.append("HTTP/1.1 100 Continue\r\n\r\n");
        }
        break;
      }
      if (p.status == ParseResult::kError) {
        error_response(c, p.error_status, p.error_body);
        used = data.size();
        c->close_after_write = true;
        break;
      }
      c->sent_continue = false;
      handle(c, req_);
      used += p.consumed;
      if (c->closed) return false;
      if (c->ws) {  // upgraded: what follows are frames
        if (!c->ws->feed(data.substr(used), &c->out)) c->close_after_write = true;
        used = data.size();
        break;
      }
    }
    if (c->out.size() - c->out_off > 4 * 1024 * 1024) return flush(c);
    return true;
  }

  // ---------------------------------------------------------- responses

  void error_response(Conn* c, int code, std::string_view body) {
    req_.head = false;
    req_.keep_alive = false;
    respond(c, req_, code, "text/plain", body);
    c->close_after_write = true;
  }

  void respond(Conn* c, const Request& r, int code, std::string_view content_type, std::string_view body,
               std::string_view extra_headers = {}) {
    std::string& o = c->out;
    char num[32];
    o.append("HTTP/1.1 ");
    auto res = std::to_chars(num, num + sizeof num, code);
    o.append(num, res.ptr);
    o.push_back(' ');
    o.append(reason_phrase(code));
    o.append("\r\nServer: herd-target\r\n");
    bool no_body = code == 204 || code == 304;
    if (!no_body) {
      if (!content_type.empty()) {
        o.append("Content-Type: ");
        o.append(content_type);
        o.append("\r\n");
      }
      o.append("Content-Length: ");
      res = std::to_chars(num, num + sizeof num, body.size());
      o.append(num, res.ptr);
      o.append("\r\n");
    }
    o.append(extra_headers);
    if (!r.keep_alive) {
      o.append("Connection: close\r\n");
      c->close_after_write = true;
    } else if (r.minor == 0) {
      o.append("Connection: keep-alive\r\n");
    }
    o.append("\r\n");
    if (!no_body && !r.head) o.append(body);
    served_.fetch_add(1, std::memory_order_relaxed);
  }

  void respond_json(Conn* c, const Request& r, int code, const nlohmann::json& j, std::string_view extra_headers = {}) {
    std::string body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    respond(c, r, code, "application/json", body, extra_headers);
  }

  static nlohmann::json headers_json(const Request& r) {
    nlohmann::json h = nlohmann::json::object();
    for (auto& [k, v] : r.headers) {
      std::string key(k);
      auto it = h.find(key);
      if (it == h.end())
        h[key] = std::string(v);
      else
        *it = it->get<std::string>() + ", " + std::string(v);
    }
    return h;
  }

  static std::map<std::string, std::string> request_cookies(const Request& r) {
    std::map<std::string, std::string> out;
    for (auto& [k, v] : r.headers) {
      if (!iequals(k, "cookie")) continue;
      std::string_view s = v;
      while (!s.empty()) {
        auto semi = s.find(';');
        std::string_view part = trim_ows(s.substr(0, semi));
        auto eq = part.find('=');
        if (eq != std::string_view::npos)
          out[std::string(trim_ows(part.substr(0, eq)))] = std::string(trim_ows(part.substr(eq + 1)));
        if (semi == std::string_view::npos) break;
        s.remove_prefix(semi + 1);
      }
    }
    return out;
  }

  void handle(Conn* c, const Request& r) {
    std::string_view path = r.path;
    if (path == "/") {
      respond(c, r, 200, "text/plain", "ok");
      return;
    }
    if (path == "/ws") {
      std::string error;
      std::string head = ws_upgrade_response(r, &error);
      if (head.empty()) {
        error_response(c, 400, error);
        return;
      }
      c->out.append(head);
      c->ws = std::make_unique<WsEcho>();
      served_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto segs = split_path(path);
    if (segs.empty()) {
      not_found(c, r);
      return;
    }
    std::string_view first = segs[0];
    if (first == "echo" && segs.size() == 1) {
      nlohmann::json j;
      j["method"] = std::string(r.method);
      j["path"] = std::string(r.path);
      j["query"] = std::string(r.query);
      nlohmann::json args = nlohmann::json::object();
      for (auto& [k, v] : parse_query(r.query)) args[k] = v;
      j["args"] = args;
      j["headers"] = headers_json(r);
      j["body"] = std::string(r.body);
      respond_json(c, r, 200, j);
      return;
    }
    if (first == "peer" && segs.size() == 1) {  // the client's address: source IPs, connection counts
      sockaddr_storage a{};
      socklen_t len = sizeof a;
      char ip[INET6_ADDRSTRLEN] = "";
      int port = 0;
      if (::getpeername(c->fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
        bool v6 = a.ss_family == AF_INET6;
        auto* a4 = reinterpret_cast<sockaddr_in*>(&a);
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&a);
        inet_ntop(a.ss_family, v6 ? static_cast<void*>(&a6->sin6_addr) : &a4->sin_addr, ip, sizeof ip);
        port = ntohs(v6 ? a6->sin6_port : a4->sin_port);
      }
      respond_json(c, r, 200, {{"ip", ip}, {"port", port}});
      return;
    }
    if (first == "status" && segs.size() == 2) {
      int code = 0;
      if (!parse_int(segs[1], code) || code < 200 || code > 599) {
        respond(c, r, 400, "text/plain", "status must be 200-599\n");
        return;
      }
      respond(c, r, code, "text/plain", "");
      return;
    }
    if (first == "delay" && segs.size() == 2) {
      long ms = 0;
      if (!parse_int(segs[1], ms) || ms < 0 || ms > kMaxDelayMs) {
        respond(c, r, 400, "text/plain", "delay must be 0-600000 ms\n");
        return;
      }
      c->delay_pending = true;
      bool head = r.head, keep_alive = r.keep_alive;
      int minor = r.minor;
      c->delay_timer =
          loop_.add_timer(Clock::now() + std::chrono::milliseconds(ms),
                          [this, c, head, keep_alive, minor] { on_delay_done(c, head, keep_alive, minor); });
      return;
    }
    if (first == "bytes" && segs.size() == 2) {
      std::size_t n = 0;
      if (!parse_int(segs[1], n) || n > kMaxBytesRoute) {
        respond(c, r, 400, "text/plain", "bytes must be 0-67108864\n");
        return;
      }
      std::string body(n, 'x');
      static constexpr char kAlpha[] = "abcdefghijklmnopqrstuvwxyz";
      for (std::size_t i = 0; i < n; ++i) body[i] = kAlpha[i % 26];
      respond(c, r, 200, "application/octet-stream", body);
      return;
    }
    if (first == "json" && segs.size() == 1) {
      respond(c, r, 200, "application/json", kJsonDoc);
      return;
    }
    // /modules/{name}.js: small ES modules for testing remote imports.
    // lib.js imports ./dep.js relatively; dep.js exports a constant.
    if (first == "modules" && segs.size() == 2) {
      std::string_view name = segs[1];
      if (name == "dep.js") {
        respond(c, r, 200, "application/javascript", "export const dep = 'dep from the target';\n");
      } else if (name == "lib.js") {
        respond(c, r, 200, "application/javascript",
                "import { dep } from './dep.js';\n"
                "export function greet(who) { return `hello ${who} (${dep})`; }\n"
                "export default { greet };\n");
      } else {
        respond(c, r, 404, "text/plain", "no such module\n");
      }
      return;
    }
    if (first == "redirect" && segs.size() == 2) {
      int n = 0;
      if (!parse_int(segs[1], n) || n < 1 || n > 1000) {
        respond(c, r, 400, "text/plain", "redirect count must be 1-1000\n");
        return;
      }
      std::string loc = n == 1 ? "Location: /\r\n" : "Location: /redirect/" + std::to_string(n - 1) + "\r\n";
      respond(c, r, 302, "text/plain", "", loc);
      return;
    }
    if (first == "cookies" && segs.size() == 1) {
      nlohmann::json j;
      j["cookies"] = request_cookies(r);
      respond_json(c, r, 200, j);
      return;
    }
    if (first == "cookies" && segs.size() == 2 && segs[1] == "set") {
      auto cookies = request_cookies(r);
      std::string extra;
      for (auto& [k, v] : parse_query(r.query)) {
        if (k.empty()) continue;
        extra += "Set-Cookie: " + k + "=" + v + "; Path=/\r\n";
        cookies[k] = v;
      }
      nlohmann::json j;
      j["cookies"] = cookies;
      respond_json(c, r, 200, j, extra);
      return;
    }
    if (first == "basic-auth" && segs.size() == 3) {
      std::string expected = "Basic " + util::base64_encode(std::string(segs[1]) + ":" + std::string(segs[2]));
      std::string_view got = r.header("authorization");
      if (got == expected) {
        nlohmann::json j;
        j["authenticated"] = true;
        j["user"] = std::string(segs[1]);
        respond_json(c, r, 200, j);
      } else {
        nlohmann::json j;
        j["authenticated"] = false;
        respond_json(c, r, 401, j, "WWW-Authenticate: Basic realm=\"herd\"\r\n");
      }
      return;
    }
    if (first == "headers" && segs.size() == 1) {
      nlohmann::json j;
      j["headers"] = headers_json(r);
      respond_json(c, r, 200, j);
      return;
    }
    if (first == "counter" && (segs.size() == 2 || (segs.size() == 3 && segs[2] == "inc"))) {
      std::string name(segs[1]);
      std::uint64_t value;
      {
        std::lock_guard<std::mutex> lk(counters_.mu);
        auto& v = counters_.values[name];
        if (segs.size() == 3) ++v;
        value = v;
      }
      nlohmann::json j;
      j["name"] = name;
      j["value"] = value;
      respond_json(c, r, 200, j);
      return;
    }
    if (auto page = html_route({r.method, r.path, r.query, r.body, request_cookies(r)})) {
      respond(c, r, page->status, page->content_type, page->body, page->extra_headers);
      return;
    }
    if (first == "close" && segs.size() == 1) {
      close_conn(c);
      return;
    }
    RouteReply reply;
    if (serve_semantics_route({r.method, r.target, r.path, r.query, r.headers, r.body}, &reply)) {
      respond(c, r, reply.status, reply.content_type, reply.body, reply.extra_headers);
      return;
    }
    not_found(c, r);
  }

  void not_found(Conn* c, const Request& r) { respond(c, r, 404, "text/plain", "not found\n"); }

  static std::vector<std::string_view> split_path(std::string_view p) {
    std::vector<std::string_view> out;
    while (!p.empty()) {
      if (p.front() == '/') {
        p.remove_prefix(1);
        continue;
      }
      auto slash = p.find('/');
      out.push_back(p.substr(0, slash));
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash);
    }
    return out;
  }

  void on_delay_done(Conn* c, bool head, bool keep_alive, int minor) {
    c->delay_pending = false;
    c->delay_timer = 0;
    Request r;
    r.head = head;
    r.keep_alive = keep_alive;
    r.minor = minor;
    respond(c, r, 200, "text/plain", "ok");
    // continue with pipelined requests that arrived meanwhile
    if (!c->in.empty() && !c->close_after_write) {
      if (!process_buffered(c)) return;
    }
    flush(c);
  }

  // Writes pending output; returns false if the connection was closed.
  bool flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c->want_write) {
          c->want_write = true;
          // stop reading until the peer drains what we owe it (backpressure)
          loop_.modify(c->fd, EPOLLOUT);
        }
        return true;
      }
      close_conn(c);
      return false;
    }
    c->out.clear();
    c->out_off = 0;
    if (c->close_after_write && !c->delay_pending) {
      ::shutdown(c->fd, SHUT_WR);
      close_conn(c);
      return false;
    }
    if (c->want_write) {
      c->want_write = false;
      loop_.modify(c->fd, EPOLLIN | EPOLLRDHUP);
      // requests may be waiting in the buffer
      if (!c->in.empty() && !c->delay_pending) {
        if (!process_buffered(c)) return false;
        return flush(c);
      }
    }
    return true;
  }

  EventLoop loop_;
  int listen_fd_;
  Counters& counters_;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by fd
  std::vector<char> scratch_;
  Request req_;
  std::atomic<std::uint64_t> served_{0};
};

}  // namespace

// ------------------------------------------------------------------ Server

struct Server::Impl {
  ServerOptions opts;
  std::uint16_t port = 0;
  bool v6 = false;
  std::vector<int> listen_fds;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  Counters counters;
  bool started = false;
  bool stopped = false;

  int make_listener(const sockaddr_storage& ss, socklen_t len) {
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // SO_REUSEPORT only when several threads share the port (each has its own accept queue).
    if (opts.threads > 1) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) < 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("herd target: cannot bind " + opts.host + ":" + std::to_string(port) + ": " +
                               std::strerror(e));
    }
    if (::listen(fd, 4096) < 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error(std::string("listen: ") + std::strerror(e));
    }
    return fd;
  }
};

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.opts = std::move(opts);
  if (d.opts.threads < 1) d.opts.threads = 1;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!loopback_sockaddr(d.opts.host, d.opts.port, ss, len)) {
    throw std::runtime_error("herd target: refusing to listen on non-loopback address '" + d.opts.host +
                             "' (only 127.0.0.0/8, ::1 or localhost are allowed)");
  }
  d.v6 = ss.ss_family == AF_INET6;
  d.port = d.opts.port;
  try {
    int first = d.make_listener(ss, len);
    d.listen_fds.push_back(first);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(first, reinterpret_cast<sockaddr*>(&bound), &blen);
    d.port = ntohs(d.v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    if (d.v6)
      reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(d.port);
    else
      reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(d.port);
    for (int i = 1; i < d.opts.threads; ++i) d.listen_fds.push_back(d.make_listener(ss, len));
    for (int fd : d.listen_fds) d.workers.push_back(std::make_unique<Worker>(fd, d.counters));
  } catch (...) {
    for (int fd : d.listen_fds) ::close(fd);
    throw;
  }
}

Server::~Server() {
  stop();
  for (int fd : impl_->listen_fds) ::close(fd);
}

void Server::start() {
  auto& d = *impl_;
  if (d.started) return;
  d.started = true;
  for (auto& w : d.workers) {
    Worker* wp = w.get();
    d.threads.emplace_back([wp] { wp->run(); });
  }
}

void Server::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  for (auto& w : d.workers) w->loop().stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
}

std::uint16_t Server::port() const {
  return impl_->port;
}

std::string Server::base_url() const {
  const auto& d = *impl_;
  std::string host = d.opts.host == "localhost" ? "127.0.0.1" : d.opts.host;
  if (d.v6 && host.front() != '[') host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(d.port);
}

std::uint64_t Server::requests_served() const {
  std::uint64_t n = 0;
  for (auto& w : impl_->workers) n += w->served();
  return n;
}

}  // namespace herd::target
