#include "loop/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <system_error>
#include <utility>

namespace herd::loop {

namespace {

constexpr int kMaxEvents = 256;
// epoll data for the loop's own fds (fd numbers fit in the low 32 bits and the
// generation of a user watch is never 0).
constexpr std::uint64_t kWakeTag = 0xFFFFFFFFull << 32 | 0;
constexpr std::uint64_t kTimerTag = 0xFFFFFFFFull << 32 | 1;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct TimerEntry {
  Clock::time_point when;
  TimerId id;
};
// std::push_heap builds a max-heap; invert so the earliest (then lowest id) is on top.
struct TimerLater {
  bool operator()(const TimerEntry& a, const TimerEntry& b) const {
    if (a.when != b.when) return a.when > b.when;
    return a.id > b.id;
  }
};

struct Watch {
  std::function<void(std::uint32_t)> fn;
  std::uint32_t gen = 0;
  std::uint32_t events = 0;
  bool active = false;
};

bool probe_epoll_pwait2(int epfd) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  epoll_event ev{};
  timespec zero{0, 0};
  int rc = epoll_pwait2(epfd, &ev, 1, &zero, nullptr);
  return !(rc < 0 && errno == ENOSYS);
#else
  (void)epfd;
  return false;
#endif
}

}  // namespace

struct EventLoop::Impl {
  util::Clock* clock = nullptr;  ///< null: steady_clock, read inline
  Clock::time_point now() const { return clock ? clock->now() : Clock::now(); }

  int epfd = -1;
  int wakefd = -1;
  int timerfd = -1;  // only when epoll_pwait2 is unavailable
  bool use_pwait2 = false;
  Clock::time_point timerfd_armed = Clock::time_point::max();

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> sleeping{false};

  std::mutex post_mu;
  std::vector<std::function<void()>> posted;
  std::vector<std::function<void()>> running_posted;
  std::atomic<bool> wake_pending{false};

  std::vector<std::function<void()>> deferred;
  std::vector<std::function<void()>> running_deferred;

  /// An exception a callback threw: the loop finishes its iteration (its
  /// queues stay consistent), then hands it to on_error or rethrows it.
  std::function<void(std::exception_ptr)> on_error;
  std::exception_ptr pending_error;

  template <class F>
  void guarded(F&& fn) {
    try {
      fn();
    } catch (...) {
      if (on_error)
        on_error(std::current_exception());
      else if (!pending_error)
        pending_error = std::current_exception();
    }
  }

  void run_deferred() {
    while (!deferred.empty()) {
      running_deferred.swap(deferred);
      for (auto& fn : running_deferred) guarded(fn);
      running_deferred.clear();
    }
  }

  std::vector<TimerEntry> heap;
  std::unordered_map<TimerId, std::function<void()>> timers;
  TimerId next_timer = 1;

  std::vector<std::unique_ptr<Watch>> watches;  // indexed by fd

  std::vector<std::pair<const void*, std::unique_ptr<EventLoop::Attachment>>> attachments;
  std::uint32_t next_gen = 1;

  void wake() {
    std::uint64_t one = 1;
    ssize_t n = ::write(wakefd, &one, sizeof one);
    (void)n;  // EAGAIN means the counter is already non-zero: the loop wakes anyway
  }

  void drain_wakefd() {
    std::uint64_t v;
    ssize_t n = ::read(wakefd, &v, sizeof v);
    (void)n;
  }

  void compact_heap() {
    std::vector<TimerEntry> live;
    live.reserve(timers.size());
    for (const auto& e : heap) {
      if (timers.count(e.id)) live.push_back(e);
    }
    heap.swap(live);
    std::make_heap(heap.begin(), heap.end(), TimerLater{});
  }

  // Drops cancelled entries from the top of the heap.
  void prune_top() {
    while (!heap.empty() && !timers.count(heap.front().id)) {
      std::pop_heap(heap.begin(), heap.end(), TimerLater{});
      heap.pop_back();
    }
  }

