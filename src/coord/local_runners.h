#pragma once
// Internal to coord/local.cc (`herd run --parallelism N`): the runner
// processes it starts, their stderr (forwarded with a prefix, the last lines
// kept for messages) and the control addresses they announce.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "coord/coordinator.h"
#include "exec/runner.h"

extern "C" char** environ;  // NOLINT(readability-redundant-declaration): unistd.h declares it only with _GNU_SOURCE

namespace herd::coord::detail {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// N runner processes, their stderr (forwarded, prefixed) and their bound addresses.
class LocalRunners {
 public:
  ~LocalRunners() { kill_all(); }

  /// fork+exec; the child dies with us (PR_SET_PDEATHSIG) and has its own
  /// process group (a terminal's Ctrl+C reaches only the coordinator).
  void spawn(const std::string& binary, const std::vector<std::string>& args) {
    auto c = std::make_unique<Child>();
    c->index = children_.size();
    std::vector<std::string> argv_s{binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_s.size() + 1);
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    // The coordinator hands each runner its --out values itself (json to a
    // file of its own, influxdb as given): K6_OUT would make every runner
    // open the same outputs again (one file written N times, N remote writers),
    // and K6_WEB_DASHBOARD* N dashboards (the coordinator serves the merged one).
    std::vector<std::string> env_s;
    for (char** e = environ; e && *e; ++e)
      if (std::strncmp(*e, "K6_OUT=", 7) != 0 && std::strncmp(*e, "K6_WEB_DASHBOARD", 16) != 0) env_s.emplace_back(*e);
    std::vector<char*> envp;
    envp.reserve(env_s.size() + 1);
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    children_.reserve(children_.size() + 1);  // the push_back below cannot throw: no untracked child
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      close(p[0]);
      close(p[1]);
      if (devnull >= 0) close(devnull);
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);  // runners' stdout (e.g. their own handleSummary "stdout") is not wanted
      }
      dup2(p[1], 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGPIPE, SIG_DFL);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(p[1]);
    if (devnull >= 0) close(devnull);
    c->pid = pid;
    c->fd = p[0];
    Child* cp = c.get();
    children_.push_back(std::move(c));  // tracked first: kill_all() reaps it on any path
    try {
      cp->reader = std::jthread([this, cp] { read_loop(cp); });
    } catch (...) {
      close(cp->fd);
      cp->fd = -1;
      {
        std::lock_guard<std::mutex> g(mu_);
        cp->eof = true;  // no reader: nothing to wait for
      }
      throw;
    }
  }

  std::size_t size() const { return children_.size(); }
  pid_t pid(std::size_t i) const { return children_[i]->pid; }

  /// Waits for every runner's "control API listening" line. Returns the
  /// addresses, or nullopt on timeout / early exit / stop, with the exit code
  /// and the message (not printed) set.
  std::optional<std::vector<std::string>> wait_addresses(std::chrono::milliseconds timeout,
                                                         const std::function<bool()>& stop, int* exit_code,
                                                         std::string* message) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      std::uint64_t seen = 0;
      {
        std::lock_guard<std::mutex> g(mu_);
        seen = events_;
      }
      bool all = true;
      for (std::size_t i = 0; i < children_.size(); ++i) {
        Child& c = *children_[i];
        {
          std::lock_guard<std::mutex> g(mu_);
          if (!c.address.empty()) continue;
        }
        all = false;
        if (!alive(i)) {
          auto code = exit_status(i);
          // Let the reader drain the rest of its output.
          if (c.reader.joinable()) c.reader.join();
          // A runner's own failure (e.g. 107) is passed through; one killed by a
          // signal (OOM killer, kill -9) is lost: 97, not 128+signal.
          *message = "runner " + std::to_string(i + 1) + " (pid " + std::to_string(c.pid) +
                     ") exited before its control API was up" +
                     (code ? " (exit code " + std::to_string(*code) + ")" : std::string()) + describe(i) + tail(i);
          *exit_code = code && *code != 0 ? *code : kExitRunnerLost;
          return std::nullopt;
        }
      }
      if (all) {
        std::vector<std::string> out;
        std::lock_guard<std::mutex> g(mu_);
        for (auto& c : children_) out.push_back(c->address);
        return out;
      }
      if (stop()) {
        *exit_code = exec::kExitSignal;
        *message = "stopped before the runners were up";
        return std::nullopt;
      }
      if (Clock::now() >= deadline) {
        std::string names;
        for (std::size_t i = 0; i < children_.size(); ++i) {
          std::lock_guard<std::mutex> g(mu_);
          if (children_[i]->address.empty())
            names += (names.empty() ? "" : ", ") + std::string("runner ") + std::to_string(i + 1) + " (pid " +
                     std::to_string(children_[i]->pid) + ")";
        }
        *message = "runners never announced their control API within " + std::to_string(timeout.count() / 1000) +
                   " s: " + names;
        *exit_code = kExitRunnerLost;
        return std::nullopt;
      }
      // An address or an end of output wakes it; the bound is for stop().
      std::unique_lock<std::mutex> lk(mu_);
      event_.wait_until(lk, std::min(deadline, Clock::now() + 50ms), [&] { return events_ != seen; });
    }
  }

  /// false once the process has exited (reaped here).
  bool alive(std::size_t i) {
    std::lock_guard<std::mutex> g(wait_mu_);
    Child& c = *children_[i];
    if (c.reaped) return false;
    int st = 0;
    pid_t w = waitpid(c.pid, &st, WNOHANG);
    if (w == c.pid) {
      c.reaped = true;
      c.status = st;
      return false;
    }
    return w == 0;
  }
  /// The exit code of a runner that exited by itself; nullopt while it runs
  /// or when a signal ended it (describe() names the signal).
  std::optional<int> exit_status(std::size_t i) {
    alive(i);
    std::lock_guard<std::mutex> g(wait_mu_);
    Child& c = *children_[i];
    if (!c.reaped) return std::nullopt;
    if (WIFEXITED(c.status)) return WEXITSTATUS(c.status);
    return std::nullopt;
  }
  std::string describe(std::size_t i) {
    std::string s;
    std::lock_guard<std::mutex> g(wait_mu_);
    Child& c = *children_[i];
    if (c.reaped && WIFSIGNALED(c.status))
      s = "  (killed by signal " + std::to_string(WTERMSIG(c.status)) + ", " + strsignal(WTERMSIG(c.status)) + ")";
    return s;
  }
  std::string tail(std::size_t i) {
    std::lock_guard<std::mutex> g(mu_);
    std::string s;
    for (auto& l : children_[i]->tail) s += "\n  | " + l;
    return s.empty() ? "" : "; its last output:" + s;
  }

  /// Waits up to `grace` for every runner to exit by itself, then SIGKILLs the
  /// rest; reaps everything and joins the readers.
  void finish(std::chrono::milliseconds grace) {
    auto deadline = Clock::now() + grace;
    {
      // A runner's stderr reaches its end when the runner exits.
      std::unique_lock<std::mutex> lk(mu_);
      event_.wait_until(lk, deadline, [this] {
        for (auto& c : children_)
          if (!c->eof) return false;
        return true;
      });
    }
    kill_all();
  }

  /// SIGKILLs every runner and reaps it (a second Ctrl+C: the caller exits
  /// next, and no runner may outlive it). A runner the kernel cannot end (in
  /// uninterruptible sleep) is waited for 2 s at most.
  void kill_now() {
    std::lock_guard<std::mutex> g(wait_mu_);
    for (auto& c : children_)
      if (!c->reaped) kill(c->pid, SIGKILL);
    auto deadline = Clock::now() + 2s;
    for (auto& c : children_) {
      while (!c->reaped) {
        pid_t w = waitpid(c->pid, &c->status, WNOHANG);
        if (w == c->pid || (w < 0 && errno != EINTR)) c->reaped = true;
        if (c->reaped || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(2ms);
      }
    }
  }

  /// SIGKILLs runner i (if it still runs) and reaps it.
  void kill_one(std::size_t i) {
    std::lock_guard<std::mutex> g(wait_mu_);
    Child& c = *children_[i];
    if (c.reaped) return;
    kill(c.pid, SIGKILL);
    waitpid(c.pid, &c.status, 0);
    c.reaped = true;
  }

 private:
  struct Child {
    std::size_t index = 0;
    pid_t pid = -1;
    int fd = -1;
    std::jthread reader;  ///< joined by kill_all() (the destructor at the latest)
    std::string address;
    std::deque<std::string> tail;
    bool reaped = false;
    int status = 0;
    bool eof = false;  ///< its stderr reached its end (guarded by mu_)
  };

  void kill_all() {
    for (std::size_t i = 0; i < children_.size(); ++i) {
      Child& c = *children_[i];
      std::lock_guard<std::mutex> g(wait_mu_);
      if (!c.reaped) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &c.status, 0);
        c.reaped = true;
      }
    }
    for (auto& c : children_)
      if (c->reader.joinable()) c->reader.join();
  }

  void handle_line(Child* c, const std::string& line) {
    if (auto a = parse_listening_line(line)) {
      std::lock_guard<std::mutex> g(mu_);
      if (c->address.empty()) {
        c->address = *a;
        ++events_;
        event_.notify_all();
        return;
      }
    }
    if (line.find("the control API lingers until stopped") != std::string::npos) return;
    {
      std::lock_guard<std::mutex> g(mu_);
      c->tail.push_back(line);
      if (c->tail.size() > 15) c->tail.pop_front();
    }
    std::string out = "runner " + std::to_string(c->index + 1) + ": " + line + "\n";
    std::fwrite(out.data(), 1, out.size(), stderr);
  }

  /// A reader thread's body: drains the pipe to EOF whatever happens (a line
  /// that cannot be handled is dropped), so nothing escapes the thread.
  void read_loop(Child* c) noexcept {
    std::string buf;
    char chunk[4096];
    for (;;) {
      ssize_t n = read(c->fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      try {
        buf.append(chunk, static_cast<size_t>(n));
        std::size_t p;
        while ((p = buf.find('\n')) != std::string::npos) {
          std::string line = buf.substr(0, p);
          buf.erase(0, p + 1);
          handle_line(c, line);
        }
      } catch (...) {
        buf.clear();
      }
    }
    try {
      if (!buf.empty()) handle_line(c, buf);
    } catch (...) {
    }
    close(c->fd);
    {
      std::lock_guard<std::mutex> g(mu_);
      c->eof = true;
      ++events_;
    }
    event_.notify_all();
  }

  std::vector<std::unique_ptr<Child>> children_;
  std::mutex mu_;                  ///< addresses, tails, eof, events_
  std::condition_variable event_;  ///< an address announced or an output ended
  std::uint64_t events_ = 0;
  std::mutex wait_mu_;  ///< reaping
};

}  // namespace herd::coord::detail
