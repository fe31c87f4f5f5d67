#pragma once
// The coordinator's HTTP client for the runners' control APIs: one libcurl
// multi handle driving one keep-alive easy handle per runner, all from the
// calling thread (the coordinator's). A batch of exchanges runs concurrently
// on curl's socket interface (curl_multi_socket_action) over one epoll set, so
// a wake-up costs what its ready sockets cost, not a walk over every transfer
// and every runner's socket (which made 1,000 runners' polls quadratic). A
// wait between batches sleeps in the same epoll set and is cut short by
// wake() (thread-safe, an eventfd), so a stop request is seen at once without
// a sleep loop.
// Deadlines and timeouts are on an injectable clock (util/clock.h): with a
// util::ManualClock a wait is the clock's, and a transfer counts as not
// answered in time once the clock passes its timeout (the test's simulated
// time), however fast that is in real time. (With a ManualClock that is not
// auto-advancing, a wake() racing the start of a wait may only be seen at the
// clock's next move.)

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <curl/curl.h>

#include "util/clock.h"

namespace herd::coord {

struct CurlEasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

/// An owned file descriptor (closed on destruction; -1 = none).
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// curl_global_init once per process (thread-safe).
void ensure_curl_global();

/// One request and its answer.
struct Exchange {
  std::size_t connection = 0;  ///< which runner's connection carries it
  std::string method = "GET";
  std::string url;
  std::string body;  ///< sent for every method but GET
  std::chrono::milliseconds timeout{3000};
  std::string accept;  ///< sent as the Accept header when not empty
  // The answer.
  long status = 0;  ///< 0 = no answer (`error` says why)
  std::string response;
  std::string content_type;  ///< the answer's Content-Type ("" = none)
  std::string error;
  bool timed_out = false;        ///< no answer within `timeout`
  util::Clock::time_point done;  ///< when the answer was complete (on the client's clock)
};

/// "HTTP 400: detail" or the transport error.
std::string error_detail(const Exchange& x);

class ControlClient {
 public:
  /// `connections` keep-alive connections (one per runner); time from
  /// `clock`, which must outlive the client.
  explicit ControlClient(std::size_t connections, util::Clock& clock = util::Clock::real());
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  /// Runs every exchange concurrently (at most one per connection) on the
  /// calling thread until all are answered or timed out. `cancel` (may be
  /// empty) is asked after every wake-up: when it says true the transfers
  /// still running are abandoned (error "cancelled"). Returns false if cancelled.
  bool perform(const std::vector<Exchange*>& batch, const std::function<bool()>& cancel = {});

  /// Sleeps until `deadline` (on the clock) or until wake() is called (by any thread).
  void wait_until(util::Clock::time_point deadline);
  /// Thread-safe: ends a wait_until() or a perform()'s current poll at once.
  void wake() noexcept;
  /// Sent as the X-Herd-Run header of every exchange ("" = none): a runner of
  /// another test run refuses the call (api::ControlServerOptions::run_id).
  void set_run_id(std::string id) { run_id_ = std::move(id); }

 private:
  /// Waits in the epoll set for at most `ms` and hands ready sockets (and an
  /// expired curl timer) to curl; drains the wake-up eventfd.
  void step(int ms);
  static int on_socket(CURL* h, curl_socket_t s, int what, void* self, void* socketp);
  static int on_timer(CURLM* m, long timeout_ms, void* self);

  util::Clock& clock_;
  OwnedFd epoll_;       ///< every socket curl asks us to watch, and wake_fd_
  OwnedFd wake_fd_;     ///< an eventfd written by wake()
  long timer_ms_ = -1;  ///< curl's timer (CURLMOPT_TIMERFUNCTION): -1 none
  std::chrono::steady_clock::time_point timer_at_;
  CurlMulti multi_;
  std::atomic<bool> woken_{false};  ///< set by wake(), consumed by wait_until()
  std::vector<CurlEasy> easy_;
  std::string run_id_;
};

}  // namespace herd::coord
