// The reconcile pass against an in-memory API server (kube's FakeObjects) with
// a fixed clock and a scripted coordinator: every stage, timeouts and a lost
// runner without sleeping. The real thing is tests/kube/operator_test.sh.
#include "operator/reconciler.h"

#include <gtest/gtest.h>

#include <set>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>

#include "operator/coordinator_poller.h"

#include "kube/test_server.h"
#include "operator/reconciler_fixture.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;
using namespace fixture;

TEST_F(Reconciler, DrivesEveryStageToFinished) {
  EXPECT_EQ(pass(), 2s);
  EXPECT_EQ(status()["stage"], "initialization");
  EXPECT_EQ(jobs(), 1u);
  EXPECT_EQ(pass(), 2s);  // idempotent: the same world changes nothing
  EXPECT_EQ(jobs(), 1u);

  json init = pod("initializer", 1, "Succeeded", terminated(0, R"({"maxVUs":4,"totalDuration":"10s"})"));
  pass({init});
  EXPECT_EQ(status()["stage"], "created");
  EXPECT_EQ(jobs(), 3u);  // initializer + 2 runners
  EXPECT_FALSE(store_.get(std::string(kJobs) + "/load-2").is_null());

  json r1 = pod("runner", 1, "Running", running(), "127.0.1.1");
  json r2 = pod("runner", 2, "Pending", json{{"waiting", {{"reason", "ContainerCreating"}}}});
  pass({init, r1, r2});
  EXPECT_EQ(status()["stage"], "created");
  EXPECT_EQ(status()["runners"]["ready"], 1);
  EXPECT_TRUE(store_.get(std::string(kJobs) + "/load-coordinator").is_null());  // not before every runner runs

  r2 = pod("runner", 2, "Running", running(), "127.0.1.2");
  pass({init, r1, r2});
  json coord_job = store_.get(std::string(kJobs) + "/load-coordinator");
  ASSERT_FALSE(coord_job.is_null());
  EXPECT_EQ(coord_job["spec"]["template"]["spec"]["containers"][0]["args"][2], "127.0.1.1:6565,127.0.1.2:6565");

  json coord = pod("coordinator", 1, "Running", running(), "127.0.1.3");
  answers_["GET /v1/metrics"] = {200, R"({"data":[{"id":"iterations","attributes":{"sample":{"count":7}}}]})"};
  EXPECT_EQ(pass({init, r1, r2, coord}), 2s);
  EXPECT_EQ(status()["stage"], "started");
  EXPECT_EQ(status()["metrics"]["iterations"], 7);  // live progress

  answers_["GET /v1/summary"] = {
      200, json{{"exitCode", 0},
                {"result", "passed"},
                {"text", "  █ TOTAL RESULTS\n"},
                {"data", {{"metrics", json::object()}}},
                {"thresholds", {{{"metric", "checks"}, {"expression", "rate>0.9"}, {"ok", true}}}},
                {"metrics", {{"iterations", 40}, {"p95Ms", 1.5}, {"durationMs", 2000}}}}
               .dump()};
  EXPECT_EQ(pass({init, r1, r2, coord}), 0s);
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_EQ(st["result"], "passed");
  EXPECT_EQ(st["exitCode"], 0);
  EXPECT_EQ(st["metrics"]["iterations"], 40);
  EXPECT_EQ(st["metrics"]["durationSeconds"], 2.0);
  EXPECT_EQ(st["thresholds"][0]["ok"], true);
  EXPECT_EQ(store_.get("/api/v1/namespaces/perf/configmaps/load-summary")["data"]["summary.txt"],
            "  █ TOTAL RESULTS\n");
  EXPECT_EQ(calls_.back(), "PATCH http://127.0.1.3:6565/v1/status");  // ends the coordinator's linger
  EXPECT_EQ(jobs(), 0u);                                              // cleanup: post
  EXPECT_GE(changes_.load(), 5u);
}

