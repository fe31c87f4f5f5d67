#pragma once
// A first-in, first-out queue that owns no memory while it has never held
// anything. std::deque allocates its map and a 512-byte node as soon as it is
// constructed; a VU keeps two queues that are empty nearly all the time, and
// thousands of VUs share a process, so that cost adds up (~1.2 KB per VU).

#include <cstddef>
#include <utility>
#include <vector>

namespace herd::util {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  void push_back(T v) {
    // Taken items stay in the vector until the queue drains; when they are the
    // larger part, drop them before growing.
    if (head_ > 0 && items_.size() == items_.capacity() && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    items_.push_back(std::move(v));
  }

  T& front() { return items_[head_]; }

  /// Removes the front item (which must exist); its moved-from remains are
  /// destroyed now, not when the queue drains.
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size()) clear();
  }

  /// Empties the queue; the vector keeps its capacity for the next items.
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;  ///< index of the front item in items_
};

}  // namespace herd::util
