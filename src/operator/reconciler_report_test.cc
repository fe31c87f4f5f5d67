// The coordinator's HTML report through a reconcile pass (operator/report.h):
// stored beside the summary, in its own ConfigMap, or not at all (a Warning,
// the test's result unchanged); and read before the coordinator is let go,
// even when its answer comes after the summary's.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>

#include "operator/coordinator_poller.h"
#include "operator/reconciler_fixture.h"
#include "operator/report.h"
#include "util/base64.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;
using namespace fixture;

constexpr const char* kSummaryCm = "/api/v1/namespaces/perf/configmaps/load-summary";
constexpr const char* kReportCm = "/api/v1/namespaces/perf/configmaps/load-report";

std::string passed_summary(const std::string& text = "  █ TOTAL RESULTS\n") {
  return json{{"exitCode", 0}, {"result", "passed"}, {"text", text}, {"metrics", {{"iterations", 40}}}}.dump();
}

/// `n` bytes that gzip cannot shrink.
std::string noise(std::size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string stored(const json& cm) {
  std::string gz;
  const json& b = cm.value("binaryData", json::object());
  if (!b.contains("report.html.gz") || !util::base64_decode(b["report.html.gz"].get<std::string>(), false, &gz))
    return "";
  return gunzip(gz).value_or("");
}

TEST_F(Reconciler, TheReportIsStoredBesideTheSummaryAndNamedInStatus) {
  auto [init, r1, r2, coord] = until_started();
  const std::string page = "<!doctype html><title>herd: test report</title><script>window.herdReport=[]</script>";
  answers_["GET /v1/summary"] = {200, passed_summary()};
  answers_["GET /v1/report"] = {200, page};
  EXPECT_EQ(pass({init, r1, r2, coord}), 0s);
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_EQ(st["result"], "passed");
  json cm = store_.get(kSummaryCm);
  EXPECT_EQ(cm["data"]["summary.txt"], "  █ TOTAL RESULTS\n");
  EXPECT_EQ(stored(cm), page);
  EXPECT_EQ(st["report"]["configMap"], "load-summary");
  EXPECT_EQ(st["report"]["key"], "report.html.gz");
  EXPECT_EQ(st["report"]["compressed"], true);
  EXPECT_EQ(st["report"]["bytes"], page.size());
  EXPECT_TRUE(store_.get(kReportCm).is_null());
  EXPECT_EQ(calls_.back(), "PATCH http://127.0.1.3:6565/v1/status");  // the coordinator is let go after
}

TEST_F(Reconciler, NoReportAskedForLeavesStatusWithoutOne) {
  auto [init, r1, r2, coord] = until_started();
  answers_["GET /v1/summary"] = {200, passed_summary()};  // /v1/report: 404
  pass({init, r1, r2, coord});
  EXPECT_EQ(status()["stage"], "finished");
  EXPECT_FALSE(status().contains("report"));
  EXPECT_FALSE(store_.get(kSummaryCm).contains("binaryData"));
}

TEST_F(Reconciler, AReportTooLargeForTheSummaryGetsItsOwnConfigMap) {
  auto [init, r1, r2, coord] = until_started();
  const std::string page = noise(600'000);
  answers_["GET /v1/summary"] = {200, passed_summary(std::string(600'000, 's'))};
  answers_["GET /v1/report"] = {200, page};
  pass({init, r1, r2, coord});
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_FALSE(store_.get(kSummaryCm).contains("binaryData"));
  json own = store_.get(kReportCm);
  ASSERT_FALSE(own.is_null());
  EXPECT_EQ(stored(own), page);
  EXPECT_EQ(own["metadata"]["ownerReferences"][0]["uid"], "uid-1");  // deleted with the TestRun
  EXPECT_EQ(st["report"]["configMap"], "load-report");
}

TEST_F(Reconciler, AReportTooLargeForAnyConfigMapIsAWarningNotAFailedTest) {
  auto [init, r1, r2, coord] = until_started();
  answers_["GET /v1/summary"] = {200, passed_summary()};
  answers_["GET /v1/report"] = {200, noise(kConfigMapMaxBytes + 1000)};
  pass({init, r1, r2, coord});
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_EQ(st["result"], "passed");
  EXPECT_FALSE(st["report"].contains("configMap"));
  EXPECT_NE(st["report"]["message"].get<std::string>().find("more than a ConfigMap holds"), std::string::npos);
  EXPECT_TRUE(store_.get(kReportCm).is_null());
  EXPECT_FALSE(store_.get(kSummaryCm).is_null());  // the summary is stored all the same
  json e = event("ReportTooLarge");
  ASSERT_FALSE(e.is_null());
  EXPECT_EQ(e["type"], "Warning");
}

TEST_F(Reconciler, TheReportIsAwaitedWhenItsAnswerComesAfterTheSummarys) {
  auto [init, r1, r2, coord] = until_started();
  // A real coordinator control API on loopback: the summary at once, the report 1 s later.
  const std::string page = "<!doctype html><title>herd: test report</title>";
  TestServer coordinator([&](const HttpRequest& r) {
    HttpReply reply{404, ""};
    if (r.path == "/v1/summary") reply = {200, passed_summary()};
    if (r.path == "/v1/report") {
      reply = {200, page};
      reply.delay_ms = 1000;
    }
    return reply;
  });
  std::mutex mu;
  std::condition_variable cv;
  int requeued = 0;
  CoordinatorPoller poller([&](const std::string&) {
    std::lock_guard lock(mu);
    ++requeued;
    cv.notify_all();
  });
  opts_.http = [&](const std::string& key, const std::string& method, const std::string& url, const std::string& body,
                   bool keep) { return poller.call(key, method, url, body, keep); };
  opts_.control_port = std::stoi(coordinator.url().substr(coordinator.url().rfind(':') + 1));
  coord["status"]["podIP"] = "127.0.0.1";
  auto wait_requeued = [&](int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return requeued >= n && poller.in_flight() == 0; });  // every answer in
  };
  pass({init, r1, r2, coord});  // starts GET /v1/summary (and /v1/metrics, /v1/start)
  ASSERT_TRUE(wait_requeued(3));
  pass({init, r1, r2, coord});  // the summary is in: GET /v1/report starts
  EXPECT_EQ(status()["stage"], "started") << "not finished without the report";
  ASSERT_TRUE(wait_requeued(4));
  pass({init, r1, r2, coord});  // the report is in, and the summary's answer was kept for it
  json st = status();
  EXPECT_EQ(st["stage"], "finished");
  EXPECT_EQ(st["report"]["configMap"], "load-summary");
  EXPECT_EQ(stored(store_.get(kSummaryCm)), page);
}

}  // namespace
}  // namespace herd::op
