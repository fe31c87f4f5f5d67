#pragma once
// Tests only: a raw TCP server on 127.0.0.1 for misbehaving-server cases
// (endless header lines or bodies, connections closed mid-exchange, requests
// never answered). Each connection runs a test-given handler on its own
// thread; every wait polls the stop flag, so the destructor never hangs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace herd::http::testing {

class RawServer {
 public:
  /// Runs on the connection's thread; the server closes `fd` after it returns.
  /// `index` counts connections from 0 in accept order.
  using Handler = std::function<void(int fd, int index, const std::atomic<bool>& stop)>;

  /// On 127.0.0.1, or on [::1] only with `v6`.
  explicit RawServer(Handler handler, bool v6 = false) : handler_(std::move(handler)) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
      ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      socklen_t len = sizeof a;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin6_port);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      socklen_t len = sizeof a;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
    ok_ = ok_ && ::listen(fd_, 64) == 0;
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~RawServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : threads_) t.join();
    ::close(fd_);
  }

  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  bool listening() const { return ok_; }
  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }  ///< the IPv4 one
  int connections() const { return accepted_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int index = accepted_++;
      threads_.emplace_back([this, c, index] {
        handler_(c, index, stop_);
        ::close(c);
      });
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> threads_;  // touched by the acceptor only until the destructor joins it
};

/// Waits up to `ms` for `events` on `fd`; false on timeout or stop.
inline bool wait_fd(int fd, short events, int ms, const std::atomic<bool>& stop) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, 20) > 0) return true;
  }
  return false;
}

/// Reads one request (head plus a Content-Length body) into *out, keeping any
/// extra bytes in `buf`. False on EOF, error, stop, or 10 s without a request.
inline bool read_request(int fd, std::string& buf, std::string* out, const std::atomic<bool>& stop) {
  char tmp[65536];
  for (;;) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t cl = 0;
      auto p = buf.find("Content-Length: ");
      if (p != std::string::npos && p < end) cl = std::stoul(buf.substr(p + 16));
      if (buf.size() >= end + 4 + cl) {
        *out = buf.substr(0, end + 4 + cl);
        buf.erase(0, end + 4 + cl);
        return true;
      }
    }
    if (!wait_fd(fd, POLLIN, 10000, stop)) return false;
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

/// Writes all of `data`; false once the peer is gone (or stop, or 10 s stuck).
inline bool write_all(int fd, std::string_view data, const std::atomic<bool>& stop) {
  while (!data.empty()) {
    if (!wait_fd(fd, POLLOUT, 10000, stop)) return false;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// True when the peer closes `fd` within `ms` (bytes it sends are read and dropped).
inline bool peer_closes(int fd, int ms, const std::atomic<bool>& stop) {
  char tmp[4096];
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (!wait_fd(fd, POLLIN, 20, stop)) {
      if (stop) return false;
      continue;
    }
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
  return false;
}

}  // namespace herd::http::testing
