#include "dashboard/report.h"

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "dashboard/live.h"

namespace herd::dashboard {
namespace {

TEST(Report, IsOneFileWithEverythingInlined) {
  std::string html = render_report({R"({"t":1,"name":"</script><!-- x"})", R"({"t":2})"});
  // Nothing to fetch: every src= and href= is a data: URI (the empty favicon, dygraphs' own image).
  std::vector<std::string> refs;
  std::regex ref(R"re((src|href)="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it)
    refs.push_back((*it)[2]);
  ASSERT_FALSE(refs.empty());
  for (const auto& r : refs) EXPECT_EQ(r.rfind("data:", 0), 0u) << r;
  EXPECT_NE(html.find("Dygraph"), std::string::npos);
  EXPECT_NE(html.find("window.herdReport = [\n{\"t\":1"), std::string::npos);
  // The data cannot end its script early or open a comment.
  EXPECT_NE(html.find(R"("name":"\u003c/script>\u003c!-- x")"), std::string::npos);
  EXPECT_EQ(html.find("</script><!-- x"), std::string::npos);
  EXPECT_NE(html.find("<title>herd: test report</title>"), std::string::npos);
}

TEST(Report, WritesTheFileOrSaysWhy) {
  std::string path = ::testing::TempDir() + "herd-report-test.html";
  EXPECT_EQ(write_report(path, {R"({"t":1})"}), "");
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), render_report({R"({"t":1})"}));
  std::string err = write_report("/nonexistent-dir/r.html", {});
  EXPECT_NE(err.find("/nonexistent-dir/r.html"), std::string::npos) << err;
}

nlohmann::json summary_data() {
  return nlohmann::json::parse(R"js({
    "state": {"testRunDurationMs": 10000},
    "metrics": {
      "http_reqs": {"type": "counter", "contains": "default", "values": {"count": 400, "rate": 40}},
      "http_req_duration": {"type": "trend", "contains": "time",
        "values": {"avg": 12.5, "min": 1, "med": 10, "max": 100, "p(90)": 20, "p(95)": 30},
        "thresholds": {"p(95)<200": {"ok": true}}},
      "http_req_duration{name:home}": {"type": "trend", "contains": "time",
        "values": {"avg": 2, "min": 1, "med": 2, "max": 3, "p(90)": 3, "p(95)": 3}},
      "http_req_waiting": {"type": "trend", "contains": "time",
        "values": {"avg": 11, "min": 1, "med": 9, "max": 90, "p(90)": 19, "p(95)": 29}},
      "http_req_failed": {"type": "rate", "contains": "default", "values": {"rate": 0.5, "passes": 200, "fails": 200}},
      "vus": {"type": "gauge", "contains": "default", "values": {"value": 3, "min": 1, "max": 3}},
      "my_counter": {"type": "counter", "contains": "default", "values": {"count": 7, "rate": 0.7}}
    }})js");
}

TEST(Report, InfoHasMetadataTheSummaryTableAndGeneratorHealth) {
  ReportInfo info;
  info.script = "/tmp/script.js";
  info.options = {{"vus", 3}};
  info.parallelism = 2;
  info.exit_code = 99;
  info.summary_data = summary_data();
  info.end = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'780'000'000'123));
  metrics::GeneratorHealth calm, busy;
  calm.name = "runner 1 (segment 0:1/2)";
  calm.seconds = 10;
  calm.cpu_avg = 0.2;
  busy.name = "runner 2 (segment 1/2:1)";
  busy.seconds = 10;
  busy.cpu_avg = 0.99;
  busy.cpu_saturated_s = 9;
  busy.unhealthy_s = 9;
  info.generators = {calm, busy};
  nlohmann::json j = report_info_json(info);

  const auto& meta = j["meta"];
  EXPECT_EQ(meta["script"], "/tmp/script.js");
  EXPECT_EQ(meta["options"]["vus"], 3);
  EXPECT_EQ(meta["parallelism"], 2);
  EXPECT_EQ(meta["exit_code"], 99);
  EXPECT_EQ(meta["end"], "2026-05-28T20:26:40.123Z");
  EXPECT_EQ(meta["start"], "2026-05-28T20:26:30.123Z");  // end minus the test's duration
  EXPECT_DOUBLE_EQ(meta["duration_s"].get<double>(), 10);

  // Every metric, in the text summary's order, with its figures.
  std::vector<std::string> names;
  for (const auto& r : j["summary"]) names.push_back(r["metric"]);
  EXPECT_EQ(names, (std::vector<std::string>{"my_counter", "http_req_duration", "http_req_duration{name:home}",
                                             "http_req_failed", "http_req_waiting", "http_reqs", "vus"}));
  metrics::SummaryOptions full;
  full.mode = "full";
  std::string text = metrics::render_text_summary(info.summary_data, full);
  for (const auto& r : j["summary"])
    for (const auto& cell : r["cells"])
      EXPECT_NE(text.find(cell.get<std::string>()), std::string::npos) << r["metric"] << " " << cell << "\n" << text;
  EXPECT_EQ(j["summary"][1]["section"], "HTTP");
  EXPECT_EQ(j["summary"][1]["cells"][0], "avg=12.5ms");
  EXPECT_EQ(j["summary"][5]["cells"], (nlohmann::json{"400", "40/s"}));
  EXPECT_EQ(j["summary"][3]["cells"], (nlohmann::json{"50.00%", "200 out of 400"}));

  // Generator health: the warning names the saturated runner; every runner's figures.
  ASSERT_EQ(j["health"]["warnings"].size(), 1u);
  EXPECT_EQ(j["health"]["warnings"][0].get<std::string>().rfind("runner 2 (segment 1/2:1): saturated", 0), 0u)
      << j["health"];
  ASSERT_EQ(j["health"]["generators"].size(), 2u);
  EXPECT_FALSE(j["health"]["generators"][0]["saturated"].get<bool>());
  EXPECT_TRUE(j["health"]["generators"][1]["saturated"].get<bool>());
  EXPECT_DOUBLE_EQ(j["health"]["generators"][1]["cpu_avg"].get<double>(), 0.99);

  std::string html = render_report({R"({"t":1})"}, j);
  EXPECT_NE(html.find("window.herdReportInfo = {"), std::string::npos);
  EXPECT_NE(html.find("\"exit_code\":99"), std::string::npos);
  EXPECT_NE(html.find("id=\"table-summary\""), std::string::npos);
  EXPECT_NE(html.find("id=\"meta-exit-code\""), std::string::npos);
  EXPECT_EQ(render_report({R"({"t":1})"}).find("window.herdReportInfo = "), std::string::npos);
}

TEST(Report, LiveDashboardWritesItOnceTheRunEndedWithTheGivenExitCode) {
  DashboardOptions o;
  o.port = -1;
  o.period = std::chrono::milliseconds(100);
  o.export_path = ::testing::TempDir() + "herd-live-report-test.html";
  std::remove(o.export_path.c_str());
  LiveDashboard d(o, nullptr, nullptr, nullptr);
  EXPECT_TRUE(d.wants_report());
  ReportInfo info;
  info.exit_code = 107;
  EXPECT_EQ(d.write_report(info), "");  // the test never ran: no report
  EXPECT_FALSE(std::ifstream(o.export_path).good());
  d.finish(metrics::Snapshot{}, {});
  EXPECT_EQ(d.write_report(info), "");
  std::ifstream f(o.export_path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_NE(ss.str().find("\"exit_code\":107"), std::string::npos);
  EXPECT_NE(ss.str().find("\"final\":true"), std::string::npos);
}

}  // namespace
}  // namespace herd::dashboard
