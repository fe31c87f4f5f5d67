#pragma once
// Cooperative fibers (Boost.Context) for virtual users. Thousands share one
// thread; a fiber runs until it calls Fiber::suspend(), and continues when its
// owner calls resume(). Stacks are mmap'd with a guard page and reserved
// lazily (MAP_NORESERVE), so untouched stack pages cost no resident memory.

#include <cstddef>
#include <functional>
#include <memory>

namespace herd::loop {

class Fiber {
 public:
  static constexpr std::size_t kDefaultStackSize = 256 * 1024;

  /// Creates a fiber that will run `body` on first resume(). Nothing runs yet.
  explicit Fiber(std::function<void()> body, std::size_t stack_size = kDefaultStackSize);
  ~Fiber();  ///< the fiber must be finished (or never started)
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  /// Switches into the fiber until it suspends or finishes. Must not be called
  /// from inside this same fiber. Exceptions escaping `body` are rethrown here.
  void resume();
  bool finished() const;

  /// Called from inside a fiber: switches back to whoever resumed it.
  static void suspend();
  /// The fiber currently running on this thread, or nullptr on a thread's main stack.
  static Fiber* current();

  /// Lowest usable address and size of this fiber's stack (for stack-limit checks).
  void* stack_base() const;
  std::size_t stack_size() const;

  /// Bytes of this fiber's stack that are resident (mincore), for diagnostics and tests.
  std::size_t resident_stack_bytes() const;
  /// Called from inside the running fiber: returns to the kernel the stack pages
  /// below the current frame (all but a one-page margin under the stack pointer),
  /// e.g. after a deep one-off call such as a VU's init. They are zero-filled
  /// again on the next touch; the guard page stays. Returns the bytes released
  /// (0 outside this fiber).
  std::size_t release_unused_stack();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::loop
