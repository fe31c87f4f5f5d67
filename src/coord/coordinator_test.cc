// Coordinator logic that needs no processes: helpers, merging, progress, exit
// codes, and the whole Coordinator against in-process fake runners (real
// api::ControlServer instances on 127.0.0.1 with scripted handlers).
#include "coord/coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "api/control_server.h"
#include "coord/control.h"
#include "flags/run_flags.h"
#include "metrics/registry.h"

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
// Fake runners: the real ControlServer with a scripted handler.

class FakeRunner : public api::ControlHandler {
 public:
  explicit FakeRunner(int iterations_per_tick, std::chrono::milliseconds run_for, int end_code = 0)
      : per_tick_(iterations_per_tick), run_for_(run_for), end_code_(end_code) {
    it_ = reg_.define("iterations", MetricType::kCounter, ValueType::kDefault);
    dur_ = reg_.define("http_req_duration", MetricType::kTrend, ValueType::kTime);
    server_ = std::make_unique<api::ControlServer>("127.0.0.1:0", *this);
  }
  ~FakeRunner() override { server_.reset(); }
  std::string address() const { return server_->address(); }
  void kill() { server_->stop(); }

  api::StatusInfo status() override {
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
      started_ = std::chrono::steady_clock::now();
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
    std::lock_guard<std::mutex> g(mu_);
    advance();
    metrics::Sink sink(reg_);
    sink.add(it_, metrics::TagSet(), iterations_, 1);
    for (int i = 0; i < iterations_; ++i) sink.add(dur_, metrics::TagSet(), 10 + i % 10, 1);
    return sink.snapshot();
  }
  nlohmann::json get_setup_data() override { return setup_; }
  nlohmann::json run_setup() override {
    if (setup_takes_.count() > 0) std::this_thread::sleep_for(setup_takes_);
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
  std::atomic<bool> ignore_stop_{false};      ///< a stop is counted but the runner goes on
  std::chrono::milliseconds setup_takes_{0};  ///< set before run()
  nlohmann::json setup_;

 private:
  void advance() {
    if (state_ != api::ExecutionStatus::kRunning) return;
    auto el = std::chrono::steady_clock::now() - started_;
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
  std::chrono::steady_clock::time_point started_;
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

TEST(CoordinatorFake, MergesSetupOnceTeardownOnceAndReleases) {
  FakeRunner a(5, 400ms), b(3, 600ms);
  Coordinator c({{a.address()}, {b.address()}}, fast_options());
  EXPECT_EQ(c.run(), 0);
  EXPECT_EQ(a.setups_, 1);
  EXPECT_EQ(b.setups_, 0);
  EXPECT_EQ(b.setup_, (nlohmann::json{{"token", "abc"}})) << "setup data handed to runner 2";
  EXPECT_EQ(a.teardowns_ + b.teardowns_, 1);
  EXPECT_EQ(a.released_, 1);
  EXPECT_EQ(b.released_, 1);
  EXPECT_EQ(a.stopped_ + b.stopped_, 0);
  auto& m = c.report().merged;
  EXPECT_EQ(m.aggregate(*m.find("iterations")).sum, 5 * 4 + 3 * 6);
  EXPECT_GE(c.report().start_skew_ms, 0);
  EXPECT_LT(c.report().start_skew_ms, 50);
  EXPECT_FALSE(c.report().partial);
}

TEST(CoordinatorFake, MergedThresholdAbortStopsAll) {
  FakeRunner a(5, 5s), b(5, 5s);
  auto o = fast_options();
  o.thresholds = metrics::parse_thresholds(
      nlohmann::json::parse(R"({"iterations":[{"threshold":"count<15","abortOnFail":true}]})"));
  Coordinator c({{a.address()}, {b.address()}}, o);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.run(), 99);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(a.stopped_, 1);
  EXPECT_EQ(b.stopped_, 1);
  EXPECT_EQ(c.report().summary_data["metrics"]["iterations"]["thresholds"]["count<15"]["ok"], false);
}

TEST(CoordinatorFake, ScriptAbortOnOneRunnerStopsAll) {
  FakeRunner a(5, 5s), b(5, 5s);
  Coordinator c({{a.address()}, {b.address()}}, fast_options());
  std::thread t([&] {
    std::this_thread::sleep_for(300ms);
    a.abort_now("test aborted: boom");
  });
  EXPECT_EQ(c.run(), 108);
  t.join();
  EXPECT_EQ(b.stopped_, 1);
  EXPECT_EQ(c.report().abort_reason, "test aborted: boom");
}

TEST(CoordinatorFake, LostRunnerIsNamedPartialAnd97) {
  FakeRunner a(5, 5s), b(5, 5s);
  Coordinator c({{a.address()}, {b.address()}}, fast_options());
  std::thread t([&] {
    std::this_thread::sleep_for(400ms);
    b.kill();
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
  EXPECT_GT(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 15) << "both runners' data kept";
  EXPECT_EQ(a.stopped_, 1) << "the other runner is stopped";
  EXPECT_NE(err.find("runner 2"), std::string::npos) << err;
  EXPECT_NE(err.find("PARTIAL RESULTS"), std::string::npos) << err;
}

TEST(CoordinatorFake, KeepGoingLetsTheOthersFinish) {
  FakeRunner a(5, 800ms), b(5, 5s);
  auto o = fast_options();
  o.keep_going = true;
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    std::this_thread::sleep_for(300ms);
    b.kill();
  });
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(a.stopped_, 0);
  EXPECT_EQ(a.teardowns_, 1);
  EXPECT_EQ(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum >= 40, true);
}

TEST(CoordinatorFake, RunnerThatNeverComesIsNamed) {
  FakeRunner a(5, 300ms);
  std::string dead;
  {
    FakeRunner gone(1, 1s);
    dead = gone.address();
  }
  auto o = fast_options();
  o.ready_timeout = 700ms;
  Coordinator c({{a.address()}, {dead}}, o);
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("never became ready"), std::string::npos) << err;
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
  auto o = fast_options();
  o.ready_timeout = 500ms;
  Coordinator c({{dead}}, o);
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  testing::internal::GetCapturedStderr();
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
  FakeRunner a(5, 10s), b(5, 10s);
  b.ignore_stop_ = true;
  auto o = fast_options();
  o.stop_timeout = 10s;
  o.user_stop_timeout = 300ms;
  std::vector<std::size_t> abandoned;
  o.abandon = [&](std::size_t i) { abandoned.push_back(i); };
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    std::this_thread::sleep_for(300ms);
    c.request_stop(105, "stopped by a signal");
  });
  testing::internal::CaptureStderr();
  auto t0 = std::chrono::steady_clock::now();
  int rc = c.run();
  auto took = std::chrono::steady_clock::now() - t0;
  std::string err = testing::internal::GetCapturedStderr();
  t.join();
  EXPECT_EQ(rc, 105) << err;
  EXPECT_TRUE(c.report().lost.empty()) << err;
  EXPECT_LT(took, 3s) << err;
  EXPECT_NE(err.find("runner 2"), std::string::npos) << err;
  EXPECT_NE(std::find(abandoned.begin(), abandoned.end(), 1u), abandoned.end()) << "runner 2 is ended locally";
  EXPECT_GT(c.report().merged.aggregate(*c.report().merged.find("iterations")).sum, 5) << "results kept";
}

// A stop requested while setup() runs on runner 1 does not wait for setup():
// the request is abandoned at once, runner 1 (whose API answers during
// setup()) is stopped through it like the others, and the test ends with 105.
TEST(CoordinatorFake, StopDuringSetupDoesNotWaitForSetup) {
  FakeRunner a(5, 10s), b(5, 10s);
  a.setup_takes_ = 3s;
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
  FakeRunner a(5, 5s), b(5, 5s);
  auto o = fast_options();
  std::atomic<bool> abandoned{false};
  std::chrono::steady_clock::time_point abandoned_at;
  o.abandon = [&](std::size_t i) {
    if (i == 1 && !abandoned.exchange(true)) abandoned_at = std::chrono::steady_clock::now();
  };
  Coordinator c({{a.address()}, {b.address()}}, o);
  std::thread t([&] {
    std::this_thread::sleep_for(300ms);
    b.kill();
  });
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.run(), kExitRunnerLost);
  auto ended = std::chrono::steady_clock::now();
  testing::internal::GetCapturedStderr();
  t.join();
  ASSERT_TRUE(abandoned.load());
  EXPECT_GT(ended - abandoned_at, 0ms);
}

}  // namespace
}  // namespace herd::coord
