#include "operator/status.h"

#include <gtest/gtest.h>

namespace herd::op {
namespace {

json pod_with(json container_state, std::string phase = "Running", int restarts = 0) {
  return json{{"metadata", {{"name", "load-1"}, {"namespace", "perf"}}},
              {"status",
               {{"phase", phase},
                {"podIP", "127.0.1.5"},
                {"containerStatuses", {{{"name", "herd"}, {"restartCount", restarts}, {"state", container_state}}}}}}};
}

TEST(Status, PodFailures) {
  EXPECT_FALSE(pod_failure(pod_with({{"running", json::object()}})));
  EXPECT_TRUE(pod_running(pod_with({{"running", json::object()}})));
  auto oom = pod_failure(pod_with({{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}, "Failed"));
  ASSERT_TRUE(oom);
  EXPECT_EQ(*oom, "pod perf/load-1: container herd was OOMKilled (exit code 137)");
  auto err = pod_failure(pod_with({{"terminated", {{"exitCode", 107}, {"reason", "Error"}, {"message", "x.js:3:4"}}}}));
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("x.js:3:4"), std::string::npos);
  EXPECT_TRUE(pod_failure(pod_with({{"running", json::object()}}, "Running", 1)));
  EXPECT_TRUE(pod_failure(pod_with({{"waiting", {{"reason", "CreateContainerConfigError"}}}}, "Pending")));
  EXPECT_FALSE(pod_failure(pod_with({{"waiting", {{"reason", "ContainerCreating"}}}}, "Pending")));
  EXPECT_FALSE(pod_failure(pod_with({{"terminated", {{"exitCode", 0}}}}, "Succeeded")));
}

TEST(Status, TailExcerptKeepsTheLastLinesWhole) {
  EXPECT_EQ(tail_excerpt("short\n\n", 100), "short");
  EXPECT_EQ(tail_excerpt("  \n", 100), "");
  std::string log;
  for (int i = 1; i <= 100; ++i) log += "line " + std::to_string(i) + " of the runner's console\n";
  std::string t = tail_excerpt(log, 100);
  EXPECT_LE(t.size(), 100u);
  EXPECT_EQ(t, "…line 98 of the runner's console\nline 99 of the runner's console\nline 100 of the runner's console")
      << t;  // 98 bytes: line 97 does not fit
  // A last line longer than the budget: its end, never a split UTF-8 sequence.
  std::string wide = "first\n" + std::string(50, 'x') + "é" + std::string(50, 'y') + " the end";
  t = tail_excerpt(wide, 60);
  EXPECT_LE(t.size(), 60u);
  EXPECT_TRUE(t.starts_with("…")) << t;
  EXPECT_TRUE(t.ends_with("yyy the end")) << t;
  EXPECT_TRUE(tail_excerpt(wide, 63).starts_with("…é"));
  t = tail_excerpt(wide, 62);  // the cut falls inside "é": after it
  EXPECT_TRUE(t.starts_with("…y")) << t;
  EXPECT_EQ(t.size(), 61u);
}

TEST(Status, AFailureKeepsTheLastLineOfALongLog) {
  std::string log;
  for (int i = 0; i < 60; ++i) log += "console: iteration " + std::to_string(i) + " ................................\n";
  log += "herd: runner stopped: the runner's last words";
  auto f =
      pod_failure(pod_with({{"terminated", {{"exitCode", 137}, {"reason", "Error"}, {"message", log}}}}, "Failed"));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->starts_with("pod perf/load-1: container herd failed: Error (exit code 137): …")) << *f;
  EXPECT_TRUE(f->ends_with("herd: runner stopped: the runner's last words")) << *f;
  EXPECT_LE(f->size(), 100 + kPodMessageMaxBytes) << *f;
}

TEST(Status, StoppedRunnersAreNotTheCause) {
  auto named = [](std::string name, int code, std::string phase = "Failed") {
    json p =
        pod_with({{"terminated", {{"exitCode", code}, {"reason", "Error"}, {"message", "log of " + name}}}}, phase);
    p["metadata"]["name"] = name;
    return p;
  };
  json healthy = pod_with({{"running", json::object()}});
  auto causes = failure_causes({named("load-1", 103), named("load-2", 137), named("load-3", 103), healthy});
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_TRUE(causes[0].starts_with("pod perf/load-2: ")) << causes[0];
  causes = failure_causes({named("load-1", 103), named("load-3", 103)});  // nothing else failed: name them
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_TRUE(causes[1].starts_with("pod perf/load-3: ")) << causes[1];
  EXPECT_TRUE(failure_causes({healthy}).empty());
  EXPECT_EQ(pod_exit_code(named("load-1", 103)), 103);
  EXPECT_FALSE(pod_exit_code(healthy));
}

TEST(Status, GeneratorsFromTheResult) {
  json g = status_generators(json::array({json{{"name", "runner 1"}, {"cpuMax", 0.5}, {"saturated", false}},
                                          json{{"name", "runner 2"}, {"lagP99Ms", 300}, {"saturated", true}},
                                          json{{"cpuMax", 1}}, json("junk")}));
  ASSERT_EQ(g.size(), 2u) << g;
  EXPECT_EQ(g[0], (json{{"name", "runner 1"}, {"cpuMax", 0.5}, {"saturated", false}}));
  EXPECT_EQ(saturated_generators(g), "runner 2");
  EXPECT_EQ(saturated_generators(status_generators(json())), "");
}

TEST(Status, PendingReasonNamesTheScheduler) {
  json pod = {{"metadata", {{"name", "load-2"}, {"namespace", "perf"}}},
              {"status",
               {{"phase", "Pending"},
                {"conditions",
                 {{{"type", "PodScheduled"},
                   {"status", "False"},
                   {"reason", "Unschedulable"},
                   {"message", "0/3 nodes are available"}}}}}}};
  EXPECT_EQ(pod_pending_reason(pod), "pod perf/load-2 is not scheduled: Unschedulable: 0/3 nodes are available");
}

TEST(Status, TerminationMessageAndResults) {
  json pod = pod_with({{"terminated", {{"exitCode", 0}, {"message", R"({"maxVUs":10})"}}}}, "Succeeded");
  EXPECT_EQ(termination_message(pod)["maxVUs"], 10);
  std::string raw;
  EXPECT_TRUE(termination_message(pod_with({{"terminated", {{"exitCode", 1}, {"message", "boom"}}}}), &raw).is_null());
  EXPECT_EQ(raw, "boom");
  EXPECT_EQ(result_for_exit_code(0), "passed");
  EXPECT_EQ(result_for_exit_code(99), "failed");
  EXPECT_EQ(result_for_exit_code(108), "aborted");
  EXPECT_EQ(result_for_exit_code(97), "error");
}

TEST(Status, TimesAndConditions) {
  auto t = parse_time("2026-11-29T12:00:05Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_time(*t), "2026-11-29T12:00:05Z");
  EXPECT_TRUE(parse_time("2026-11-29T12:00:05.123456Z"));
  EXPECT_FALSE(parse_time("yesterday"));
  json status = json::object();
  set_condition(status, "Started", true, "A", "m", *t, 3);
  set_condition(status, "Started", true, "B", "m2", *t + std::chrono::seconds(10), 3);
  ASSERT_EQ(status["conditions"].size(), 1u);
  EXPECT_EQ(status["conditions"][0]["reason"], "B");
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "2026-11-29T12:00:05Z");  // unchanged status
  set_condition(status, "Started", false, "C", "m3", *t + std::chrono::seconds(20), 3);
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "2026-11-29T12:00:25Z");
}

}  // namespace
}  // namespace herd::op
