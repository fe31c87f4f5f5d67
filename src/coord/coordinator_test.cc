// Coordinator logic that needs no processes: helpers, merging, progress, exit
// codes, and the whole Coordinator against in-process fake runners (real
// api::ControlServer instances on 127.0.0.1 with scripted handlers).
#include "coord/coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "api/control_server.h"
#include "coord/control.h"
#include "coord/result.h"
#include "flags/run_flags.h"
#include "metrics/registry.h"
#include "util/clock.h"

namespace herd::coord {
namespace {

using namespace std::chrono_literals;
using metrics::MetricType;
using metrics::ValueType;

TEST(Listening, ParsesAddress) {
  EXPECT_EQ(parse_listening_line("control API listening on http://127.0.0.1:4312"), "127.0.0.1:4312");
  EXPECT_EQ(parse_listening_line("control API listening on http://[::1]:80\r"), "[::1]:80");
  EXPECT_FALSE(parse_listening_line("something else"));
  EXPECT_FALSE(parse_listening_line("control API listening on http://"));
}

TEST(RunnerList, Parses) {
  EXPECT_EQ(parse_runner_list("a:1, b:2"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(parse_runner_list("[::1]:6565"), (std::vector<std::string>{"[::1]:6565"}));
  EXPECT_THROW(parse_runner_list("a:1,,b:2"), std::invalid_argument);
  EXPECT_THROW(parse_runner_list("a"), std::invalid_argument);
  EXPECT_THROW(parse_runner_list("a:x"), std::invalid_argument);
}

TEST(RunnerName, NamesAddressAndPid) {
  EXPECT_EQ(runner_name(1, {"127.0.0.1:9", 42}), "runner 2 (127.0.0.1:9, pid 42)");
  EXPECT_EQ(runner_name(0, {"h:1", -1}), "runner 1 (h:1)");
}

/// A runner-like snapshot: iterations counter, http_reqs, http_req_failed, http_req_duration, vus gauge.
metrics::Snapshot make_snapshot(bool reversed_ids, double iterations, std::vector<double> durations, int failed,
                                double vus, std::int64_t t) {
  metrics::Registry reg;
  if (reversed_ids) reg.define("vus", MetricType::kGauge, ValueType::kDefault);
  auto it = reg.define("iterations", MetricType::kCounter, ValueType::kDefault);
  auto reqs = reg.define("http_reqs", MetricType::kCounter, ValueType::kDefault);
  auto fail = reg.define("http_req_failed", MetricType::kRate, ValueType::kDefault);
  auto dur = reg.define("http_req_duration", MetricType::kTrend, ValueType::kTime);
  auto g = reg.define("vus", MetricType::kGauge, ValueType::kDefault);
  metrics::Sink sink(reg);
  metrics::TagSet tags(std::vector<std::pair<std::string, std::string>>{{"status", "200"}});
  sink.add(it, metrics::TagSet(), iterations, t);
  for (std::size_t i = 0; i < durations.size(); ++i) {
    sink.add(reqs, tags, 1, t);
    sink.add(dur, tags, durations[i], t);
    sink.add(fail, tags, static_cast<int>(i) < failed ? 1 : 0, t);
  }
  sink.add(g, metrics::TagSet(), vus, t);
  auto s = sink.snapshot();
  s.time_us = t;
  return s;
}

TEST(Merge, CountersRatesHistogramsGauges) {
  std::vector<double> a, b, all;
  for (int i = 1; i <= 500; ++i) (i % 2 ? a : b).push_back(i), all.push_back(i);
  auto s1 = make_snapshot(false, 250, a, 10, 3, 1000);
  auto s2 = make_snapshot(true, 250, b, 30, 7, 2000);
  // Through the wire format, as the coordinator gets them.
  auto w1 = metrics::Snapshot::from_json(s1.to_json());
  auto w2 = metrics::Snapshot::from_json(s2.to_json());
  auto m = merge_snapshots({&w1, &w2});
  auto single = make_snapshot(false, 500, all, 0, 7, 2000);

  auto iters = m.aggregate(*m.find("iterations"));
  EXPECT_EQ(iters.sum, 500);
  auto fail = m.aggregate(*m.find("http_req_failed"));
  EXPECT_EQ(fail.total, 500u);
  EXPECT_EQ(fail.passes, 40u);
  auto d = m.aggregate(*m.find("http_req_duration"));
  auto ds = single.aggregate(*single.find("http_req_duration"));
  EXPECT_EQ(d.trend.count(), 500u);
  for (double p : {50.0, 90.0, 95.0, 99.0}) EXPECT_DOUBLE_EQ(d.trend.percentile(p), ds.trend.percentile(p)) << p;
  // vus counts the VUs of the whole test: the runners' gauges add up (3 + 7).
  auto g = m.aggregate(*m.find("vus"));
  EXPECT_EQ(g.last, 10);
  EXPECT_EQ(g.gmin, 10);
  EXPECT_EQ(g.gmax, 10);
}

TEST(Progress, RatesAndLine) {
  auto prev = make_snapshot(false, 100, {10, 20}, 0, 2, 1);
  std::vector<double> durs(100, 50.0);
  auto cur = make_snapshot(false, 300, durs, 5, 2, 2);
  auto r = progress_rates(prev, cur, 2.0);
  EXPECT_DOUBLE_EQ(r.iterations_per_s, 100);
  EXPECT_DOUBLE_EQ(r.requests_per_s, 49);
  EXPECT_DOUBLE_EQ(r.error_rate, 0.05);
  EXPECT_NEAR(r.p95_ms, 50, 1);
  EXPECT_TRUE(r.has_requests);
  ProgressInput in{65.4, 12, 3, 4};
  std::string line = format_progress(in, r);
  EXPECT_NE(line.find("01m05s"), std::string::npos) << line;
  EXPECT_NE(line.find("3/4 runners"), std::string::npos) << line;
  EXPECT_NE(line.find("12 VUs"), std::string::npos) << line;
  EXPECT_NE(line.find("100.0 it/s"), std::string::npos) << line;
  EXPECT_NE(line.find("errors 5.00%"), std::string::npos) << line;
  EXPECT_NE(line.find("p95 50"), std::string::npos) << line;
  auto none = progress_rates(metrics::Snapshot(), metrics::Snapshot(), 1.0);
  EXPECT_FALSE(none.has_requests);
  EXPECT_NE(format_progress(in, none).find("p95 -"), std::string::npos);
}

TEST(StatusChecks, GapGrowsWithTheRunnersAbove200) {
  using std::chrono::milliseconds;
  EXPECT_EQ(status_check_gap(1, false), milliseconds(200));
  EXPECT_EQ(status_check_gap(200, false), milliseconds(200));
  EXPECT_EQ(status_check_gap(64, true), milliseconds(100));
  EXPECT_EQ(status_check_gap(500, false), milliseconds(500));
  EXPECT_EQ(status_check_gap(1000, false), milliseconds(1000));
  EXPECT_EQ(status_check_gap(1000, true), milliseconds(1000));
}

TEST(ExitCode, Precedence) {
  EXPECT_EQ(decide_exit_code({}), 0);
  EXPECT_EQ(decide_exit_code({.thresholds_failed = true}), 99);
  EXPECT_EQ(decide_exit_code({.marked_failed = true}), 110);
  EXPECT_EQ(decide_exit_code({.thresholds_failed = true, .marked_failed = true}), 99);
  EXPECT_EQ(decide_exit_code({.runner_failure = 100, .marked_failed = true}), 100);
  EXPECT_EQ(decide_exit_code({.stop_code = 105, .thresholds_failed = true}), 105);
  EXPECT_EQ(decide_exit_code({.script_aborted = true, .stop_code = 99}), 108);
  EXPECT_EQ(decide_exit_code({.runner_failure = 107, .script_aborted = true}), 107);
  EXPECT_EQ(decide_exit_code({.runner_lost = true, .runner_failure = 107}), kExitRunnerLost);
  EXPECT_EQ(kExitRunnerLost, 97);
}

// ---------------------------------------------------------------------------
// Fake runners: the real ControlServer with a scripted handler. Their
// timeline (iterations, the end of the test, a hang) follows `clock`: the
// same util::ManualClock as the coordinator's in the tests that simulate
// time, else the real clock.

class FakeRunner : public api::ControlHandler {
 public:
  explicit FakeRunner(int iterations_per_tick, std::chrono::milliseconds run_for, int end_code = 0,
                      std::shared_ptr<util::Clock> clock = nullptr)
      : per_tick_(iterations_per_tick), run_for_(run_for), end_code_(end_code), clock_(std::move(clock)) {
    if (!clock_) clock_ = std::shared_ptr<util::Clock>(&util::Clock::real(), [](util::Clock*) {});
    it_ = reg_.define("iterations", MetricType::kCounter, ValueType::kDefault);
    dur_ = reg_.define("http_req_duration", MetricType::kTrend, ValueType::kTime);
    server_ = std::make_unique<api::ControlServer>("127.0.0.1:0", *this);
  }
  ~FakeRunner() override {
    {
      std::lock_guard<std::mutex> g(block_mu_);
      unblocked_ = true;
    }
    block_cv_.notify_all();
    server_.reset();
  }
  std::string address() const { return server_->address(); }
  void kill() { server_->stop(); }

  api::StatusInfo status() override {
    hang_if_due();
    std::lock_guard<std::mutex> g(mu_);
    advance();
    api::StatusInfo s;
    s.status = state_;
    s.paused = state_ == api::ExecutionStatus::kPausedBeforeRun;
    s.vus = state_ == api::ExecutionStatus::kRunning ? 2 : 0;
    if (state_ == api::ExecutionStatus::kEnded) s.exit_code = code_;
    s.abort_reason = abort_reason_;
    return s;
  }
  std::optional<std::string> patch_status(const api::StatusPatch& p) override {
    std::lock_guard<std::mutex> g(mu_);
    if (p.paused && !*p.paused) {
      if (state_ != api::ExecutionStatus::kPausedBeforeRun) return std::string("not paused");
      state_ = api::ExecutionStatus::kRunning;
      started_ = clock_->now();
    }
    if (p.stopped && *p.stopped) {
      if (state_ == api::ExecutionStatus::kEnded) {
        released_++;
      } else {
        stopped_++;
        if (!ignore_stop_) {
          state_ = api::ExecutionStatus::kEnded;
          code_ = 103;
        }
      }
    }
    return std::nullopt;
  }
  metrics::Snapshot snapshot() override {
    hang_if_due();
    std::lock_guard<std::mutex> g(mu_);
    advance();
    metrics::Sink sink(reg_);
    sink.add(it_, metrics::TagSet(), iterations_, 1);
    for (int i = 0; i < iterations_; ++i) sink.add(dur_, metrics::TagSet(), 10 + i % 10, 1);
    auto snap = sink.snapshot();
    if (health_) snap.generators.push_back(*health_);
    return snap;
  }
  nlohmann::json get_setup_data() override { return setup_; }
  nlohmann::json run_setup() override {
    if (setup_blocks_) {
      std::unique_lock<std::mutex> lk(block_mu_);
      block_cv_.wait(lk, [&] { return unblocked_; });  // until the test ends
    }
    setups_++;
    setup_ = {{"token", "abc"}};
    return setup_;
  }
  void set_setup_data(nlohmann::json d) override { setup_ = std::move(d); }
  void run_teardown() override { teardowns_++; }

  void abort_now(const std::string& why) {
    std::lock_guard<std::mutex> g(mu_);
    abort_reason_ = why;
    state_ = api::ExecutionStatus::kEnded;
    code_ = 108;
  }

  std::atomic<int> setups_{0}, teardowns_{0}, stopped_{0}, released_{0};
  std::atomic<bool> ignore_stop_{false};   ///< a stop is counted but the runner goes on
  std::atomic<bool> setup_blocks_{false};  ///< setup() never returns (until the runner is destroyed)
  /// Once running this long (on the clock), the runner hangs like a stopped
  /// process: no request gets an answer in time. Needs a ManualClock: each
  /// request moves it past the coordinator's request timeout (`hang_step_`)
  /// and is answered (too late) a little later. Set before run().
  std::optional<std::chrono::milliseconds> hang_after_;
  std::chrono::milliseconds hang_step_{0};
  std::atomic<int> hung_requests_{0};
  /// Once running this long (on a ManualClock in auto-advance), the runner
  /// stops simulated time (auto-advance off) at its next request, so that the
  /// test acts at that moment (kills a runner, requests a stop) and then turns
  /// auto-advance on again. Set before run().
  std::optional<std::chrono::milliseconds> pause_after_;
  nlohmann::json setup_;
  /// The generator health this runner reports in its snapshots (none: an older runner). Set before run().
  std::optional<metrics::GeneratorHealth> health_;

  /// Waits (really, at most 10 s) until pause_after_ has stopped the clock.
  bool wait_paused() {
    std::unique_lock<std::mutex> lk(mu_);
    return paused_cv_.wait_for(lk, 10s, [&] { return paused_; });
  }

 private:
  void hang_if_due() {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!hang_after_ || state_ != api::ExecutionStatus::kRunning || clock_->now() - started_ < *hang_after_) return;
    }
    hung_requests_++;
    static_cast<util::ManualClock&>(*clock_).advance(hang_step_);
    // The coordinator gives up on the request as soon as it sees the clock past its timeout.
    std::unique_lock<std::mutex> lk(block_mu_);
    block_cv_.wait_for(lk, 50ms, [&] { return unblocked_; });
  }
  void advance() {
    if (state_ != api::ExecutionStatus::kRunning) return;
    auto el = clock_->now() - started_;
    if (pause_after_ && !paused_ && el >= *pause_after_) {
      static_cast<util::ManualClock&>(*clock_).set_auto_advance(false);
      paused_ = true;
      paused_cv_.notify_all();
    }
    iterations_ = per_tick_ * static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(el).count() / 100);
    if (el >= run_for_) {
      iterations_ = per_tick_ * static_cast<int>(run_for_.count() / 100);
      state_ = api::ExecutionStatus::kEnded;
      code_ = end_code_;
    }
  }
  std::mutex mu_;
  metrics::Registry reg_;
  metrics::MetricId it_, dur_;
  int per_tick_;
  std::chrono::milliseconds run_for_;
  int end_code_;
  int code_ = 0;
  int iterations_ = 0;
  std::string abort_reason_;
  api::ExecutionStatus state_ = api::ExecutionStatus::kPausedBeforeRun;
  std::shared_ptr<util::Clock> clock_;
  util::Clock::time_point started_;
  std::mutex block_mu_;
  std::condition_variable block_cv_;
  bool unblocked_ = false;  ///< guarded by block_mu_: the runner is being destroyed
  bool paused_ = false;     ///< guarded by mu_: pause_after_ was reached
  std::condition_variable paused_cv_;
  std::unique_ptr<api::ControlServer> server_;
};

CoordinatorOptions fast_options() {
  CoordinatorOptions o;
  o.no_summary = true;
  o.quiet = true;
  o.poll_interval = 100ms;
  o.lost_after = 500ms;
  o.ready_timeout = 2s;
  o.request_timeout = 1s;
  o.stop_timeout = 3s;
  return o;
}

/// The coordinator's own defaults (poll every 1 s, lost after 5 s without an
/// answer, ready within 60 s, request timeout 3 s) on a manual clock that
/// jumps whenever the coordinator waits: whole tests pass in simulated time.
CoordinatorOptions simulated_options(const std::shared_ptr<util::ManualClock>& clock) {
  CoordinatorOptions o;
  o.no_summary = true;
  o.quiet = true;
  clock->set_auto_advance(true);
  o.clock = clock;
  return o;
}

TEST(CoordinatorFake, MergesSetupOnceTeardownOnceAndReleases) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 4s, 0, clock), b(3, 6s, 0, clock);
  Coordinator c({{a.address()}, {b.address()}}, simulated_options(clock));
  const auto t0 = clock->now();
  const auto real0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.run(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 5s) << "a 6 s test in simulated time";
  EXPECT_GE(clock->now() - t0, 6s);
  EXPECT_EQ(a.setups_, 1);
  EXPECT_EQ(b.setups_, 0);
  EXPECT_EQ(b.setup_, (nlohmann::json{{"token", "abc"}})) << "setup data handed to runner 2";
  EXPECT_EQ(a.teardowns_ + b.teardowns_, 1);
  EXPECT_EQ(a.released_, 1);
  EXPECT_EQ(b.released_, 1);
  EXPECT_EQ(a.stopped_ + b.stopped_, 0);
  auto& m = c.report().merged;
  EXPECT_EQ(m.aggregate(*m.find("iterations")).sum, 5 * 40 + 3 * 60);
  EXPECT_GE(c.report().start_skew_ms, 0);
  EXPECT_LT(c.report().start_skew_ms, 50);
  EXPECT_FALSE(c.report().partial);
}

