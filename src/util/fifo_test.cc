#include "util/fifo.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>

namespace herd::util {
namespace {

TEST(Fifo, KeepsOrderAcrossInterleavedPushesAndPops) {
  Fifo<int> q;
  std::deque<int> ref;
  std::mt19937 rng(7);
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      q.push_back(next);
      ref.push_back(next);
      ++next;
    } else {
      ASSERT_FALSE(q.empty());
      ASSERT_EQ(q.front(), ref.front()) << "step " << step;
      q.pop_front();
      ref.pop_front();
    }
    ASSERT_EQ(q.size(), ref.size());
    ASSERT_EQ(q.empty(), ref.empty());
  }
  while (!ref.empty()) {
    ASSERT_EQ(q.front(), ref.front());
    q.pop_front();
    ref.pop_front();
  }
  EXPECT_TRUE(q.empty());
}

TEST(Fifo, PopDestroysTheItemAtOnce) {
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  Fifo<std::function<void()>> q;
  q.push_back([owned = std::move(owned)] { (void)owned; });
  q.push_back([] {});
  auto fn = std::move(q.front());
  q.pop_front();
  fn = nullptr;
  EXPECT_TRUE(watch.expired()) << "the popped function still holds its capture";
  EXPECT_EQ(q.size(), 1u);
}

TEST(Fifo, ClearEmptiesAndTheQueueStaysUsable) {
  Fifo<std::string> q;
  q.push_back("a");
  q.push_back("b");
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  q.push_back("c");
  EXPECT_EQ(q.front(), "c");
}

}  // namespace
}  // namespace herd::util
