#include "metrics/summary.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;
using namespace std::chrono_literals;

struct Fixture {
  Registry reg;
  MetricId custom;
  Snapshot snap;
  std::vector<MetricThresholds> ths;
  std::vector<ThresholdResult> results;
  Fixture() {
    custom = reg.define("my_counter", MetricType::kCounter, ValueType::kDefault);
    Sink sink(reg);
    TagSet login(Tags{{"name", "login"}, {"expected_response", "true"}});
    TagSet home(Tags{{"name", "home"}, {"expected_response", "false"}});
    for (int i = 1; i <= 100; ++i) {
      sink.add(kHttpReqDuration, login, i, 0);  // ms
      sink.add(kHttpReqDuration, home, 1000, 0);
      sink.add(kHttpReqs, login, 1, 0);
      sink.add(kHttpReqFailed, home, 1, 0);
      sink.add(kDataReceived, TagSet(), 1000, 0);
    }
    sink.add(kVus, TagSet(), 5, 1);
    sink.add(kVus, TagSet(), 2, 2);
    sink.add(custom, TagSet(), 7, 0);
    sink.add(kChecks, TagSet(Tags{{"check", "status is 200"}, {"group", ""}}), 1, 0);
    sink.add(kChecks, TagSet(Tags{{"check", "status is 200"}, {"group", ""}}), 1, 0);
    sink.add(kChecks, TagSet(Tags{{"check", "body ok"}, {"group", "::api"}}), 1, 0);
    sink.add(kChecks, TagSet(Tags{{"check", "body ok"}, {"group", "::api"}}), 0, 0);
    sink.add(kChecks, TagSet(Tags{{"check", "deep"}, {"group", "::api::v2"}}), 1, 0);
    snap = sink.snapshot();
    ths = parse_thresholds(nlohmann::json::parse(R"({
      "http_req_duration": ["p(95)<2000", "p(99.9)<10"],
      "http_req_duration{name:login}": ["max<1000"],
      "http_req_failed": ["rate<0.01"]
    })"));
    results = evaluate_thresholds(ths, snap, 10s, true);
  }
};

TEST(SummaryFormat, Durations) {
  EXPECT_EQ(format_duration_ms(0), "0s");
  EXPECT_EQ(format_duration_ms(0.0005), "500ns");
  EXPECT_EQ(format_duration_ms(0.0125), "12.5µs");
  EXPECT_EQ(format_duration_ms(1.2345), "1.23ms");
  EXPECT_EQ(format_duration_ms(148.21), "148.21ms");
  EXPECT_EQ(format_duration_ms(2500), "2.5s");
  EXPECT_EQ(format_duration_ms(62000), "1m2s");
  EXPECT_EQ(format_duration_ms(3605000), "1h0m5s");
  EXPECT_EQ(format_duration_ms(1500, "ms"), "1500ms");
  EXPECT_EQ(format_duration_ms(1500, "s"), "1.5s");
  EXPECT_EQ(format_duration_ms(1.5, "us"), "1500µs");
}

TEST(SummaryFormat, Bytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(9), "9 B");
  EXPECT_EQ(format_bytes(718), "718 B");
  EXPECT_EQ(format_bytes(4900), "4.9 kB");
  EXPECT_EQ(format_bytes(81000), "81 kB");
  EXPECT_EQ(format_bytes(1300000), "1.3 MB");
}

