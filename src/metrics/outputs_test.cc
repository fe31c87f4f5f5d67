#include "metrics/outputs.h"

#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_gzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return "";
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  gzclose(gz);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

TEST(JsonOutputTest, WritesMetricThenPoints) {
  std::string path = ::testing::TempDir() + "/herd_json_output_test.json";
  Registry reg;
  {
    auto out = std::make_shared<JsonOutput>(path);
    out->set_thresholds(parse_thresholds(
        nlohmann::json::parse(R"({"http_req_duration": ["p(95)<200"], "http_req_duration{name:a}": ["max<1"]})")));
    Sink sink(reg);
    sink.set_observer(out);
    TagSet tags(Tags{{"name", "a\"q"}, {"status", "200"}});
    sink.add(kHttpReqDuration, tags, 12.5, 1700000000123456);
    sink.add(kHttpReqDuration, tags, 7, 1700000001000000);
    sink.add(kHttpReqs, tags, 1, 1700000001000000);
    out->flush();
  }
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["type"], "Metric");
  EXPECT_EQ(lines[0]["metric"], "http_req_duration");
  EXPECT_EQ(lines[0]["data"]["name"], "http_req_duration");
  EXPECT_EQ(lines[0]["data"]["type"], "trend");
  EXPECT_EQ(lines[0]["data"]["contains"], "time");
  EXPECT_EQ(lines[0]["data"]["thresholds"], nlohmann::json::array({"p(95)<200"}));
  ASSERT_TRUE(lines[0]["data"]["submetrics"].is_array());
  EXPECT_EQ(lines[0]["data"]["submetrics"][0]["name"], "http_req_duration{name:a}");
  EXPECT_EQ(lines[0]["data"]["submetrics"][0]["tags"]["name"], "a");
  EXPECT_EQ(lines[1]["type"], "Point");
  EXPECT_EQ(lines[1]["metric"], "http_req_duration");
  EXPECT_EQ(lines[1]["data"]["value"], 12.5);
  EXPECT_EQ(lines[1]["data"]["tags"]["name"], "a\"q");
  EXPECT_EQ(lines[1]["data"]["tags"]["status"], "200");
  std::regex rfc3339(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$)");
  std::string ts = lines[1]["data"]["time"];
  EXPECT_TRUE(std::regex_match(ts, rfc3339)) << ts;
  EXPECT_NE(ts.find(".123456"), std::string::npos) << ts;
  EXPECT_EQ(lines[2]["type"], "Point");
  EXPECT_EQ(lines[3]["type"], "Metric");
  EXPECT_EQ(lines[3]["metric"], "http_reqs");
  EXPECT_TRUE(lines[3]["data"]["submetrics"].is_null());
  EXPECT_EQ(lines[4]["data"]["value"], 1);
  std::remove(path.c_str());
  EXPECT_THROW(JsonOutput("/nonexistent-dir/x/y.json"), std::runtime_error);
}

TEST(JsonOutputTest, GzipWhenTheNameEndsInGz) {
  std::string path = ::testing::TempDir() + "/herd_json_output_test.json.gz";
  Registry reg;
  {
    auto set = open_outputs({"json=" + path}, {}, {}, {});
    Sink sink(reg);
    sink.set_observer(set);
    sink.add(kHttpReqs, TagSet(Tags{{"status", "200"}}), 1, 1700000000000000);
    EXPECT_TRUE(set->flush().empty());
  }
  std::string raw = read_file(path);
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);
  auto lines = lines_of(read_gzip(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["type"], "Metric");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["data"]["tags"]["status"], "200");
  std::remove(path.c_str());
}

TEST(JsonOutputTest, DashWritesToStdout) {
  Registry reg;
  ::testing::internal::CaptureStdout();
  {
    auto set = open_outputs({"json=-"}, {}, {}, {});
    Sink sink(reg);
    sink.set_observer(set);
    sink.add(kHttpReqs, TagSet(), 1, 1700000000000000);
    set->flush();
  }
  std::string out = ::testing::internal::GetCapturedStdout();
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(nlohmann::json::parse(lines[1])["metric"], "http_reqs");
}