// Issue #12: a runner that hangs (accepts requests, answers none, like a
// stopped process) is lost after lost_after (5 s) without an answer; the
// other is stopped; exit 97. In simulated time: no real 5 s wait.
TEST(CoordinatorFake, HungRunnerIsLostAfterLostAfterInSimulatedTime) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 60s, 0, clock), b(5, 60s, 0, clock);
  auto o = simulated_options(clock);
  b.hang_after_ = 2s;
  b.hang_step_ = o.request_timeout + 600ms;  // past the request's deadline (timeout + 500 ms)
  Coordinator c({{a.address()}, {b.address()}}, o);
  const auto t0 = clock->now();
  const auto real0 = std::chrono::steady_clock::now();
  testing::internal::CaptureStderr();
  int rc = c.run();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 5s) << err;
  EXPECT_EQ(rc, kExitRunnerLost) << err;
  ASSERT_EQ(c.report().lost.size(), 1u) << err;
  EXPECT_EQ(c.report().lost[0], "runner 2 (" + b.address() + ")");
  EXPECT_NE(err.find("was lost: no answer for 5 s"), std::string::npos) << err;
  EXPECT_GE(b.hung_requests_, 2) << "lost only after more than lost_after without an answer";
  EXPECT_GE(clock->now() - t0, 2s + o.lost_after);
  EXPECT_LT(clock->now() - t0, 30s) << "lost soon after lost_after, the test did not run to its end";
  EXPECT_EQ(a.stopped_, 1) << "the other runner is stopped";
  EXPECT_TRUE(c.report().partial);
  EXPECT_GE(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 2 * 5 * 20) << "data kept";
}