TEST(StartSkewText, AGoDurationInMilliseconds) {
  EXPECT_EQ(start_skew_text(json{{"runners", 3}, {"skewMs", 1.2345}}), "1.234ms");
  EXPECT_EQ(start_skew_text(json{{"skewMs", 0}}), "0.000ms");
  EXPECT_EQ(start_skew_text(json{{"skewMs", 250}}), "250.000ms");
  EXPECT_FALSE(start_skew_text(json{{"skewMs", -1}}));
  EXPECT_FALSE(start_skew_text(json{{"skewMs", "1ms"}}));
  EXPECT_FALSE(start_skew_text(json()));
  EXPECT_FALSE(start_skew_text(json::array()));
}

TEST_F(Reconciler, StartSkewFromTheCoordinatorGoesToStatusAndTheSummary) {
  auto [init, r1, r2, coord] = until_started();
  pass({init, r1, r2, coord});  // not released yet: GET /v1/start is 404
  EXPECT_FALSE(status().contains("startSkew"));
  EXPECT_NE(std::find(calls_.begin(), calls_.end(), "GET http://127.0.1.3:6565/v1/start"), calls_.end());
  answers_["GET /v1/start"] = {200, R"({"runners":2,"skewMs":0.75})"};
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["startSkew"], "0.750ms");
  calls_.clear();
  pass({init, r1, r2, coord});
  EXPECT_EQ(std::find(calls_.begin(), calls_.end(), "GET http://127.0.1.3:6565/v1/start"), calls_.end())
      << "asked once it is known";
  answers_["GET /v1/summary"] = {
      200, json{{"exitCode", 0}, {"result", "passed"}, {"start", {{"runners", 2}, {"skewMs", 0.75}}}}.dump()};
  pass({init, r1, r2, coord});
  json result = json::parse(
      store_.get("/api/v1/namespaces/perf/configmaps/load-summary")["data"]["result.json"].get<std::string>());
  EXPECT_EQ(result["startSkew"], "0.750ms");
  EXPECT_EQ(status()["startSkew"], "0.750ms");
}

TEST_F(Reconciler, StartSkewFromTheResultWhenTheRunWasNotSeenRunning) {
  auto [init, r1, r2, coord] = until_started();
  // The coordinator has exited (its linger over while the operator was away): the result file.
  json ended = pod("coordinator", 1, "Succeeded",
                   terminated(0, R"({"exitCode":0,"result":"passed","start":{"runners":2,"skewMs":3}})"));
  pass({init, r1, r2, ended});
  EXPECT_EQ(status()["stage"], "finished");
  EXPECT_EQ(status()["startSkew"], "3.000ms");
}