TEST(CsvOutputTest, K6ColumnsAndExtraTags) {
  std::string path = ::testing::TempDir() + "/herd_csv_output_test.csv";
  Registry reg;
  {
    auto set = open_outputs({"csv=" + path}, {}, {"url", "status", "method", "check", "name"}, {});
    Sink sink(reg);
    sink.set_observer(set);
    sink.add(kHttpReqDuration, TagSet(Tags{{"status", "200"}, {"url", "http://a/?x=1,2"}, {"team", "blue"}}), 12.5,
             1700000000250000);
    sink.add(kChecks, TagSet(Tags{{"check", "say \"hi\""}}), 1, 1700000001000000);
    EXPECT_TRUE(set->flush().empty());
  }
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "metric_name,timestamp,metric_value,check,method,name,status,url,extra_tags,metadata");
  EXPECT_EQ(lines[1], "http_req_duration,1700000000,12.500000,,,,200,\"http://a/?x=1,2\",team=blue,");
  EXPECT_EQ(lines[2], "checks,1700000001,1.000000,\"say \"\"hi\"\"\",,,,,,");
  std::remove(path.c_str());
}

TEST(CsvOutputTest, TimeFormatsFromTheEnvironment) {
  Registry reg;
  auto row_time = [&](const std::string& fmt) {
    std::string path = ::testing::TempDir() + "/herd_csv_time_" + fmt + ".csv";
    {
      auto set = open_outputs({"csv=" + path}, {{"K6_CSV_TIME_FORMAT", fmt}}, {}, {});
      Sink sink(reg);
      sink.set_observer(set);
      sink.add(kHttpReqs, TagSet(), 1, 1700000000250000);
    }
    auto lines = lines_of(read_file(path));
    std::remove(path.c_str());
    if (lines.size() != 2) return std::string("?");
    auto c1 = lines[1].find(',');
    return lines[1].substr(c1 + 1, lines[1].find(',', c1 + 1) - c1 - 1);
  };
  EXPECT_EQ(row_time("unix"), "1700000000");
  EXPECT_EQ(row_time("unix_milli"), "1700000000250");
  EXPECT_EQ(row_time("unix_micro"), "1700000000250000");
  EXPECT_EQ(row_time("unix_nano"), "1700000000250000000");
  EXPECT_TRUE(std::regex_match(row_time("rfc3339"), std::regex(R"(^2023-11-1\dT\d\d:\d\d:20(Z|[+-]\d\d:\d\d)$)")));
  EXPECT_TRUE(
      std::regex_match(row_time("rfc3339_nano"), std::regex(R"(^2023-11-1\dT\d\d:\d\d:20\.25(Z|[+-]\d\d:\d\d)$)")));
}

