#include "util/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace herd::util {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

TEST(RealClock, IsSteadyTimeAndNotifyEndsAWait) {
  Clock& c = Clock::real();
  EXPECT_TRUE(c.is_real());
  auto a = Steady::now();
  auto b = c.now();
  EXPECT_LE(a, b);
  EXPECT_LE(b, Steady::now());
  EXPECT_TRUE(c.wait_until(c.now() + 1ms));
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    c.notify();
  });
  auto t0 = Steady::now();
  EXPECT_FALSE(c.wait_until(c.now() + 60s));
  EXPECT_LT(Steady::now() - t0, 30s);
  t.join();
}

TEST(ManualClock, MovesOnlyWhenAdvancedAndNeverBack) {
  ManualClock c;
  EXPECT_FALSE(c.is_real());
  auto t0 = c.now();
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c.now(), t0);
  c.advance(5s);
  EXPECT_EQ(c.now(), t0 + 5s);
  c.advance(-1s);
  c.set(t0);
  EXPECT_EQ(c.now(), t0 + 5s);
  c.set(t0 + 1h);
  EXPECT_EQ(c.now(), t0 + 1h);
  EXPECT_GT(c.now() - 5s, Clock::time_point{});
}

TEST(ManualClock, AWaitEndsWhenAnotherThreadAdvancesPastItsDeadline) {
  ManualClock c;
  const auto deadline = c.now() + 10s;
  std::atomic<bool> done{false};
  bool reached = false;
  std::thread waiter([&] {
    reached = c.wait_until(deadline);
    done = true;
  });
  while (c.waiters() == 0) std::this_thread::yield();
  c.advance(9s);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(done) << "9 s of 10 s";
  c.advance(1s);
  waiter.join();
  EXPECT_TRUE(reached);
  EXPECT_EQ(c.now(), deadline);
}

TEST(ManualClock, NotifyEndsAWaitWithoutMovingTime) {
  ManualClock c;
  auto t0 = c.now();
  bool reached = true;
  std::thread waiter([&] { reached = c.wait_until(t0 + 1h); });
  while (c.waiters() == 0) std::this_thread::yield();
  c.notify();
  waiter.join();
  EXPECT_FALSE(reached);
  EXPECT_EQ(c.now(), t0);
}

TEST(ManualClock, AutoAdvanceJumpsToTheDeadlineAtOnce) {
  ManualClock c;
  c.set_auto_advance(true);
  auto t0 = c.now();
  auto real0 = Steady::now();
  EXPECT_TRUE(c.wait_until(t0 + 1h));
  EXPECT_EQ(c.now(), t0 + 1h);
  EXPECT_TRUE(c.wait_until(t0)) << "a past deadline does not move the clock back";
  EXPECT_EQ(c.now(), t0 + 1h);
  EXPECT_LT(Steady::now() - real0, 1s);
}

TEST(ManualClock, TurningAutoAdvanceOnReleasesAWaiter) {
  ManualClock c;
  auto deadline = c.now() + 30s;
  std::thread waiter([&] { c.wait_until(deadline); });
  while (c.waiters() == 0) std::this_thread::yield();
  c.set_auto_advance(true);
  waiter.join();
  EXPECT_EQ(c.now(), deadline);
}

}  // namespace
}  // namespace herd::util