TEST_F(Reconciler, RunnersThatNeverRunEndInErrorAfterTheReadyTimeout) {
  json init = pod("initializer", 1, "Succeeded", terminated(0, R"({"maxVUs":4})"));
  pass();
  pass({init});
  json pending = pod("runner", 1, "Pending", json::object());
  pending["status"]["conditions"] = {
      {{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"}, {"message", "0/3 nodes"}}};
  pass({init, pending});
  EXPECT_EQ(status()["stage"], "created");
  now_ += 2min;  // past spec.timeouts.ready (1m) since the runner Jobs were made
  pass({init, pending});
  json st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_EQ(st["result"], "error");
  EXPECT_NE(st["message"].get<std::string>().find("0/3 nodes"), std::string::npos) << st["message"];
  EXPECT_EQ(jobs(), 0u);  // nothing is left running
}

TEST_F(Reconciler, ALostRunnerWaitsForTheCoordinatorThenFails) {
  auto [init, r1, r2, coord] = until_started();
  ASSERT_EQ(status()["stage"], "started");
  json dead = pod("runner", 2, "Failed", json{{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}});
  EXPECT_EQ(pass({init, r1, dead, coord}), 1s);  // the coordinator gets to report the partial result
  EXPECT_EQ(status()["stage"], "started");
  now_ += 31s;
  pass({init, r1, dead, coord});
  json st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_NE(st["message"].get<std::string>().find("load-runner-2: container herd was OOMKilled"), std::string::npos)
      << st["message"];
}

TEST_F(Reconciler, TheRunTimeoutStopsTheTestThenGivesUp) {
  json tr = testrun();
  tr["spec"]["timeouts"]["run"] = "30s";
  client_.replace(testruns_path("perf", "load"), tr);
  auto [init, r1, r2, coord] = until_started();
  ASSERT_EQ(status()["stage"], "started");
  now_ += 31s;
  pass({init, r1, r2, coord});
  EXPECT_EQ(calls_.back(), "PATCH http://127.0.1.3:6565/v1/status");  // a graceful stop first
  EXPECT_EQ(status()["stage"], "started");
  now_ += 61s;  // the stop did not end it either
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["stage"], "error");
  EXPECT_EQ(status()["conditions"].back()["reason"], "RunTimeout");
  EXPECT_EQ(jobs(), 0u);
}

TEST_F(Reconciler, AScriptErrorStopsAtTheInitializer) {
  pass();
  json init = pod("initializer", 1, "Failed",
                  terminated(107, R"({"error":"/test/t.js:3:7: SyntaxError: unexpected token","exitCode":107})"));
  pass({init});
  json st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_EQ(st["exitCode"], 107);
  EXPECT_NE(st["message"].get<std::string>().find("t.js:3:7"), std::string::npos);
  EXPECT_TRUE(store_.get(std::string(kJobs) + "/load-1").is_null());
}

TEST_F(Reconciler, InvalidTimeoutsEndInInvalidSpecNamingTheField) {
  json tr = testrun();
  tr["spec"]["timeouts"]["ready"] = "abc";
  client_.replace(testruns_path("perf", "load"), tr);
  EXPECT_EQ(pass(), 0s);
  json st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_EQ(st["conditions"].back()["reason"], "InvalidSpec");
  EXPECT_EQ(st["message"], "spec.timeouts.ready: \"abc\" is not a duration (e.g. 90s, 5m, 1h30m)");
  EXPECT_EQ(jobs(), 0u);  // nothing was made from the bad spec
}

TEST_F(Reconciler, ATimeoutEditedIntoSomethingInvalidDuringTheRunEndsIt) {
  auto [init, r1, r2, coord] = until_started();
  json tr = testrun();
  tr["spec"]["timeouts"]["run"] = "soon";
  client_.replace(testruns_path("perf", "load"), tr);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["stage"], "error");
  EXPECT_EQ(status()["conditions"].back()["reason"], "InvalidSpec");
  EXPECT_EQ(jobs(), 0u);
}

TEST_F(Reconciler, ABadAutomountTokenStringEndsInInvalidSpec) {
  json tr = testrun();
  tr["spec"]["runner"] = {{"automountServiceAccountToken", "yes"}};
  client_.replace(testruns_path("perf", "load"), tr);
  pass();
  json st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_EQ(st["conditions"].back()["reason"], "InvalidSpec");
  EXPECT_NE(st["message"].get<std::string>().find("spec.runner.automountServiceAccountToken: \"yes\""),
            std::string::npos)
      << st["message"];
  EXPECT_EQ(jobs(), 0u);
}

TEST_F(Reconciler, AConflictWritesNothingStaleAndTheNextPassUsesTheFreshObject) {
  auto [init, r1, r2, coord] = until_started();
  json stale = testrun();
  ASSERT_EQ(stale["status"]["stage"], "started");
  // Another writer (e.g. a previous leader finishing the run) stores a newer version.
  json fresh = stale;
  fresh["status"]["stage"] = "finished";
  fresh["status"]["result"] = "passed";
  fresh["status"]["message"] = "written by someone else";
  client_.update_status(testruns_path("perf", "load"), fresh);
  answers_["GET /v1/metrics"] = {200, R"({"data":[{"id":"iterations","attributes":{"sample":{"count":9}}}]})"};
  try {
    TestRunReconciler(client_, events_, opts_, changes_, stale, children({init, r1, r2, coord})).run();
    ADD_FAILURE() << "a conflict must propagate so that the key is requeued";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_conflict()) << e.what();
  }
  json st = status();
  EXPECT_EQ(st["stage"], "finished");  // the newer status was not overwritten with the stale one
  EXPECT_EQ(st["message"], "written by someone else");
  EXPECT_FALSE(st.contains("metrics"));
  // The requeued pass reads the fresh object and goes on from its stage.
  EXPECT_EQ(pass({init, r1, r2, coord}), 0s);
  EXPECT_EQ(status()["stage"], "finished");
  EXPECT_EQ(jobs(), 0u);  // cleanup: post, decided from the fresh status
}

