#pragma once
// An injectable monotonic clock (issue #12), so that code which decides on
// time (timeouts, "no answer for 5 s", timers) can be tested without sleeping.
//
//   * Clock::real() is the process's std::chrono::steady_clock; production
//     code uses it (components take a `Clock*`/`shared_ptr<Clock>`, null or
//     unset meaning the real one).
//   * ManualClock is for tests: time moves only when the test advances it
//     (advance/set), or, with auto_advance, whenever a thread would wait:
//     the wait jumps the clock to its deadline at once (discrete-event
//     simulation: simulated time passes only while the code under test
//     sleeps, never while it does I/O).
//
// Time points are steady_clock time points in both, so the same arithmetic
// (deadline = now() + timeout) works with either.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace herd::util {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  /// The current time. Thread-safe; monotonic (never goes back).
  virtual time_point now() const = 0;
  /// Blocks the calling thread until now() >= deadline or until notify() is
  /// called (by any thread) after the wait began; may return early. Returns
  /// true if the deadline was reached.
  virtual bool wait_until(time_point deadline) = 0;
  /// Thread-safe: ends every current wait_until() early.
  virtual void notify() = 0;

  /// The process-wide real clock (steady_clock). Never destroyed.
  static Clock& real();
  /// True for Clock::real(): callers may then wait in their own poll
  /// (epoll, curl_multi_poll) with a real timeout instead of wait_until().
  bool is_real() const noexcept { return this == &real(); }
};

/// A clock that only moves when told (for tests). Thread-safe.
class ManualClock final : public Clock {
 public:
  /// Starts at `start` (default: one hour after steady_clock's epoch, so that
  /// `now() - 5s` stays after the epoch).
  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1));

  time_point now() const override;
  /// With auto_advance and a deadline in the future: moves the clock to the
  /// deadline and returns true at once. Otherwise waits (really) for
  /// advance()/set() to reach the deadline, or notify().
  bool wait_until(time_point deadline) override;
  void notify() override;

  /// Moves the clock forward by `d` (>= 0; negative is ignored) and wakes waiters.
  void advance(duration d);
  /// Moves the clock to `t` if it is later than now() (never back).
  void set(time_point t);
  /// See wait_until(). Off by default.
  void set_auto_advance(bool on);
  /// Threads blocked in wait_until() right now (a test advancing by hand can
  /// wait for the code under test to be asleep before advancing).
  std::size_t waiters() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  time_point now_;
  bool auto_advance_ = false;
  std::size_t waiters_ = 0;
  std::uint64_t notified_ = 0;  ///< notify() generation
};

}  // namespace herd::util
