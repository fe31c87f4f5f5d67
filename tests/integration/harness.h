#pragma once
// Helpers for the end-to-end tests: run the real `herd` binary in a temp dir
// (fork/exec, stdout/stderr captured, hard timeout), an in-process loopback
// target server per test, and small readers for herd's output files.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "target/server.h"

extern char** environ;

namespace herd::it {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string herd_binary() {
  return HERD_BINARY;
}

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "herd-it-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& rel) const { return path_ + "/" + rel; }

  /// Writes `rel` (creating parent directories); returns its absolute path.
  std::string write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f << content;
    return p.string();
  }
  bool exists(const std::string& rel) const { return std::filesystem::exists(file(rel)); }
  std::string read(const std::string& rel) const {
    std::ifstream f(file(rel), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

struct ProcResult {
  int exit_code = -1;   ///< -1 if killed by a signal
  int term_signal = 0;  ///< the signal that ended it, if any
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
  bool signal_sent = false;
  int signals_sent = 0;
};

inline std::ostream& operator<<(std::ostream& os, const ProcResult& r) {
  os << "exit=" << r.exit_code << " signal=" << r.term_signal << " timed_out=" << r.timed_out << " secs=" << r.seconds
     << "\n--- stdout ---\n"
     << r.out.substr(0, 6000) << "\n--- stderr ---\n"
     << r.err.substr(0, 6000) << "\n--------------";
  return os;
}

struct RunSpec {
  std::vector<std::string> args;            ///< after the binary name
  std::map<std::string, std::string> env;   ///< added to (and overriding) the inherited environment
  std::string cwd;                          ///< "" = current directory
  std::chrono::milliseconds timeout = 60s;  ///< then SIGKILL
  /// Send `signal_number` once this text appears in stdout or stderr (after `signal_delay`).
  std::string signal_when;
  int signal_number = SIGINT;
  std::chrono::milliseconds signal_delay = 0ms;
  /// Further signals, in order, each once its text appears (after the previous one was sent).
  struct SignalStep {
    std::string when;
    int signal_number = SIGINT;
    std::chrono::milliseconds delay = 0ms;
  };
  std::vector<SignalStep> more_signals;
};

/// Runs a process, collecting its output, with a hard timeout. The child gets the
/// parent environment minus every K6_* variable, plus `spec.env`.
/// Waits up to `timeout_ms` for output on the pipes still open (fds[i] with open_fd[i]),
/// hands what it reads to `sink(i, data, n)` and marks pipes that reached EOF closed.
inline void read_pipes(const int fds[2], bool open_fd[2], int timeout_ms,
                       const std::function<void(int, const char*, size_t)>& sink) {
  pollfd p[2];
  int n = 0;
  int idx[2];
  for (int i = 0; i < 2; i++)
    if (open_fd[i]) {
      p[n] = {fds[i], POLLIN, 0};
      idx[n++] = i;
    }
  poll(p, static_cast<nfds_t>(n), timeout_ms);
  for (int j = 0; j < n; j++) {
    if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char buf[65536];
    ssize_t got = read(p[j].fd, buf, sizeof buf);
    if (got > 0) {
      sink(idx[j], buf, static_cast<size_t>(got));
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      open_fd[idx[j]] = false;
    }
  }
}

/// Sanitizer builds: any report in a child's stderr fails the test, whatever it asserts.
inline void expect_no_sanitizer_report(const std::string& err) {
  for (const char* needle : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer"})
    if (err.find(needle) != std::string::npos)
      ADD_FAILURE() << "sanitizer report from herd (" << needle << ")\n" << err;
}

/// A child process with stdin from /dev/null and stdout/stderr on pipes (the
/// parent's ends in `out`/`err`), its environment the parent's without K6_*
/// variables plus `env`, in `cwd` ("" = ours), signals unblocked and at their
/// defaults. Everything the child needs is prepared before fork(): the parent
/// is multithreaded.
struct PipedChild {
  pid_t pid = -1;
  int out = -1, err = -1;
};
inline PipedChild spawn_piped(const std::string& binary, const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env, const std::string& cwd) {
  std::vector<std::string> argv_s{binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::map<std::string, std::string> envm;
  for (char** e = environ; e && *e; e++) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    std::string k(*e, static_cast<size_t>(eq - *e));
    if (k.rfind("K6_", 0) == 0) continue;
    envm[k] = eq + 1;
  }
  for (auto& [k, v] : env) envm[k] = v;
  std::vector<std::string> env_s;
  for (auto& [k, v] : envm) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  const char* dir = cwd.empty() ? nullptr : cwd.c_str();

  int out_p[2], err_p[2];
  if (pipe2(out_p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (pipe2(err_p, O_CLOEXEC) != 0) {
    close(out_p[0]);
    close(out_p[1]);
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out_p[0], out_p[1], err_p[0], err_p[1]}) close(fd);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_p[1], 1);
    dup2(err_p[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (dir && chdir(dir) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_p[1]);
  close(err_p[1]);
  return {pid, out_p[0], err_p[0]};
}

inline ProcResult run_process(const std::string& binary, const RunSpec& spec) {
  auto start = std::chrono::steady_clock::now();
  PipedChild child = spawn_piped(binary, spec.args, spec.env, spec.cwd);
  pid_t pid = child.pid;
  ProcResult r;
  int status = 0;
  try {
    int fds[2] = {child.out, child.err};
    bool open_fd[2] = {true, true};
    std::string* bufs[2] = {&r.out, &r.err};
    auto deadline = start + spec.timeout;
    std::vector<RunSpec::SignalStep> steps;
    if (!spec.signal_when.empty()) steps.push_back({spec.signal_when, spec.signal_number, spec.signal_delay});
    steps.insert(steps.end(), spec.more_signals.begin(), spec.more_signals.end());
    size_t step = 0;
    // time_point::max(): no signal due (std::optional here trips GCC 12's -Wmaybe-uninitialized at -O3)
    auto signal_at = std::chrono::steady_clock::time_point::max();
    while (open_fd[0] || open_fd[1]) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        r.timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      if (step < steps.size() && signal_at == std::chrono::steady_clock::time_point::max() &&
          (r.out.find(steps[step].when) != std::string::npos || r.err.find(steps[step].when) != std::string::npos))
        signal_at = now + steps[step].delay;
      if (signal_at != std::chrono::steady_clock::time_point::max() && now >= signal_at) {
        kill(pid, steps[step].signal_number);
        r.signal_sent = true;
        r.signals_sent++;
        step++;
        signal_at = std::chrono::steady_clock::time_point::max();
      }
      read_pipes(fds, open_fd, 50, [&](int i, const char* data, size_t n) { bufs[i]->append(data, n); });
    }
    close(child.out);
    close(child.err);
    for (;;) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid || w < 0) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        r.timed_out = true;
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
  } catch (...) {
    // Never leave the child running nor its pipes open behind an exception.
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(child.out);
    close(child.err);
    throw;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  expect_no_sanitizer_report(r.err);
  return r;
}

/// A run on its own thread that is always joined: by wait() or, at the latest, by
/// the destructor. So an early return (ASSERT_*) or an exception in the test
/// cannot destroy a joinable thread (std::terminate), and an exception from the
/// run itself (fork failure, ...) becomes a test failure and an empty ProcResult
/// instead of escaping the thread. wait() and the destructor block until the run ends.
class BackgroundRun {
 public:
  explicit BackgroundRun(std::function<ProcResult()> run)
      : thread_([this, run = std::move(run)]() noexcept {
          try {
            result_ = run();
          } catch (const std::exception& e) {
            error_ = e.what();
          } catch (...) {
            error_ = "unknown exception";
          }
        }) {}
  ~BackgroundRun() { wait(); }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  /// Joins the run (once) and returns its result.
  const ProcResult& wait() {
    if (thread_.joinable()) {
      thread_.join();
      if (!error_.empty()) ADD_FAILURE() << "the background run threw: " << error_;
    }
    return result_;
  }

 private:
  ProcResult result_;
  std::string error_;
  std::jthread thread_;  ///< last: starts after, and is joined before, what it writes
};

/// A minimal blocking HTTP/1.0-style GET against the loopback target; returns the body.
/// One HTTP/1.1 exchange with 127.0.0.1:port ("Connection: close"); returns
/// the status code (0 on a connection failure) and sets *body.
inline int http_call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body_in,
                     std::string* body) {
  body->clear();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return 0;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body_in.empty()) req += "Content-Type: application/json\r\n";
  req += "Content-Length: " + std::to_string(body_in.size()) + "\r\n\r\n" + body_in;
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return 0;
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  int status = 0;
  if (resp.size() > 12) status = std::atoi(resp.c_str() + 9);
  auto p = resp.find("\r\n\r\n");
  if (p != std::string::npos) *body = resp.substr(p + 4);
  return status;
}

inline std::string http_get_body(std::uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto p = resp.find("\r\n\r\n");
  return p == std::string::npos ? "" : resp.substr(p + 4);
}

/// A 127.0.0.1 port that nothing listens on (bound then closed).
inline std::uint16_t closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

/// A loopback port that refuses connections for as long as this object lives:
/// bound but never listening, so no other process (another test, a benchmark's
/// listeners) can take it meanwhile, as it could a port from closed_port().
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~RefusingPort() {
    if (fd_ >= 0) close(fd_);
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

inline int count_occurrences(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) n++;
  return n;
}

/// All `msg="..."` values of herd's log records on stderr whose level matches (or any
/// level if empty). A record starts with `time="`; following lines that do not are
/// joined to it (so an unescaped multi-line message still counts as one record).
inline std::vector<std::string> log_messages(const std::string& err, const std::string& level = "") {
  std::vector<std::string> records;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("time=\"", 0) == 0 || records.empty())
      records.push_back(line);
    else
      records.back() += "\n" + line;
  }
  std::vector<std::string> out;
  static const std::regex re(R"re(level=(\w+) msg="([\s\S]*)" source=)re");
  for (auto& rec : records) {
    std::smatch m;
    if (std::regex_search(rec, m, re) && (level.empty() || m[1].str() == level)) out.push_back(m[2].str());
  }
  return out;
}

