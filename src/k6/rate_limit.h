#pragma once
// options.rps: a cap on requests started per second by this instance, shared
// by all its VUs and worker threads (no bursts: one start per interval).

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace herd::k6 {

/// Hands out request start slots `interval_ns` apart. Thread-safe, lock-free.
class RequestRateLimit {
 public:
  /// `per_second` > 0.
  explicit RequestRateLimit(std::int64_t per_second)
      : interval_ns_(1'000'000'000 / std::max<std::int64_t>(1, per_second)) {}

  /// Reserves the next slot at or after `now_ns` (any monotonic clock, in ns)
  /// and returns when it starts.
  std::int64_t reserve(std::int64_t now_ns) {
    std::int64_t prev = next_ns_.load(std::memory_order_relaxed);
    for (;;) {
      std::int64_t slot = std::max(prev, now_ns);
      if (next_ns_.compare_exchange_weak(prev, slot + interval_ns_, std::memory_order_relaxed)) return slot;
    }
  }

 private:
  const std::int64_t interval_ns_;
  std::atomic<std::int64_t> next_ns_{0};
};

}  // namespace herd::k6
