#pragma once
// Stopping work that may be busy: a VU running JavaScript that never yields
// holds its worker thread, so neither its loop's timers nor tasks posted to it
// run. Stops therefore come from other threads through the VU's atomic
// stop_requested flag, which the QuickJS interrupt handler polls
// (k6/vu_state.h absorb_stop).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "k6/vu_state.h"

namespace herd::exec {

/// Asks a VU to stop its current work (hard stop), from any thread: sets its
/// stop_requested flag (seen by busy JavaScript at the next interrupt check)
/// and posts a wake to its loop (for a VU waiting in sleep, a request, a timer).
void request_vu_stop(k6::VuState& st);

/// Calls `fn` on its own thread at `when`, unless destroyed first. For limits
/// that must hold while the thread doing the work is busy (setupTimeout,
/// teardownTimeout, the handleSummary limit). Destruction cancels and joins.
class Deadline {
 public:
  Deadline(std::chrono::steady_clock::time_point when, std::function<void()> fn);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  /// True once the deadline passed (`fn` was called or is running).
  bool fired() const;
  /// Cancels the deadline if it has not passed yet; returns fired().
  bool cancel();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  bool fired_ = false;
  std::thread thread_;
};

/// Runs `call` (on the VU's thread, e.g. its setup() call) with a hard
/// limit: once `limit` has passed the VU is stopped from a deadline thread,
/// busy JavaScript included. *timed_out tells whether that happened (the
/// call's own errors are then swallowed: the timeout is the error). The VU's
/// stop state is clear before and after.
template <class F>
auto run_with_limit(k6::VuState& st, std::chrono::microseconds limit, bool* timed_out, F&& call) -> decltype(call()) {
  struct ClearStop {
    k6::VuState& st;
    ~ClearStop() {
      st.stop_requested.store(false, std::memory_order_relaxed);
      st.interrupted = false;
    }
  };
  st.stop_requested.store(false, std::memory_order_relaxed);
  st.interrupted = false;
  ClearStop clear{st};
  limit = std::min<std::chrono::microseconds>(limit, std::chrono::hours(24 * 365 * 100));  // no overflow
  Deadline deadline(std::chrono::steady_clock::now() + limit, [&st] { request_vu_stop(st); });
  decltype(call()) out{};
  try {
    out = call();
  } catch (...) {
    if (!deadline.cancel()) throw;
    *timed_out = true;
    return out;
  }
  *timed_out = deadline.cancel();
  return out;
}

/// How long handleSummary() may run: teardownTimeout's value (default 60 s),
/// after which it is interrupted and the default summary is printed instead.
std::string handle_summary_timeout_message(std::chrono::microseconds limit);

/// The error of a VU whose init context was stopped by a signal.
inline constexpr const char* kInitInterrupted = "initialisation interrupted by a signal";

}  // namespace herd::exec
