#include "ws/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "ws/handshake.h"

namespace herd::ws {

namespace {

std::uint64_t mask_state() {
  static thread_local std::uint64_t s = std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32);
  s += 0x9E3779B97F4A7C15ull;  // splitmix64
  std::uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// An IP literal or "localhost" (127.0.0.1, as the HTTP clients connect first): no lookup.
bool literal_address(const std::string& name, int port, sockaddr_storage* addr, socklen_t* len, std::string* ip) {
  std::string host = name == "localhost" ? "127.0.0.1" : name;
  auto* a4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(addr);
  *addr = sockaddr_storage{};
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *a4;
    *ip = host;
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *a6;
    *ip = "[" + host + "]";
    return true;
  }
  return false;
}

/// Go's wording for a failed connect, as the built-in HTTP client (http/h1.cc) and k6 say it.
std::string connect_error(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connect: connection refused";
    case ETIMEDOUT:
      return "i/o timeout";
    case ENETUNREACH:
    case EHOSTUNREACH:
      return "connect: network is unreachable";
    case ECONNRESET:
      return "connect: connection reset by peer";
    default:
      return std::string("connect: ") + std::strerror(err);
  }
}

}  // namespace

WsUrl parse_url(const std::string& url) {
  WsUrl u;
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    u.tls = true;
    u.port = 443;
  } else {
    throw std::invalid_argument("websocket: malformed ws or wss URL \"" + url + "\"");
  }
  std::size_t end = rest.find_first_of("/?#");
  std::string auth = rest.substr(0, end);
  std::string tail = end == std::string::npos ? "" : rest.substr(end);
  if (std::size_t h = tail.find('#'); h != std::string::npos) tail.resize(h);
  if (auth.empty()) throw std::invalid_argument("websocket: no host in URL \"" + url + "\"");
  if (auth.find('@') != std::string::npos)
    throw std::invalid_argument("websocket: user information in the URL is not supported: \"" + url + "\"");
  std::string port;
  if (auth[0] == '[') {
    std::size_t close = auth.find(']');
    if (close == std::string::npos) throw std::invalid_argument("websocket: malformed IPv6 host in \"" + url + "\"");
    u.host = auth.substr(1, close - 1);
    if (close + 1 < auth.size()) {
      if (auth[close + 1] != ':') throw std::invalid_argument("websocket: malformed host in \"" + url + "\"");
      port = auth.substr(close + 2);
    }
  } else {
    std::size_t colon = auth.find(':');
    u.host = auth.substr(0, colon);
    if (colon != std::string::npos) port = auth.substr(colon + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("websocket: no host in URL \"" + url + "\"");
  for (char c : u.host)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '\\')
      throw std::invalid_argument("websocket: invalid host in URL \"" + url + "\"");
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535)
        throw std::invalid_argument("websocket: invalid port in URL \"" + url + "\"");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) throw std::invalid_argument("websocket: invalid port in URL \"" + url + "\"");
    u.port = p;
  }
  std::string host_in_header = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  u.host_header = host_in_header;
  if (u.port != (u.tls ? 443 : 80)) u.host_header += ":" + std::to_string(u.port);
  u.target = tail.empty() || tail[0] != '/' ? "/" + tail : tail;
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7F)
      throw std::invalid_argument("websocket: invalid character in URL \"" + url + "\"");
  return u;
}

std::shared_ptr<Session> Session::start(loop::EventLoop& loop, SessionOptions opts, Callbacks cb) {
  std::shared_ptr<Session> s(new Session(loop, std::move(opts), std::move(cb)));
  std::weak_ptr<Session> w = s;
  loop.defer([w] {
    if (auto self = w.lock()) self->begin();
  });
  return s;
}

Session::Session(loop::EventLoop& loop, SessionOptions opts, Callbacks cb)
    : loop_(loop),
      opts_(std::move(opts)),
      cb_(std::move(cb)),
      decoder_(Decoder::Limits{opts_.max_message, false}),
      started_(loop.now()) {}

Session::~Session() {
  if (timer_) loop_.cancel_timer(timer_);
  close_fd();
}

bool Session::open() const {
  return state_ == State::kOpen;
}

void Session::close_fd() {
  ssl_.reset();
  if (fd_ < 0) return;
  loop_.unwatch(fd_);
  ::close(fd_);
  fd_ = -1;
}