TEST(CsvOutputTest, GzipAndSaveInterval) {
  std::string path = ::testing::TempDir() + "/herd_csv_output_test.csv.gz";
  Registry reg;
  auto set = open_outputs({"csv=" + path}, {{"K6_CSV_SAVE_INTERVAL", "2s"}}, {}, {});
  Sink sink(reg);
  sink.set_observer(set);
  sink.add(kHttpReqs, TagSet(), 1, 1700000000000000);
  sink.add(kHttpReqs, TagSet(), 1, 1700000001000000);
  EXPECT_EQ(lines_of(read_gzip(path)).size(), 0u);  // within the interval: still buffered
  sink.add(kHttpReqs, TagSet(), 1, 1700000002000000);
  // header + 3 rows, flushed at the interval by the writer thread
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (lines_of(read_gzip(path)).size() < 4u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(lines_of(read_gzip(path)).size(), 4u);
  std::remove(path.c_str());
}

// /dev/full accepts the open and fails every write (ENOSPC): the error comes
// back from finish() (and flush()), named, instead of being lost.
TEST(BufferedOutputTest, WriteErrorsReachFinish) {
  for (const std::string spec : {"json=/dev/full", "csv=/dev/full"}) {
    Registry reg;
    auto set = open_outputs({spec}, {}, {}, {});
    Sink sink(reg);
    sink.set_observer(set);
    sink.add(kHttpReqs, TagSet(), 1, 1700000000000000);
    std::vector<std::string> errors = set->finish();
    ASSERT_EQ(errors.size(), 1u) << spec;
    EXPECT_EQ(errors[0], "--out " + spec + ": cannot write \"/dev/full\": No space left on device");
    EXPECT_EQ(set->finish(), errors);                    // idempotent
    sink.add(kHttpReqs, TagSet(), 1, 1700000001000000);  // dropped after finish, no crash
  }
}

// finish() closes a gzip file: its trailer is there (gzip -t would pass).
TEST(BufferedOutputTest, FinishWritesTheGzipTrailer) {
  std::string path = ::testing::TempDir() + "/herd_finish_test.json.gz";
  Registry reg;
  auto set = open_outputs({"json=" + path}, {}, {}, {});
  Sink sink(reg);
  sink.set_observer(set);
  sink.add(kHttpReqs, TagSet(), 1, 1700000000000000);
  EXPECT_TRUE(set->finish().empty());
  std::string raw = read_file(path);
  ASSERT_GE(raw.size(), 18u);
  // The trailer's ISIZE: the uncompressed length, little-endian, in the last 4 bytes.
  std::string text = read_gzip(path);
  std::uint32_t isize = 0;
  for (int i = 3; i >= 0; i--) isize = isize << 8 | static_cast<unsigned char>(raw[raw.size() - 4 + i]);
  EXPECT_EQ(isize, text.size());
  EXPECT_EQ(lines_of(text).size(), 2u);
  std::remove(path.c_str());
}

// Many threads observe at once (as event-loop threads do): every line whole,
// none lost, the Metric line first.
TEST(BufferedOutputTest, ConcurrentSamplesAllArrive) {
  std::string path = ::testing::TempDir() + "/herd_concurrent_test.json";
  Registry reg;
  auto out = std::make_shared<JsonOutput>(path);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      Sink sink(reg);
      sink.set_observer(out);
      TagSet tags(Tags{{"thread", std::to_string(t)}});
      for (int i = 0; i < kEach; i++) sink.add(kHttpReqs, tags, i, 1700000000000000 + i);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(out->finish(), "");
  std::vector<std::string> lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 1u + kThreads * kEach);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["type"], "Metric");
  for (std::size_t i = 1; i < lines.size(); i++) ASSERT_EQ(nlohmann::json::parse(lines[i])["type"], "Point") << i;
  std::remove(path.c_str());
}

TEST(CsvOutputTest, BareCsvWritesK6CsvFilename) {
  std::string path = ::testing::TempDir() + "/herd_csv_filename_test.csv";
  Registry reg;
  {
    auto set = open_outputs({"csv"}, {{"K6_CSV_FILENAME", path}}, {}, {});
    Sink sink(reg);
    sink.set_observer(set);
    sink.add(kHttpReqs, TagSet(), 1, 1700000000000000);
  }
  EXPECT_EQ(lines_of(read_file(path)).size(), 2u);
  std::remove(path.c_str());
}

TEST(OpenOutputsTest, RefusesWhatHerdDoesNotHave) {
  auto message = [](const std::vector<std::string>& specs, const std::map<std::string, std::string>& env = {}) {
    try {
      open_outputs(specs, env, {}, {});
    } catch (const OutputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({"statsd=127.0.0.1:8125"}),
            "--out statsd=127.0.0.1:8125: unknown output type \"statsd\" (herd supports json, csv, influxdb and "
            "experimental-prometheus-rw)");
  EXPECT_EQ(
      message({"cloud"}),
      "--out cloud: unknown output type \"cloud\" (herd supports json, csv, influxdb and experimental-prometheus-rw)");
  EXPECT_EQ(message({"json"}), "--out json: needs a destination: --out json=results.json (or json=- for stdout)");
  EXPECT_NE(message({"json=/nonexistent-dir/x.json"}).find("cannot open \"/nonexistent-dir/x.json\""),
            std::string::npos);
  EXPECT_NE(message({"csv=x.csv"}, {{"K6_CSV_TIME_FORMAT", "iso"}}).find("K6_CSV_TIME_FORMAT: unknown time format"),
            std::string::npos);
  EXPECT_NE(message({"csv=x.csv"}, {{"K6_CSV_SAVE_INTERVAL", "soon"}}).find("K6_CSV_SAVE_INTERVAL"), std::string::npos);
}

}  // namespace
}  // namespace herd::metrics