  void arm_timerfd(Clock::time_point when) {
    if (when == timerfd_armed) return;
    itimerspec its{};
    if (when != Clock::time_point::max()) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
      if (ns <= 0) ns = 1;
      its.it_value.tv_sec = ns / 1000000000;
      its.it_value.tv_nsec = ns % 1000000000;
    }
    if (timerfd_settime(timerfd, TFD_TIMER_ABSTIME, &its, nullptr) < 0) throw_errno("timerfd_settime");
    timerfd_armed = when;
  }

  void run_timers() {
    if (heap.empty()) return;
    const TimerId limit = next_timer;  // timers added by callbacks wait for the next iteration
    auto now = this->now();
    while (!heap.empty()) {
      const TimerEntry top = heap.front();
      auto it = timers.find(top.id);
      if (it == timers.end()) {
        std::pop_heap(heap.begin(), heap.end(), TimerLater{});
        heap.pop_back();
        continue;
      }
      if (top.when > now || top.id >= limit) break;
      std::pop_heap(heap.begin(), heap.end(), TimerLater{});
      heap.pop_back();
      auto fn = std::move(it->second);
      timers.erase(it);
      guarded(fn);
    }
  }

  void run_posted() {
    if (!wake_pending.load(std::memory_order_acquire)) return;
    {
      std::lock_guard<std::mutex> lk(post_mu);
      running_posted.swap(posted);
      wake_pending.store(false, std::memory_order_release);
    }
    for (auto& fn : running_posted) guarded(fn);
    running_posted.clear();
  }

  void dispatch(std::uint64_t data, std::uint32_t events) {
    int fd = static_cast<int>(data & 0xFFFFFFFFu);
    std::uint32_t gen = static_cast<std::uint32_t>(data >> 32);
    if (fd < 0 || static_cast<std::size_t>(fd) >= watches.size()) return;
    Watch* w = watches[fd].get();
    if (!w || !w->active || w->gen != gen) return;  // unwatched (or fd reused) meanwhile
    // Move the callback out while it runs so that it may unwatch/rewatch its own fd.
    auto fn = std::move(w->fn);
    w->fn = nullptr;
    guarded([&fn, events] { fn(events); });
    // `watches` may have grown, but the Watch objects are stable (unique_ptr).
    if (w->active && w->gen == gen && !w->fn) w->fn = std::move(fn);
  }
};

EventLoop::EventLoop(util::Clock* clock) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.clock = clock;
  d.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (d.epfd < 0) throw_errno("epoll_create1");
  d.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (d.wakefd < 0) {
    int e = errno;
    ::close(d.epfd);
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.wakefd, &ev) < 0) {
    int e = errno;
    ::close(d.wakefd);
    ::close(d.epfd);
    throw std::system_error(e, std::generic_category(), "epoll_ctl(eventfd)");
  }
  // HERD_LOOP_TIMERFD=1 forces the timerfd path (used where epoll_pwait2 is missing; tested).
  const char* force_timerfd = std::getenv("HERD_LOOP_TIMERFD");
  d.use_pwait2 = !(force_timerfd && *force_timerfd == '1') && probe_epoll_pwait2(d.epfd);
  if (!d.use_pwait2) {
    d.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (d.timerfd < 0) {
      int e = errno;
      ::close(d.wakefd);
      ::close(d.epfd);
      throw std::system_error(e, std::generic_category(), "timerfd_create");
    }
    ev.events = EPOLLIN;
    ev.data.u64 = kTimerTag;
    epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.timerfd, &ev);
  }
}

EventLoop::~EventLoop() {
  auto& d = *impl_;
  // Attachments first (newest first): they may still unwatch fds and cancel timers.
  while (!d.attachments.empty()) {
    auto a = std::move(d.attachments.back().second);
    d.attachments.pop_back();
    a.reset();
  }
  if (d.timerfd >= 0) ::close(d.timerfd);
  ::close(d.wakefd);
  ::close(d.epfd);
}

void EventLoop::run() {
  while (!impl_->stop_requested.load(std::memory_order_acquire)) {
    run_once(std::chrono::seconds(3600));
  }
}

void EventLoop::run_once(std::chrono::microseconds max_wait) {
  auto& d = *impl_;
  d.run_deferred();
  if (max_wait > std::chrono::hours(24)) max_wait = std::chrono::hours(24);
  if (max_wait.count() < 0) max_wait = std::chrono::microseconds(0);
  d.prune_top();
  if (d.heap.size() > 64 && d.heap.size() > 2 * d.timers.size()) d.compact_heap();

  auto now = d.now();
  Clock::time_point deadline = now + max_wait;
  if (!d.heap.empty() && d.heap.front().when < deadline) deadline = d.heap.front().when;
  // An injected clock's timers are not real time: only a due one shortens the wait.
  if (d.clock && deadline > now) deadline = now + max_wait;
  bool immediate = d.wake_pending.load(std::memory_order_acquire) || d.stop_requested.load(std::memory_order_acquire);
  if (deadline < now) deadline = now;

  epoll_event evs[kMaxEvents];
  int n;
  if (d.use_pwait2) {
    timespec ts{0, 0};
    if (!immediate) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
      if (ns < 0) ns = 0;
      ts.tv_sec = ns / 1000000000;
      ts.tv_nsec = ns % 1000000000;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    n = epoll_pwait2(d.epfd, evs, kMaxEvents, &ts, nullptr);
#else
    n = -1;
    errno = ENOSYS;
#endif
  } else {
    int timeout_ms = 0;
    if (!immediate) {
      // The timerfd gives the sub-millisecond wake-up; max_wait is rounded up.
      Clock::time_point timer_when = d.heap.empty() ? Clock::time_point::max() : d.heap.front().when;
      d.arm_timerfd(d.clock ? Clock::time_point::max() : timer_when);
      auto us = max_wait.count();
      timeout_ms = static_cast<int>(std::min<long long>((us + 999) / 1000, 3600 * 1000));
      if (timer_when <= now) timeout_ms = 0;
    }
    n = epoll_wait(d.epfd, evs, kMaxEvents, timeout_ms);
  }
  if (n < 0) {
    if (errno != EINTR) throw_errno("epoll_wait");
    n = 0;
  }
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = evs[i].data.u64;
    if (data == kWakeTag) {
      d.drain_wakefd();
      continue;
    }
    if (data == kTimerTag) {
      std::uint64_t v;
      ssize_t r = ::read(d.timerfd, &v, sizeof v);
      (void)r;
      d.timerfd_armed = Clock::time_point::max();
      continue;
    }
    d.dispatch(data, evs[i].events);
  }
  d.run_timers();
  d.run_posted();
  d.run_deferred();
  if (d.pending_error) std::rethrow_exception(std::exchange(d.pending_error, nullptr));
}