TEST_F(Reconciler, ASlowCoordinatorNeverBlocksAPass) {
  auto [init, r1, r2, coord] = until_started();
  // A real coordinator control API on loopback that takes 1.5 s per answer.
  TestServer coordinator([](const HttpRequest& r) {
    HttpReply reply{404, ""};
    if (r.path == "/v1/metrics") reply = {200, R"({"data":[{"id":"iterations","attributes":{"sample":{"count":3}}}]})"};
    reply.delay_ms = 1500;
    return reply;
  });
  std::mutex mu;
  std::condition_variable cv;
  int requeued = 0;
  CoordinatorPoller poller([&](const std::string& key) {
    EXPECT_EQ(key, "perf/load");
    std::lock_guard lock(mu);
    ++requeued;
    cv.notify_all();
  });
  opts_.http = [&](const std::string& key, const std::string& method, const std::string& url, const std::string& body,
                   bool keep) { return poller.call(key, method, url, body, keep); };
  opts_.control_port = std::stoi(coordinator.url().substr(coordinator.url().rfind(':') + 1));
  coord["status"]["podIP"] = "127.0.0.1";
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(pass({init, r1, r2, coord}), 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);  // not 1.5 s
  EXPECT_EQ(status()["stage"], "started");
  EXPECT_FALSE(status().contains("metrics"));
  {
    std::unique_lock lock(mu);
    // Every call of the first pass answered (summary, metrics and start): counting requeues alone
    // let the pass below run before the metrics' answer had arrived.
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return requeued >= 2 && poller.in_flight() == 0; }));
  }
  started = std::chrono::steady_clock::now();
  pass({init, r1, r2, coord});  // the pass the answers triggered reads them
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_EQ(status()["metrics"]["iterations"], 3);
  EXPECT_EQ(status()["stage"], "started");  // /v1/summary was 404: still running
}

/// A runner's console log: `lines` lines, the last one `last`.
std::string console_log(int lines, const std::string& last) {
  std::string log;
  for (int i = 0; i < lines; ++i) log += "console: iteration " + std::to_string(i) + " went fine, moving on\n";
  return log + last + "\n";
}

TEST_F(Reconciler, TheLostRunnerIsNamedNotTheOnesTheCoordinatorStopped) {
  auto [init, r1, r2, coord] = until_started();
  json killed =
      pod("runner", 2, "Failed",
          json{{"terminated", {{"exitCode", 137}, {"reason", "Error"}, {"message", console_log(80, "r2 last")}}}});
  json stopped =
      pod("runner", 1, "Failed",
          json{{"terminated", {{"exitCode", 103}, {"reason", "Error"}, {"message", console_log(80, "r1 last")}}}});
  EXPECT_EQ(pass({init, stopped, killed, coord}), 1s);  // stopped listed first: index order must not matter
  json lost, st = status();
  for (const auto& c : st["conditions"]) {
    if (c["type"] == "RunnerLost") lost = c;
  }
  ASSERT_FALSE(lost.is_null());
  std::string m = lost["message"];
  EXPECT_NE(m.find("load-runner-2"), std::string::npos) << m;
  EXPECT_EQ(m.find("load-runner-1"), std::string::npos) << m;
  answers_["GET /v1/summary"] = {
      200, json{{"exitCode", 97},
                {"result", "error"},
                {"partial", true},
                {"message", "runner 2 (127.0.1.2:6565) was lost: no answer for 5 s (connection refused)"},
                {"metrics", {{"iterations", 12}}}}
               .dump()};
  pass({init, stopped, killed, coord});
  st = status();
  ASSERT_EQ(st["stage"], "error");
  m = st["message"];
  EXPECT_NE(m.find("runner 2 (127.0.1.2:6565) was lost"), std::string::npos) << m;
  EXPECT_NE(m.find("pod perf/load-runner-2: container herd failed: Error (exit code 137): …"), std::string::npos) << m;
  EXPECT_TRUE(m.ends_with("r2 last")) << m;  // the log's last line is kept
  EXPECT_EQ(m.find("load-runner-1"), std::string::npos) << m;
  EXPECT_LT(m.size(), 600u) << m;
  EXPECT_EQ(st["metrics"]["iterations"], 12);  // the results so far are kept
  EXPECT_FALSE(store_.get("/api/v1/namespaces/perf/configmaps/load-summary").is_null());
}

