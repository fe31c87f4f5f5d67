#include "coord/control_client.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "coord/coordinator.h"

namespace herd::coord {

using Clock = util::Clock;

namespace {

std::once_flag g_curl_once;

size_t write_cb(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

/// How long one curl_multi_poll may last (real milliseconds). With a manual
/// clock, `deadline` is simulated time: poll in short real slices and look
/// at the clock again.
int poll_ms(const Clock& clock, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, clock.is_real() ? 1000 : 5));
}

}  // namespace

void ensure_curl_global() {
  std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string error_detail(const Exchange& x) {
  if (x.status == 0) return x.error;
  try {
    auto j = nlohmann::json::parse(x.response);
    return "HTTP " + std::to_string(x.status) + ": " + j.at("errors").at(0).value("detail", x.response);
  } catch (...) {
    return "HTTP " + std::to_string(x.status) + ": " + x.response.substr(0, 200);
  }
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

ControlClient::ControlClient(std::size_t connections, Clock& clock)
    : clock_(clock), epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  ensure_curl_global();
  if (epoll_.get() < 0 || wake_fd_.get() < 0)
    throw std::runtime_error(std::string("epoll/eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_.get();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0)
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  multi_.reset(curl_multi_init());
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &ControlClient::on_socket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &ControlClient::on_timer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
  for (std::size_t i = 0; i < connections; ++i) {
    easy_.emplace_back(curl_easy_init());
    if (!easy_.back()) throw std::runtime_error("curl_easy_init failed");
  }
}

ControlClient::~ControlClient() = default;

int ControlClient::on_socket(CURL*, curl_socket_t s, int what, void* self, void* socketp) {
  auto* c = static_cast<ControlClient*>(self);
  if (what == CURL_POLL_REMOVE) {
    // curl may have closed it already (ENOENT/EBADF are fine); it forgets its socketp itself.
    epoll_ctl(c->epoll_.get(), EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  ev.data.fd = s;
  // socketp is non-null once the socket is in the set (curl_multi_assign below).
  if (socketp) {
    if (epoll_ctl(c->epoll_.get(), EPOLL_CTL_MOD, s, &ev) == 0) return 0;
  }
  if (epoll_ctl(c->epoll_.get(), EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
    epoll_ctl(c->epoll_.get(), EPOLL_CTL_MOD, s, &ev);
  curl_multi_assign(c->multi_.get(), s, c);
  return 0;
}

int ControlClient::on_timer(CURLM*, long timeout_ms, void* self) {
  auto* c = static_cast<ControlClient*>(self);
  c->timer_ms_ = timeout_ms;
  if (timeout_ms >= 0) c->timer_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

void ControlClient::step(int ms) {
  if (timer_ms_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(timer_at_ - std::chrono::steady_clock::now());
    ms = static_cast<int>(std::clamp<long long>(left.count(), 0, ms));
  }
  epoll_event evs[256];
  int n = epoll_wait(epoll_.get(), evs, 256, ms);
  int running = 0;
  for (int k = 0; k < n; ++k) {
    int fd = evs[k].data.fd;
    if (fd == wake_fd_.get()) {
      std::uint64_t v = 0;
      while (::read(fd, &v, sizeof v) > 0) {
      }
      continue;
    }
    int mask = (evs[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (evs[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (evs[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(multi_.get(), fd, mask, &running);
  }
  if (timer_ms_ >= 0 && std::chrono::steady_clock::now() >= timer_at_) {
    timer_ms_ = -1;  // curl sets it again if it wants one
    curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

void ControlClient::wake() noexcept {
  woken_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
  if (!clock_.is_real()) clock_.notify();
}

void ControlClient::wait_until(Clock::time_point deadline) {
  while (!woken_.exchange(false) && clock_.now() < deadline) {
    if (!clock_.is_real()) {
      clock_.wait_until(deadline);
      continue;
    }
    // No transfers: waits for the timeout or wake(); idle keep-alive sockets curl watches are served.
    step(poll_ms(clock_, deadline));
  }
}

bool ControlClient::perform(const std::vector<Exchange*>& batch, const std::function<bool()>& cancel) {
  struct Active {
    Exchange* x;
    CURL* h;
    CurlSlist headers;
  };
  std::vector<Active> active;
  active.reserve(batch.size());  // never reallocated: CURLOPT_PRIVATE points into it
  Clock::time_point deadline = clock_.now();
  for (Exchange* x : batch) {
    CURL* h = easy_.at(x->connection).get();
    x->status = 0;
    x->response.clear();
    x->error.clear();
    x->content_type.clear();
    x->timed_out = false;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, x->url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(x->timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(x->timeout.count(), 2000)));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->response);
    CurlSlist headers;
    auto add_header = [&headers](const std::string& line) {  // on failure the list keeps what it had
      if (!headers) {
        headers.reset(curl_slist_append(nullptr, line.c_str()));
      } else {
        curl_slist_append(headers.get(), line.c_str());
      }
    };
    if (x->method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(x->body.size()));
      add_header("Content-Type: application/json");
      add_header("Expect:");
    }
    if (!x->accept.empty()) add_header("Accept: " + x->accept);
    if (!run_id_.empty()) add_header("X-Herd-Run: " + run_id_);
    if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    active.push_back({x, h, std::move(headers)});
    curl_easy_setopt(h, CURLOPT_PRIVATE, &active.back());
    if (curl_multi_add_handle(multi_.get(), h) != CURLM_OK) {
      x->error = "curl_multi_add_handle failed";
      x->done = clock_.now();
      active.back().h = nullptr;
      continue;
    }
    deadline = std::max(deadline, clock_.now() + x->timeout + std::chrono::milliseconds(500));
  }
  auto remove = [this](Active& a) {
    curl_multi_remove_handle(multi_.get(), a.h);
    a.h = nullptr;
  };
  std::size_t left = 0;
  for (Active& a : active) left += a.h != nullptr;
  bool cancelled = false;
  int running = 0;
  if (left > 0) curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);  // start them
  while (left > 0) {
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_.get(), &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      Active* a = nullptr;
      if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &a) != CURLE_OK || !a || a->h != m->easy_handle) continue;
      a->x->done = clock_.now();
      CURLcode rc = m->data.result;
      if (rc == CURLE_OK) {
        curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &a->x->status);
        const char* ct = nullptr;
        if (curl_easy_getinfo(a->h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) a->x->content_type = ct;
      } else {
        a->x->error = curl_easy_strerror(rc);
        a->x->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      }
      remove(*a);
      --left;
    }
    if (left == 0) break;
    if ((cancel && cancel()) || clock_.now() > deadline) {
      cancelled = cancel && cancel();
      break;
    }
    step(poll_ms(clock_, deadline));
  }
  for (Active& a : active) {
    if (!a.h) continue;
    a.x->done = clock_.now();  // given up on now: `done` is never left at the clock's epoch
    a.x->error = cancelled ? "cancelled" : "no answer in time";
    a.x->timed_out = !cancelled;
    remove(a);
  }
  return !cancelled;
}

}  // namespace herd::coord

namespace herd::coord {

ControlResponse control_request(const std::string& method, const std::string& url, const std::string* body,
                                std::chrono::milliseconds timeout) {
  try {
    thread_local ControlClient client(1);  // keeps its connection between calls
    Exchange x;
    x.method = method;
    x.url = url;
    if (body) x.body = *body;
    x.timeout = timeout;
    client.perform({&x});
    return ControlResponse{x.status, std::move(x.response), std::move(x.error)};
  } catch (const std::exception& e) {
    return ControlResponse{0, "", e.what()};
  }
}

}  // namespace herd::coord