void Session::begin() {
  if (state_ != State::kConnecting) return;
  auto self = shared_from_this();
  WsUrl u;
  try {
    u = parse_url(opts_.url);
  } catch (const std::exception& e) {
    fail_handshake(e.what());
    return;
  }
  if (!opts_.refuse.empty()) {
    fail_handshake(opts_.refuse);
    return;
  }
  host_ = u.host;
  if (u.tls) {
    try {
      ctx_ = client_ctx(opts_.tls);
    } catch (const std::exception& e) {
      fail_handshake(e.what());
      return;
    }
  }
  WsUrl dest = u;
  if (!opts_.connect_ip.empty()) {
    dest.host = opts_.connect_ip;
    if (opts_.connect_port > 0) dest.port = opts_.connect_port;
  }
  UpgradeRequest req;
  req.host_header = u.host_header;
  req.target = u.target;
  try {
    req.key = make_key();
    req.protocols = opts_.protocols;
    req.headers = opts_.headers;
    req.deflate = opts_.deflate;
    out_ = build_request(req);
  } catch (const std::exception& e) {
    fail_handshake(e.what());
    return;
  }
  key_ = req.key;
  offered_ = req.protocols;
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string ip;
  if (literal_address(dest.host, dest.port, &addr, &len, &ip)) {
    connect_to(addr, len, ip, dest.port);
    return;
  }
  // A name: the loop's resolver answers later; the VU's fiber waits like on a socket.
  std::weak_ptr<Session> w = self;
  std::string name = dest.host;
  int port = dest.port;
  try {
    lookup_ =
        Resolver::of(loop_).lookup(name, opts_.dns_policy, opts_.dns_ttl_seconds, [w, name, port](LookupResult r) {
          if (auto s = w.lock()) s->on_resolved(name, std::move(r), port);
        });
  } catch (const std::exception& e) {
    fail_handshake("dial tcp: lookup " + name + ": " + e.what());
  }
}

void Session::on_resolved(const std::string& name, LookupResult r, int port) {
  auto self = shared_from_this();
  lookup_.reset();
  if (state_ != State::kConnecting || fd_ >= 0) return;
  if (!r.error.empty()) {
    fail_handshake("dial tcp: lookup " + name + ": " + r.error);
    return;
  }
  const ResolvedAddr& a = r.addrs.front();  // k6's dns.select: first
  if (opts_.vet_ip) {
    std::string why = opts_.vet_ip(a.ip);
    if (!why.empty()) {
      fail_handshake(why);
      return;
    }
  }
  sockaddr_storage addr = a.addr;
  if (addr.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<std::uint16_t>(port));
  else
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<std::uint16_t>(port));
  connect_to(addr, a.len, addr.ss_family == AF_INET6 ? "[" + a.ip + "]" : a.ip, port);
}

void Session::connect_to(const sockaddr_storage& addr, socklen_t len, const std::string& ip, int port) {
  auto self = shared_from_this();
  dial_ = "dial tcp " + ip + ":" + std::to_string(port) + ": ";
  fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail_handshake(dial_ + "socket: " + std::strerror(errno));
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), len);
  if (rc < 0 && errno != EINPROGRESS) {
    int e = errno;
    close_fd();
    fail_handshake(dial_ + connect_error(e));
    return;
  }
  std::weak_ptr<Session> w = self;
  timer_ = loop_.add_timer(loop_.now() + opts_.handshake_timeout, [w] {
    if (auto s = w.lock()) {
      s->timer_ = 0;
      if (s->state_ == State::kConnecting || s->state_ == State::kTls || s->state_ == State::kHandshaking)
        s->fail_handshake(s->dial_ + "i/o timeout");
    }
  });
  loop_.watch(fd_, EPOLLOUT | EPOLLIN | EPOLLRDHUP, [this](std::uint32_t ev) { on_io(ev); });
  want_out_ = true;
}