TEST(CoordinatorFake, MergedThresholdAbortStopsAll) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 50s, 0, clock), b(5, 50s, 0, clock);
  auto o = simulated_options(clock);
  o.thresholds = metrics::parse_thresholds(
      nlohmann::json::parse(R"({"iterations":[{"threshold":"count<15","abortOnFail":true}]})"));
  Coordinator c({{a.address()}, {b.address()}}, o);
  const auto t0 = clock->now();
  EXPECT_EQ(c.run(), 99);
  EXPECT_LT(clock->now() - t0, 5s) << "stopped at the first evaluations (every poll_interval, 1 s)";
  EXPECT_EQ(a.stopped_, 1);
  EXPECT_EQ(b.stopped_, 1);
  EXPECT_EQ(c.report().summary_data["metrics"]["iterations"]["thresholds"]["count<15"]["ok"], false);
}

TEST(CoordinatorFake, ScriptAbortOnOneRunnerStopsAll) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 50s, 0, clock), b(5, 50s, 0, clock);
  a.pause_after_ = 3s;
  Coordinator c({{a.address()}, {b.address()}}, simulated_options(clock));
  const auto t0 = clock->now();
  std::thread t([&] {
    if (a.wait_paused()) a.abort_now("test aborted: boom");
    clock->set_auto_advance(true);
  });
  EXPECT_EQ(c.run(), 108);
  t.join();
  EXPECT_EQ(b.stopped_, 1);
  EXPECT_EQ(c.report().abort_reason, "test aborted: boom");
  EXPECT_LT(clock->now() - t0, 10s) << "b is stopped at once, not at its end";
}

