// `herd kube run`'s exit code from a TestRun's final status (docs/operator.md's table).
#include "operator/kube_run.h"

#include <gtest/gtest.h>

#include "operator/report.h"
#include "util/base64.h"

namespace herd::op {
namespace {

nlohmann::json ended_with(const std::string& reason) {
  return {{"stage", "error"},
          {"result", "error"},
          {"conditions",
           {{{"type", "Initialized"}, {"status", "True"}, {"reason", "ScriptValid"}},
            {{"type", "RunnerLost"}, {"status", "True"}, {"reason", "RunnerFailed"}},
            {{"type", "Finished"}, {"status", "False"}, {"reason", reason}}}}};
}

TEST(KubeRunExitCode, TheTestsOwnCodeWins) {
  EXPECT_EQ(exit_code_of({{"stage", "finished"}, {"result", "failed"}, {"exitCode", 99}}), 99);
  EXPECT_EQ(exit_code_of({{"stage", "error"}, {"result", "error"}, {"exitCode", 97}}), 97);
  EXPECT_EQ(exit_code_of({{"stage", "finished"}, {"result", "passed"}}), 0);
}

TEST(KubeRunExitCode, FromTheFinishedConditionsReason) {
  EXPECT_EQ(exit_code_of(ended_with("InvalidParallelism")), 107);  // more runners than VUs: an invalid spec
  EXPECT_EQ(exit_code_of(ended_with("InvalidSpec")), 107);
  EXPECT_EQ(exit_code_of(ended_with("InitializerFailed")), 107);
  EXPECT_EQ(exit_code_of(ended_with("RunnersNotReady")), 97);
  EXPECT_EQ(exit_code_of(ended_with("CoordinatorNotReady")), 97);
  // A RunnerLost condition alone is not the end: the cluster problems stay 1.
  EXPECT_EQ(exit_code_of(ended_with("LoadZoneNotFound")), 1);
  EXPECT_EQ(exit_code_of(ended_with("InitializerTimeout")), 1);
  EXPECT_EQ(exit_code_of(ended_with("CoordinatorLost")), 1);
}

TEST(KubeRunExitCode, UsageErrorsAreFoundBeforeTheCluster) {
  // No kubeconfig is read: these end with 2 first.
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "abc"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "0"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "99999999999"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--timeout", "soon"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--timeout", "0s"}), 2);
}

TEST(KubeRunReport, AsksTheCoordinatorForTheReportThroughRunnerEnv) {
  nlohmann::json tr = {{"spec", {{"parallelism", 2}}}};
  request_report(tr);
  EXPECT_EQ(tr["spec"]["runner"]["env"],
            (nlohmann::json::array({{{"name", "K6_WEB_DASHBOARD"}, {"value", "true"}},
                                    {{"name", "K6_WEB_DASHBOARD_PORT"}, {"value", "-1"}},  // no server: only the report
                                    {{"name", "K6_WEB_DASHBOARD_EXPORT"}, {"value", "herd-report.html"}}})));
  // A manifest with the dashboard on and its own export path keeps both, and its server.
  nlohmann::json own = {{"spec",
                         {{"runner",
                           {{"env",
                             {{{"name", "K6_WEB_DASHBOARD"}, {"value", "true"}},
                              {{"name", "K6_WEB_DASHBOARD_EXPORT"}, {"value", "/reports/r.html"}}}}}}}}};
  nlohmann::json before = own;
  request_report(own);
  EXPECT_EQ(own, before);
  // Turned off in the manifest: --report turns it on (no server), and names a file.
  nlohmann::json off = {{"spec", {{"runner", {{"env", {{{"name", "K6_WEB_DASHBOARD"}, {"value", "false"}}}}}}}}};
  request_report(off);
  EXPECT_EQ(off["spec"]["runner"]["env"][0]["value"], "true");
  EXPECT_EQ(off["spec"]["runner"]["env"].size(), 3u);
}

TEST(KubeRunReport, TheStoredReportDecompressedOrWhyThereIsNone) {
  const std::string page = "<!doctype html><title>herd: test report</title>";
  nlohmann::json status = {
      {"report", {{"configMap", "load-summary"}, {"key", "report.html.gz"}, {"compressed", true}}}};
  nlohmann::json cm = {{"binaryData", {{"report.html.gz", util::base64_encode(gzip(page))}}}};
  EXPECT_EQ(report_from(status, cm), page);
  auto why = [](const nlohmann::json& st, const nlohmann::json& c) {
    try {
      report_from(st, c);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(why(nlohmann::json::object(), cm).find("no report"), std::string::npos);
  EXPECT_EQ(why({{"report", {{"message", "too large"}}}}, cm), "too large");
  EXPECT_NE(why(status, nlohmann::json::object()).find("has no report.html.gz"), std::string::npos);
  EXPECT_NE(why(status, {{"binaryData", {{"report.html.gz", util::base64_encode(page)}}}}).find("not valid gzip"),
            std::string::npos);
}

TEST(KubeRunReport, AnUnwritableReportFileIsRefusedBeforeTheCluster) {
  EXPECT_EQ(kube_main({"run", "t.js", "--report", "/nonexistent-dir/r.html"}), 104);
  EXPECT_EQ(kube_main({"run", "t.js", "--report"}), 2);
}

}  // namespace
}  // namespace herd::op
