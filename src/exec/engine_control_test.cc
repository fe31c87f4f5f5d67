// Engine::control() called from other threads while the engine runs (issue #12).
// These tests pass unsanitized whenever the calls' effects are right; the data
// races they provoke (status, vus, scenarios, setup data read while the engine
// writes them) are only reported by the ThreadSanitizer build (preset tsan).

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/runner.h"
#include "exec/script_source.h"

namespace herd::exec {
namespace {

class ScriptFile {
 public:
  explicit ScriptFile(const std::string& source) {
    char tmpl[] = "/tmp/herd-engine-control-XXXXXX.js";
    int fd = mkstemps(tmpl, 3);
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << source;
  }
  ~ScriptFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EngineConfig config(const ScriptFile& script) {
  EngineConfig cfg;
  cfg.bundle = make_bundle(script.path());
  cfg.cli.quiet = true;
  cfg.cli.no_summary = true;
  cfg.cli.workers = 2;
  return cfg;
}

double iterations(const RunResult& r) {
  auto id = r.snapshot.find("iterations");
  return id ? r.snapshot.aggregate(*id).sum : 0;
}

// Every control call, from three threads, over the whole life of a run: before
// the VU pool exists, during setup, while the scenario runs, during teardown.
TEST(EngineControl, CallableFromAnyThreadDuringTheRun) {
  ScriptFile script(R"(
import { sleep } from 'k6';
export const options = {
  thresholds: { iterations: ['count>0'] },
  scenarios: { ext: { executor: 'externally-controlled', vus: 1, maxVUs: 3, duration: '2s' } },
};
export function setup() { return { from: 'setup' }; }
export default function (data) { sleep(0.02); }
export function teardown(data) {}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  EXPECT_EQ(ctl.status().status, api::ExecutionStatus::kCreated);

  std::atomic<bool> done{false};
  std::atomic<bool> saw_running{false};
  std::atomic<std::int64_t> max_vus_seen{0};
  std::atomic<int> patches_ok{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // the control API's GETs
    while (!done) {
      api::StatusInfo st = ctl.status();
      if (st.status == api::ExecutionStatus::kRunning) saw_running = true;
      max_vus_seen = std::max(max_vus_seen.load(), st.vus_max);
      (void)ctl.snapshot();
      (void)ctl.metric_tainted("iterations");
      (void)ctl.get_setup_data();
    }
  });
  threads.emplace_back([&] {  // PATCH /v1/status: scale the externally-controlled scenario
    std::int64_t n = 1;
    while (!done) {
      api::StatusPatch p;
      p.vus = n;
      if (!ctl.patch_status(p)) patches_ok++;
      n = n % 3 + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  threads.emplace_back([&] {  // PUT /v1/setup while the engine reads the setup data
    int i = 0;
    while (!done) {
      ctl.set_setup_data(nlohmann::json{{"put", i++}});
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  RunResult r = engine.run();
  done = true;
  for (auto& t : threads) t.join();

  EXPECT_EQ(r.exit_code, kExitOk) << r.error;
  EXPECT_TRUE(saw_running.load());
  EXPECT_EQ(max_vus_seen.load(), 3);
  EXPECT_GT(patches_ok.load(), 0);
  EXPECT_GT(iterations(r), 0);
  EXPECT_EQ(ctl.status().status, api::ExecutionStatus::kEnded);
}

// vus set before an externally-controlled scenario starts (startTime) was
// accepted and then lost (the scenario had no executor yet): it now applies at the start.
TEST(EngineControl, VusSetBeforeTheScenarioStartsApply) {
  ScriptFile script(R"(
import { sleep } from 'k6';
export const options = {
  scenarios: { ext: { executor: 'externally-controlled', vus: 1, maxVUs: 3, duration: '1s', startTime: '1s' } },
};
export default function () { sleep(0.1); }
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::atomic<bool> done{false};
  std::optional<std::string> err = std::string("never patched");
  std::thread poker([&] {
    while (!done && ctl.status().status != api::ExecutionStatus::kRunning)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int i = 0; i < 200 && !done; i++) {  // until the scenarios exist (a moment after Running)
      api::StatusPatch p;
      p.vus = 3;
      err = ctl.patch_status(p);
      if (!err) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  RunResult r = engine.run();
  done = true;
  poker.join();
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(r.exit_code, kExitOk) << r.error;
  // 3 VUs sleeping 0.1 s for 1 s run ~30 iterations; 1 VU at most 10.
  EXPECT_GT(iterations(r), 15);
}

// POST /v1/setup runs while the API answers: a stop interrupts a busy
// setup() (409), and the engine ends with the API's code.
TEST(EngineControl, StopInterruptsASetupRunThroughTheApi) {
  ScriptFile script(R"(
export const options = { paused: true, iterations: 1, setupTimeout: '20s' };
export function setup() { for (;;) {} }
export default function () {}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::atomic<int> setup_status{0};
  std::atomic<bool> calling{false};
  std::thread caller([&] {
    while (ctl.status().status != api::ExecutionStatus::kPausedBeforeRun)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    calling = true;
    try {
      ctl.run_setup();
      setup_status = 200;
    } catch (const api::HandlerError& e) {
      setup_status = e.status();
    } catch (...) {
      setup_status = 500;
    }
  });
  std::thread stopper([&] {
    while (!calling) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    api::StatusPatch resume;
    resume.paused = false;
    auto err = ctl.patch_status(resume);
    EXPECT_TRUE(err && err->find("setup() is still running") != std::string::npos) << err.value_or("(accepted)");
    api::StatusPatch stop;
    stop.stopped = true;
    EXPECT_FALSE(ctl.patch_status(stop));
  });
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = engine.run();
  caller.join();
  stopper.join();
  EXPECT_EQ(setup_status.load(), 409);
  EXPECT_EQ(r.exit_code, kExitStoppedByApi) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "start at T" (issue #17): a resume with start-at-us starts the run at T on
// this process's clock, not at the PATCH; /v1/status reports the start instant.
TEST(EngineControl, ResumeWithStartAtStartsAtTheAgreedInstant) {
  ScriptFile script(R"(
export const options = { paused: true, iterations: 1 };
export default function () {}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::int64_t at = 0;
  std::thread starter([&] {
    while (ctl.status().status != api::ExecutionStatus::kPausedBeforeRun)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(ctl.status().started_at_us, 0);
    api::StatusPatch far;
    far.paused = false;
    far.start_at_us = unix_now_us() + 120'000'000;  // 2 min ahead: a clock problem, refused
    auto err = far.start_at_us ? ctl.patch_status(far) : std::nullopt;
    EXPECT_TRUE(err && err->find("ahead of this runner's clock") != std::string::npos) << err.value_or("(accepted)");
    api::StatusPatch resume;
    resume.paused = false;
    at = unix_now_us() + 400'000;
    resume.start_at_us = at;
    EXPECT_FALSE(ctl.patch_status(resume));
  });
  RunResult r = engine.run();
  starter.join();
  EXPECT_EQ(r.exit_code, 0) << r.error;
  const std::int64_t started = ctl.status().started_at_us;
  EXPECT_GE(started, at) << "started before the agreed instant";
  EXPECT_LT(started, at + 300'000) << "started long after the agreed instant";
}

// Resumes `ctl` with start-at-us = now + `ahead_us` once it is paused before the run; returns T.
std::int64_t resume_at(api::ControlHandler& ctl, std::int64_t ahead_us) {
  while (ctl.status().status != api::ExecutionStatus::kPausedBeforeRun)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  api::StatusPatch resume;
  resume.paused = false;
  resume.start_at_us = unix_now_us() + ahead_us;
  EXPECT_FALSE(ctl.patch_status(resume));
  return *resume.start_at_us;
}

double gauge_min(const RunResult& r, const std::string& name) {
  auto id = r.snapshot.find(name);
  return id ? r.snapshot.aggregate(*id).gmin : 0;
}

// A prepared start (setup data handed in, as the coordinator does): the VUs
// take their scenario and data before T and are released at T; started-at is
// that release, and the first iteration begins there, not earlier.
TEST(EngineControl, PreparedStartReleasesTheVusAtTheAgreedInstant) {
  ScriptFile script(R"(
import { Gauge, Counter } from 'k6/metrics';
const first = new Gauge('first_iteration_ms');
const handed = new Counter('handed_data_seen');
export const options = { paused: true, scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 1 } } };
export function setup() { return { from: 'this runner' }; }
export default function (data) {
  first.add(Date.now());
  if (data && data.from === 'the api') handed.add(1);
}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::int64_t at = 0;
  std::int64_t started_before_t = -1;
  std::thread starter([&] {
    while (ctl.status().status != api::ExecutionStatus::kPausedBeforeRun)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ctl.set_setup_data(nlohmann::json{{"from", "the api"}});
    at = resume_at(ctl, 500'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // prepared and waiting for T
    if (unix_now_us() < at - 50'000) started_before_t = ctl.status().started_at_us;
  });
  RunResult r = engine.run();
  starter.join();
  EXPECT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(started_before_t, 0) << "started before T (or T passed while the test slept)";
  const std::int64_t started = ctl.status().started_at_us;
  EXPECT_GE(started, at) << "released before the agreed instant";
  EXPECT_LT(started, at + 100'000) << "released long after the agreed instant (an idle runner)";
  const double first_ms = gauge_min(r, "first_iteration_ms");
  const std::int64_t started_ms = started / 1000;  // Date.now() counts whole milliseconds
  EXPECT_GE(first_ms, static_cast<double>(started_ms)) << "an iteration began before started-at";
  EXPECT_LT(first_ms, static_cast<double>(started_ms + 50)) << "started-at is not when the iterations begin";
  auto handed = r.snapshot.find("handed_data_seen");
  EXPECT_EQ(handed ? r.snapshot.aggregate(*handed).sum : 0, 3) << "the held VUs did not get the data handed in";
}

// A segment with no VU still starts at T (its start is the wake-up at T) and
// reports it, so that the coordinator can compute the skew over every runner.
TEST(EngineControl, PreparedStartWithoutVusInTheSegmentStartsAtT) {
  ScriptFile script(R"(
export const options = { paused: true, executionSegment: '0:1/4', vus: 1, iterations: 1 };
export default function () {}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::int64_t at = 0;
  std::thread starter([&] { at = resume_at(ctl, 300'000); });
  RunResult r = engine.run();
  starter.join();
  EXPECT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(iterations(r), 0);
  const std::int64_t started = ctl.status().started_at_us;
  EXPECT_GE(started, at) << "no started-at, or before the agreed instant";
  EXPECT_LT(started, at + 100'000);
  EXPECT_GE(unix_now_us(), at) << "the run ended before T";
}

// A stop while the prepared VUs wait for T ends the run at once: nothing starts.
TEST(EngineControl, StopBeforeTheAgreedInstantReleasesNothing) {
  ScriptFile script(R"(
export const options = { paused: true, vus: 2, duration: '10s' };
export function setup() { return {}; }
export default function () {}
)");
  Engine engine(config(script));
  api::ControlHandler& ctl = engine.control();
  std::int64_t at = 0;
  std::thread starter([&] {
    while (ctl.status().status != api::ExecutionStatus::kPausedBeforeRun)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ctl.set_setup_data(nlohmann::json::object());
    at = resume_at(ctl, 20'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    api::StatusPatch stop;
    stop.stopped = true;
    EXPECT_FALSE(ctl.patch_status(stop));
  });
  RunResult r = engine.run();
  starter.join();
  EXPECT_EQ(r.exit_code, kExitStoppedByApi) << r.error;
  EXPECT_EQ(iterations(r), 0);
  EXPECT_EQ(ctl.status().started_at_us, 0);
  EXPECT_LT(unix_now_us(), at - 10'000'000) << "the stop waited for T";
}

}  // namespace
}  // namespace herd::exec
