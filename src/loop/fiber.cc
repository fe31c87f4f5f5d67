#include "loop/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define HERD_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HERD_FIBER_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define HERD_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HERD_FIBER_TSAN 1
#endif
#endif

#if defined(HERD_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#if defined(HERD_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace herd::loop {

namespace {

namespace ctx = boost::context;

thread_local Fiber* tl_current = nullptr;

std::size_t page_size() {
  static const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}

// Thrown into a suspended fiber whose owner is destroyed early, to unwind it.
struct ForcedUnwind {};

// Hands Boost.Context the stack that the Fiber mmap'd itself (so that the
// Fiber controls its lifetime and stack_base() is known before the first run).
struct BorrowedStack {
  ctx::stack_context sctx;
  ctx::stack_context allocate() { return sctx; }
  void deallocate(ctx::stack_context&) noexcept {}
};

inline void start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
#if defined(HERD_FIBER_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save;
  (void)bottom;
  (void)size;
#endif
}

inline void finish_switch(void* fake_stack_save, const void** bottom_old, std::size_t* size_old) {
#if defined(HERD_FIBER_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save;
  (void)bottom_old;
  (void)size_old;
#endif
}

// ThreadSanitizer must be told about every stack switch, or it mixes up the
// fibers' call stacks and reports (or misses) races. Each Fiber is a TSan fiber;
// switching synchronises (they run on one thread, one at a time).
inline void* tsan_current() {
#if defined(HERD_FIBER_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

inline void tsan_switch(void* to) {
#if defined(HERD_FIBER_TSAN)
  __tsan_switch_to_fiber(to, 0);
#else
  (void)to;
#endif
}

}  // namespace

struct Fiber::Impl {
  std::function<void()> body;
  std::size_t size = 0;      // usable stack bytes
  char* map_base = nullptr;  // guard page + stack
  std::size_t map_len = 0;
  ctx::fiber self;    // the fiber while it is suspended (valid between switches)
  ctx::fiber caller;  // whoever resumed it, while the fiber runs
  bool started = false;
  bool finished = false;
  bool unwinding = false;
  std::exception_ptr error;
  // AddressSanitizer bookkeeping.
  void* fiber_fake_stack = nullptr;
  const void* caller_bottom = nullptr;
  std::size_t caller_size = 0;
  // ThreadSanitizer bookkeeping: this fiber's TSan context and its resumer's.
  void* tsan_fiber = nullptr;
  void* tsan_caller = nullptr;

  char* stack_low() const { return map_base + page_size(); }
};

Fiber::Fiber(std::function<void()> body, std::size_t stack_size) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.body = std::move(body);
  const std::size_t ps = page_size();
  if (stack_size < 4 * ps) stack_size = 4 * ps;
  stack_size = (stack_size + ps - 1) / ps * ps;
  d.size = stack_size;
  d.map_len = stack_size + ps;
  void* p = ::mmap(nullptr, d.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap fiber stack");
  d.map_base = static_cast<char*>(p);
  if (::mprotect(d.map_base, ps, PROT_NONE) != 0) {
    int e = errno;
    ::munmap(p, d.map_len);
    throw std::system_error(e, std::generic_category(), "mprotect fiber guard page");
  }
}

Fiber::~Fiber() {
  auto& d = *impl_;
  if (d.started && !d.finished) {
    // Contract violation, but unwind the fiber's stack rather than leak it.
    d.unwinding = true;
    for (int i = 0; i < 1000 && !d.finished; ++i) {
      try {
        resume();
      } catch (...) {
      }
    }
    if (!d.finished) std::terminate();
  }
#if defined(HERD_FIBER_TSAN)
  if (d.tsan_fiber) __tsan_destroy_fiber(d.tsan_fiber);
#endif
  if (d.map_base) {
#if defined(HERD_FIBER_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(d.map_base + page_size(), d.size);
#endif
    ::munmap(d.map_base, d.map_len);
  }
}

