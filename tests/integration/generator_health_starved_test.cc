// Generator health (issue #15) with a runner starved from outside: in a
// `herd run --parallelism 2` run, runner 2's process is stopped (SIGSTOP) for
// 300 ms of every second by the test and resumed (SIGCONT). Its own work is
// light (its VU sleeps), so only the starvation can make it late: every
// worker's 100 ms probe timer then fires >= 200 ms late (the lag is measured on
// the monotonic clock, which runs on while the process is stopped), so every
// sampled second is lagging and the summary's GENERATOR HEALTH block names that
// runner, and only it. The control run, found and watched the same way but
// never stopped, shows no warning. docs/generator-health.md.
//
// Why not a CPU-pinned runner next to a busy process: on a shared 2-CPU machine
// the kernel's fair scheduler gives the pinned runner's short wake-ups the CPU
// within a few ms (neither CPU use nor lag moves), and a loaded machine makes an
// unpinned runner wait for a CPU as much as a pinned one: no deterministic signal.
#include <dirent.h>
#include <sys/syscall.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "harness.h"

namespace herd::it {
namespace {

// Two VUs, one per runner (VU 1 on segment 0:1/2, VU 2 on 1/2:1); both sleep.
constexpr const char* kScript = R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '5s' };
export default function () {
  http.get(`${__ENV.BASE_URL}/`);
  sleep(0.3);
}
)JS";

/// The pid of the `herd run` runner process working in `cwd` on execution
/// segment `segment` (the coordinator starts its runners in its own directory,
/// with `--execution-segment SEGMENT`), or -1.
pid_t find_runner(const std::string& cwd, const std::string& segment) {
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (!proc) return -1;
  std::error_code ec;
  const auto want_cwd = std::filesystem::canonical(cwd, ec);
  while (dirent* e = readdir(proc.get())) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string base = std::string("/proc/") + e->d_name;
    if (std::filesystem::read_symlink(base + "/cwd", ec) != want_cwd || ec) continue;
    std::ifstream f(base + "/cmdline", std::ios::binary);
    std::vector<std::string> argv;
    for (std::string a; std::getline(f, a, '\0');) argv.push_back(a);
    for (std::size_t i = 0; i + 1 < argv.size(); i++)
      if (argv[i] == "--execution-segment" && argv[i + 1] == segment) return static_cast<pid_t>(std::atoi(e->d_name));
  }
  return -1;
}

// Through syscall(): glibc 2.36's <sys/pidfd.h> declares its wrappers without extern "C".
int open_pidfd(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}
bool send_signal(int pidfd, int sig) {
  return syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

/// Stops `pid` for `stopped` of every `period` (SIGSTOP, then SIGCONT) from a
/// thread of its own, through a pidfd (a reused pid is never signalled), until
/// destroyed or the process is gone; always leaves it running.
class Starver {
 public:
  Starver(pid_t pid, std::chrono::milliseconds stopped, std::chrono::milliseconds period) : fd_(open_pidfd(pid)) {
    if (fd_ < 0) return;
    thread_ = std::thread([this, stopped, period] {
      std::unique_lock<std::mutex> lk(mu_);
      while (!done_) {
        if (!send_signal(fd_, SIGSTOP)) return;  // ended
        cycles_++;
        cv_.wait_for(lk, stopped, [this] { return done_; });
        if (!send_signal(fd_, SIGCONT)) return;
        cv_.wait_for(lk, period - stopped, [this] { return done_; });
      }
    });
  }
  ~Starver() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) {
      send_signal(fd_, SIGCONT);
      close(fd_);
    }
  }
  Starver(const Starver&) = delete;
  Starver& operator=(const Starver&) = delete;

  bool opened() const { return fd_ >= 0; }
  int cycles() {
    std::lock_guard<std::mutex> g(mu_);
    return cycles_;
  }

 private:
  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  int cycles_ = 0;
  std::thread thread_;
};

