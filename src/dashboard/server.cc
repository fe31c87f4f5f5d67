#include "dashboard/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "dashboard/assets.h"
#include "loop/event_loop.h"
#include "util/listen.h"

namespace herd::dashboard {

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;

std::string event_frame(const std::string& update_json) {
  return "event: update\ndata: " + update_json + "\n\n";
}

std::string plain_response(int status, std::string_view reason, std::string_view type, std::string_view body,
                           bool head_only) {
  std::string o = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  o += "Content-Type: " + std::string(type) + "\r\n";
  o += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  o += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";
  if (status == 405) o += "Allow: GET, HEAD\r\n";
  o += "\r\n";
  if (!head_only) o += body;
  return o;
}

}  // namespace

struct DashboardServer::State {
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
    bool answered = false;  ///< the request has been read and answered
    bool stream = false;    ///< GET /events: kept open, gets every update
  };

  loop::EventLoop loop;
  int listen_fd = -1;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::deque<std::string> history;  ///< event frames, oldest first (loop thread)

  ~State() {
    for (auto& [fd, c] : conns) ::close(fd);
    if (listen_fd >= 0) ::close(listen_fd);
  }

  void on_accept() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      if (conns.size() >= kMaxConnections) {
        ::close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      conns.emplace(fd, std::move(c));
      loop.watch(fd, EPOLLIN, [this, fd](std::uint32_t ev) { on_event(fd, ev); });
    }
  }

  void close_conn(Conn* c) {
    int fd = c->fd;
    loop.unwatch(fd);
    ::close(fd);
    conns.erase(fd);
  }

  void on_event(int fd, std::uint32_t ev) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    Conn* c = it->second.get();
    if (ev & EPOLLERR) return close_conn(c);
    if (ev & (EPOLLIN | EPOLLHUP)) {
      char buf[8192];
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          if (!c->answered) c->in.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return close_conn(c);  // EOF or error: nothing more to send to a gone browser
      }
      if (!c->answered) {
        std::size_t end = c->in.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (c->in.size() > kMaxHead) {
            c->answered = true;
            c->out = plain_response(431, "Request Header Fields Too Large", "text/plain", "request too large\n", false);
          }
        } else {
          answer(c, std::string_view(c->in).substr(0, c->in.find("\r\n")));
          c->in.clear();
        }
      }
    }
    flush(c);
  }

  void answer(Conn* c, std::string_view line) {
    c->answered = true;
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      c->out = plain_response(400, "Bad Request", "text/plain", "malformed request line\n", false);
      return;
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    bool head = method == "HEAD";
    if (method != "GET" && !head) {
      c->out = plain_response(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false);
      return;
    }
    if (path == "/events") {
      c->stream = true;
      c->out =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
          "X-Content-Type-Options: nosniff\r\nConnection: keep-alive\r\n\r\n";
      if (head) {
        c->stream = false;
        c->out.replace(c->out.find("keep-alive"), 10, "close");
        return;
      }
      c->out += "retry: 1000\n\n";
      for (const auto& f : history) c->out += f;
      return;
    }
    if (const Asset* a = find_asset(path)) {
      c->out = plain_response(200, "OK", a->content_type, a->body, head);
      return;
    }
    c->out = plain_response(404, "Not Found", "text/plain", "not found\n", head);
  }

  /// Writes what it can; closes a plain connection once answered, or a stream that fell too far behind.
  void flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return close_conn(c);
    }
    if (c->out_off == c->out.size()) {
      c->out.clear();
      c->out_off = 0;
      if (c->answered && !c->stream) {
        ::shutdown(c->fd, SHUT_WR);  // the browser closes; its EOF ends the connection
        loop.modify(c->fd, EPOLLIN);
        return;
      }
      loop.modify(c->fd, EPOLLIN);
      return;
    }
    if (c->out.size() - c->out_off > kMaxBacklog) return close_conn(c);
    loop.modify(c->fd, EPOLLIN | EPOLLOUT);
  }

  /// Sets `done` once every stream has sent what it has, or at `deadline`.
  void when_flushed(loop::Clock::time_point deadline, std::shared_ptr<std::promise<void>> done) {
    bool pending = false;
    for (auto& [fd, c] : conns) pending = pending || (c->stream && c->out_off < c->out.size());
    if (!pending || loop.now() >= deadline) return done->set_value();
    loop.add_timer(loop.now() + std::chrono::milliseconds(10),
                   [this, deadline, done] { when_flushed(deadline, done); });
  }

  void publish(std::string frame) {
    history.push_back(frame);
    if (history.size() > kMaxHistory) history.pop_front();
    std::vector<Conn*> streams;
    for (auto& [fd, c] : conns)
      if (c->stream) streams.push_back(c.get());
    for (Conn* c : streams) {
      c->out += frame;
      flush(c);
    }
  }
};

DashboardServer::DashboardServer(const std::string& host, int port) {
  std::string h = host.size() > 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
  util::ListenAddress where;
  std::string why;
  if (!util::resolve_listen_address(h, std::to_string(port), false, &where, &why))
    throw std::invalid_argument("web dashboard: cannot resolve host \"" + host + "\": " + why);
  int fd = util::listen_socket(where, 64, "web dashboard");
  try {
    url_ = "http://" + util::bound_address(fd, &port_);
  } catch (const std::system_error& e) {
    ::close(fd);
    throw std::system_error(e.code(), "web dashboard: cannot getsockname of " + host);
  }
  try {
    st_ = std::make_unique<State>();
  } catch (...) {
    ::close(fd);
    throw;
  }
  st_->listen_fd = fd;
  State* st = st_.get();
  st->loop.watch(fd, EPOLLIN, [st](std::uint32_t) { st->on_accept(); });
  thread_ = std::thread([st] {
    try {
      st->loop.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "herd: web dashboard server stopped: %s\n", e.what());
    }
  });
}

DashboardServer::~DashboardServer() {
  // The last update (published just before) reaches the browsers first; bounded.
  auto done = std::make_shared<std::promise<void>>();
  auto flushed = done->get_future();
  State* st = st_.get();
  st->loop.post([st, done] { st->when_flushed(st->loop.now() + kDrainTimeout, done); });
  flushed.wait_for(kDrainTimeout + std::chrono::seconds(1));
  st_->loop.stop();
  if (thread_.joinable()) thread_.join();
}

void DashboardServer::publish(std::string update_json) {
  State* st = st_.get();
  st->loop.post([st, frame = event_frame(update_json)]() mutable { st->publish(std::move(frame)); });
}

}  // namespace herd::dashboard