TEST(SummaryData, Shape) {
  Fixture f;
  SummaryOptions opts;
  opts.trend_stats = {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99.9)", "count"};
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  ASSERT_TRUE(d.contains("root_group"));
  ASSERT_TRUE(d.contains("options"));
  ASSERT_TRUE(d.contains("state"));
  ASSERT_TRUE(d.contains("metrics"));
  EXPECT_EQ(d["state"]["testRunDurationMs"], 10000);
  EXPECT_EQ(d["state"]["isStdOutTTY"], false);
  EXPECT_FALSE(d["state"].contains("partial"));
  EXPECT_EQ(d["options"]["summaryTrendStats"].size(), 8u);
  EXPECT_EQ(d["options"]["noColor"], true);

  const auto& m = d["metrics"];
  const auto& dur = m["http_req_duration"];
  EXPECT_EQ(dur["type"], "trend");
  EXPECT_EQ(dur["contains"], "time");
  for (const char* k : {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99.9)", "count"})
    EXPECT_TRUE(dur["values"].contains(k)) << k;
  EXPECT_EQ(dur["values"]["count"], 200);
  EXPECT_EQ(dur["values"]["min"], 1);
  EXPECT_EQ(dur["values"]["max"], 1000);
  EXPECT_NEAR(dur["values"]["avg"].get<double>(), (5050.0 + 100000) / 200, 1e-9);
  EXPECT_EQ(dur["thresholds"]["p(95)<2000"]["ok"], true);
  EXPECT_EQ(dur["thresholds"]["p(99.9)<10"]["ok"], false);

  const auto& login = m["http_req_duration{name:login}"];
  EXPECT_EQ(login["type"], "trend");
  EXPECT_EQ(login["values"]["max"], 100);
  EXPECT_EQ(login["thresholds"]["max<1000"]["ok"], true);
  ASSERT_TRUE(m.contains("http_req_duration{expected_response:true}"));
  EXPECT_EQ(m["http_req_duration{expected_response:true}"]["values"]["max"], 100);

  EXPECT_EQ(m["http_reqs"]["type"], "counter");
  EXPECT_EQ(m["http_reqs"]["values"]["count"], 100);
  EXPECT_DOUBLE_EQ(m["http_reqs"]["values"]["rate"].get<double>(), 10);
  EXPECT_EQ(m["http_req_failed"]["values"]["rate"], 1);
  EXPECT_EQ(m["http_req_failed"]["values"]["passes"], 100);
  EXPECT_EQ(m["http_req_failed"]["values"]["fails"], 0);
  EXPECT_EQ(m["http_req_failed"]["thresholds"]["rate<0.01"]["ok"], false);
  EXPECT_EQ(m["vus"]["values"]["value"], 2);
  EXPECT_EQ(m["vus"]["values"]["min"], 2);
  EXPECT_EQ(m["vus"]["values"]["max"], 5);
  EXPECT_EQ(m["data_received"]["contains"], "data");
  EXPECT_EQ(m["my_counter"]["values"]["count"], 7);
  EXPECT_FALSE(m.contains("iterations"));  // no samples
  EXPECT_FALSE(m["vus"].contains("thresholds"));

  nlohmann::json p = build_summary_data(f.snap, f.ths, f.results, 10s, opts, true);
  EXPECT_EQ(p["state"]["partial"], true);
}

TEST(SummaryData, RootGroup) {
  Fixture f;
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, SummaryOptions{});
  const auto& root = d["root_group"];
  EXPECT_EQ(root["name"], "");
  EXPECT_EQ(root["path"], "");
  EXPECT_TRUE(root["id"].is_string());
  ASSERT_EQ(root["checks"].size(), 1u);
  EXPECT_EQ(root["checks"][0]["name"], "status is 200");
  EXPECT_EQ(root["checks"][0]["path"], "::status is 200");
  EXPECT_EQ(root["checks"][0]["passes"], 2);
  EXPECT_EQ(root["checks"][0]["fails"], 0);
  ASSERT_EQ(root["groups"].size(), 1u);
  const auto& api = root["groups"][0];
  EXPECT_EQ(api["name"], "api");
  EXPECT_EQ(api["path"], "::api");
  ASSERT_EQ(api["checks"].size(), 1u);
  EXPECT_EQ(api["checks"][0]["path"], "::api::body ok");
  EXPECT_EQ(api["checks"][0]["passes"], 1);
  EXPECT_EQ(api["checks"][0]["fails"], 1);
  ASSERT_EQ(api["groups"].size(), 1u);
  EXPECT_EQ(api["groups"][0]["path"], "::api::v2");
  EXPECT_EQ(api["groups"][0]["checks"][0]["name"], "deep");
  EXPECT_NE(api["id"], root["id"]);
  // ids are stable
  nlohmann::json d2 = build_summary_data(f.snap, f.ths, f.results, 10s, SummaryOptions{});
  EXPECT_EQ(d2["root_group"]["groups"][0]["id"], api["id"]);
}

std::string metric_line(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto pos = line.find(name + ".");
    if (pos != std::string::npos && line.find_first_not_of(" ✓✗") == pos) return line;
    if (pos != std::string::npos && line.substr(0, pos).find_first_not_of(' ') == std::string::npos) return line;
  }
  return "";
}

