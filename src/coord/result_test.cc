// The end-of-test result: result names, headline metrics, the full and the
// compact (termination message) forms, their size limits.
#include "coord/result.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "metrics/registry.h"

namespace herd::coord {
namespace {

using json = nlohmann::json;
using metrics::MetricType;
using metrics::ValueType;

TEST(ResultName, MapsExitCodes) {
  EXPECT_EQ(result_name(0), "passed");
  EXPECT_EQ(result_name(99), "failed");
  EXPECT_EQ(result_name(110), "failed");  // exec.test.fail()
  EXPECT_EQ(result_name(100), "error");   // setupTimeout
  EXPECT_EQ(result_name(108), "aborted");
  EXPECT_EQ(result_name(105), "aborted");
  EXPECT_EQ(result_name(103), "aborted");
  for (int code : {1, 2, 97, 104, 107}) EXPECT_EQ(result_name(code), "error") << code;
}

metrics::Snapshot sample_snapshot() {
  metrics::Registry reg;
  auto it = reg.define("iterations", MetricType::kCounter, ValueType::kDefault);
  auto reqs = reg.define("http_reqs", MetricType::kCounter, ValueType::kDefault);
  auto failed = reg.define("http_req_failed", MetricType::kRate, ValueType::kDefault);
  auto checks = reg.define("checks", MetricType::kRate, ValueType::kDefault);
  auto dur = reg.define("http_req_duration", MetricType::kTrend, ValueType::kTime);
  auto vmax = reg.define("vus_max", MetricType::kGauge, ValueType::kDefault);
  auto sent = reg.define("data_sent", MetricType::kCounter, ValueType::kData);
  metrics::Sink sink(reg);
  sink.add(it, metrics::TagSet(), 40, 1);
  sink.add(reqs, metrics::TagSet(std::vector<std::pair<std::string, std::string>>{{"status", "200"}}), 75, 1);
  sink.add(reqs, metrics::TagSet(std::vector<std::pair<std::string, std::string>>{{"status", "500"}}), 25, 1);
  for (int i = 0; i < 100; ++i) {
    sink.add(failed, metrics::TagSet(), i < 25 ? 1 : 0, 1);
    sink.add(dur, metrics::TagSet(), i + 1, 1);
  }
  for (int i = 0; i < 4; ++i) sink.add(checks, metrics::TagSet(), i < 3 ? 1 : 0, 1);
  sink.add(vmax, metrics::TagSet(), 12, 1);
  sink.add(sent, metrics::TagSet(), 2048, 1);
  return sink.snapshot();
}

TEST(HeadlineMetrics, FromTheMergedSnapshot) {
  json m = headline_metrics(sample_snapshot(), std::chrono::milliseconds(1500));
  EXPECT_EQ(m["iterations"], 40);
  EXPECT_EQ(m["requests"], 100);
  EXPECT_DOUBLE_EQ(m["failureRate"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(m["checksRate"].get<double>(), 0.75);
  EXPECT_NEAR(m["avgMs"].get<double>(), 50.5, 0.01);
  EXPECT_NEAR(m["p95Ms"].get<double>(), 95, 95 * 0.02);
  EXPECT_NEAR(m["p99Ms"].get<double>(), 99, 99 * 0.02);
  EXPECT_EQ(m["vusMax"], 12);
  EXPECT_EQ(m["dataSentBytes"], 2048);
  EXPECT_EQ(m["dataReceivedBytes"], 0);
  EXPECT_EQ(m["durationMs"], 1500);
  EXPECT_TRUE(m["iterations"].is_number_integer());
}

TEST(HeadlineMetrics, EmptySnapshotIsAllZero) {
  json m = headline_metrics(metrics::Snapshot(), std::chrono::milliseconds(0));
  for (auto& [k, v] : m.items()) EXPECT_EQ(v.get<double>(), 0) << k;
}

ResultInput sample_input() {
  static const metrics::Snapshot snap = sample_snapshot();
  ResultInput in;
  in.exit_code = 99;
  in.message = "thresholds on metrics have been crossed";
  in.thresholds = {{"http_req_duration", "p(95)<500", true, false, 95.0},
                   {"http_reqs{status:500}", "count<10", false, false, 25.0}};
  in.merged = &snap;
  in.duration = std::chrono::milliseconds(1500);
  in.text = "  iterations...: 40\n";
  in.data = json{{"metrics", json::object()}};
  return in;
}

TEST(BuildResult, FullShape) {
  json r = build_result(sample_input());
  EXPECT_EQ(r["exitCode"], 99);
  EXPECT_EQ(r["result"], "failed");
  EXPECT_EQ(r["partial"], false);
  EXPECT_EQ(r["message"], "thresholds on metrics have been crossed");
  ASSERT_EQ(r["thresholds"].size(), 2u);
  EXPECT_EQ(r["thresholds"][0], (json{{"metric", "http_req_duration"}, {"expression", "p(95)<500"}, {"ok", true}}));
  EXPECT_EQ(r["thresholds"][1]["metric"], "http_reqs{status:500}");
  EXPECT_EQ(r["thresholds"][1]["ok"], false);
  EXPECT_EQ(r["metrics"]["iterations"], 40);
  EXPECT_EQ(r["text"], "  iterations...: 40\n");
  EXPECT_EQ(r["data"], (json{{"metrics", json::object()}}));
}

TEST(BuildResult, GeneratorHealthPerRunnerAndTheFirstToGoWhenTooLong) {
  metrics::Snapshot snap = sample_snapshot();
  metrics::GeneratorHealth busy;
  busy.name = "runner 2 (segment 1/2:1)";
  busy.seconds = 10;
  busy.cpu_avg = 0.97;
  busy.cpu_max = 1;
  busy.lag_p99_ms = 250.5;
  busy.unhealthy_s = 9;
  snap.generators = {metrics::GeneratorHealth{}, busy};
  snap.generators[0].name = "runner 1 (segment 0:1/2)";
  ResultInput in = sample_input();
  in.merged = &snap;
  json r = build_result(in);
  ASSERT_EQ(r["generators"].size(), 2u);
  EXPECT_EQ(r["generators"][0]["saturated"], false);
  EXPECT_EQ(r["generators"][1], (json{{"name", "runner 2 (segment 1/2:1)"},
                                      {"cpuAvg", 0.97},
                                      {"cpuMax", 1.0},
                                      {"lagP99Ms", 250.5},
                                      {"unhealthySeconds", 9.0},
                                      {"saturated", true}}));
  EXPECT_EQ(json::parse(compact_result(r))["generators"], r["generators"]) << "kept when it fits";
  json without = r;
  without.erase("generators");
  std::size_t room = compact_result(without).size() + 20;  // + "truncated":true
  ASSERT_LT(room, compact_result(r).size());
  json c = json::parse(compact_result(r, room));
  EXPECT_FALSE(c.contains("generators")) << c;
  EXPECT_EQ(c["thresholds"].size(), 2u) << "dropped before the thresholds";
}

TEST(StartInfo, RoundsTheSkewAndNamesTheRunners) {
  json s = start_info(4, 1.23456);
  EXPECT_EQ(s, (json{{"runners", 4}, {"skewMs", 1.235}}));
  EXPECT_EQ(start_info(2, -1)["skewMs"], 0.0) << "never negative";
  EXPECT_EQ(start_note(s), "start skew: 1.24ms across 4 runners");
  EXPECT_EQ(start_note(start_info(1, 0)), "start skew: 0s across 1 runner");
  EXPECT_EQ(start_note(start_info(3, 0.0125)), "start skew: 13µs across 3 runners");
  EXPECT_EQ(start_note(json()), "");
  json at = start_info(4, 1.2345);
  at["method"] = "start-at";
  at["clockOffsetMaxMs"] = 0.357;
  EXPECT_EQ(start_note(at), "start skew: 1.24ms across 4 runners") << "the skew line keeps its shape";
  EXPECT_EQ(clock_note(at), "started at an agreed instant; runner clock offsets up to 357µs (estimated)");
  EXPECT_EQ(clock_note(s), "") << "no line when the runners started at the PATCH";
  EXPECT_EQ(start_note(json{{"skewMs", "1"}, {"runners", 2}}), "");
  ResultInput in = sample_input();
  EXPECT_TRUE(build_result(in)["start"].is_null()) << "not released: null";
  in.start = s;
  EXPECT_EQ(build_result(in)["start"], s);
  EXPECT_NE(compact_result(build_result(in)).find(R"("start":{"runners":4,"skewMs":1.235})"), std::string::npos);
}

TEST(BuildResult, WithoutARunMetricsAreZeroAndDataNull) {
  ResultInput in;
  in.exit_code = 97;
  in.message = "runners never became ready";
  json r = build_result(in);
  EXPECT_EQ(r["result"], "error");
  EXPECT_EQ(r["metrics"]["iterations"], 0);
  EXPECT_EQ(r["text"], "");
  EXPECT_TRUE(r["data"].is_null());
  EXPECT_TRUE(r["thresholds"].is_array());
}

TEST(CompactResult, DropsTextAndDataOneLine) {
  std::string line = compact_result(build_result(sample_input()));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json c = json::parse(line);
  EXPECT_FALSE(c.contains("text"));
  EXPECT_FALSE(c.contains("data"));
  EXPECT_FALSE(c.contains("truncated"));
  EXPECT_EQ(c["exitCode"], 99);
  EXPECT_EQ(c["thresholds"].size(), 2u);
}

TEST(CompactResult, ManyThresholdsAreDroppedFromTheEnd) {
  ResultInput in = sample_input();
  in.thresholds.clear();
  for (int i = 0; i < 200; ++i)
    in.thresholds.push_back(
        {"http_req_duration{name:endpoint_" + std::to_string(i) + "}", "p(95)<500", true, false, 1.0});
  std::string line = compact_result(build_result(in));
  EXPECT_LE(line.size() + 1, kResultFileMaxBytes);
  json c = json::parse(line);
  EXPECT_EQ(c["truncated"], true);
  ASSERT_GT(c["thresholds"].size(), 10u);
  EXPECT_LT(c["thresholds"].size(), 200u);
  EXPECT_EQ(c["thresholds"][0]["metric"], "http_req_duration{name:endpoint_0}") << "the first ones are kept";
  EXPECT_EQ(c["metrics"]["iterations"], 40);
}

TEST(CompactResult, LongMessageKeepsItsBeginning) {
  ResultInput in = sample_input();
  in.message = "runner 2 (10.0.0.6:6565) was lost: " + std::string(20000, 'x');
  std::string line = compact_result(build_result(in));
  EXPECT_LE(line.size() + 1, kResultFileMaxBytes);
  json c = json::parse(line);
  EXPECT_EQ(c["truncated"], true);
  std::string m = c["message"];
  EXPECT_EQ(m.rfind("runner 2 (10.0.0.6:6565) was lost: xxx", 0), 0u);
  EXPECT_LE(m.size(), kResultMessageMaxBytes);
  EXPECT_NE(m.find("more bytes]"), std::string::npos);
  EXPECT_EQ(c["thresholds"].size(), 2u) << "the message alone was enough";
}

TEST(CompactResult, EscapingHeavyMessageStillFits) {
  ResultInput in = sample_input();
  in.message = std::string(3400, '\x01');  // 6 bytes each once escaped
  std::string line = compact_result(build_result(in));
  EXPECT_LE(line.size() + 1, kResultFileMaxBytes);
  EXPECT_EQ(json::parse(line)["truncated"], true);
}

TEST(Shorten, CutsOnUtf8Boundaries) {
  EXPECT_EQ(shorten("short", 10), "short");
  std::string s;
  for (int i = 0; i < 100; ++i) s += "\xC3\xA9";  // é
  std::string cut = shorten(s, 60);
  EXPECT_LE(cut.size(), 60u);
  EXPECT_NO_THROW((void)json(cut).dump()) << "valid UTF-8";
  EXPECT_NE(cut.find("more bytes]"), std::string::npos);
  EXPECT_EQ(shorten(s, 5).size(), 4u);
}

TEST(InspectResult, CompactAndBounded) {
  json j = {{"vus", 3}, {"maxVUs", 3}, {"totalDuration", "32s"}, {"scenarios", json::object()}};
  EXPECT_EQ(compact_inspect_result(j), j.dump());
  json big = j;
  for (int i = 0; i < 200; ++i) big["scenarios"]["s" + std::to_string(i)] = {{"executor", "constant-vus"}, {"vus", i}};
  std::string line = compact_inspect_result(big);
  EXPECT_LE(line.size() + 1, kResultFileMaxBytes);
  json c = json::parse(line);
  EXPECT_EQ(c["maxVUs"], 3);
  EXPECT_EQ(c["totalDuration"], "32s");
  EXPECT_EQ(c["truncated"], true);
  EXPECT_FALSE(c.contains("scenarios"));
  EXPECT_EQ(c["vus"], 3) << "small fields stay";
}

TEST(ErrorResult, ShapeAndBound) {
  EXPECT_EQ(json::parse(error_result("bad.js:2:11: SyntaxError", 107)),
            (json{{"error", "bad.js:2:11: SyntaxError"}, {"exitCode", 107}}));
  std::string line = error_result("bad.js:1:1: " + std::string(10000, 'y'), 107);
  EXPECT_LE(line.size() + 1, kResultFileMaxBytes);
  json e = json::parse(line);
  EXPECT_EQ(e["exitCode"], 107);
  EXPECT_EQ(e["error"].get<std::string>().rfind("bad.js:1:1: yyy", 0), 0u);
}

TEST(WriteResultFile, OneLineAndErrors) {
  std::string path = (std::filesystem::temp_directory_path() / "herd-result-test.json").string();
  EXPECT_EQ(write_result_file(path, R"({"a":1})"), "");
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), "{\"a\":1}\n");
  std::filesystem::remove(path);
  EXPECT_NE(write_result_file("/nonexistent-dir/x.json", "{}").find("/nonexistent-dir/x.json"), std::string::npos);
}

}  // namespace
}  // namespace herd::coord