void Session::on_io(std::uint32_t ev) {
  auto self = shared_from_this();
  if (state_ == State::kConnecting) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t l = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0) {
      close_fd();
      fail_handshake(dial_ + connect_error(err));
      return;
    }
    if (ctx_) {
      try {
        ssl_ = new_client_ssl(ctx_.get(), fd_, host_);
      } catch (const std::exception& e) {
        fail_handshake(e.what());
        return;
      }
      state_ = State::kTls;
    } else {
      state_ = State::kHandshaking;
    }
  }
  if (state_ == State::kTls) {
    tls_step();
    if (state_ != State::kHandshaking) return;
  }
  if ((ev & EPOLLOUT) && tls_wants_out_ && fd_ >= 0 && state_ != State::kDone) {
    tls_wants_out_ = false;
    on_readable();
  }
  if ((ev & (EPOLLOUT | (tls_write_wants_read_ ? EPOLLIN : 0u))) && fd_ >= 0) flush();
  if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && fd_ >= 0 && state_ != State::kDone) on_readable();
  if (fd_ >= 0 && state_ != State::kDone) update_interest();
}

void Session::tls_step() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    tls_wants_out_ = false;
    state_ = State::kHandshaking;
    flush();  // the upgrade request
    if (fd_ >= 0 && state_ != State::kDone) update_interest();
    return;
  }
  int e = SSL_get_error(ssl_.get(), rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    tls_wants_out_ = e == SSL_ERROR_WANT_WRITE;
    update_interest();
    return;
  }
  std::string why = handshake_error(ssl_.get(), e, host_);
  fail_handshake(why);
}

void Session::update_interest() {
  if (fd_ < 0) return;
  bool want = out_pos_ < out_.size() || tls_wants_out_ || (state_ == State::kConnecting);
  if (want != want_out_) {
    want_out_ = want;
    loop_.modify(fd_, EPOLLIN | EPOLLRDHUP | (want ? std::uint32_t{EPOLLOUT} : 0u));
  }
}

long Session::io_send(const char* p, std::size_t n, std::string* why) {
  if (!ssl_) {
    for (;;) {
      ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (r > 0) return static_cast<long>(r);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
      *why = std::string("write: ") + std::strerror(errno);
      return -2;
    }
  }
  tls_write_wants_read_ = false;
  ERR_clear_error();
  errno = 0;
  int r = SSL_write(ssl_.get(), p, static_cast<int>(std::min<std::size_t>(n, 1u << 20)));
  if (r > 0) return r;
  int e = SSL_get_error(ssl_.get(), r);
  if (e == SSL_ERROR_WANT_WRITE) return -1;
  if (e == SSL_ERROR_WANT_READ) {
    tls_write_wants_read_ = true;
    return -1;
  }
  int err = errno;
  ERR_clear_error();
  *why = e == SSL_ERROR_SYSCALL && err != 0 ? std::string("write: ") + std::strerror(err) : "write: tls: write failed";
  return -2;
}

long Session::io_recv(char* p, std::size_t n, std::string* why) {
  if (!ssl_) {
    for (;;) {
      ssize_t r = ::recv(fd_, p, n, 0);
      if (r >= 0) return static_cast<long>(r);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
      *why = errno == ECONNRESET ? "connection reset by peer" : std::strerror(errno);
      return -2;
    }
  }
  ERR_clear_error();
  errno = 0;
  int r = SSL_read(ssl_.get(), p, static_cast<int>(n));
  if (r > 0) return r;
  int e = SSL_get_error(ssl_.get(), r);
  if (e == SSL_ERROR_WANT_READ) return -1;
  if (e == SSL_ERROR_WANT_WRITE) {
    tls_wants_out_ = true;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  int err = errno;
  unsigned long q = ERR_peek_last_error();
  ERR_clear_error();
  if (e == SSL_ERROR_SYSCALL && err == 0) return 0;
  if (e == SSL_ERROR_SYSCALL) {
    *why = err == ECONNRESET ? "connection reset by peer" : std::strerror(err);
  } else {
    const char* reason = q ? ERR_reason_error_string(q) : nullptr;
    *why = std::string("tls: ") + (reason ? reason : "read failed");
  }
  return -2;
}

void Session::flush() {
  if (state_ == State::kConnecting || state_ == State::kTls) return;
  while (out_pos_ < out_.size() && fd_ >= 0) {
    std::string why;
    long n = io_send(out_.data() + out_pos_, out_.size() - out_pos_, &why);
    if (n > 0) {
      out_pos_ += static_cast<std::size_t>(n);
      bytes_sent_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == -1) break;
    out_.clear();
    out_pos_ = 0;
    if (state_ == State::kHandshaking) {
      fail_handshake(dial_ + why);
    } else if (state_ != State::kDone) {
      if (cb_.on_error) cb_.on_error(why);
      finish(kCloseAbnormal, "");
    }
    return;
  }
  if (fd_ < 0) return;
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
    if (close_after_flush_) {
      finish(closing_code_, closing_reason_);
      return;
    }
  }
  update_interest();
}