TEST(CoordinatorFake, LostRunnerIsNamedPartialAnd97) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 50s, 0, clock), b(5, 50s, 0, clock);
  a.pause_after_ = 4s;
  Coordinator c({{a.address()}, {b.address()}}, simulated_options(clock));
  const auto t0 = clock->now();
  std::thread t([&] {
    if (a.wait_paused()) b.kill();
    clock->set_auto_advance(true);
  });
  testing::internal::CaptureStderr();
  int rc = c.run();
  std::string err = testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(rc, kExitRunnerLost);
  ASSERT_EQ(c.report().lost.size(), 1u);
  EXPECT_EQ(c.report().lost[0], "runner 2 (" + b.address() + ")");
  EXPECT_TRUE(c.report().partial);
  EXPECT_EQ(c.report().summary_data["state"].value("partial", false), true);
  EXPECT_GT(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 5 * 40 + 5 * 30)
      << "both runners' data kept";
  EXPECT_EQ(a.stopped_, 1) << "the other runner is stopped";
  EXPECT_NE(err.find("runner 2"), std::string::npos) << err;
  EXPECT_NE(err.find("no answer for 5 s"), std::string::npos) << err;
  EXPECT_NE(err.find("PARTIAL RESULTS"), std::string::npos) << err;
  EXPECT_GE(clock->now() - t0, 4s + 5s) << "lost after lost_after (5 s) without an answer";
  EXPECT_LT(clock->now() - t0, 20s);
}

