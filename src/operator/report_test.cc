// Where the operator keeps a TestRun's HTML report: gzip, the ConfigMap size the
// API server counts, and the fits / does not fit decision (operator/report.h).
#include "operator/report.h"

#include <gtest/gtest.h>

#include <random>

#include "operator/jobs.h"
#include "util/base64.h"

namespace herd::op {
namespace {

using json = nlohmann::json;

json testrun() {
  return {{"apiVersion", "herd.dev/v1alpha1"},
          {"kind", "TestRun"},
          {"metadata", {{"name", "load"}, {"namespace", "perf"}, {"uid", "uid-1"}}},
          {"spec", {{"parallelism", 1}}}};
}

json summary_cm(std::size_t text_bytes) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "load-summary"}, {"namespace", "perf"}}},
          {"data", {{"summary.txt", std::string(text_bytes, 's')}, {"result.json", "{}"}}}};
}

/// `n` bytes that gzip cannot shrink.
std::string noise(std::size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string html(std::size_t n) {
  std::string s = "<!doctype html><script>window.herdReport = [";
  while (s.size() < n) s += R"({"t":1,"vus":10,"reqs":1234},)";
  return s + "];</script>";
}

TEST(Gzip, RoundTripsAndRefusesWhatIsNotGzip) {
  std::string page = html(200'000);
  std::string gz = gzip(page);
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // a gzip member (RFC 1952), not a zlib stream
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_LT(gz.size(), page.size() / 10);
  EXPECT_EQ(gunzip(gz), page);
  EXPECT_EQ(gunzip(gzip("")), "");
  EXPECT_FALSE(gunzip("<html>"));                     // not gzip
  EXPECT_FALSE(gunzip(gz.substr(0, gz.size() / 2)));  // truncated
  EXPECT_FALSE(gunzip(gz + "trailing"));              // more after the stream
  EXPECT_FALSE(gunzip(gz, page.size() - 1));          // decompresses past the limit
}

TEST(ConfigMapBytes, DataAndDecodedBinaryDataAsTheApiServerCountsThem) {
  json cm = {{"data", {{"a", "12345"}, {"b", ""}}},
             {"binaryData", {{"x", util::base64_encode("1234567")}, {"y", util::base64_encode("12")}}}};
  EXPECT_EQ(configmap_bytes(cm), 5u + 7u + 2u);
  EXPECT_EQ(configmap_bytes(json::object()), 0u);
}

TEST(PlaceReport, BesideTheSummaryUpToTheLimitThenAloneThenNowhere) {
  EXPECT_EQ(place_report(1000, kConfigMapMaxBytes - 1000), ReportPlace::kSummary);
  EXPECT_EQ(place_report(1000, kConfigMapMaxBytes - 999), ReportPlace::kOwn);
  EXPECT_EQ(place_report(0, kConfigMapMaxBytes), ReportPlace::kSummary);
  EXPECT_EQ(place_report(kConfigMapMaxBytes + 5, 10), ReportPlace::kOwn);
  EXPECT_EQ(place_report(10, kConfigMapMaxBytes), ReportPlace::kOwn);
  EXPECT_EQ(place_report(10, kConfigMapMaxBytes + 1), ReportPlace::kTooLarge);
  EXPECT_EQ(kConfigMapMaxBytes, 1048576u);  // the API server's limit (1 MiB)
}

TEST(PlanReport, NoReportAskedForChangesNothing) {
  ReportPlan p = plan_report(testrun(), summary_cm(10), {404, R"({"errors":[{"detail":"no report"}]})"}, json());
  EXPECT_TRUE(p.summary_binary.is_null());
  EXPECT_TRUE(p.own_configmap.is_null());
  EXPECT_TRUE(p.status.is_null());
  EXPECT_TRUE(p.warning.empty());
}

TEST(PlanReport, AReportThatFitsGoesBesideTheSummaryCompressed) {
  std::string page = html(300'000);
  ReportPlan p = plan_report(testrun(), summary_cm(5000), {200, page}, json());
  ASSERT_TRUE(p.summary_binary.is_object());
  std::string gz;
  ASSERT_TRUE(util::base64_decode(p.summary_binary[std::string(kReportKey)].get<std::string>(), false, &gz));
  EXPECT_EQ(gunzip(gz), page);
  EXPECT_TRUE(p.own_configmap.is_null());
  EXPECT_EQ(p.status["configMap"], "load-summary");
  EXPECT_EQ(p.status["key"], "report.html.gz");
  EXPECT_EQ(p.status["compressed"], true);
  EXPECT_EQ(p.status["bytes"], page.size());
  EXPECT_EQ(p.status["compressedBytes"], gz.size());
  EXPECT_TRUE(p.warning.empty());
}

TEST(PlanReport, AReportThatDoesNotFitBesideTheSummaryGetsItsOwnConfigMap) {
  std::string page = noise(600'000);  // 600 KB compressed, beside a 600 KB summary: over 1 MiB
  json owner = {{"kind", "TestRun"}, {"name", "load"}, {"uid", "uid-1"}};
  ReportPlan p = plan_report(testrun(), summary_cm(600'000), {200, page}, owner);
  EXPECT_TRUE(p.summary_binary.is_null());
  ASSERT_TRUE(p.own_configmap.is_object());
  EXPECT_EQ(p.own_configmap["metadata"]["name"], "load-report");
  EXPECT_EQ(p.own_configmap["metadata"]["namespace"], "perf");
  EXPECT_EQ(p.own_configmap["metadata"]["labels"][std::string(kLabelTestRun)], "load");
  EXPECT_EQ(p.own_configmap["metadata"]["ownerReferences"][0], owner);
  EXPECT_LE(configmap_bytes(p.own_configmap), kConfigMapMaxBytes);
  std::string gz;
  ASSERT_TRUE(util::base64_decode(p.own_configmap["binaryData"]["report.html.gz"].get<std::string>(), false, &gz));
  EXPECT_EQ(gunzip(gz), page);
  EXPECT_EQ(p.status["configMap"], "load-report");
  EXPECT_TRUE(p.warning.empty());
}

TEST(PlanReport, ATooLargeReportIsAWarningAndAStatusMessage) {
  std::string page = noise(kConfigMapMaxBytes + 4096);
  ReportPlan p = plan_report(testrun(), summary_cm(10), {200, page}, json());
  EXPECT_TRUE(p.summary_binary.is_null());
  EXPECT_TRUE(p.own_configmap.is_null());
  EXPECT_FALSE(p.status.contains("configMap"));
  EXPECT_FALSE(p.status.contains("key"));
  EXPECT_EQ(p.status["bytes"], page.size());
  EXPECT_EQ(p.warning_reason, "ReportTooLarge");
  EXPECT_NE(p.warning.find("more than a ConfigMap holds (1.0 MiB)"), std::string::npos) << p.warning;
  EXPECT_EQ(p.status["message"], p.warning);
}

TEST(PlanReport, AReportTheCoordinatorCouldNotServeIsAWarning) {
  ReportPlan p = plan_report(
      testrun(), summary_cm(10),
      {500, R"j({"errors":[{"status":"500","detail":"the report r.html cannot be read (No such file)"}]})j"}, json());
  EXPECT_EQ(p.warning_reason, "ReportNotStored");
  EXPECT_NE(p.warning.find("HTTP 500: the report r.html cannot be read"), std::string::npos) << p.warning;
  EXPECT_EQ(p.status["message"], p.warning);
  p = plan_report(testrun(), summary_cm(10), {0, "Connection refused"}, json());
  EXPECT_NE(p.warning.find("Connection refused"), std::string::npos) << p.warning;
}

TEST(PlanReport, RefusedByTheApiServer) {
  ReportPlan p = plan_report(testrun(), summary_cm(10), {200, html(1000)}, json());
  report_refused(p, "load-summary", "ConfigMap \"load-summary\" is invalid: []: Too long");
  EXPECT_FALSE(p.status.contains("configMap"));
  EXPECT_EQ(p.warning_reason, "ReportNotStored");
  EXPECT_NE(p.status["message"].get<std::string>().find("Too long"), std::string::npos);
}

}  // namespace
}  // namespace herd::op
