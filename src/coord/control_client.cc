#include "coord/control_client.h"

#include <algorithm>
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

ControlClient::ControlClient(std::size_t connections, Clock& clock) : clock_(clock) {
  ensure_curl_global();
  multi_.reset(curl_multi_init());
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  for (std::size_t i = 0; i < connections; ++i) {
    easy_.emplace_back(curl_easy_init());
    if (!easy_.back()) throw std::runtime_error("curl_easy_init failed");
  }
}

ControlClient::~ControlClient() = default;

void ControlClient::wake() noexcept {
  woken_.store(true);
  curl_multi_wakeup(multi_.get());
  if (!clock_.is_real()) clock_.notify();
}

void ControlClient::wait_until(Clock::time_point deadline) {
  while (!woken_.exchange(false) && clock_.now() < deadline) {
    if (!clock_.is_real()) {
      clock_.wait_until(deadline);
      continue;
    }
    int fds = 0;
    // No transfers: curl_multi_poll waits for the timeout or curl_multi_wakeup.
    if (curl_multi_poll(multi_.get(), nullptr, 0, poll_ms(clock_, deadline), &fds) != CURLM_OK) return;
  }
}

bool ControlClient::perform(const std::vector<Exchange*>& batch, const std::function<bool()>& cancel) {
  struct Active {
    Exchange* x;
    CURL* h;
    CurlSlist headers;
  };
  std::vector<Active> active;
  active.reserve(batch.size());
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
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
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
    if (curl_multi_add_handle(multi_.get(), h) != CURLM_OK) {
      x->error = "curl_multi_add_handle failed";
      x->done = clock_.now();
      continue;
    }
    active.push_back({x, h, std::move(headers)});
    deadline = std::max(deadline, clock_.now() + x->timeout + std::chrono::milliseconds(500));
  }
  auto remove = [this](Active& a) {
    curl_multi_remove_handle(multi_.get(), a.h);
    a.h = nullptr;
  };
  std::size_t left = active.size();
  bool cancelled = false;
  while (left > 0) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_.get(), &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      for (Active& a : active) {
        if (a.h != m->easy_handle) continue;
        a.x->done = clock_.now();
        CURLcode rc = m->data.result;
        if (rc == CURLE_OK) {
          curl_easy_getinfo(a.h, CURLINFO_RESPONSE_CODE, &a.x->status);
          const char* ct = nullptr;
          if (curl_easy_getinfo(a.h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) a.x->content_type = ct;
        } else {
          a.x->error = curl_easy_strerror(rc);
          a.x->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        }
        remove(a);
        --left;
        break;
      }
    }
    if (left == 0) break;
    if ((cancel && cancel()) || clock_.now() > deadline) {
      cancelled = cancel && cancel();
      break;
    }
    int woken = 0;
    curl_multi_poll(multi_.get(), nullptr, 0, poll_ms(clock_, deadline), &woken);
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