Clock::time_point EventLoop::now() const {
  return impl_->now();
}

void EventLoop::set_error_handler(std::function<void(std::exception_ptr)> fn) {
  impl_->on_error = std::move(fn);
}

void EventLoop::stop() {
  impl_->stop_requested.store(true, std::memory_order_release);
  impl_->wake();
}

bool EventLoop::stopped() const {
  return impl_->stop_requested.load(std::memory_order_acquire);
}

void EventLoop::post(std::function<void()> fn) {
  auto& d = *impl_;
  bool need_wake;
  {
    std::lock_guard<std::mutex> lk(d.post_mu);
    d.posted.push_back(std::move(fn));
    need_wake = !d.wake_pending.exchange(true, std::memory_order_acq_rel);
  }
  if (need_wake) d.wake();
}

void EventLoop::defer(std::function<void()> fn) {
  impl_->deferred.push_back(std::move(fn));
}

TimerId EventLoop::add_timer(Clock::time_point when, std::function<void()> fn) {
  auto& d = *impl_;
  TimerId id = d.next_timer++;
  d.timers.emplace(id, std::move(fn));
  d.heap.push_back({when, id});
  std::push_heap(d.heap.begin(), d.heap.end(), TimerLater{});
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  impl_->timers.erase(id);
}

void EventLoop::watch(int fd, std::uint32_t events, std::function<void(std::uint32_t)> fn) {
  auto& d = *impl_;
  if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "watch");
  if (static_cast<std::size_t>(fd) >= d.watches.size()) d.watches.resize(fd + 1);
  auto& slot = d.watches[fd];
  if (!slot) slot = std::make_unique<Watch>();
  bool was_active = slot->active;
  std::uint32_t gen = d.next_gen++;
  if (d.next_gen == 0xFFFFFFFFu) d.next_gen = 1;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<std::uint64_t>(gen) << 32 | static_cast<std::uint32_t>(fd);
  if (epoll_ctl(d.epfd, was_active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
    // A stale registration (fd closed and reused without unwatch) or the reverse.
    if (errno == EEXIST) {
      if (epoll_ctl(d.epfd, EPOLL_CTL_MOD, fd, &ev) < 0) throw_errno("epoll_ctl(MOD)");
    } else if (errno == ENOENT) {
      if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl(ADD)");
    } else {
      throw_errno("epoll_ctl");
    }
  }
  slot->fn = std::move(fn);
  slot->gen = gen;
  slot->events = events;
  slot->active = true;
}

void EventLoop::modify(int fd, std::uint32_t events) {
  auto& d = *impl_;
  if (fd < 0 || static_cast<std::size_t>(fd) >= d.watches.size() || !d.watches[fd] || !d.watches[fd]->active) return;
  Watch& w = *d.watches[fd];
  if (w.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<std::uint64_t>(w.gen) << 32 | static_cast<std::uint32_t>(fd);
  if (epoll_ctl(d.epfd, EPOLL_CTL_MOD, fd, &ev) < 0) throw_errno("epoll_ctl(MOD)");
  w.events = events;
}

void EventLoop::unwatch(int fd) {
  auto& d = *impl_;
  if (fd < 0 || static_cast<std::size_t>(fd) >= d.watches.size() || !d.watches[fd] || !d.watches[fd]->active) return;
  Watch& w = *d.watches[fd];
  epoll_ctl(d.epfd, EPOLL_CTL_DEL, fd, nullptr);  // EBADF if already closed: fine
  w.active = false;
  w.fn = nullptr;  // if this fd is being dispatched, its callback lives on the dispatcher's stack
}

EventLoop::Attachment* EventLoop::attachment(const void* key) const {
  for (auto& [k, a] : impl_->attachments)
    if (k == key) return a.get();
  return nullptr;
}

EventLoop::Attachment* EventLoop::attach(const void* key, std::unique_ptr<Attachment> a) {
  for (auto& [k, old] : impl_->attachments) {
    if (k == key) {
      std::swap(old, a);
      return old.get();  // the replaced one dies when `a` goes out of scope
    }
  }
  impl_->attachments.emplace_back(key, std::move(a));
  return impl_->attachments.back().second.get();
}

}  // namespace herd::loop