void Session::on_readable() {
  char buf[65536];
  if (state_ == State::kConnecting || state_ == State::kTls) return;
  for (int rounds = 0; rounds < 64 && fd_ >= 0 && state_ != State::kDone; ++rounds) {
    std::string why;
    long n = io_recv(buf, sizeof buf, &why);
    if (n > 0) {
      // Plain: a short read drained the socket. TLS: read on until OpenSSL wants more (one record per call).
      bytes_received_ += static_cast<std::uint64_t>(n);
      handle_bytes(std::string_view(buf, static_cast<std::size_t>(n)));
      if (!ssl_ && static_cast<std::size_t>(n) < sizeof buf) return;
      continue;
    }
    if (n == -1) return;
    // EOF or an error.
    if (n == 0) why = "unexpected EOF";
    if (state_ == State::kHandshaking) {
      fail_handshake(n == 0 ? "websocket: bad handshake: unexpected EOF" : dial_ + "read: " + why);
      return;
    }
    if (state_ == State::kClosing && n == 0 && closing_code_ != 0 && close_after_flush_) {
      finish(closing_code_, closing_reason_);
      return;
    }
    if (cb_.on_error)
      cb_.on_error(n == 0 ? "websocket: close 1006 (abnormal closure): unexpected EOF" : "read: " + why);
    finish(kCloseAbnormal, "");
    return;
  }
}

