#include "util/signals.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace herd::util {

namespace {

sigset_t stop_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  return mask;
}

}  // namespace

void block_stop_signals() {
  sigset_t mask = stop_signals();
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

SignalWatcher::SignalWatcher(Handler on_signal) : on_signal_(std::move(on_signal)) {
  thread_ = std::thread([this] {
    sigset_t mask = stop_signals();
    timespec ts{0, 50'000'000};
    int seen = 0;
    while (!done_.load(std::memory_order_acquire)) {
      int sig = sigtimedwait(&mask, nullptr, &ts);
      if (sig != SIGINT && sig != SIGTERM) continue;
      on_signal_(++seen, sig);
    }
  });
}

SignalWatcher::~SignalWatcher() {
  done_.store(true, std::memory_order_release);
  thread_.join();
}

}  // namespace herd::util
