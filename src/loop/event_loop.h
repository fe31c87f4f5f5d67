#pragma once
// A single-threaded epoll event loop with timers and a thread-safe post()
// queue. One per worker thread (share-nothing); everything but post() and
// stop() must be called on the loop's own thread.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "util/clock.h"

namespace herd::loop {

using Clock = std::chrono::steady_clock;
using TimerId = std::uint64_t;

class EventLoop {
 public:
  /// Throws std::system_error if epoll/eventfd fail. `clock` (null: the real
  /// steady clock, read directly without a virtual call) is where timers take
  /// "now" from; it must outlive the loop. With a util::ManualClock, timers
  /// fire when the clock has passed their deadline and run_once() runs (a
  /// timer that is not due does not shorten the real wait for I/O; after
  /// advancing the clock from another thread, post() something to wake the loop).
  explicit EventLoop(util::Clock* clock = nullptr);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Runs until stop() is called. Timers fire no earlier than their deadline
  /// (sub-millisecond precision: epoll_pwait2 or a timerfd).
  void run();
  /// Runs one iteration: waits at most `max_wait` for I/O or timers.
  void run_once(std::chrono::microseconds max_wait);
  /// Thread-safe; run() returns after the current iteration.
  void stop();
  bool stopped() const;

  /// Thread-safe: runs `fn` on the loop thread soon.
  void post(std::function<void()> fn);

  /// What happens when a callback (posted task, timer, watch, deferred work)
  /// throws: the loop always finishes the iteration with its queues intact
  /// (the other callbacks still run), then calls `fn` with the exception on the
  /// loop thread, or, without a handler, run_once()/run() rethrow it. Set it
  /// before run() or on the loop thread.
  void set_error_handler(std::function<void(std::exception_ptr)> fn);

  /// Runs `fn` on the loop thread when the current iteration's I/O, timers and
  /// posted work are done (or at the start of the next run_once(), which then
  /// does not wait). Lets a component batch work that many event handlers
  /// produce in one iteration, e.g. one burst of writes instead of a write per
  /// handler. Loop thread only.
  void defer(std::function<void()> fn);

  /// The loop's clock's current time (Clock::now() without an injected clock).
  Clock::time_point now() const;

  /// Calls `fn` once at or after `when` (on the loop's clock). Returns an id for cancel_timer().
  TimerId add_timer(Clock::time_point when, std::function<void()> fn);
  /// No-op if the timer already fired or was cancelled.
  void cancel_timer(TimerId id);

  /// Watches `fd` for EPOLLIN/EPOLLOUT (epoll flags); `fn` gets the ready events.
  void watch(int fd, std::uint32_t events, std::function<void(std::uint32_t)> fn);
  void modify(int fd, std::uint32_t events);
  void unwatch(int fd);

  /// Per-loop state of a component (e.g. a DNS channel whose sockets and
  /// timers live on this loop). Attachments are destroyed first in ~EventLoop,
  /// the last key attached first, while watch/unwatch/add_timer/cancel_timer still work.
  struct Attachment {
    virtual ~Attachment() = default;
  };
  /// The attachment stored under `key` (any address unique to the component), or nullptr. Loop thread only.
  Attachment* attachment(const void* key) const;
  /// Stores `a` under `key` (replacing and destroying an earlier one) and returns it. Loop thread only.
  Attachment* attach(const void* key, std::unique_ptr<Attachment> a);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::loop