void Session::handle_bytes(std::string_view data) {
  if (state_ == State::kHandshaking) {
    in_.append(data);
    ResponseHead head;
    std::size_t used = 0;
    try {
      used = parse_response_head(in_, &head);
    } catch (const std::exception& e) {
      fail_handshake(e.what());
      return;
    }
    if (used == 0) return;
    UpgradeRequest req;
    req.key = key_;
    req.protocols = offered_;
    req.deflate = opts_.deflate;
    HandshakeResult r;
    r.status = head.status;
    r.status_text = head.status_text;
    r.headers = head.headers;
    DeflateParams dp;
    std::string err = check_upgrade(head, req, &r.protocol, &r.deflate, &dp);
    if (err.empty() && r.deflate) {
      try {
        inflater_ = std::make_unique<Inflater>(dp.server_no_context_takeover, opts_.max_message);
        // zlib has no raw 8-bit window: with client_max_window_bits=8 we send uncompressed messages.
        if (dp.client_max_window_bits > 8)
          deflater_ = std::make_unique<Deflater>(dp.client_max_window_bits, dp.client_no_context_takeover);
        decoder_.allow_compression();
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    if (!err.empty()) {
      HandshakeResult bad = r;
      bad.error = err;
      bad.connecting_ms = std::chrono::duration<double, std::milli>(loop_.now() - started_).count();
      state_ = State::kDone;
      if (timer_) loop_.cancel_timer(timer_), timer_ = 0;
      close_fd();
      if (cb_.on_handshake) cb_.on_handshake(bad);
      return;
    }
    std::string rest = in_.substr(used);
    in_.clear();
    in_.shrink_to_fit();
    state_ = State::kOpen;
    if (timer_) loop_.cancel_timer(timer_), timer_ = 0;
    r.connecting_ms = std::chrono::duration<double, std::milli>(loop_.now() - started_).count();
    if (cb_.on_handshake) cb_.on_handshake(r);
    if (!rest.empty() && state_ != State::kDone) handle_bytes(rest);
    return;
  }
  if (state_ != State::kOpen && state_ != State::kClosing) return;
  std::vector<Event> events;
  bool ok = decoder_.feed(data, &events);
  for (auto& e : events) {
    if (state_ == State::kDone) return;
    if (e.kind == Event::Kind::kClose) {
      if (state_ == State::kOpen) {
        // The server closes: answer with its code, then end.
        std::string p = close_payload(e.close_code == kCloseNoStatus ? 0 : e.close_code, "");
        mask_frame(Opcode::kClose, p);
        state_ = State::kClosing;
        closing_code_ = e.close_code;
        closing_reason_ = e.data;
        close_after_flush_ = true;
        flush();
      } else {
        // The answer to our close.
        finish(e.close_code, e.data);
      }
      return;
    }
    if (e.compressed) {
      std::string plain, why;
      int code = inflater_ ? inflater_->inflate(e.data, &plain, &why) : kCloseProtocolError;
      if (code == 0 && e.kind == Event::Kind::kText && !valid_utf8(plain)) {
        code = kCloseInvalidData;
        why = "websocket: text message is not valid UTF-8";
      }
      if (code != 0) {
        fail_open(why.empty() ? "websocket: compressed message without permessage-deflate" : why, code);
        return;
      }
      e.data = std::move(plain);
      e.compressed = false;
    }
    if (e.kind == Event::Kind::kPing && state_ == State::kOpen) {
      mask_frame(Opcode::kPong, e.data);
      flush();
    }
    if (cb_.on_event) cb_.on_event(std::move(e));
  }
  if (!ok && state_ != State::kDone) fail_open(decoder_.error(), decoder_.close_code());
}

void Session::mask_frame(Opcode op, std::string_view payload) {
  std::uint64_t m = mask_state();
  std::uint8_t key[4];
  std::memcpy(key, &m, 4);
  append_frame(&out_, op, payload, true, key);
}

bool Session::send(Opcode op, std::string_view payload) {
  if (state_ != State::kOpen) return false;
  auto self = shared_from_this();
  if (deflater_ && (op == Opcode::kText || op == Opcode::kBinary)) {
    std::string z = deflater_->compress(payload);
    std::uint64_t m = mask_state();
    std::uint8_t key[4];
    std::memcpy(key, &m, 4);
    append_frame(&out_, op, z, true, key, true);
  } else {
    mask_frame(op, payload);
  }
  flush();
  return true;
}

void Session::close(int code, std::string_view reason) {
  if (state_ != State::kOpen) return;
  auto self = shared_from_this();
  mask_frame(Opcode::kClose, close_payload(code, reason));
  state_ = State::kClosing;
  closing_code_ = code == 0 ? kCloseNoStatus : code;
  closing_reason_ = std::string(reason);
  std::weak_ptr<Session> w = self;
  timer_ = loop_.add_timer(loop_.now() + opts_.close_timeout, [w] {
    if (auto s = w.lock()) {
      s->timer_ = 0;
      if (s->state_ == State::kClosing) s->finish(s->closing_code_, s->closing_reason_);
    }
  });
  flush();
}

void Session::fail_open(const std::string& error, int code_to_send) {
  mask_frame(Opcode::kClose, close_payload(code_to_send, ""));
  flush();
  if (state_ == State::kDone) return;
  if (cb_.on_error) cb_.on_error(error);
  finish(code_to_send, "");
}

void Session::finish(int code, const std::string& reason) {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  if (timer_) loop_.cancel_timer(timer_), timer_ = 0;
  close_fd();
  if (cb_.on_closed) cb_.on_closed(code, reason);
}

void Session::fail_handshake(std::string error) {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  lookup_.reset();
  if (timer_) loop_.cancel_timer(timer_), timer_ = 0;
  close_fd();
  HandshakeResult r;
  r.error = std::move(error);
  r.connecting_ms = std::chrono::duration<double, std::milli>(loop_.now() - started_).count();
  if (cb_.on_handshake) cb_.on_handshake(r);
}

void Session::abort(int code) {
  if (code != 0 && state_ == State::kOpen && fd_ >= 0) {
    std::string frame;
    std::uint8_t key[4] = {1, 2, 3, 4};
    append_frame(&frame, Opcode::kClose, close_payload(code, ""), true, key);
    std::string ignored;
    if (out_pos_ == out_.size()) (void)io_send(frame.data(), frame.size(), &ignored);
  }
  state_ = State::kDone;
  lookup_.reset();
  // abort() may be called from inside one of these callbacks (it woke the VU, whose script closed the
  // socket): they are destroyed once the loop's current work is done, never while one still runs.
  auto dead = std::make_shared<Callbacks>(std::move(cb_));
  cb_ = Callbacks{};
  loop_.defer([dead] {});
  if (timer_) loop_.cancel_timer(timer_), timer_ = 0;
  close_fd();
}

}  // namespace herd::ws