void Fiber::resume() {
  auto& d = *impl_;
  if (d.finished) throw std::logic_error("Fiber::resume: fiber already finished");
  if (tl_current == this) throw std::logic_error("Fiber::resume: a fiber cannot resume itself");
  if (!d.started) {
    d.started = true;
    Impl* impl = &d;
    BorrowedStack alloc{};
    alloc.sctx.size = d.size;
    alloc.sctx.sp = d.stack_low() + d.size;
    d.self = ctx::fiber(std::allocator_arg, alloc, [impl](ctx::fiber&& caller) -> ctx::fiber {
      finish_switch(nullptr, &impl->caller_bottom, &impl->caller_size);
      impl->caller = std::move(caller);
      try {
        if (!impl->unwinding) impl->body();
      } catch (const ForcedUnwind&) {
      } catch (...) {
        impl->error = std::current_exception();
      }
      impl->finished = true;
      impl->body = nullptr;  // release captures on the fiber's own thread, before leaving
      start_switch(nullptr, impl->caller_bottom, impl->caller_size);  // this stack dies
      tsan_switch(impl->tsan_caller);
      return std::move(impl->caller);
    });
  }
  Fiber* prev = tl_current;
  tl_current = this;
  void* caller_fake = nullptr;
  start_switch(&caller_fake, d.stack_low(), d.size);
  d.tsan_caller = tsan_current();
#if defined(HERD_FIBER_TSAN)
  if (!d.tsan_fiber) d.tsan_fiber = __tsan_create_fiber(0);
#endif
  tsan_switch(d.tsan_fiber);
  d.self = std::move(d.self).resume();
  finish_switch(caller_fake, nullptr, nullptr);
  tl_current = prev;
  if (d.error) {
    std::exception_ptr e = std::move(d.error);
    d.error = nullptr;
    std::rethrow_exception(e);
  }
}

bool Fiber::finished() const {
  return impl_->finished;
}

void Fiber::suspend() {
  Fiber* f = tl_current;
  if (!f) throw std::logic_error("Fiber::suspend called outside a fiber");
  Impl* d = f->impl_.get();
  start_switch(&d->fiber_fake_stack, d->caller_bottom, d->caller_size);
  tsan_switch(d->tsan_caller);
  d->caller = std::move(d->caller).resume();
  finish_switch(d->fiber_fake_stack, &d->caller_bottom, &d->caller_size);
  if (d->unwinding) throw ForcedUnwind{};
}

Fiber* Fiber::current() {
  return tl_current;
}

void* Fiber::stack_base() const {
  return impl_->stack_low();
}

std::size_t Fiber::stack_size() const {
  return impl_->size;
}

std::size_t Fiber::resident_stack_bytes() const {
  const std::size_t ps = page_size();
  std::vector<unsigned char> vec(impl_->size / ps);
  if (::mincore(impl_->stack_low(), impl_->size, vec.data()) != 0) return 0;
  std::size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n * ps;
}

std::size_t Fiber::release_unused_stack() {
  if (tl_current != this) return 0;
  const std::size_t ps = page_size();
  volatile char here = 0;  // an address in the current frame
  auto sp = reinterpret_cast<std::uintptr_t>(&here);
  auto low = reinterpret_cast<std::uintptr_t>(impl_->stack_low());
  // Keep the page the stack pointer is in and one more below it (the red zone
  // and whatever the madvise call itself pushes).
  std::uintptr_t end = (sp & ~(ps - 1)) - ps;
  if (end <= low) return 0;
  std::size_t len = end - low;
#if defined(HERD_FIBER_ASAN)
  (void)len;
  return 0;  // ASan keeps shadow state for stack memory: leave it alone
#else
  if (::madvise(impl_->stack_low(), len, MADV_DONTNEED) != 0) return 0;
  return len;
#endif
}

}  // namespace herd::loop