TEST(CoordinatorFake, KeepGoingLetsTheOthersFinish) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 8s, 0, clock), b(5, 50s, 0, clock);
  a.pause_after_ = 3s;
  auto o = simulated_options(clock);
  o.keep_going = true;
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    if (a.wait_paused()) b.kill();
    clock->set_auto_advance(true);
  });
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(a.stopped_, 0);
  EXPECT_EQ(a.teardowns_, 1);
  EXPECT_GE(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 5 * 80 + 5 * 20);
}

TEST(CoordinatorFake, RunnerThatNeverComesIsNamed) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 300ms, 0, clock);
  std::string dead;
  {
    FakeRunner gone(1, 1s);
    dead = gone.address();
  }
  auto o = simulated_options(clock);  // ready_timeout: the default 60 s
  Coordinator c({{a.address()}, {dead}}, o);
  const auto t0 = clock->now();
  const auto real0 = std::chrono::steady_clock::now();
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 10s) << err;
  EXPECT_GE(clock->now() - t0, 60s) << "ready_timeout on the clock";
  EXPECT_NE(err.find("never became ready (paused before the start) within 60 s"), std::string::npos) << err;
  EXPECT_NE(err.find("runner 2 (" + dead + ")"), std::string::npos) << err;
  EXPECT_EQ(a.released_ + a.stopped_, 2) << "the ready runner is stopped and released";
}

