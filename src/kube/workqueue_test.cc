#include "kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace herd::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ExponentialBackoff, DoublesPerKeyUpToTheCap) {
  ExponentialBackoff b;
  std::vector<long> delays;
  for (int i = 0; i < 16; ++i) delays.push_back(b.next("a").count());
  EXPECT_EQ(delays,
            (std::vector<long>{5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 40960, 60000, 60000}));
  for (int i = 0; i < 1000; ++i) b.next("a");  // no overflow however long it fails
  EXPECT_EQ(b.next("a").count(), 60000);
  EXPECT_EQ(b.next("b").count(), 5);  // keys are independent
  EXPECT_EQ(b.failures("b"), 1);
  b.forget("a");
  EXPECT_EQ(b.failures("a"), 0);
  EXPECT_EQ(b.next("a").count(), 5);
}

TEST(WorkQueue, HoldsAWaitingKeyOnce) {
  WorkQueue q;
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), "b");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, AKeyBeingProcessedIsRequeuedOnlyAfterDone) {
  WorkQueue q;
  q.add("a");
  ASSERT_EQ(q.try_get(), "a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(q.try_get(), std::nullopt);  // never to two workers at once
  EXPECT_EQ(q.size(), 0u);
  q.done("a");
  EXPECT_EQ(q.try_get(), "a");  // once, however often it was added meanwhile
  q.done("a");
  EXPECT_EQ(q.try_get(), std::nullopt);  // done() without a new add does not requeue
}

TEST(WorkQueue, GetBlocksUntilAnAdd) {
  WorkQueue q;
  std::thread adder([&] {
    std::this_thread::sleep_for(30ms);
    q.add("late");
  });
  auto t0 = Clock::now();
  EXPECT_EQ(q.get(), "late");
  EXPECT_GE(Clock::now() - t0, 25ms);
  adder.join();
}

TEST(WorkQueue, AddAfterDelaysAndKeepsTheEarliestTime) {
  WorkQueue q;
  auto t0 = Clock::now();
  q.add_after("a", 40ms);
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_EQ(q.delayed(), 1u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_GE(Clock::now() - t0, 40ms);
  q.done("a");

  t0 = Clock::now();
  q.add_after("b", 5s);
  q.add_after("b", 30ms);  // earlier: wins
  q.add_after("b", 10s);   // later: ignored
  EXPECT_EQ(q.delayed(), 1u);
  EXPECT_EQ(q.get(), "b");
  auto waited = Clock::now() - t0;
  EXPECT_GE(waited, 30ms);
  EXPECT_LT(waited, 2s);
  q.done("b");
  EXPECT_EQ(q.delayed(), 0u);
  EXPECT_EQ(q.try_get(), std::nullopt);  // the superseded 5 s entry does not fire again
}

TEST(WorkQueue, ZeroDelayAddsAtOnce) {
  WorkQueue q;
  q.add_after("a", 0ms);
  EXPECT_EQ(q.try_get(), "a");
}

TEST(WorkQueue, DelayedKeyAlreadyQueuedIsHeldOnce) {
  WorkQueue q;
  q.add("a");
  q.add_after("a", 10ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, RateLimitedRetriesBackOffUntilForget) {
  WorkQueue q(ExponentialBackoff(20ms, 80ms));
  std::vector<Clock::duration> waits;
  for (int i = 0; i < 4; ++i) {
    auto t0 = Clock::now();
    q.add_rate_limited("a");
    EXPECT_EQ(q.get(), "a");
    waits.push_back(Clock::now() - t0);
    q.done("a");
  }
  EXPECT_EQ(q.retries("a"), 4);
  EXPECT_GE(waits[0], 20ms);
  EXPECT_GE(waits[1], 40ms);
  EXPECT_GE(waits[2], 80ms);
  EXPECT_GE(waits[3], 80ms);
  EXPECT_LT(waits[3], 1s);  // capped
  q.forget("a");
  EXPECT_EQ(q.retries("a"), 0);
  auto t0 = Clock::now();
  q.add_rate_limited("a");
  EXPECT_EQ(q.get(), "a");
  EXPECT_LT(Clock::now() - t0, 40ms + 200ms);
}

TEST(WorkQueue, ShutdownWakesWorkersAndIgnoresAdds) {
  WorkQueue q;
  q.add_after("later", 10s);
  std::vector<std::thread> workers;
  std::atomic<int> ended{0};
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&] {
      if (!q.get()) ++ended;
    });
  }
  std::this_thread::sleep_for(20ms);
  q.shutdown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(ended, 3);
  EXPECT_TRUE(q.shutting_down());
  q.add("a");
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.get(), std::nullopt);
}

// Several workers, many adds of few keys: no key is ever with two workers, and
// every add is followed by a processing of that key that started after it.
TEST(WorkQueue, ConcurrentWorkersNeverShareAKeyAndMissNoAdd) {
  WorkQueue q;
  constexpr int kKeys = 20, kAdds = 4000;
  std::mutex mu;
  std::set<std::string> in_flight;
  std::vector<int> added(kKeys, 0), processed_after(kKeys, 0);  // add count, and the add count seen at the last start
  std::atomic<bool> overlap{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        int k = std::stoi(*key);
        {
          std::lock_guard lock(mu);
          if (!in_flight.insert(*key).second) overlap = true;
          processed_after[k] = added[k];
        }
        std::this_thread::yield();
        {
          std::lock_guard lock(mu);
          in_flight.erase(*key);
        }
        q.done(*key);
      }
    });
  }
  for (int i = 0; i < kAdds; ++i) {
    int k = (i * 7) % kKeys;
    {
      std::lock_guard lock(mu);
      ++added[k];
    }
    q.add(std::to_string(k));
  }
  auto deadline = Clock::now() + 5s;
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (processed_after == added || Clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  q.shutdown();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap);
  EXPECT_EQ(processed_after, added);
}

}  // namespace
}  // namespace herd::kube
