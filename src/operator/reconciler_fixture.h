#pragma once
// The Reconciler test fixture (reconciler_test.cc, reconciler_report_test.cc):
// a TestRun in an in-memory API server (kube's FakeObjects), a fixed clock and
// a scripted coordinator (answers_ by "METHOD /v1/path").

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kube/test_server.h"
#include "operator/reconciler.h"

namespace herd::op::fixture {

using namespace std::chrono_literals;
using kube::testing::FakeObjects;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;

inline constexpr const char* kJobs = "/apis/batch/v1/namespaces/perf/jobs";

inline json pod(const std::string& component, int index, const std::string& phase, json state,
                const std::string& ip = "") {
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
inline json running() {
  return {{"running", json::object()}};
}
inline json terminated(int code, const std::string& message) {
  return {{"terminated", {{"exitCode", code}, {"message", message}}}};
}

class Reconciler : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_.poll = 2s;
    opts_.now = [this] { return now_; };
    opts_.http = [this](const std::string& testrun, const std::string& method, const std::string& url,
                        const std::string&, bool) -> std::optional<std::pair<long, std::string>> {
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
    if (q.method == "PUT" && q.path.find("/testruns/") != std::string::npos) ++status_writes_;
    if (q.method == "POST" && q.path.ends_with("/events")) {
      std::lock_guard lock(events_mu_);
      posted_events_.push_back(json::parse(q.body));
    }
    return store_.handle(q);
  }};
  kube::Client client_{kube::ClusterConfig{.server = server_.url()}};
  kube::EventRecorder events_{client_, "herd-operator"};
  ReconcilerOptions opts_;
  std::atomic<std::uint64_t> changes_{0};
  std::atomic<int> status_writes_{0};
  std::mutex events_mu_;
  std::vector<json> posted_events_;
  /// The event with `reason`, or null.
  json event(const std::string& reason) {
    std::lock_guard lock(events_mu_);
    for (const auto& e : posted_events_) {
      if (e.value("reason", std::string()) == reason) return e;
    }
    return nullptr;
  }
  Clock::time_point now_ = *parse_time("2026-11-29T12:00:10Z");
  std::vector<std::string> calls_;
  std::map<std::string, std::pair<long, std::string>> answers_;
};

}  // namespace herd::op::fixture