TEST(TextSummary, Compact) {
  Fixture f;
  SummaryOptions opts;
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  std::string t = render_text_summary(d, opts);
  if (std::getenv("HERD_PRINT_SUMMARY")) {
    std::printf("%s", t.c_str());
    SummaryOptions l = opts;
    l.mode = "legacy";
    std::printf("%s", render_text_summary(d, l).c_str());
    l.mode = "full";
    std::printf("%s", render_text_summary(d, l).c_str());
  }
  EXPECT_NE(t.find("█ THRESHOLDS"), std::string::npos) << t;
  EXPECT_NE(t.find("█ TOTAL RESULTS"), std::string::npos) << t;
  EXPECT_NE(t.find("✓ 'p(95)<2000' p(95)="), std::string::npos) << t;
  EXPECT_NE(t.find("✗ 'p(99.9)<10' p(99.9)="), std::string::npos) << t;
  EXPECT_NE(t.find("✗ 'rate<0.01' rate=100.00%"), std::string::npos) << t;
  EXPECT_NE(t.find("✓ 'max<1000' max=100ms"), std::string::npos) << t;
  // checks block
  std::regex total(R"(checks_total\.+: 5 +0\.5/s)");
  EXPECT_TRUE(std::regex_search(t, total)) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(checks_succeeded\.+: 80\.00% +4 out of 5)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(checks_failed\.+: 20\.00% +1 out of 5)"))) << t;
  EXPECT_NE(t.find("✓ status is 200"), std::string::npos) << t;
  // sections in order
  auto custom = t.find("    CUSTOM\n"), http = t.find("    HTTP\n"), exec = t.find("    EXECUTION\n"),
       net = t.find("    NETWORK\n");
  ASSERT_NE(custom, std::string::npos) << t;
  ASSERT_NE(http, std::string::npos);
  ASSERT_NE(exec, std::string::npos);
  ASSERT_NE(net, std::string::npos);
  EXPECT_LT(custom, http);
  EXPECT_LT(http, exec);
  EXPECT_LT(exec, net);
  std::string dur = metric_line(t, "http_req_duration");
  EXPECT_TRUE(std::regex_search(
      dur, std::regex(R"(^    http_req_duration\.+: avg=\S+ +min=1ms +med=\S+ +max=1s +p\(90\)=\S+ +p\(95\)=\S+$)")))
      << dur;
  EXPECT_NE(t.find("{ expected_response:true }"), std::string::npos);
  EXPECT_NE(t.find("{ name:login }"), std::string::npos);
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(http_req_failed\.+: 100\.00% +100 out of 100)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(http_reqs\.+: 100 +10/s)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(data_received\.+: 100 kB +10 kB/s)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(vus\.+: 2 +min=2 +max=5)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(my_counter\.+: 7 +0\.7/s)"))) << t;
  EXPECT_EQ(t.find("\x1b["), std::string::npos);  // no colours
  // colons aligned for all metric lines
  std::istringstream in(t);
  std::string line;
  std::size_t col = std::string::npos;
  while (std::getline(in, line)) {
    auto p = line.find(".: ");
    if (p == std::string::npos) continue;
    if (col == std::string::npos) col = p;
    EXPECT_EQ(p, col) << line;
  }
}

TEST(TextSummary, FailedCheckDetailsAndColors) {
  Registry reg;
  Sink sink(reg);
  sink.add(kChecks, TagSet(Tags{{"check", "is ok"}, {"group", ""}}), 1, 0);
  sink.add(kChecks, TagSet(Tags{{"check", "is ok"}, {"group", ""}}), 0, 0);
  sink.add(kChecks, TagSet(Tags{{"check", "is ok"}, {"group", ""}}), 0, 0);
  SummaryOptions opts;
  nlohmann::json d = build_summary_data(sink.snapshot(), {}, {}, 1s, opts);
  std::string t = render_text_summary(d, opts);
  EXPECT_NE(t.find("✗ is ok"), std::string::npos) << t;
  EXPECT_NE(t.find("↳  33% — ✓ 1 / ✗ 2"), std::string::npos) << t;
  EXPECT_EQ(t.find("█ THRESHOLDS"), std::string::npos);
  opts.no_color = false;
  EXPECT_NE(render_text_summary(d, opts).find("\x1b["), std::string::npos);
}

TEST(TextSummary, Legacy) {
  Fixture f;
  SummaryOptions opts;
  opts.mode = "legacy";
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  std::string t = render_text_summary(d, opts);
  EXPECT_EQ(t.find("TOTAL RESULTS"), std::string::npos);
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\n     checks\.+: 80\.00% +✓ 4 +✗ 1\n)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\n   ✗ http_req_duration\.+: avg=)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\n   ✗ http_req_failed\.+: 100\.00% +✓ 100 +✗ 0\n)"))) << t;
  EXPECT_TRUE(std::regex_search(
      t, std::regex(R"(\n     http_req_duration_dummy|\n       \{ expected_response:true \}\.+: avg=)")))
      << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\n     █ api\n)"))) << t;
  EXPECT_NE(t.find("✓ status is 200"), std::string::npos);
  // alphabetical order of top-level metrics
  EXPECT_LT(t.find("data_received"), t.find("http_req_duration"));
  EXPECT_LT(t.find("http_reqs"), t.find("my_counter"));
  EXPECT_LT(t.find("my_counter"), t.find("vus"));
}