TEST_F(Reconciler, ARunnerWhosePodWasDeletedIsNamed) {
  auto [init, r1, r2, coord] = until_started();
  json stopped = pod("runner", 1, "Failed", json{{"terminated", {{"exitCode", 103}, {"message", "stopped"}}}});
  pass({init, stopped, coord});  // runner 2's pod is gone
  answers_["GET /v1/summary"] = {200,
                                 json{{"exitCode", 97}, {"result", "error"}, {"message", "runner 2 was lost"}}.dump()};
  pass({init, stopped, coord});
  json st = status();
  ASSERT_EQ(st["stage"], "error");
  std::string m = st["message"];
  EXPECT_NE(m.find("runner 2: its pod is gone (Job perf/load-2)"), std::string::npos) << m;
  EXPECT_EQ(m.find("load-runner-1"), std::string::npos) << m;
}

TEST_F(Reconciler, OnlyStoppedRunnersAreNamedWhenNothingElseFailed) {
  auto [init, r1, r2, coord] = until_started();
  json stopped = pod("runner", 1, "Failed", json{{"terminated", {{"exitCode", 103}, {"message", "stopped"}}}});
  pass({init, stopped, r2, coord});
  now_ += 31s;  // the coordinator never reported
  pass({init, stopped, r2, coord});
  EXPECT_EQ(status()["stage"], "error");
  EXPECT_NE(status()["message"].get<std::string>().find("load-runner-1: container herd failed"), std::string::npos)
      << status()["message"];
}

TEST_F(Reconciler, OrphanedJobsGetAWarningWithTheCommandThenAnErrorAfterTheReadyTimeout) {
  json tr = testrun();
  tr["metadata"]["creationTimestamp"] = "2026-11-29T12:00:00Z";
  client_.replace(testruns_path("perf", "load"), tr);
  for (const char* name : {"load-initializer", "load-1"}) {  // left by `kubectl delete tr load --cascade=orphan`
    client_.create(
        kJobs, json{{"apiVersion", "batch/v1"},
                    {"kind", "Job"},
                    {"metadata", {{"name", name}, {"namespace", "perf"}, {"labels", {{"herd.dev/testrun", "load"}}}}}});
  }
  auto bare_pass = [&] { return TestRunReconciler(client_, events_, opts_, changes_, testrun(), {}).run(); };
  EXPECT_EQ(bare_pass(), 1s);
  json st = status();
  EXPECT_EQ(st["stage"], "initialization");
  std::string m = st["message"];
  EXPECT_NE(m.find("load-1, load-initializer"), std::string::npos) << m;
  EXPECT_NE(m.find("kubectl -n perf delete job load-1 load-initializer"), std::string::npos) << m;
  auto warnings = [&] {
    int n = 0;
    json events = client_.list("/api/v1/namespaces/perf/events");
    for (const auto& e : events["items"]) {
      if (e["type"] == "Warning" && e["reason"] == "OrphanedJobs") {
        EXPECT_EQ(e["message"], m);
        n += e.value("count", 1);
      }
    }
    return n;
  };
  EXPECT_EQ(warnings(), 1);
  now_ += 10s;
  bare_pass();
  EXPECT_EQ(warnings(), 1);  // once, not at every pass
  now_ += 1min;              // past spec.timeouts.ready (1m) since the TestRun was created
  bare_pass();
  st = status();
  EXPECT_EQ(st["stage"], "error");
  EXPECT_EQ(st["conditions"].back()["reason"], "OrphanedJobs");
  EXPECT_NE(st["message"].get<std::string>().find("kubectl -n perf delete job load-1 load-initializer"),
            std::string::npos)
      << st["message"];
  EXPECT_EQ(jobs(), 2u);  // not ours: left alone
}

