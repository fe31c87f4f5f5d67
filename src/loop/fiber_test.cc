#include "loop/fiber.h"

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using herd::loop::Fiber;

namespace {

[[maybe_unused]] long rss_pages() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident;
}

}  // namespace

TEST(Fiber, RunsOnlyWhenResumed) {
  int step = 0;
  Fiber f([&] {
    step = 1;
    Fiber::suspend();
    step = 2;
  });
  EXPECT_EQ(step, 0);
  EXPECT_FALSE(f.finished());
  f.resume();
  EXPECT_EQ(step, 1);
  EXPECT_FALSE(f.finished());
  f.resume();
  EXPECT_EQ(step, 2);
  EXPECT_TRUE(f.finished());
  EXPECT_THROW(f.resume(), std::logic_error);
}

TEST(Fiber, CurrentIsSetInsideOnly) {
  EXPECT_EQ(Fiber::current(), nullptr);
  Fiber* seen = nullptr;
  Fiber f([&] { seen = Fiber::current(); });
  f.resume();
  EXPECT_EQ(seen, &f);
  EXPECT_EQ(Fiber::current(), nullptr);
  EXPECT_THROW(Fiber::suspend(), std::logic_error);
}

TEST(Fiber, StackBoundsContainLocals) {
  std::uintptr_t local_addr = 0;
  Fiber f(
      [&] {
        int x = 42;
        local_addr = reinterpret_cast<std::uintptr_t>(&x);
        Fiber::suspend();
        EXPECT_EQ(x, 42);
      },
      128 * 1024);
  f.resume();
  auto base = reinterpret_cast<std::uintptr_t>(f.stack_base());
  EXPECT_GE(f.stack_size(), 128u * 1024u);
  // Under ASan locals may live in a fake stack; only check without it.
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_GE(local_addr, base);
  EXPECT_LT(local_addr, base + f.stack_size());
#else
  (void)base;
#endif
  f.resume();
  EXPECT_TRUE(f.finished());
}

TEST(Fiber, TenThousandRoundRobin) {
  const int kFibers = 10000, kSteps = 5;
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<int> progress(kFibers, 0);
  std::vector<int> order;
  order.reserve(kFibers * kSteps);
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(std::make_unique<Fiber>(
        [&, i] {
          for (int s = 0; s < kSteps; ++s) {
            ++progress[i];
            if (i < 3) order.push_back(i * 100 + s);
            Fiber::suspend();
          }
        },
        64 * 1024));
  }
  for (int round = 0; round <= kSteps; ++round) {
    for (int i = 0; i < kFibers; ++i) {
      ASSERT_FALSE(fibers[i]->finished());
      fibers[i]->resume();
      ASSERT_EQ(progress[i], std::min(round + 1, kSteps));
    }
  }
  for (auto& f : fibers) EXPECT_TRUE(f->finished());
  // Round-robin interleaving of the first three fibers.
  ASSERT_GE(order.size(), 6u);
  EXPECT_EQ(order[0], 0);
  EXPECT_EQ(order[1], 100);
  EXPECT_EQ(order[2], 200);
  EXPECT_EQ(order[3], 1);
}

TEST(Fiber, NestedFibers) {
  std::vector<std::string> log;
  Fiber outer([&] {
    log.push_back("outer-start");
    Fiber inner([&] {
      log.push_back("inner-start");
      EXPECT_NE(Fiber::current(), nullptr);
      Fiber::suspend();  // back to outer, not to main
      log.push_back("inner-end");
    });
    inner.resume();
    EXPECT_EQ(Fiber::current(), &outer);
    log.push_back("outer-mid");
    Fiber::suspend();  // back to main
    inner.resume();
    EXPECT_TRUE(inner.finished());
    log.push_back("outer-end");
  });
  outer.resume();
  log.push_back("main");
  outer.resume();
  EXPECT_TRUE(outer.finished());
  EXPECT_EQ(log,
            (std::vector<std::string>{"outer-start", "inner-start", "outer-mid", "main", "inner-end", "outer-end"}));
}