TEST(CoordinatorFake, PublishesStatusMergedMetricsAndTheResult) {
  FakeRunner a(5, 600ms), b(3, 600ms);
  auto o = fast_options();
  auto state = std::make_shared<ControlState>();
  o.control = state;
  o.thresholds = metrics::parse_thresholds(nlohmann::json::parse(R"({"iterations":["count>1"]})"));
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::atomic<bool> saw_running{false}, saw_vus{false}, saw_metrics{false};
  std::atomic<bool> done{false};
  std::thread watch([&] {
    while (!done) {
      api::StatusInfo st = state->status();
      if (st.status == api::ExecutionStatus::kRunning) {
        saw_running = true;
        if (st.vus == 4 && !st.paused) saw_vus = true;
        if (state->snapshot().find("iterations")) saw_metrics = true;
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  int rc = c.run();
  done = true;
  watch.join();
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(saw_running);
  EXPECT_TRUE(saw_vus) << "vus is the sum of the runners'";
  EXPECT_TRUE(saw_metrics) << "the merged snapshot is published while running";
  api::StatusInfo st = state->status();
  EXPECT_EQ(st.status, api::ExecutionStatus::kEnded);
  EXPECT_EQ(st.exit_code, 0);
  ASSERT_TRUE(state->result());
  const nlohmann::json r = *state->result();
  EXPECT_EQ(r, c.report().result);
  EXPECT_EQ(r["result"], "passed");
  EXPECT_EQ(r["metrics"]["iterations"], 5 * 6 + 3 * 6);
  EXPECT_EQ(r["thresholds"], nlohmann::json::parse(R"([{"metric":"iterations","expression":"count>1","ok":true}])"));
  EXPECT_EQ(r["message"], "");
  EXPECT_EQ(r["partial"], false);
  EXPECT_TRUE(r["data"].contains("metrics"));
  EXPECT_NE(r["text"].get<std::string>().find("iterations"), std::string::npos);
  EXPECT_EQ(r["text"].get<std::string>().find('\x1b'), std::string::npos) << "no colours";
  EXPECT_EQ(state->metric_tainted("iterations"), false);
  EXPECT_EQ(state->setup_data(), (nlohmann::json{{"token", "abc"}}));
  // How the runners were released: GET /v1/start, the result and the summary's COORDINATOR line.
  ASSERT_TRUE(state->start());
  EXPECT_EQ((*state->start())["runners"], 2);
  EXPECT_GE((*state->start())["skewMs"].get<double>(), 0.0);
  EXPECT_EQ(r["start"], *state->start());
  EXPECT_NE(r["text"].get<std::string>().find("    COORDINATOR\n    " + start_note(r["start"]) + "\n"),
            std::string::npos)
      << r["text"];
}

TEST(CoordinatorFake, StopThroughTheControlApiIs105Aborted) {
  FakeRunner a(5, 5s), b(5, 5s);
  auto o = fast_options();
  auto state = std::make_shared<ControlState>();
  o.control = state;
  Coordinator c({{a.address()}, {b.address()}}, o);
  state->on_stop([&c] { c.request_stop(105, "stopped through the control API"); });
  CoordinatorControl api(*state);
  std::thread t([&] {
    while (state->status().status != api::ExecutionStatus::kRunning) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);
    api::StatusPatch stop;
    stop.stopped = true;
    EXPECT_EQ(api.patch_status(stop), std::nullopt);
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.run(), 105);
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(a.stopped_, 1);
  EXPECT_EQ(b.stopped_, 1);
  EXPECT_EQ(a.teardowns_ + b.teardowns_, 1) << "teardown still runs";
  const nlohmann::json& r = c.report().result;
  EXPECT_EQ(r["result"], "aborted");
  EXPECT_EQ(r["exitCode"], 105);
  EXPECT_EQ(r["message"], "stopped through the control API");
  EXPECT_GT(r["metrics"]["iterations"].get<int>(), 0);
}

TEST(CoordinatorFake, NeverReadyResultNamesTheRunner) {
  std::string dead;
  {
    FakeRunner gone(1, 1s);
    dead = gone.address();
  }
  auto clock = std::make_shared<util::ManualClock>();
  Coordinator c({{dead}}, simulated_options(clock));
  const auto t0 = clock->now();
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  testing::internal::GetCapturedStderr();
  EXPECT_GE(clock->now() - t0, 60s) << "the default ready_timeout, on the clock";
  const nlohmann::json& r = c.report().result;
  EXPECT_EQ(r["result"], "error");
  EXPECT_EQ(r["exitCode"], kExitRunnerLost);
  EXPECT_NE(r["message"].get<std::string>().find("runner 1 (" + dead + ")"), std::string::npos) << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("never became ready"), std::string::npos) << r.dump();
  EXPECT_TRUE(r["data"].is_null());
}

// Issue #12: a stop by a signal (105) is the user's. A runner that does not
// end within user_stop_timeout is abandoned (its last results kept, the hook
// called so local mode ends its process), not lost: the exit stays 105.
// (It used to wait stop_timeout, declare it lost and exit 97.)
TEST(CoordinatorFake, SignalStopWithARunnerThatDoesNotEndIs105NotLost) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 100s, 0, clock), b(5, 100s, 0, clock);
  b.ignore_stop_ = true;
  a.pause_after_ = 3s;
  auto o = simulated_options(clock);  // user_stop_timeout 5 s, stop_timeout 45 s
  std::vector<std::size_t> abandoned;
  o.abandon = [&](std::size_t i) { abandoned.push_back(i); };
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    if (a.wait_paused()) c.request_stop(105, "stopped by a signal");
    clock->set_auto_advance(true);
  });
  testing::internal::CaptureStderr();
  const auto t0 = clock->now();
  int rc = c.run();
  const auto took = clock->now() - t0;
  std::string err = testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(rc, 105) << err;
  EXPECT_TRUE(c.report().lost.empty()) << err;
  EXPECT_GE(took, 3s + o.user_stop_timeout) << err;
  EXPECT_LT(took, 3s + o.user_stop_timeout + 3s) << "abandoned after user_stop_timeout, not stop_timeout\n" << err;
  EXPECT_NE(err.find("runner 2"), std::string::npos) << err;
  EXPECT_NE(std::find(abandoned.begin(), abandoned.end(), 1u), abandoned.end()) << "runner 2 is ended locally";
  EXPECT_GT(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 5) << "results kept";
}

