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
