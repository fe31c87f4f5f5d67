// The coordinator's control API state and handler, without a Coordinator:
// what is published is what is served; stops before and after the end.
#include "coord/control.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

namespace herd::coord {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

api::StatusInfo running(std::int64_t vus, std::int64_t vus_max) {
  api::StatusInfo st;
  st.status = api::ExecutionStatus::kRunning;
  st.running = true;
  st.vus = vus;
  st.vus_max = vus_max;
  return st;
}

TEST(ControlState, StatusThenResultEndsIt) {
  ControlState s;
  EXPECT_EQ(s.status().status, api::ExecutionStatus::kCreated);
  EXPECT_FALSE(s.result());
  s.set_status(running(7, 10));
  EXPECT_EQ(s.status().status, api::ExecutionStatus::kRunning);
  EXPECT_EQ(s.status().vus, 7);
  EXPECT_FALSE(s.status().exit_code);
  s.set_result(json{{"exitCode", 99}, {"result", "failed"}});
  api::StatusInfo st = s.status();
  EXPECT_EQ(st.status, api::ExecutionStatus::kEnded);
  EXPECT_EQ(st.exit_code, 99);
  EXPECT_FALSE(st.running);
  EXPECT_EQ(st.vus_max, 10);
  s.set_status(running(1, 1));
  EXPECT_EQ(s.status().status, api::ExecutionStatus::kEnded) << "the end is final";
  ASSERT_TRUE(s.result());
  EXPECT_EQ((*s.result())["result"], "failed");
}

TEST(ControlState, MetricsAndTaintedFromThresholds) {
  ControlState s;
  metrics::Snapshot snap;
  snap.metrics = {{"http_reqs", metrics::MetricType::kCounter, metrics::ValueType::kDefault}};
  snap.series[{0, metrics::TagSet()}].add(metrics::MetricType::kCounter, 3, 1);
  auto ths =
      metrics::parse_thresholds(json::parse(R"({"http_reqs":["count<2"],"http_req_duration{name:x}":["p(95)<1"]})"));
  std::vector<metrics::ThresholdResult> res = {{"http_reqs", "count<2", false, false, 3.0},
                                               {"http_req_duration{name:x}", "p(95)<1", true, false, {}}};
  s.set_status(running(1, 1));
  s.set_metrics(snap, 2s, ths, res);
  EXPECT_EQ(s.snapshot().aggregate(0).sum, 3);
  EXPECT_EQ(s.status().elapsed, std::chrono::microseconds(2s));
  EXPECT_TRUE(s.status().tainted);
  EXPECT_EQ(s.metric_tainted("http_reqs"), true);
  EXPECT_EQ(s.metric_tainted("http_req_duration"), false);
  EXPECT_EQ(s.metric_tainted("iterations"), std::nullopt);
  s.set_status(running(2, 2));
  EXPECT_TRUE(s.status().tainted) << "a status update keeps what the thresholds said";
}

TEST(ControlState, StopBeforeAHandlerIsDeliveredOnceLater) {
  ControlState s;
  s.request_stop();
  EXPECT_TRUE(s.status().stopped);
  int calls = 0;
  s.on_stop([&] { ++calls; });
  EXPECT_EQ(calls, 1);
  s.request_stop();
  EXPECT_EQ(calls, 1) << "only once";
}

TEST(ControlState, StopAfterTheResultEndsTheLinger) {
  ControlState s;
  int calls = 0;
  s.on_stop([&] { ++calls; });
  EXPECT_FALSE(s.wait_linger(10ms));
  s.set_result(json{{"exitCode", 0}});
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    s.request_stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.wait_linger(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  t.join();
  EXPECT_EQ(calls, 0) << "an ended test is not stopped again";
}

TEST(ControlState, EndLingerFromASignal) {
  ControlState s;
  s.end_linger();
  EXPECT_TRUE(s.wait_linger(0ms));
}

TEST(CoordinatorControl, PatchOnlyStopsOrRepeatsCurrentValues) {
  ControlState s;
  CoordinatorControl h(s);
  std::atomic<int> stops{0};
  s.on_stop([&] { ++stops; });
  s.set_status(running(4, 8));
  api::StatusPatch same;
  same.paused = false;
  same.vus = 4;
  same.vus_max = 8;
  EXPECT_EQ(h.patch_status(same), std::nullopt);
  api::StatusPatch pause;
  pause.paused = true;
  ASSERT_TRUE(h.patch_status(pause));
  EXPECT_NE(h.patch_status(pause)->find("not supported"), std::string::npos);
  api::StatusPatch scale;
  scale.vus = 5;
  scale.stopped = true;
  EXPECT_TRUE(h.patch_status(scale));
  EXPECT_EQ(stops, 0) << "an invalid patch applies nothing";
  api::StatusPatch stop;
  stop.stopped = true;
  EXPECT_EQ(h.patch_status(stop), std::nullopt);
  EXPECT_EQ(stops, 1);
  EXPECT_TRUE(h.status().stopped);
  api::StatusPatch restart;
  restart.stopped = false;
  EXPECT_TRUE(h.patch_status(restart));
}

TEST(CoordinatorControl, SetupIsReadOnlyAndSummaryComesWithTheResult) {
  ControlState s;
  CoordinatorControl h(s);
  EXPECT_TRUE(h.get_setup_data().is_null());
  s.set_setup_data(json{{"token", "abc"}});
  EXPECT_EQ(h.get_setup_data(), (json{{"token", "abc"}}));
  try {
    h.run_setup();
    ADD_FAILURE() << "run_setup must throw";
  } catch (const api::HandlerError& e) {
    EXPECT_EQ(e.status(), 501);
  }
  EXPECT_THROW(h.set_setup_data(json()), api::HandlerError);
  EXPECT_THROW(h.run_teardown(), api::HandlerError);
  EXPECT_FALSE(h.summary());
  s.set_result(json{{"exitCode", 0}, {"result", "passed"}});
  ASSERT_TRUE(h.summary());
  EXPECT_EQ((*h.summary())["result"], "passed");
}

TEST(CoordinatorControl, StartInfoOnceTheRunnersAreReleased) {
  ControlState s;
  CoordinatorControl h(s);
  EXPECT_FALSE(h.start_info());
  s.set_start(json{{"runners", 3}, {"skewMs", 0.5}});
  ASSERT_TRUE(h.start_info());
  EXPECT_EQ((*h.start_info())["skewMs"], 0.5);
}

TEST(CoordinatorControl, TheReportFileIsServedOnceTheTestHasEnded) {
  ControlState s;
  CoordinatorControl h(s);
  EXPECT_FALSE(h.report()) << "no report asked for: 404";
  std::string path = ::testing::TempDir() + "coord-control-report.html";
  std::remove(path.c_str());
  s.set_report_file(path);
  try {
    h.report();
    ADD_FAILURE() << "before the end there is no report yet";
  } catch (const api::HandlerError& e) {
    EXPECT_EQ(e.status(), 404);
  }
  s.set_result(json{{"exitCode", 0}, {"result", "passed"}});
  try {
    h.report();
    ADD_FAILURE() << "a report that was not written is an error";
  } catch (const api::HandlerError& e) {
    EXPECT_EQ(e.status(), 500);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  {
    std::ofstream out(path, std::ios::binary);
    out << "<!doctype html><title>herd: test report</title>";
  }
  ASSERT_TRUE(h.report());
  EXPECT_EQ(*h.report(), "<!doctype html><title>herd: test report</title>");
  std::remove(path.c_str());
}

// An exchange that gets no answer (a runner that accepts and never answers)
// and is then given up on still says when: `done` is never the clock's epoch,
// which the start round would read as a PATCH completed decades before T.
}  // namespace
}  // namespace herd::coord