/// Walks a legacy root_group and collects "path/name" -> {passes, fails} of every check.
inline void collect_checks(const json& group, std::map<std::string, std::pair<long, long>>* out) {
  if (!group.is_object()) return;
  if (group.contains("checks") && group["checks"].is_object())
    for (auto& [name, c] : group["checks"].items())
      (*out)[group.value("path", "") + "/" + name] = {c.value("passes", 0L), c.value("fails", 0L)};
  if (group.contains("groups") && group["groups"].is_object())
    for (auto& [name, g] : group["groups"].items()) collect_checks(g, out);
}

/// Fixture: a loopback target server on a free port and a temp dir per test.
class HerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<target::Server>(target::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 1});
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  std::string base_url() const { return server_->base_url(); }
  std::uint16_t port() const { return server_->port(); }
  std::uint64_t served() const { return server_->requests_served(); }

  /// Value of the target's named counter.
  long counter(const std::string& name) {
    std::string body = http_get_body(port(), "/counter/" + name);
    try {
      return json::parse(body).value("value", -1L);
    } catch (...) {
      return -1;
    }
  }

  /// Writes `script` as script.js in the temp dir and runs `herd run [args] script.js`
  /// in that directory with BASE_URL set.
  ProcResult run_script(const std::string& script, std::vector<std::string> args = {},
                        std::map<std::string, std::string> env = {}, std::chrono::milliseconds timeout = 60s) {
    dir_.write("script.js", script);
    RunSpec spec;
    spec.args = {"run"};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    spec.args.push_back("script.js");
    spec.env = std::move(env);
    spec.env.emplace("BASE_URL", base_url());
    spec.cwd = dir_.path();
    spec.timeout = timeout;
    return run_process(herd_binary(), spec);
  }

  ProcResult run_spec(RunSpec spec) {
    spec.env.emplace("BASE_URL", base_url());
    if (spec.cwd.empty()) spec.cwd = dir_.path();
    return run_process(herd_binary(), spec);
  }

  /// Runs with --summary-export and returns the parsed export (null on failure).
  json run_export(const std::string& script, ProcResult* res, std::vector<std::string> args = {},
                  std::map<std::string, std::string> env = {}) {
    args.push_back("--summary-export");
    args.push_back("export.json");
    *res = run_script(script, args, std::move(env));
    if (!dir_.exists("export.json")) return json();
    try {
      return json::parse(dir_.read("export.json"));
    } catch (...) {
      return json();
    }
  }

  /// Checks of a summary export whose fails > 0, as "path/name (passes/fails)".
  static std::vector<std::string> failed_checks(const json& exp) {
    std::map<std::string, std::pair<long, long>> all;
    if (exp.is_object() && exp.contains("root_group")) collect_checks(exp["root_group"], &all);
    std::vector<std::string> out;
    for (auto& [k, v] : all)
      if (v.second > 0) out.push_back(k + " (" + std::to_string(v.first) + "/" + std::to_string(v.second) + ")");
    return out;
  }
  static long total_check_passes(const json& exp) {
    std::map<std::string, std::pair<long, long>> all;
    if (exp.is_object() && exp.contains("root_group")) collect_checks(exp["root_group"], &all);
    long n = 0;
    for (auto& [k, v] : all) n += v.first;
    return n;
  }
  static double metric_value(const json& exp, const std::string& metric, const std::string& field) {
    if (!exp.is_object() || !exp.contains("metrics") || !exp["metrics"].contains(metric)) return -1e300;
    const json& m = exp["metrics"][metric];
    if (!m.contains(field) || !m[field].is_number()) return -1e300;
    return m[field].get<double>();
  }

  std::unique_ptr<target::Server> server_;
  TempDir dir_;
};

/// Asserts that a run's checks all passed, with `expected_passes` passes in all (-1: any > 0).
#define EXPECT_ALL_CHECKS_PASS(exp, res, expected_passes)                               \
  do {                                                                                  \
    auto _failed = failed_checks(exp);                                                  \
    EXPECT_TRUE(_failed.empty()) << ::testing::PrintToString(_failed) << "\n" << (res); \
    long _passes = total_check_passes(exp);                                             \
    if ((expected_passes) >= 0)                                                         \
      EXPECT_EQ(_passes, (expected_passes)) << (res);                                   \
    else                                                                                \
      EXPECT_GT(_passes, 0) << (res);                                                   \
  } while (0)

/// `s` percent-encoded for a URL query value (RFC 3986 unreserved characters kept).
inline std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace herd::it
