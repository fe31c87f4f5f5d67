#include "util/clock.h"

namespace herd::util {

namespace {

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  bool wait_until(time_point deadline) override {
    std::unique_lock<std::mutex> lk(mu_);
    const std::uint64_t seen = notified_;
    cv_.wait_until(lk, deadline, [&] { return notified_ != seen; });
    return now() >= deadline;
  }
  void notify() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++notified_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t notified_ = 0;
};

}  // namespace

Clock& Clock::real() {
  static auto* clock = new SteadyClock();  // never destroyed: usable from static destructors
  return *clock;
}

ManualClock::ManualClock(time_point start) : now_(start) {}

Clock::time_point ManualClock::now() const {
  std::lock_guard<std::mutex> lk(mu_);
  return now_;
}

bool ManualClock::wait_until(time_point deadline) {
  std::unique_lock<std::mutex> lk(mu_);
  if (auto_advance_ && deadline > now_) {
    now_ = deadline;
    lk.unlock();
    cv_.notify_all();
    return true;
  }
  const std::uint64_t seen = notified_;
  ++waiters_;
  cv_.wait(lk, [&] { return now_ >= deadline || notified_ != seen || auto_advance_; });
  --waiters_;
  if (auto_advance_ && deadline > now_ && notified_ == seen) {
    now_ = deadline;
    lk.unlock();
    cv_.notify_all();
    return true;
  }
  return now_ >= deadline;
}

void ManualClock::notify() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++notified_;
  }
  cv_.notify_all();
}

void ManualClock::advance(duration d) {
  if (d <= duration::zero()) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    now_ += d;
  }
  cv_.notify_all();
}

void ManualClock::set(time_point t) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (t <= now_) return;
    now_ = t;
  }
  cv_.notify_all();
}

void ManualClock::set_auto_advance(bool on) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto_advance_ = on;
  }
  cv_.notify_all();
}

std::size_t ManualClock::waiters() const {
  std::lock_guard<std::mutex> lk(mu_);
  return waiters_;
}

}  // namespace herd::util
