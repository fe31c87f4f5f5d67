#pragma once
// One way to take SIGINT/SIGTERM in a multithreaded process: block them in
// every thread (block_stop_signals() before any thread starts) and let one
// SignalWatcher thread wait for them with sigtimedwait. Handlers then run on
// an ordinary thread, so they may lock, allocate and set atomics.

#include <atomic>
#include <functional>
#include <thread>

namespace herd::util {

/// Blocks SIGINT and SIGTERM in the calling thread (threads started later
/// inherit the mask) and ignores SIGPIPE. Call first thing in main / a command.
void block_stop_signals();

/// Waits for SIGINT/SIGTERM on its own thread while it lives and calls
/// `on_signal(count, signo)` there: count is 1 for the first signal this
/// watcher saw, 2 for the second, and so on. The signals must be blocked in
/// every thread (block_stop_signals), or the default action kills the process
/// first. Destruction stops and joins the thread (within ~50 ms).
class SignalWatcher {
 public:
  using Handler = std::function<void(int count, int signo)>;
  explicit SignalWatcher(Handler on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  Handler on_signal_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace herd::util
