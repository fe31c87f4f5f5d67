#include "http/h1.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/h1_exchange.h"
#include "http/h1_fast_response.h"
#include "util/ascii.h"
#include "util/base64.h"

namespace herd::http::detail {

using namespace std::string_view_literals;

using loop::Clock;

using util::iequals;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  if (a == Clock::time_point{} || b == Clock::time_point{} || b < a) return 0;
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string dial_prefix(const FastUrl& u) {
  std::string host = u.addr.ss_family == AF_INET6 ? "[" + u.ip + "]" : u.ip;
  return "dial tcp " + host + ":" + std::to_string(u.port) + ": ";
}

constexpr std::size_t kMaxIdlePerKey = 256;  // idle connections kept per (group, address)
constexpr std::size_t kReadBuffer = 64 * 1024;

}  // namespace

struct H1Client::Impl {
  loop::EventLoop& loop;
  std::vector<std::unique_ptr<Conn>> conns;  // by fd
  std::size_t open = 0;
  std::unordered_map<PoolKey, std::vector<Conn*>, PoolKeyHash> idle;
  Exchange* head = nullptr;  // in-flight list
  std::size_t flying = 0;
  std::unique_ptr<char[]> rbuf = std::make_unique<char[]>(kReadBuffer);
  loop::TimerId timer = 0;
  Clock::time_point timer_at = Clock::time_point::max();
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::uint64_t cancel_epoch = 0;  // cancel() calls: on_timer's list of expired exchanges is stale after one

  // Requests on kept-alive connections wait here until the loop has handled
  // every event of its current iteration, then go out in one burst: the target
  // is woken once for the burst, not once per request.
  std::vector<Exchange*> pending;
  bool flush_scheduled = false;
  // Request buffers of finished exchanges, for the next ones (no allocation per request).
  std::vector<std::string> spare_heads;

  explicit Impl(loop::EventLoop& l) : loop(l) {}

  ~Impl() {
    *alive = false;
    if (timer_at != Clock::time_point::max()) loop.cancel_timer(timer);
    for (Exchange* e = head; e;) {
      Exchange* n = e->next;
      delete e;
      e = n;
    }
    for (auto& c : conns)
      if (c) {
        loop.unwatch(c->fd);
        ::close(c->fd);
      }
  }

  // ------------------------------------------------------------ bookkeeping

  void link(Exchange* e) {
    e->next = head;
    if (head) head->prev = e;
    head = e;
    ++flying;
  }

  void unlink(Exchange* e) {
    if (e->prev) e->prev->next = e->next;
    if (e->next) e->next->prev = e->prev;
    if (head == e) head = e->next;
    e->prev = e->next = nullptr;
    --flying;
  }