// A stop requested while setup() runs on runner 1 does not wait for setup():
// the request is abandoned at once, runner 1 (whose API answers during
// setup()) is stopped through it like the others, and the test ends with 105.
TEST(CoordinatorFake, StopDuringSetupDoesNotWaitForSetup) {
  FakeRunner a(5, 10s), b(5, 10s);
  a.setup_blocks_ = true;
  auto o = fast_options();
  o.setup_timeout = 10s;
  o.user_stop_timeout = 300ms;
  std::vector<std::size_t> abandoned;
  o.abandon = [&](std::size_t i) { abandoned.push_back(i); };
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    std::this_thread::sleep_for(400ms);
    c.request_stop(105, "stopped by a signal");
  });
  testing::internal::CaptureStderr();
  auto t0 = std::chrono::steady_clock::now();
  int rc = c.run();
  auto took = std::chrono::steady_clock::now() - t0;
  std::string err = testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(rc, 105) << err;
  EXPECT_LT(took, 2500ms) << err;
  EXPECT_GE(a.stopped_, 1) << "runner 1 was not stopped\n" << err;
  EXPECT_EQ(std::find(abandoned.begin(), abandoned.end(), 0u), abandoned.end()) << "it took the stop\n" << err;
}

// A lost runner is handed to the abandon hook at once (local mode kills a hung
// process instead of waiting for it at the end).
TEST(CoordinatorFake, LostRunnerIsAbandonedAtOnce) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 50s, 0, clock), b(5, 50s, 0, clock);
  a.pause_after_ = 3s;
  auto o = simulated_options(clock);
  std::atomic<bool> abandoned{false};
  std::chrono::steady_clock::time_point abandoned_at;
  o.abandon = [&](std::size_t i) {
    if (i == 1 && !abandoned.exchange(true)) abandoned_at = std::chrono::steady_clock::now();
  };
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    if (a.wait_paused()) b.kill();
    clock->set_auto_advance(true);
  });
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  auto ended = std::chrono::steady_clock::now();
  testing::internal::GetCapturedStderr();
  t.join();
  ASSERT_TRUE(abandoned.load());
  EXPECT_GT(ended - abandoned_at, 0ms);
}

