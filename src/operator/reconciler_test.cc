// The reconcile pass against an in-memory API server (kube's FakeObjects) with
// a fixed clock and a scripted coordinator: every stage, timeouts and a lost
// runner without sleeping. The real thing is tests/kube/operator_test.sh.
#include "operator/reconciler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <condition_variable>

#include "operator/coordinator_poller.h"

#include "kube/test_server.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using kube::testing::FakeObjects;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;

constexpr const char* kJobs = "/apis/batch/v1/namespaces/perf/jobs";

json pod(const std::string& component, int index, const std::string& phase, json state, const std::string& ip = "") {
  std::string name = "load-" + component + "-" + std::to_string(index);
  json p = {{"metadata",
             {{"name", name},
              {"namespace", "perf"},
              {"creationTimestamp", "2026-11-29T12:00:00Z"},
              {"labels", {{"herd.dev/testrun", "load"}, {"herd.dev/component", component}}}}},
            {"status",
             {{"phase", phase}, {"containerStatuses", {{{"name", "herd"}, {"restartCount", 0}, {"state", state}}}}}}};
  if (!ip.empty()) p["status"]["podIP"] = ip;
  return p;
}
json running() {
  return {{"running", json::object()}};
}
json terminated(int code, const std::string& message) {
  return {{"terminated", {{"exitCode", code}, {"message", message}}}};
}

class Reconciler : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_.poll = 2s;
    opts_.now = [this] { return now_; };
    opts_.http = [this](const std::string& testrun, const std::string& method, const std::string& url,
                        const std::string&) -> std::optional<std::pair<long, std::string>> {
      EXPECT_EQ(testrun, "perf/load");
      std::string key = method + " " + url.substr(url.find("/v1/"));
      calls_.push_back(method + " " + url);
      auto it = answers_.find(key);
      return it == answers_.end() ? std::pair<long, std::string>{404, ""} : it->second;
    };
    json tr = {{"apiVersion", "herd.dev/v1alpha1"},
               {"kind", "TestRun"},
               {"metadata", {{"name", "load"}, {"namespace", "perf"}, {"uid", "uid-1"}, {"generation", 1}}},
               {"spec",
                {{"parallelism", 2},
                 {"script", {{"configMap", {{"name", "s"}, {"file", "t.js"}}}}},
                 {"cleanup", "post"},
                 {"timeouts", {{"ready", "1m"}}}}}};
    client_.create(testruns_path("perf"), tr);
  }

  json testrun() const { return client_.get(testruns_path("perf", "load")); }
  json status() const { return testrun().value("status", json::object()); }

  /// The children as an informer would see them: the Jobs in the store plus `pods`.
  TestRunChildren children(const std::vector<json>& pods) const {
    TestRunChildren kids;
    for (const char* job : {"load-initializer", "load-1", "load-2", "load-coordinator"}) {
      json j = store_.get(std::string(kJobs) + "/" + job);
      if (j.is_null()) continue;
      j["metadata"]["creationTimestamp"] = "2026-11-29T12:00:00Z";
      kids.jobs.push_back(j);
      kids.job_names.insert(job);
    }
    for (const auto& p : pods) {
      std::string c = p["metadata"]["labels"]["herd.dev/component"];
      if (c == "initializer") kids.initializer = p;
      if (c == "coordinator") kids.coordinator = p;
      if (c == "runner") kids.runners[static_cast<int>(kids.runners.size()) + 1].push_back(p);
    }
    return kids;
  }

  std::chrono::milliseconds pass(const std::vector<json>& pods = {}) {
    return TestRunReconciler(client_, events_, opts_, changes_, testrun(), children(pods)).run();
  }

  std::size_t jobs() const { return store_.count_under(kJobs); }

  /// Passes through every stage to "started" with 2 running runners; returns the pods
  /// {initializer, runner 1, runner 2, coordinator}.
  std::array<json, 4> until_started() {
    json init = pod("initializer", 1, "Succeeded", terminated(0, R"({"maxVUs":4})"));
    json r1 = pod("runner", 1, "Running", running(), "127.0.1.1");
    json r2 = pod("runner", 2, "Running", running(), "127.0.1.2");
    json coord = pod("coordinator", 1, "Running", running(), "127.0.1.3");
    pass();
    pass({init});
    pass({init, r1, r2});
    pass({init, r1, r2, coord});
    return {init, r1, r2, coord};
  }

  FakeObjects store_;
  TestServer server_{[this](const HttpRequest& r) {
    HttpRequest q = r;  // PUT .../status updates the object, as the status subresource does
    if (q.method == "PUT" && q.path.ends_with("/status")) q.path.resize(q.path.size() - 7);
    return store_.handle(q);
  }};
  kube::Client client_{kube::ClusterConfig{.server = server_.url()}};
  kube::EventRecorder events_{client_, "herd-operator"};
  ReconcilerOptions opts_;
  std::atomic<std::uint64_t> changes_{0};
  Clock::time_point now_ = *parse_time("2026-11-29T12:00:10Z");
  std::vector<std::string> calls_;
  std::map<std::string, std::pair<long, std::string>> answers_;
};

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
  opts_.http = [&](const std::string& key, const std::string& method, const std::string& url, const std::string& body) {
    return poller.call(key, method, url, body);
  };
  opts_.control_port = std::stoi(coordinator.url().substr(coordinator.url().rfind(':') + 1));
  coord["status"]["podIP"] = "127.0.0.1";
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(pass({init, r1, r2, coord}), 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);  // not 1.5 s
  EXPECT_EQ(status()["stage"], "started");
  EXPECT_FALSE(status().contains("metrics"));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return requeued >= 2; }));  // summary and metrics answered
  }
  started = std::chrono::steady_clock::now();
  pass({init, r1, r2, coord});  // the pass the answers triggered reads them
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_EQ(status()["metrics"]["iterations"], 3);
  EXPECT_EQ(status()["stage"], "started");  // /v1/summary was 404: still running
}

}  // namespace
}  // namespace herd::op