TEST(Fiber, ExceptionsPropagateToResume) {
  Fiber f([] {
    Fiber::suspend();
    throw std::runtime_error("boom");
  });
  f.resume();
  try {
    f.resume();
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(Fiber::current(), nullptr);
}

TEST(Fiber, ExceptionsCaughtInsideStayInside) {
  int caught = 0;
  Fiber f([&] {
    for (int i = 0; i < 3; ++i) {
      try {
        Fiber::suspend();
        throw std::runtime_error("x");
      } catch (const std::runtime_error&) {
        ++caught;
      }
    }
  });
  while (!f.finished()) f.resume();
  EXPECT_EQ(caught, 3);
}

TEST(Fiber, NeverStartedFiberIsDestroyedCleanly) {
  bool ran = false;
  {
    Fiber f([&] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

TEST(Fiber, DestroyingSuspendedFiberUnwindsIt) {
  bool destructor_ran = false;
  struct Guard {
    bool* flag;
    ~Guard() { *flag = true; }
  };
  {
    Fiber f([&] {
      Guard g{&destructor_ran};
      Fiber::suspend();
      ADD_FAILURE() << "should not continue past the suspend";
    });
    f.resume();
  }
  EXPECT_TRUE(destructor_ran);
}

TEST(Fiber, DeepRecursionWithinStack) {
  std::function<int(int)> rec = [&](int n) -> int {
    volatile char pad[256];
    pad[0] = static_cast<char>(n);
    return n == 0 ? pad[0] : 1 + rec(n - 1);
  };
  int result = -1;
  Fiber f([&] { result = rec(200); }, 512 * 1024);
  f.resume();
  EXPECT_EQ(result, 200);
}

// A VU's init runs deeper than its iterations: the pages it touched are given
// back, and the stack works as before afterwards (zero-filled on the next touch).
TEST(Fiber, ReleaseUnusedStackGivesBackDeepPagesAndTheStackStillWorks) {
  std::function<int(int)> rec = [&](int n) -> int {
    volatile char pad[1024];
    pad[0] = static_cast<char>(n);
    return n == 0 ? pad[0] : 1 + rec(n - 1);
  };
  std::size_t deep = 0, after = 0, released = 0;
  int again = -1;
  Fiber* self = nullptr;
  Fiber f(
      [&] {
        EXPECT_EQ(rec(150), 150);  // ~150 KB of stack
        deep = self->resident_stack_bytes();
        released = self->release_unused_stack();
        after = self->resident_stack_bytes();
        again = rec(150);
      },
      512 * 1024);
  self = &f;
  EXPECT_EQ(f.release_unused_stack(), 0u) << "outside the fiber it does nothing";
  f.resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(again, 150);
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(released, 0u);
#else
  EXPECT_GE(deep, 150u * 1024);
  EXPECT_GE(released, 128u * 1024);
  EXPECT_LT(after, 32u * 1024) << "resident after release, deep: " << deep;
#endif
}

TEST(Fiber, ResidentMemoryPerFiberIsSmall) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS accounting is meaningless under AddressSanitizer";
#else
  const int kFibers = 5000;
  std::vector<std::unique_ptr<Fiber>> fibers;
  fibers.reserve(kFibers);
  long before = rss_pages();
  ASSERT_GT(before, 0);
  int touched = 0;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(std::make_unique<Fiber>([&] {
      volatile char buf[512];
      buf[0] = 1;
      touched += buf[0];
      Fiber::suspend();
    }));
    fibers.back()->resume();
  }
  long after = rss_pages();
  EXPECT_EQ(touched, kFibers);
  double per_fiber = double(after - before) * double(sysconf(_SC_PAGESIZE)) / kFibers;
  EXPECT_LT(per_fiber, 64 * 1024.0) << per_fiber << " bytes resident per fiber";
  for (auto& f : fibers) f->resume();
  for (auto& f : fibers) EXPECT_TRUE(f->finished());
#endif
}