class GeneratorHealthStarvedTest : public HerdTest {
 protected:
  /// Runs kScript with --parallelism 2; finds runner 2 (segment 1/2:1) while
  /// it runs and, when `starve`, stops it 300 ms of every second until the run
  /// ends. `cycles`: how many times it was stopped.
  ProcResult run(bool starve, int* cycles) {
    dir_.write("script.js", kScript);
    RunSpec spec;
    spec.args = {"run", "--parallelism", "2", "script.js"};
    spec.env = {{"BASE_URL", base_url()}};
    spec.cwd = dir_.path();
    spec.timeout = 90s;
    std::atomic<bool> ended{false};
    BackgroundRun bg([spec, &ended] {
      ProcResult r = run_process(herd_binary(), spec);
      ended = true;
      return r;
    });
    pid_t runner = -1;
    for (auto until = std::chrono::steady_clock::now() + 30s;
         runner < 0 && !ended && std::chrono::steady_clock::now() < until;)
      if ((runner = find_runner(dir_.path(), "1/2:1")) < 0) std::this_thread::sleep_for(20ms);
    EXPECT_GT(runner, 0) << "runner 2 (--execution-segment 1/2:1) was not found";
    std::optional<Starver> starver;
    if (starve && runner > 0) {
      starver.emplace(runner, 300ms, 1000ms);
      EXPECT_TRUE(starver->opened()) << "pidfd_open(" << runner << "): " << std::strerror(errno);
    }
    ProcResult r = bg.wait();
    *cycles = starver ? starver->cycles() : 0;
    return r;
  }
};

// A machine loaded far past its CPUs (load average ~20 on 2 CPUs, as a
// parallel ctest next to builds) can make the runner that is left alone late
// by >= 50 ms in 2 seconds too, and so warned about: that is the machine, not
// the runner. Such a run is done again, at most kAttempts times in all; the
// stopped runner must be named in every one of them.
constexpr int kAttempts = 3;

TEST_F(GeneratorHealthStarvedTest, StoppedRunnerIsNamedInTheSummary) {
  for (int attempt = 1; attempt <= kAttempts; attempt++) {
    int cycles = 0;
    ProcResult r = run(true, &cycles);
    ASSERT_EQ(r.exit_code, 0) << r;
    // The test must really have starved it: one stop per second of the 5 s test at least.
    ASSERT_GE(cycles, 4) << r;
    auto at = r.out.find("    GENERATOR HEALTH\n    runner 2 (segment 1/2:1): saturated for ");
    ASSERT_NE(at, std::string::npos) << "cycles=" << cycles << "\n" << r;
    EXPECT_NE(r.out.find("event-loop lag >= 50 ms for "), std::string::npos) << r;
    EXPECT_NE(r.err.find("generator health: runner 2 (segment 1/2:1): saturated"), std::string::npos) << r;
    std::cerr << r.out.substr(at, r.out.find('\n', at + 25) - at) << "\n";
    bool runner1_named = r.out.find("runner 1 (segment 0:1/2): saturated") != std::string::npos ||
                         r.err.find("generator health: runner 1") != std::string::npos;
    if (!runner1_named) return;
    if (attempt == kAttempts)
      ADD_FAILURE() << "runner 1, never stopped, was named in all " << kAttempts << " runs\n" << r;
    std::cerr << "runner 1, never stopped, was named too (machine load?): run " << attempt << " of " << kAttempts
              << "\n";
  }
}

TEST_F(GeneratorHealthStarvedTest, RunnerLeftAloneShowsNoWarning) {
  for (int attempt = 1; attempt <= kAttempts; attempt++) {
    int cycles = 0;
    ProcResult r = run(false, &cycles);
    ASSERT_EQ(r.exit_code, 0) << r;
    ASSERT_NE(r.out.find("iterations"), std::string::npos) << r;
    bool warned =
        r.out.find("GENERATOR HEALTH") != std::string::npos || r.err.find("generator health") != std::string::npos;
    if (!warned) return;
    if (attempt == kAttempts) ADD_FAILURE() << "a warning in all " << kAttempts << " runs\n" << r;
    std::cerr << "a warning though no runner was stopped (machine load?): run " << attempt << " of " << kAttempts
              << "\n";
  }
}

}  // namespace
}  // namespace herd::it
