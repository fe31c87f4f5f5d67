#include "kube/workqueue.h"

#include <algorithm>

namespace herd::kube {

std::chrono::milliseconds ExponentialBackoff::next(const std::string& key) {
  int n = failures_[key]++;
  // Doubling stops at max; the shift is bounded so that it never overflows.
  auto delay = base_;
  for (int i = 0; i < n && delay < max_; ++i) delay *= 2;
  return std::min(delay, max_);
}

int ExponentialBackoff::failures(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutdown_ || !dirty_.insert(key).second) return;
  if (processing_.count(key)) return;  // queued again by done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add_after(const std::string& key, Clock::duration delay) {
  if (delay <= Clock::duration::zero()) return add(key);
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  auto when = Clock::now() + delay;
  auto [it, inserted] = delayed_.try_emplace(key, when);
  if (!inserted) {
    if (it->second <= when) return;  // already due earlier
    it->second = when;
  }
  delayed_heap_.emplace(when, key);
  cv_.notify_all();  // a waiting get() may need to wake earlier
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu_);
    delay = backoff_.next(key);
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  backoff_.forget(key);
}

int WorkQueue::retries(const std::string& key) const {
  std::lock_guard lock(mu_);
  return backoff_.failures(key);
}

void WorkQueue::promote_ready_locked(Clock::time_point now) {
  while (!delayed_heap_.empty() && delayed_heap_.top().first <= now) {
    auto [when, key] = delayed_heap_.top();
    delayed_heap_.pop();
    auto it = delayed_.find(key);
    if (it == delayed_.end() || it->second != when) continue;  // stale: superseded by an earlier time
    delayed_.erase(it);
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::pop_locked() {
  if (shutdown_ || queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutdown_) return std::nullopt;
    promote_ready_locked(Clock::now());
    if (!queue_.empty()) return pop_locked();
    if (delayed_heap_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, delayed_heap_.top().first);
    }
  }
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard lock(mu_);
  promote_ready_locked(Clock::now());
  return pop_locked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutdown_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutdown_;
}

std::size_t WorkQueue::size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard lock(mu_);
  return delayed_.size();
}

}  // namespace herd::kube