  static PoolKey pool_key(const Exchange& e) {
    PoolKey k;
    k.group = e.req.conn_group;
    k.family = e.url->addr.ss_family;
    if (e.url->addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&e.url->addr);
      k.port = a->sin_port;
      std::memcpy(k.addr.data(), &a->sin_addr, sizeof a->sin_addr);
    } else {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&e.url->addr);
      k.port = a->sin6_port;
      std::memcpy(k.addr.data(), &a->sin6_addr, sizeof a->sin6_addr);
    }
    return k;
  }

  void close_conn(Conn* c) {
    if (c->ex) c->ex->conn = nullptr;
    if (!c->ex) {  // maybe idle: drop it from its pool
      auto it = idle.find(c->key);
      if (it != idle.end()) {
        auto& v = it->second;
        v.erase(std::remove(v.begin(), v.end(), c), v.end());
      }
    }
    int fd = c->fd;
    loop.unwatch(fd);
    ::close(fd);
    conns[fd].reset();
    --open;
  }

  void arm_timeout(Clock::time_point when) {
    if (when >= timer_at) return;
    if (timer_at != Clock::time_point::max()) loop.cancel_timer(timer);
    timer_at = when;
    timer = loop.add_timer(when, [this] { on_timer(); });
  }

  void on_timer() {
    timer_at = Clock::time_point::max();
    auto guard = alive;
    auto now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    std::vector<Exchange*> expired;
    for (Exchange* e = head; e; e = e->next) {
      if (e->failing) continue;
      if (e->deadline <= now) {
        expired.push_back(e);
        e->expired_mark = true;
      } else {
        next = std::min(next, e->deadline);
      }
    }
    if (next != Clock::time_point::max()) arm_timeout(next);
    std::uint64_t epoch = cancel_epoch;
    for (Exchange* e : expired) {
      if (!*guard) return;
      if (epoch != cancel_epoch) break;  // a callback ran cancel(): `expired` may hold freed exchanges
      expire(e);
    }
    while (*guard && epoch != cancel_epoch) {  // then the marked ones left, from the list
      Exchange* e = head;
      while (e && !e->expired_mark) e = e->next;
      if (!e) break;
      expire(e);
    }
  }

  void expire(Exchange* e) {
    e->expired_mark = false;
    if (e->conn) close_conn(e->conn);
    fail(e, 1050, "request timeout");
  }

  // --------------------------------------------------------------- requests

  void start(std::unique_ptr<Exchange> owned) {
    Exchange* e = owned.release();
    link(e);
    if (e->deadline != Clock::time_point::max()) arm_timeout(e->deadline);
    e->is_head = e->req.method == "HEAD"sv;
    serialize(e);
    e->key = pool_key(*e);
    auto it = e->req.fresh_connection ? idle.end() : idle.find(e->key);
    if (it != idle.end() && !it->second.empty()) {
      Conn* c = it->second.back();  // the most recently used one
      it->second.pop_back();        // (empty lists stay: a VU comes back to the same key)
      attach(e, c);
      queue_send(e);
      return;
    }
    connect(e);
  }

  void queue_send(Exchange* e) {
    e->queued = true;
    pending.push_back(e);
    if (flush_scheduled) return;
    flush_scheduled = true;
    loop.defer([this, guard = std::weak_ptr<bool>(alive)] {
      auto g = guard.lock();
      if (g && *g) flush();
    });
  }

  void flush() {
    flush_scheduled = false;
    std::vector<Exchange*> batch;
    batch.swap(pending);
    // One clock reading per write: a request's write ends where the next one's starts.
    Clock::time_point now = Clock::now();
    for (Exchange* e : batch) {
      e->queued = false;
      if (!e->conn) continue;
      if (send(e, now) && e->write_done != Clock::time_point{})
        now = e->write_done;
      else
        now = Clock::now();
    }
    batch.clear();
    if (pending.empty() && pending.capacity() < batch.capacity()) pending.swap(batch);  // keep the buffer
  }

  // The request line and headers into e->head: sized first, then copied piece by piece.
  void serialize(Exchange* e) {
    const Request& r = e->req;
    bool user_host = false, user_accept = false, user_length = false, user_auth = false;
    std::size_t size = 0;
    r.for_each_header([&](const std::string& k, const std::string& v) {
      size += k.size() + (v.empty() ? 1 : 2) + v.size() + 2;
      switch (k.size()) {  // (the length first: most names are none of these)
        case 4:
          user_host = user_host || iequals(k, "host");
          break;
        case 6:
          user_accept = user_accept || iequals(k, "accept");
          break;
        case 14:
          user_length = user_length || iequals(k, "content-length");
          break;
        case 13:
          user_auth = user_auth || iequals(k, "authorization");
          break;
        default:
          break;
      }
    });
    std::string auth;  // (rare: basic auth on the built-in client)
    if (!r.basic_user.empty() && !user_auth)
      auth = "Authorization: Basic " + util::base64_encode(r.basic_user + ":" + r.basic_password) + "\r\n";
    const std::string& body = r.body_ref();
    bool send_body =
        !e->is_head && (!body.empty() || r.method == "POST"sv || r.method == "PUT"sv || r.method == "PATCH"sv);
    char length_buf[24];
    std::string_view length;
    if (send_body && !user_length) {
      auto [end, ec] = std::to_chars(length_buf, length_buf + sizeof length_buf, body.size());
      length = std::string_view(length_buf, static_cast<std::size_t>(end - length_buf));
    }
    static constexpr auto kVersion = " HTTP/1.1\r\n"sv, kHost = "Host: "sv, kCrlf = "\r\n"sv;
    static constexpr auto kAccept = "Accept: */*\r\n"sv, kLength = "Content-Length: "sv;
    size += r.method.size() + 1 + e->url->target.size() + kVersion.size() + auth.size() + kCrlf.size();
    if (!user_host) size += kHost.size() + e->url->host_header.size() + kCrlf.size();
    if (!user_accept) size += kAccept.size();
    if (!length.empty()) size += kLength.size() + length.size() + kCrlf.size();

    std::string& h = e->head;
    if (h.capacity() == 0 && !spare_heads.empty()) {  // a finished exchange's buffer
      h.swap(spare_heads.back());
      spare_heads.pop_back();
    }
    h.resize(size);
    char* p = h.data();
    auto put = [&p](std::string_view s) {
      std::memcpy(p, s.data(), s.size());
      p += s.size();
    };
    put(r.method);
    *p++ = ' ';
    put(e->url->target);
    put(kVersion);
    if (!user_host) {
      put(kHost);
      put(e->url->host_header);
      put(kCrlf);
    }
    put(auth);
    r.for_each_header([&put](const std::string& k, const std::string& v) {
      put(k);
      put(v.empty() ? ":"sv : ": "sv);
      put(v);
      put(kCrlf);
    });
    if (!user_accept) put(kAccept);
    if (!length.empty()) {
      put(kLength);
      put(length);
      put(kCrlf);
    }
    put(kCrlf);
    if (!send_body) {
      e->req.body.clear();
      e->req.shared_body = nullptr;
    }
  }

  void attach(Exchange* e, Conn* c) {
    c->ex = e;
    e->conn = c;
    e->got_bytes = false;
    e->complete = false;
    e->written = 0;
    e->resp.headers.clear();
    e->resp.body.clear();
    e->decoder.reset();
    e->resp.bytes_received = 0;
    e->headers_done = false;
    e->overflow = Overflow::kNone;
    e->header_bytes = 0;
    e->body_bytes = 0;
    e->field.clear();
    e->value.clear();
    e->reason.clear();
    c->parser_ready = false;  // llhttp_init() when a response needs llhttp (most do not: fast_parse_response)
  }

  static llhttp_t* parser(Conn* c) {
    if (!c->parser_ready) {
      llhttp_init(&c->parser, HTTP_RESPONSE, &kParserSettings);
      c->parser.data = c->ex;
      c->parser_ready = true;
    }
    return &c->parser;
  }

  void connect(Exchange* e) {
    e->connect_start = Clock::now();
    const FastUrl& u = *e->url;
    int fd = ::socket(u.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      fail_later(e, 1200, dial_prefix(u) + "socket: " + std::strerror(errno));
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!e->req.local_ip.empty() && !bind_local(fd, e)) return;
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&u.addr), u.addr_len);
    if (rc < 0 && errno != EINPROGRESS) {
      int err = errno;
      ::close(fd);
      fail_connect_later(e, err);
      return;
    }
    if (static_cast<std::size_t>(fd) >= conns.size()) conns.resize(fd + 1);
    conns[fd] = std::make_unique<Conn>();
    Conn* c = conns[fd].get();
    ++open;
    c->fd = fd;
    c->key = e->key;
    attach(e, c);
    if (rc == 0) {
      loop.watch(fd, EPOLLIN | EPOLLRDHUP, [this, c](std::uint32_t ev) { on_event(c, ev); });
      connected(e);
      return;
    }
    c->connecting = true;
    loop.watch(fd, EPOLLOUT, [this, c](std::uint32_t ev) { on_event(c, ev); });
  }

  void connected(Exchange* e) {
    e->connecting_ms += ms_between(e->connect_start, Clock::now());
    send(e);
  }

  // localIPs: the source address, any port.
  bool bind_local(int fd, Exchange* e) {
    sockaddr_storage a{};
    socklen_t len = 0;
    if (e->url->addr.ss_family == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&a);
      a6->sin6_family = AF_INET6;
      if (inet_pton(AF_INET6, e->req.local_ip.c_str(), &a6->sin6_addr) == 1) len = sizeof *a6;
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&a);
      a4->sin_family = AF_INET;
      if (inet_pton(AF_INET, e->req.local_ip.c_str(), &a4->sin_addr) == 1) len = sizeof *a4;
    }
    if (len != 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) return true;
    std::string why = len == 0 ? "address family mismatch" : std::strerror(errno);
    ::close(fd);
    fail_later(e, 1200, dial_prefix(*e->url) + "bind " + e->req.local_ip + ": " + why);
    return false;
  }

  void close_idle(std::uint64_t group) {
    for (auto& c : conns)
      if (c && c->ex && c->ex->req.conn_group == group) c->retired = true;
    for (auto& [key, list] : idle) {
      if (key.group != group) continue;
      std::vector<Conn*> victims;
      victims.swap(list);
      for (Conn* c : victims) close_conn(c);
    }
  }

  void fail_connect(Exchange* e, int err) {
    if (err == ECONNREFUSED && e->url->localhost && e->url->addr.ss_family == AF_INET) {
      auto u = std::make_shared<FastUrl>(*e->url);  // (shared with the client's cached URL and other exchanges)
      auto* a = reinterpret_cast<sockaddr_in6*>(&u->addr);
      *a = sockaddr_in6{};
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(static_cast<std::uint16_t>(u->port));
      a->sin6_addr = in6addr_loopback;
      u->addr_len = sizeof(sockaddr_in6);
      u->ip = "::1";
      e->url = std::move(u);
      e->failing = false;  // (when the refusal came from connect() itself, through later())
      connect(e);          // the refused attempt counts as blocked time
      return;
    }
    std::string p = dial_prefix(*e->url);
    switch (err) {
      case ECONNREFUSED:
        fail(e, 1212, p + "connect: connection refused");
        break;
      case ETIMEDOUT:
        fail(e, 1211, p + "i/o timeout");
        break;
      case ENETUNREACH:
      case EHOSTUNREACH:
        fail(e, 1210, p + "connect: network is unreachable");
        break;
      default:
        fail(e, 1210, p + "connect: " + std::strerror(err));
        break;
    }
  }

  void fail_connect_later(Exchange* e, int err) {
    later(e, [this, e, err] { fail_connect(e, err); });
  }

  void fail_later(Exchange* e, int code, std::string msg) {
    later(e, [this, e, code, msg = std::move(msg)] { fail(e, code, msg); });
  }

  // Callbacks never run inside start(): the caller may not be ready for them yet.
  template <typename Fn>
  void later(Exchange* e, Fn fn) {
    e->failing = true;
    loop.add_timer(Clock::now(), [guard = std::weak_ptr<bool>(alive), fn = std::move(fn)] {
      auto g = guard.lock();
      if (g && *g) fn();  // (else the destructor freed the exchange)
    });
  }

  // Writes what is left of the request. False when the connection is gone
  // (closed; the exchange failed or was retried on a new connection).
  bool send(Exchange* e, Clock::time_point now = {}) {
    Conn* c = e->conn;
    if (e->written == 0) e->write_start = now != Clock::time_point{} ? now : Clock::now();
    iovec iov[2];
    int n = 0;
    std::size_t hs = e->head.size();
    if (e->written < hs) iov[n++] = {e->head.data() + e->written, hs - e->written};
    std::size_t body_off = e->written > hs ? e->written - hs : 0;
    const std::string& body = e->req.body_ref();
    if (body_off < body.size()) iov[n++] = {const_cast<char*>(body.data()) + body_off, body.size() - body_off};
    ssize_t w = n ? ::writev(c->fd, iov, n) : 0;
    if (w < 0) {
      int err = errno;
      if (err == EAGAIN || err == EINTR) {
        want_output(c, true);
        return true;
      }
      if ((err == EPIPE || err == ECONNRESET) && can_retry(e)) {
        retry(e);
        return false;
      }
      close_conn(c);
      if (err == EPIPE)
        fail_later(e, 1201, "write: broken pipe");
      else if (err == ECONNRESET)
        fail_later(e, 1220, "write: connection reset by peer");
      else
        fail_later(e, 1200, std::string("write: ") + std::strerror(err));
      return false;
    }
    e->written += static_cast<std::size_t>(w);
    if (e->written < e->total()) {
      want_output(c, true);
      return true;
    }
    e->write_done = Clock::now();
    if (c->want_out) want_output(c, false);
    return true;
  }

  void want_output(Conn* c, bool on) {
    if (c->want_out == on) return;
    c->want_out = on;
    loop.modify(c->fd, EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u));
  }

  bool can_retry(const Exchange* e) const {
    // A kept-alive connection the server closed just before our request: send it
    // again once on a new connection, as Go does: when nothing of it was written,
    // or when it is replayable (see replayable()).
    if (e->retried || e->got_bytes || e->connect_start != Clock::time_point{}) return false;
    return e->written == 0 || replayable(e->req);  // (client.h)
  }

  // Fails every exchange of `group` in flight but those whose error is already
  // queued (later()). Marks first, then fails one at a time from the list head:
  // a callback may start or end other exchanges.
  std::size_t cancel(std::uint64_t group) {
    auto guard = alive;
    ++cancel_epoch;
    for (Exchange* e = head; e; e = e->next)
      if (e->req.conn_group == group && !e->failing) e->cancel_mark = true;
    std::size_t n = 0;
    for (;;) {
      Exchange* e = head;
      while (e && !e->cancel_mark) e = e->next;
      if (!e) break;
      if (e->conn) close_conn(e->conn);
      fail(e, kCanceledErrorCode, kCanceledMessage);
      ++n;
      if (!*guard) break;
    }
    return n;
  }

  void retry(Exchange* e) {
    Conn* c = e->conn;
    e->retried = true;
    close_conn(c);
    connect(e);
  }

  // ----------------------------------------------------------------- events

  void on_event(Conn* c, std::uint32_t ev) {
    if (c->connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      if (err == 0 && !(ev & (EPOLLERR | EPOLLHUP))) {
        c->connecting = false;
        loop.modify(c->fd, EPOLLIN | EPOLLRDHUP);
        connected(c->ex);
        return;
      }
      if (err == 0) err = ECONNREFUSED;
      Exchange* e = c->ex;
      close_conn(c);
      fail_connect(e, err);
      return;
    }
    if ((ev & EPOLLOUT) && c->ex && c->want_out) {
      if (!send(c->ex)) return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
  }

  void on_readable(Conn* c) {
    ssize_t n = ::read(c->fd, rbuf.get(), kReadBuffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    Exchange* e = c->ex;
    if (!e) {  // idle: the server closed it (or sent something unasked): drop it
      close_conn(c);
      return;
    }
    if (n < 0) {
      int err = errno;
      if (can_retry(e) && err == ECONNRESET) {
        retry(e);
        return;
      }
      close_conn(c);
      if (err == ECONNRESET)
        fail(e, 1220, "read: connection reset by peer");
      else
        fail(e, 1200, std::string("read: ") + std::strerror(err));
      return;
    }
    if (n == 0) {
      on_eof(c, e);
      return;
    }
    bool first_read = !e->got_bytes;
    if (first_read) {
      e->got_bytes = true;
      e->first_byte = Clock::now();
      if (e->write_done == Clock::time_point{}) e->write_done = e->first_byte;
    }
    e->resp.bytes_received += static_cast<std::uint64_t>(n);
    if (first_read && fast_parse_response(e, rbuf.get(), static_cast<std::size_t>(n))) {  // the common case
      complete(c, e, e->keep_alive && e->written == e->total(), e->first_byte);
      return;
    }
    llhttp_errno_t rc = llhttp_execute(parser(c), rbuf.get(), static_cast<std::size_t>(n));
    if (rc == HPE_OK) {
      // Every byte so far belongs to the header blocks: the same limit, counted on the wire.
      if (!e->headers_done && e->resp.bytes_received > kMaxResponseHeaderBytes) e->overflow = Overflow::kHeaders;
      if (e->overflow == Overflow::kNone) return;  // more to come
    }
    if (e->overflow != Overflow::kNone) {
      close_conn(c);
      fail(e, kLimitErrorCode,
           e->overflow == Overflow::kHeaders ? header_limit_message() : body_limit_message(e->req.max_body));
      return;
    }
    if (rc == HPE_PAUSED && e->complete) {
      const char* end = llhttp_get_error_pos(&c->parser);
      bool leftover = end && end < rbuf.get() + n;
      // A response read whole at once: receiving took no measurable time after its first byte.
      complete(c, e, e->keep_alive && !leftover && e->written == e->total(), first_read ? e->first_byte : Clock::now());
      return;
    }
    std::string reason = llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "";
    close_conn(c);
    fail(e, 1000, "malformed HTTP response: " + reason);
  }

  void on_eof(Conn* c, Exchange* e) {
    if (!e->got_bytes) {
      if (can_retry(e)) {
        retry(e);
        return;
      }
      close_conn(c);
      fail(e, 1000, "EOF");
      return;
    }
    llhttp_errno_t rc = llhttp_finish(parser(c));
    if ((rc == HPE_OK || rc == HPE_PAUSED) && e->complete) {
      complete(c, e, false, Clock::now());  // a body that ends with the connection
      return;
    }
    close_conn(c);
    fail(e, 1000, "unexpected EOF");
  }

  // ---------------------------------------------------------------- results

  void complete(Conn* c, Exchange* e, bool reuse, Clock::time_point now) {
    c->ex = nullptr;
    e->conn = nullptr;
    if (reuse && !e->req.fresh_connection && !c->retired) {
      auto& v = idle[c->key];
      if (v.size() < kMaxIdlePerKey) {
        v.push_back(c);
      } else {
        close_conn(c);
      }
    } else {
      close_conn(c);
    }
    deliver_ok(e, now);
  }

  void deliver_ok(Exchange* e, Clock::time_point now) {
    Response& r = e->resp;
    if (r.status >= 400) r.error_code = 1000 + r.status;
    if (e->decoder && !e->decoder->finish()) {
      r.error_code = kDecompressionErrorCode;
      r.error = e->decoder->error();
      r.body.clear();
    }
    Timings& t = r.timings;
    Clock::time_point ready = e->connect_start != Clock::time_point{} ? e->connect_start : e->write_start;
    t.blocked = ms_between(e->started, ready);
    t.connecting = e->connecting_ms;
    t.sending = ms_between(e->write_start, e->write_done);
    t.waiting = ms_between(e->write_done, e->first_byte);
    t.receiving = ms_between(e->first_byte, now);
    t.duration = t.sending + t.waiting + t.receiving;
    finish(e);
  }

  void fail(Exchange* e, int code, std::string msg) {
    Response& r = e->resp;
    r.status = 0;
    r.proto.clear();
    r.status_text.clear();
    r.headers.clear();
    r.body.clear();
    r.error_code = code;
    r.error = std::move(msg);
    Timings& t = r.timings;
    Clock::time_point ready = e->connect_start != Clock::time_point{} ? e->connect_start : e->write_start;
    t.blocked = ms_between(e->started, ready != Clock::time_point{} ? ready : Clock::now());
    t.connecting = e->connecting_ms;
    t.sending = t.waiting = t.receiving = t.duration = 0;
    finish(e);
  }

  void finish(Exchange* e) {
    if (e->queued) pending.erase(std::remove(pending.begin(), pending.end(), e), pending.end());
    if (e->conn) {
      e->conn->ex = nullptr;
      e->conn = nullptr;
    }
    unlink(e);
    std::unique_ptr<Exchange> owned(e);
    if (spare_heads.size() < 64 && e->head.capacity() <= 4096) spare_heads.push_back(std::move(e->head));
    Response& r = e->resp;
    r.url = std::move(e->req.url);
    r.remote_ip = e->url->ip;
    r.remote_port = e->url->port;
    r.bytes_sent = e->written;
    Client::Callback cb = std::move(e->done);
    cb(std::move(r));
  }
};

H1Client::H1Client(loop::EventLoop& loop) : impl_(std::make_unique<Impl>(loop)) {}

H1Client::~H1Client() = default;

void H1Client::start(Request&& req, std::shared_ptr<const FastUrl> url, Clock::time_point started,
                     Client::Callback done) {
  auto e = std::make_unique<Exchange>(std::move(req));
  e->url = std::move(url);
  e->done = std::move(done);
  e->started = started;
  if (e->req.timeout.count() > 0) e->deadline = started + e->req.timeout;
  impl_->start(std::move(e));
}

std::size_t H1Client::in_flight() const {
  return impl_->flying;
}

std::size_t H1Client::open_connections() const {
  return impl_->open;
}

void H1Client::close_idle(std::uint64_t conn_group) {
  impl_->close_idle(conn_group);
}

std::size_t H1Client::cancel(std::uint64_t conn_group) {
  return impl_->cancel(conn_group);
}

}  // namespace herd::http::detail