// Issue #15: each runner's generator health arrives with its snapshot, named
// by the coordinator; a saturated one is named in the summary's GENERATOR
// HEALTH block. A runner without health (an older one) is fine.
TEST(CoordinatorFake, SaturatedRunnerIsNamedInTheSummary) {
  auto clock = std::make_shared<util::ManualClock>();
  FakeRunner a(5, 3s, 0, clock), b(3, 3s, 0, clock), old(1, 3s, 0, clock);
  metrics::GeneratorHealth calm;
  calm.segment = "0:1/3";
  calm.seconds = 3;
  calm.cpu_avg = 0.2;
  metrics::GeneratorHealth busy = calm;
  busy.segment = "1/3:2/3";
  busy.unhealthy_s = 3;
  busy.lag_saturated_s = 3;
  busy.lag_p99_ms = 300;
  a.health_ = calm;
  b.health_ = busy;
  auto opts = simulated_options(clock);
  auto control = std::make_shared<ControlState>();
  opts.control = control;
  int ended_code = -1;
  std::size_t ended_runners = 0;
  opts.on_end = [&](const CoordinatorReport& r, std::size_t n) {  // the HTML report's hook
    ended_code = r.exit_code;
    ended_runners = n;
  };
  Coordinator c({{a.address()}, {b.address()}, {old.address()}}, opts);
  EXPECT_EQ(c.run(), 0);
  EXPECT_EQ(ended_code, 0);
  EXPECT_EQ(ended_runners, 3u);
  const auto& g = c.report().merged.generators;
  ASSERT_EQ(g.size(), 2u);
  EXPECT_TRUE(g[0].requests.has_value()) << "each runner's own request count, for its rate";
  EXPECT_EQ(g[0].name, "runner 1 (segment 0:1/3)");
  EXPECT_EQ(g[1].name, "runner 2 (segment 1/3:2/3)");
  EXPECT_DOUBLE_EQ(g[1].lag_p99_ms, 300);
  EXPECT_EQ(control->generators(), g);
  std::string text = c.report().result.value("text", "");
  EXPECT_NE(text.find("    GENERATOR HEALTH\n    runner 2 (segment 1/3:2/3): saturated for 3 of 3 s"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("runner 1 (segment"), std::string::npos) << text;
  EXPECT_EQ(generator_name(2, ""), "runner 3");
}

}  // namespace
}  // namespace herd::coord