TEST_F(Reconciler, CrossedThresholdsAreAWarningNamingThemAndTheRunnerCountsEndFinal) {
  json tr = testrun();
  tr["spec"]["cleanup"] = "never";
  client_.replace(testruns_path("perf", "load"), tr);
  auto [init, r1, r2, coord] = until_started();
  answers_["GET /v1/summary"] = {200, json{{"exitCode", 99},
                                           {"result", "failed"},
                                           {"thresholds",
                                            {{{"metric", "http_req_duration"}, {"expression", "max<0"}, {"ok", false}},
                                             {{"metric", "checks"}, {"expression", "rate>0.9"}, {"ok", true}}}}}
                                          .dump()};
  pass({init, r1, r2, coord});
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_EQ(st["result"], "failed");
  EXPECT_EQ(st["message"], "the test failed (exit code 99): thresholds crossed: http_req_duration max<0");
  json e = event("ThresholdsFailed");
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_TRUE(event("Finished").is_null());
  EXPECT_EQ(st["runners"]["ready"], 2);  // the runners still linger
  int writes = status_writes_;
  pass({init, r1, r2, coord});
  EXPECT_EQ(status_writes_, writes);  // nothing changed: nothing written
  // The coordinator's stop ends the runners: the counts follow them to the end.
  json done = pod("runner", 1, "Succeeded", terminated(0, ""));
  json failed = pod("runner", 2, "Failed", terminated(137, ""));
  pass({init, done, failed, coord});
  st = status();
  EXPECT_EQ(st["runners"]["ready"], 0);
  EXPECT_EQ(st["runners"]["finished"], 1);
  EXPECT_EQ(st["runners"]["failed"], 1);
  pass({init, coord});  // the Pods are deleted: an ended runner stays counted
  EXPECT_EQ(status()["runners"]["finished"], 1);
  EXPECT_EQ(status()["runners"]["failed"], 1);
}

TEST_F(Reconciler, ASaturatedGeneratorIsInStatusAndAWarning) {
  auto [init, r1, r2, coord] = until_started();
  answers_["GET /v1/summary"] = {200,
                                 json{{"exitCode", 0},
                                      {"result", "passed"},
                                      {"generators",
                                       {{{"name", "runner 1 (segment 0:1/2)"}, {"cpuMax", 0.3}, {"saturated", false}},
                                        {{"name", "runner 2 (segment 1/2:1)"}, {"cpuMax", 1.0}, {"saturated", true}}}}}
                                     .dump()};
  pass({init, r1, r2, coord});
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  ASSERT_EQ(st["generators"].size(), 2u) << st;
  EXPECT_EQ(st["generators"][1]["saturated"], true);
  json e = event("GeneratorSaturated");
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_NE(e["message"].get<std::string>().find("runner 2 (segment 1/2:1)"), std::string::npos) << e;
}

TEST_F(Reconciler, APassedRunIsANormalFinishedEvent) {
  auto [init, r1, r2, coord] = until_started();
  answers_["GET /v1/summary"] = {200, json{{"exitCode", 0}, {"result", "passed"}}.dump()};
  pass({init, r1, r2, coord});
  json e = event("Finished");
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["type"], "Normal");
}

TEST_F(Reconciler, AFailedStartLeavesNoInitializingCondition) {
  pass();
  json cond = status()["conditions"][0];
  ASSERT_EQ(cond["reason"], "Initializing");
  json init = pod("initializer", 1, "Failed", terminated(107, R"({"error":"t.js:3:7: SyntaxError","exitCode":107})"));
  pass({init});
  json st = status();  // not a temporary: the loop below reads it
  int seen = 0;
  for (const auto& c : st["conditions"]) {
    if (c["type"] != "Initialized") continue;
    ++seen;
    EXPECT_EQ(c["status"], "False");
    EXPECT_EQ(c["reason"], "InitializerFailed");
    EXPECT_NE(c["message"].get<std::string>().find("t.js:3:7"), std::string::npos) << c;
  }
  EXPECT_EQ(seen, 1) << st;
}

TEST_F(Reconciler, RunnersNeverReadyLeaveInitializedTrue) {
  json init = pod("initializer", 1, "Succeeded", terminated(0, R"({"maxVUs":4})"));
  pass();
  pass({init});
  now_ += 2min;
  pass({init, pod("runner", 1, "Pending", json::object())});
  json st = status();
  ASSERT_EQ(st["stage"], "error");
  std::map<std::string, std::string> reasons;
  for (const auto& c : st["conditions"])
    reasons[c["type"]] = c["status"].get<std::string>() + " " + c["reason"].get<std::string>();
  EXPECT_EQ(reasons["Initialized"], "True ScriptValid");
  EXPECT_EQ(reasons["Finished"], "False RunnersNotReady");
}

