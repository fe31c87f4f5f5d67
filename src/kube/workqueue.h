#pragma once
// A keyed work queue for reconcilers, with client-go's semantics
// (workqueue.TypedRateLimitingInterface):
//  - a key waiting in the queue is held once, however often it is added;
//  - a key is handed to one worker at a time: added again while a worker has
//    it, it is queued again only when that worker calls done();
//  - add_after() and add_rate_limited() delay a key (a delayed key is held once,
//    at its earliest time); add_rate_limited() waits 5 ms, 10 ms, 20 ms, ...
//    up to 60 s per key until forget().
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace herd::kube {

/// Per-key exponential backoff: base, 2·base, 4·base, ... capped at max. Not thread-safe.
class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(std::chrono::milliseconds base = std::chrono::milliseconds(5),
                              std::chrono::milliseconds max = std::chrono::seconds(60))
      : base_(base), max_(max) {}

  /// The delay for this key's next retry; counts one more failure.
  std::chrono::milliseconds next(const std::string& key);
  void forget(const std::string& key) { failures_.erase(key); }
  int failures(const std::string& key) const;

 private:
  std::chrono::milliseconds base_, max_;
  std::unordered_map<std::string, int> failures_;
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(ExponentialBackoff backoff = ExponentialBackoff()) : backoff_(std::move(backoff)) {}

  void add(const std::string& key);
  void add_after(const std::string& key, Clock::duration delay);
  void add_rate_limited(const std::string& key);  ///< add_after(key, backoff's next delay)
  void forget(const std::string& key);            ///< resets the key's backoff (after a success)
  int retries(const std::string& key) const;      ///< failures counted since the last forget

  /// Blocks until a key is ready or shutdown(); std::nullopt after shutdown
  /// (keys still queued are dropped). The caller must call done(key).
  std::optional<std::string> get();
  /// As get() without blocking: std::nullopt when nothing is ready now.
  std::optional<std::string> try_get();
  void done(const std::string& key);

  void shutdown();  ///< wakes every get(); later adds are ignored
  bool shutting_down() const;

  std::size_t size() const;     ///< keys ready to be handed out
  std::size_t delayed() const;  ///< keys waiting for their time

 private:
  void add_locked(const std::string& key);
  void promote_ready_locked(Clock::time_point now);
  std::optional<std::string> pop_locked();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       ///< queued or to requeue: needs processing
  std::unordered_set<std::string> processing_;  ///< handed to a worker, done() not yet called
  using Delayed = std::pair<Clock::time_point, std::string>;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_heap_;  ///< may hold stale entries
  std::unordered_map<std::string, Clock::time_point> delayed_;  ///< key -> its (earliest) ready time
  ExponentialBackoff backoff_;
  bool shutdown_ = false;
};

}  // namespace herd::kube
