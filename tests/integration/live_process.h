#pragma once
// A background process for the end-to-end tests that talk to a process while
// it runs (its output collected meanwhile), e.g. herd with --linger and a
// Prometheus server scraping it.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "harness.h"

namespace herd::it {

/// A process (herd, or a server such as Prometheus) in the background whose
/// output is collected while it runs, so that a test can wait for a line and
/// talk to the process meanwhile. The destructor kills (SIGKILL) and reaps it
/// if it is still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::string& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& cwd) {
    PipedChild child = spawn_piped(binary, args, env, cwd);
    pid_ = child.pid;
    try {
      reader_ = std::jthread([this, o = child.out, e = child.err] { read_loop(o, e); });
    } catch (...) {  // no reader thread: leave no process nor pipe behind
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      close(child.out);
      close(child.err);
      throw;
    }
  }
  ~BackgroundProcess() {
    if (!exit_code_) {
      kill(pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
    if (reader_.joinable()) reader_.join();
    expect_no_sanitizer_report(err_);
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string err() const {
    std::lock_guard<std::mutex> g(mu_);
    return err_;
  }
  std::string out() const {
    std::lock_guard<std::mutex> g(mu_);
    return out_;
  }

  /// Waits until `re` matches stderr; returns its first group ("" after `timeout`).
  std::string wait_for(const std::regex& re, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string e = err();
      if (std::regex_search(e, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      std::this_thread::sleep_for(20ms);
    }
    return "";
  }

  /// Waits for the exit: its code (128 + signal when killed), nullopt after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      pid_t w = waitpid(pid_, &st, WNOHANG);
      if (w == pid_) {
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (reader_.joinable()) reader_.join();
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
  }
  bool running() { return !wait_exit(0ms).has_value(); }

 private:
  /// Never throws (it is a thread's body): what cannot be kept is dropped.
  void read_loop(int out_fd, int err_fd) noexcept {
    int fds[2] = {out_fd, err_fd};
    bool open_fd[2] = {true, true};
    while (open_fd[0] || open_fd[1]) {
      read_pipes(fds, open_fd, 100, [this](int i, const char* data, size_t n) {
        try {
          std::lock_guard<std::mutex> g(mu_);
          (i == 0 ? out_ : err_).append(data, n);
        } catch (...) {
        }
      });
    }
    close(out_fd);
    close(err_fd);
  }

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable std::mutex mu_;
  std::string out_, err_;
  std::jthread reader_;  ///< last: joined (by the destructor at the latest) before what it writes goes
};

inline std::ostream& operator<<(std::ostream& os, const BackgroundProcess& p) {
  return os << "--- stdout ---\n" << p.out().substr(0, 4000) << "\n--- stderr ---\n" << p.err().substr(0, 6000);
}

}  // namespace herd::it