TEST_F(Reconciler, AnInvalidSpecAtTheStartSaysSoInInitialized) {
  json tr = testrun();
  tr["spec"]["timeouts"]["ready"] = "abc";
  client_.replace(testruns_path("perf", "load"), tr);
  pass();
  EXPECT_EQ(status()["conditions"][0]["type"], "Finished");
  EXPECT_EQ(status()["conditions"][1]["type"], "Initialized");
  EXPECT_EQ(status()["conditions"][1]["reason"], "InvalidSpec");
}

TEST_F(Reconciler, LiveMetricsAreWrittenWhenAPrintedNumberChangedAtMostEvery10s) {
  auto [init, r1, r2, coord] = until_started();
  auto metrics = [](int iterations, double avg) {
    return std::pair<long, std::string>{
        200, json{{"data",
                   {{{"id", "iterations"}, {"attributes", {{"sample", {{"count", iterations}}}}}},
                    {{"id", "http_req_duration"}, {"attributes", {{"sample", {{"avg", avg}}}}}}}}}
                 .dump()};
  };
  int writes = status_writes_;
  answers_["GET /v1/metrics"] = {200, R"({"data":[{"id":"vus_max","attributes":{"sample":{"value":2}}}]})"};
  pass({init, r1, r2, coord});
  EXPECT_EQ(status_writes_, writes);  // nothing printed yet: no write
  answers_["GET /v1/metrics"] = metrics(5, 1.0);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["metrics"]["iterations"], 5);
  writes = status_writes_;
  for (int i = 0; i < 4; ++i) {  // every 2 s for 8 s: new numbers, no write
    now_ += 2s;
    answers_["GET /v1/metrics"] = metrics(6 + i, 1.0 + i);
    pass({init, r1, r2, coord});
  }
  EXPECT_EQ(status_writes_, writes);
  EXPECT_EQ(status()["metrics"]["iterations"], 5);
  now_ += 2s;  // 10 s since the last write
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["metrics"]["iterations"], 9);
  EXPECT_EQ(status()["metrics"]["durationSeconds"], 10.0);
  EXPECT_EQ(status_writes_, writes + 1);
  now_ += 20s;  // only an unprinted number changed: no write
  answers_["GET /v1/metrics"] = metrics(9, 7.0);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status_writes_, writes + 1);
}

TEST_F(Reconciler, AfterAnOperatorRestartTheFirstLiveWriteIsNotHeldBack) {
  auto [init, r1, r2, coord] = until_started();
  auto metrics = [](int iterations) {
    return std::pair<long, std::string>{
        200, json{{"data", {{{"id", "iterations"}, {"attributes", {{"sample", {{"count", iterations}}}}}}}}}.dump()};
  };
  answers_["GET /v1/metrics"] = metrics(5);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["metrics"]["iterations"], 5);
  // A new operator process: its first live write goes out at once, later ones every 10 s.
  std::set<std::string> seen;
  opts_.first_live_write = [&seen](const std::string& uid) { return seen.insert(uid).second; };
  now_ += 2s;
  answers_["GET /v1/metrics"] = metrics(7);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["metrics"]["iterations"], 7);
  now_ += 2s;
  answers_["GET /v1/metrics"] = metrics(9);
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["metrics"]["iterations"], 7) << "throttled again";
}

TEST_F(Reconciler, PodNamesAloneAreNoStatusWrite) {
  json init = pod("initializer", 1, "Succeeded", terminated(0, R"({"maxVUs":4})"));
  pass();
  pass({init});
  int writes = status_writes_;
  json p1 = pod("runner", 1, "Pending", json::object());
  pass({init, p1});  // a runner Pod appeared, nothing printed changed
  EXPECT_EQ(status_writes_, writes);
  pass({init, pod("runner", 1, "Running", running(), "127.0.1.1")});
  EXPECT_EQ(status_writes_, writes + 1);
  EXPECT_EQ(status()["runners"]["ready"], 1);
  EXPECT_EQ(status()["runners"]["pods"][0], "load-runner-1");
}

}  // namespace
}  // namespace herd::op