TEST(TextSummary, TimeUnitOption) {
  Fixture f;
  SummaryOptions opts;
  opts.time_unit = "s";
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  std::string t = render_text_summary(d, opts);
  std::string dur = metric_line(t, "http_req_duration");
  EXPECT_NE(dur.find("max=1s"), std::string::npos) << dur;
  EXPECT_NE(dur.find("min=0s"), std::string::npos) << dur;  // 1ms at 2 decimals of s
}

TEST(SummaryExport, LegacyShape) {
  Fixture f;
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, SummaryOptions{});
  nlohmann::json e = summary_export(d);
  ASSERT_TRUE(e["root_group"]["checks"].is_object());
  EXPECT_EQ(e["root_group"]["checks"]["status is 200"]["passes"], 2);
  EXPECT_TRUE(e["root_group"]["groups"]["api"]["checks"].contains("body ok"));
  EXPECT_EQ(e["metrics"]["http_reqs"]["count"], 100);
  EXPECT_DOUBLE_EQ(e["metrics"]["http_reqs"]["rate"].get<double>(), 10);
  EXPECT_EQ(e["metrics"]["http_req_failed"]["value"], 1);
  EXPECT_EQ(e["metrics"]["http_req_failed"]["passes"], 100);
  EXPECT_EQ(e["metrics"]["http_req_failed"]["fails"], 0);
  EXPECT_FALSE(e["metrics"]["http_req_failed"].contains("values"));
  EXPECT_EQ(e["metrics"]["http_req_duration"]["max"], 1000);
  // k6 legacy: true means the threshold failed
  EXPECT_EQ(e["metrics"]["http_req_duration"]["thresholds"]["p(95)<2000"], false);
  EXPECT_EQ(e["metrics"]["http_req_duration"]["thresholds"]["p(99.9)<10"], true);
  EXPECT_EQ(e["metrics"]["vus"]["value"], 2);
  EXPECT_EQ(e["metrics"]["vus"]["max"], 5);
}

}  // namespace
}  // namespace herd::metrics

namespace herd::metrics {
namespace {

TEST(TextSummary, NotesEndTheSummaryUnderOutputsAndStayOutOfTheData) {
  Fixture f;
  SummaryOptions opts;
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  EXPECT_EQ(render_text_summary(d, opts).find("OUTPUTS"), std::string::npos);
  opts.notes = {"--out x: 3 samples sent in 1 pushes, 7 samples dropped"};
  EXPECT_EQ(build_summary_data(f.snap, f.ths, f.results, 10s, opts), d) << "notes are text only";
  std::string t = render_text_summary(d, opts);
  EXPECT_TRUE(t.ends_with("\n    OUTPUTS\n    --out x: 3 samples sent in 1 pushes, 7 samples dropped\n\n")) << t;
  EXPECT_LT(t.find("    EXECUTION\n"), t.find("OUTPUTS")) << t;
  opts.mode = "legacy";
  t = render_text_summary(d, opts);
  EXPECT_TRUE(t.ends_with("\n     --out x: 3 samples sent in 1 pushes, 7 samples dropped\n\n")) << t;
}

TEST(TextSummary, CoordinatorNotesComeBeforeOutputs) {
  Fixture f;
  SummaryOptions opts;
  nlohmann::json d = build_summary_data(f.snap, f.ths, f.results, 10s, opts);
  const std::string plain = render_text_summary(d, opts);
  opts.coordinator_notes = {"start skew: 1.23ms across 4 runners"};
  EXPECT_EQ(build_summary_data(f.snap, f.ths, f.results, 10s, opts), d) << "notes are text only";
  std::string t = render_text_summary(d, opts);
  EXPECT_EQ(t, plain + "    COORDINATOR\n    start skew: 1.23ms across 4 runners\n\n") << "k6's part unchanged";
  opts.notes = {"--out x: 1 samples sent in 1 pushes"};
  t = render_text_summary(d, opts);
  EXPECT_EQ(t, plain +
                   "    COORDINATOR\n    start skew: 1.23ms across 4 runners\n\n    OUTPUTS\n    --out x: 1 samples "
                   "sent in 1 pushes\n\n");
  opts.mode = "legacy";
  t = render_text_summary(d, opts);
  EXPECT_TRUE(t.ends_with("\n     start skew: 1.23ms across 4 runners\n     --out x: 1 samples sent in 1 pushes\n\n"))
      << t;
}

}  // namespace
}  // namespace herd::metrics
