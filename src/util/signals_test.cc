#include "util/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace herd::util {
namespace {

TEST(SignalWatcher, CountsSignalsOnItsThreadAndStopsOnDestruction) {
  block_stop_signals();  // this test's process: the signals stay pending until the watcher takes them
  std::atomic<int> last_count{0};
  std::atomic<int> last_sig{0};
  std::atomic<bool> on_other_thread{false};
  const auto self = std::this_thread::get_id();
  {
    SignalWatcher w([&](int count, int sig) {
      on_other_thread = std::this_thread::get_id() != self;
      last_sig = sig;
      last_count = count;
    });
    kill(getpid(), SIGINT);
    for (int i = 0; i < 200 && last_count.load() < 1; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(last_count.load(), 1);
    EXPECT_EQ(last_sig.load(), SIGINT);
    kill(getpid(), SIGTERM);
    for (int i = 0; i < 200 && last_count.load() < 2; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(last_count.load(), 2);
    EXPECT_EQ(last_sig.load(), SIGTERM);
    EXPECT_TRUE(on_other_thread.load());
  }
  // A new watcher counts from 1 again.
  {
    SignalWatcher w([&](int count, int) { last_count = count; });
    kill(getpid(), SIGINT);
    for (int i = 0; i < 200 && last_count.load() != 1; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(last_count.load(), 1);
  }
}

}  // namespace
}  // namespace herd::util
