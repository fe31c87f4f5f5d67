#include "export/prom_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/registry.h"

namespace herd::exporter {
namespace {

using metrics::MetricType;
using metrics::TagSet;
using metrics::ValueType;

TagSet tags(std::vector<std::pair<std::string, std::string>> v) {
  return TagSet(std::move(v));
}

/// One sample line, parsed by the text format's grammar (unescaping label values).
struct Line {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

/// Parses `name{k="v",...} value`; nullopt when the line breaks the grammar.
std::optional<Line> parse_sample(const std::string& s) {
  Line l;
  std::size_t i = 0;
  auto name_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
  };
  while (i < s.size() && name_char(s[i], i == 0)) l.name += s[i++];
  if (l.name.empty()) return std::nullopt;
  if (i < s.size() && s[i] == '{') {
    i++;
    while (i < s.size() && s[i] != '}') {
      std::string k, v;
      while (i < s.size() && name_char(s[i], k.empty()) && s[i] != ':') k += s[i++];
      if (k.empty() || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"') return std::nullopt;
      i += 2;
      for (;;) {
        if (i >= s.size()) return std::nullopt;
        char c = s[i++];
        if (c == '"') break;
        if (c == '\n') return std::nullopt;
        if (c == '\\') {
          if (i >= s.size()) return std::nullopt;
          char e = s[i++];
          if (e == 'n')
            v += '\n';
          else if (e == '\\' || e == '"')
            v += e;
          else
            return std::nullopt;
        } else {
          v += c;
        }
      }
      if (!l.labels.emplace(k, v).second) return std::nullopt;  // duplicate label name
      if (i < s.size() && s[i] == ',') i++;
    }
    if (i >= s.size()) return std::nullopt;
    i++;
  }
  if (i >= s.size() || s[i] != ' ') return std::nullopt;
  l.value = s.substr(i + 1);
  if (l.value.empty() || l.value.find(' ') != std::string::npos) return std::nullopt;
  return l;
}

/// Every line of `text`, which must all be comments or samples.
std::vector<Line> parse_all(const std::string& text) {
  std::vector<Line> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) continue;
    auto l = parse_sample(line);
    EXPECT_TRUE(l.has_value()) << "not a sample line: [" << line << "]";
    if (l) out.push_back(*l);
  }
  if (!text.empty()) {
    EXPECT_EQ(text.back(), '\n');
  }
  return out;
}

const Line* find(const std::vector<Line>& lines, const std::string& name,
                 const std::map<std::string, std::string>& labels = {}) {
  for (const auto& l : lines)
    if (l.name == name && l.labels == labels) return &l;
  return nullptr;
}

int count_type_lines(const std::string& text, const std::string& name) {
  int n = 0;
  for (std::size_t at = text.find("# TYPE " + name + " "); at != std::string::npos;
       at = text.find("# TYPE " + name + " ", at + 1))
    n++;
  return n;
}

metrics::Snapshot snap_of(metrics::Registry& reg, const std::function<void(metrics::Sink&)>& fill) {
  metrics::Sink sink(reg);
  fill(sink);
  return sink.snapshot();
}

TEST(PromText, EmptySnapshot) {
  EXPECT_EQ(prom_text(metrics::Snapshot{}), "");
  metrics::Registry reg;  // defined metrics without series write nothing
  EXPECT_EQ(prom_text(snap_of(reg, [](metrics::Sink&) {})), "");
}

TEST(PromText, EveryMetricType) {
  metrics::Registry reg;
  auto snap = snap_of(reg, [&](metrics::Sink& s) {
    TagSet t = tags({{"method", "GET"}, {"status", "200"}});
    s.add(metrics::kHttpReqs, t, 1, 1);
    s.add(metrics::kHttpReqs, t, 1, 2);
    s.add(metrics::kVus, TagSet(), 7, 1);
    s.add(metrics::kVus, TagSet(), 5, 3);
    s.add(metrics::kChecks, tags({{"check", "ok"}}), 1, 1);
    s.add(metrics::kChecks, tags({{"check", "ok"}}), 0, 2);
    s.add(metrics::kChecks, tags({{"check", "ok"}}), 1, 3);
    s.add(metrics::kChecks, tags({{"check", "ok"}}), 1, 4);
    for (double ms : {0.5, 3.0, 40.0, 700.0}) s.add(metrics::kHttpReqDuration, t, ms, 1);
    s.add(metrics::kDataReceived, TagSet(), 1234, 1);
    s.add(reg.define("sizes", MetricType::kTrend, ValueType::kData), TagSet(), 2048, 1);
    s.add(reg.define("plain", MetricType::kTrend, ValueType::kDefault), TagSet(), 0.5, 1);
  });
  std::string text = prom_text(snap);
  auto lines = parse_all(text);
  std::map<std::string, std::string> t = {{"method", "GET"}, {"status", "200"}};

  EXPECT_NE(text.find("# TYPE k6_http_reqs_total counter\n"), std::string::npos) << text;
  ASSERT_TRUE(find(lines, "k6_http_reqs_total", t)) << text;
  EXPECT_EQ(find(lines, "k6_http_reqs_total", t)->value, "2");
  EXPECT_NE(text.find("# TYPE k6_data_received_total counter\n"), std::string::npos);
  EXPECT_EQ(find(lines, "k6_data_received_total")->value, "1234");

  EXPECT_NE(text.find("# TYPE k6_vus gauge\n"), std::string::npos);
  EXPECT_EQ(find(lines, "k6_vus")->value, "5") << "the latest value";

  EXPECT_NE(text.find("# TYPE k6_checks_rate gauge\n"), std::string::npos);
  EXPECT_EQ(find(lines, "k6_checks_rate", {{"check", "ok"}})->value, "0.75");

  EXPECT_NE(text.find("# TYPE k6_http_req_duration_seconds histogram\n"), std::string::npos);
  auto bucket = [&](const std::string& le) {
    auto labels = t;
    labels["le"] = le;
    const Line* l = find(lines, "k6_http_req_duration_seconds_bucket", labels);
    return l ? l->value : "missing";
  };
  EXPECT_EQ(bucket("0.001"), "1");
  EXPECT_EQ(bucket("0.0025"), "1");
  EXPECT_EQ(bucket("0.005"), "2");
  EXPECT_EQ(bucket("0.05"), "3");
  EXPECT_EQ(bucket("0.5"), "3");
  EXPECT_EQ(bucket("1"), "4");
  EXPECT_EQ(bucket("60"), "4");
  EXPECT_EQ(bucket("+Inf"), "4");
  EXPECT_EQ(find(lines, "k6_http_req_duration_seconds_count", t)->value, "4");
  EXPECT_DOUBLE_EQ(std::stod(find(lines, "k6_http_req_duration_seconds_sum", t)->value), 0.7435);

  // Data trends in bytes, default trends unscaled.
  EXPECT_EQ(find(lines, "k6_sizes_bytes_bucket", {{"le", "1000"}})->value, "0");
  EXPECT_EQ(find(lines, "k6_sizes_bytes_bucket", {{"le", "10000"}})->value, "1");
  EXPECT_EQ(find(lines, "k6_sizes_bytes_sum")->value, "2048");
  EXPECT_EQ(find(lines, "k6_plain_bucket", {{"le", "1"}})->value, "1");
  EXPECT_EQ(find(lines, "k6_plain_sum")->value, "0.5");

  // HELP and TYPE once per family, families sorted.
  std::vector<std::string> types;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("# TYPE ", 0) == 0) types.push_back(line.substr(7, line.find(' ', 7) - 7));
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  EXPECT_EQ(std::set<std::string>(types.begin(), types.end()).size(), types.size());
  EXPECT_EQ(types.size(), 7U) << text;
  EXPECT_EQ(prom_text(snap), text) << "stable";
}

TEST(PromText, BucketsAreCumulativeAndExact) {
  metrics::Registry reg;
  std::vector<double> values;
  for (int i = 0; i < 2000; i++) values.push_back(0.01 * std::pow(1.013, i));  // 0.01 ms ... ~1.7e9 ms
  values.push_back(0);
  values.push_back(-3);  // a custom time trend may see one
  auto id = reg.define("t", MetricType::kTrend, ValueType::kTime);
  auto snap = snap_of(reg, [&](metrics::Sink& s) {
    for (double v : values) s.add(id, TagSet(), v, 1);
  });
  auto lines = parse_all(prom_text(snap));
  std::uint64_t prev = 0;
  auto bounds = prom_text_bounds(ValueType::kTime);
  ASSERT_EQ(bounds.size(), 15U);
  EXPECT_EQ(bounds.front(), "0.001");
  EXPECT_EQ(bounds.back(), "60");
  for (const auto& le : bounds) {
    const Line* l = find(lines, "k6_t_seconds_bucket", {{"le", le}});
    ASSERT_TRUE(l) << le;
    std::uint64_t n = std::stoull(l->value);
    EXPECT_GE(n, prev) << le;
    prev = n;
    // Exact against the samples: those below the bound, give or take the
    // samples of the one herd bucket that may straddle it (<= 1/128 wide).
    double bound_ms = std::stod(le) * 1000;
    std::uint64_t below = 0, straddle = 0;
    for (double v : values) {
      if (v < bound_ms) below++;
      if (v < bound_ms && v >= bound_ms * (1 - 1.0 / 128)) straddle++;
    }
    EXPECT_LE(n, below) << le;
    EXPECT_GE(n + straddle, below) << le;
    if (std::stod(le) <= 1) {
      EXPECT_EQ(n, below) << le << ": bounds up to 1 s are herd bucket edges";
    }
  }
  EXPECT_EQ(find(lines, "k6_t_seconds_bucket", {{"le", "+Inf"}})->value, std::to_string(values.size()));
  EXPECT_EQ(find(lines, "k6_t_seconds_count")->value, std::to_string(values.size()));
  double sum = 0;
  for (double v : values) sum += v;
  EXPECT_NEAR(std::stod(find(lines, "k6_t_seconds_sum")->value), sum / 1000, sum / 1000 * 1e-12);
}

TEST(PromText, HostileLabels) {
  metrics::Registry reg;
  std::string hostile = "a\\b\"c\nd} e=\"f\",g";
  std::string bad_utf8 = std::string("x\xff\xc3(\xed\xa0\x80y") + "\xe2\x82\xac";  // ends in a valid euro sign
  auto snap = snap_of(reg, [&](metrics::Sink& s) {
    s.add(metrics::kIterations, tags({{"name", hostile}, {"url", bad_utf8}}), 1, 1);
    // Keys that collide once made label names, or are reserved.
    s.add(metrics::kIterations, tags({{"a-b", "1"}, {"a_b", "2"}, {"__name__", "evil"}, {"9x", "3"}}), 1, 1);
    s.add(metrics::kHttpReqDuration, tags({{"le", "mine"}}), 5, 1);
    // Two tag sets that become the same labels merge into one series.
    s.add(metrics::kHttpReqs, tags({{"my-tag", "v"}}), 1, 1);
    s.add(metrics::kHttpReqs, tags({{"my.tag", "v"}}), 2, 1);
  });
  std::string text = prom_text(snap);
  auto lines = parse_all(text);
  const Line* l =
      find(lines, "k6_iterations_total",
           {{"name", hostile}, {"url", "x\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy\xe2\x82\xac"}});
  EXPECT_TRUE(l) << text;
  EXPECT_TRUE(find(lines, "k6_iterations_total",
                   {{"a_b", "1"}, {"exported_a_b", "2"}, {"exported___name__", "evil"}, {"_9x", "3"}}))
      << text;
  EXPECT_TRUE(find(lines, "k6_http_req_duration_seconds_bucket", {{"exported_le", "mine"}, {"le", "0.005"}})) << text;
  EXPECT_TRUE(find(lines, "k6_http_req_duration_seconds_count", {{"exported_le", "mine"}})) << text;
  ASSERT_TRUE(find(lines, "k6_http_reqs_total", {{"my_tag", "v"}})) << text;
  EXPECT_EQ(find(lines, "k6_http_reqs_total", {{"my_tag", "v"}})->value, "3");
  EXPECT_EQ(text.find("k6_http_reqs_total{my_tag=\"v\"}"), text.rfind("k6_http_reqs_total{my_tag=\"v\"}"));
}

TEST(PromText, NameClashesAndSpecialValues) {
  metrics::Registry reg;
  auto c = reg.define("x", MetricType::kCounter, ValueType::kDefault);
  auto g = reg.define("x_total", MetricType::kGauge, ValueType::kDefault);
  auto g2 = reg.define("y", MetricType::kGauge, ValueType::kDefault);
  auto snap = snap_of(reg, [&](metrics::Sink& s) {
    s.add(c, TagSet(), 1, 1);
    s.add(g, TagSet(), 1, 1);
    s.add(g2, TagSet(), std::numeric_limits<double>::infinity(), 1);
  });
  std::string text = prom_text(snap);
  auto lines = parse_all(text);
  EXPECT_NE(text.find("# herd: metric x_total is left out: its Prometheus name k6_x_total clashes with metric x's"),
            std::string::npos)
      << text;
  EXPECT_EQ(find(lines, "k6_x_total")->value, "1");
  EXPECT_EQ(find(lines, "k6_y")->value, "+Inf");
  EXPECT_EQ(kPromTextContentType, "text/plain; version=0.0.4; charset=utf-8");
}

// Generator health (issue #15): herd's own gauges, one per generator, before the k6_ families.
TEST(PromText, GeneratorHealthGauges) {
  metrics::Snapshot s;
  s.metrics = {{"vus", MetricType::kGauge, ValueType::kDefault}};
  s.series[{0, TagSet()}].add(MetricType::kGauge, 3, 1000);
  metrics::GeneratorHealth a, b;
  a.name = "runner 1 (segment 0:1/2)";
  a.segment = "0:1/2";
  a.cpu_last = 0.25;
  a.seconds = 10;
  b.name = "runner 2 (segment 1/2:1)";
  b.segment = "1/2:1";
  b.cpu_last = 0.97;
  b.lag_p99_ms = 310;
  b.seconds = 10;
  b.unhealthy_s = 9;
  s.generators = {a, b};
  std::string text = prom_text(s);
  auto lines = parse_all(text);
  const Line* ca = find(lines, "herd_generator_cpu_ratio", {{"runner", a.name}, {"segment", "0:1/2"}});
  const Line* cb = find(lines, "herd_generator_cpu_ratio", {{"runner", b.name}, {"segment", "1/2:1"}});
  ASSERT_TRUE(ca && cb) << text;
  EXPECT_EQ(ca->value, "0.25");
  EXPECT_EQ(cb->value, "0.97");
  const Line* lag = find(lines, "herd_generator_loop_lag_p99_seconds", {{"runner", b.name}, {"segment", "1/2:1"}});
  ASSERT_TRUE(lag) << text;
  EXPECT_EQ(lag->value, "0.31");
  EXPECT_EQ(find(lines, "herd_generator_saturated", {{"runner", b.name}, {"segment", "1/2:1"}})->value, "1");
  EXPECT_EQ(find(lines, "herd_generator_saturated", {{"runner", a.name}, {"segment", "0:1/2"}})->value, "0");
  EXPECT_EQ(count_type_lines(text, "herd_generator_cpu_ratio"), 1);
  EXPECT_LT(text.find("herd_generator_"), text.find("k6_vus"));
  metrics::GeneratorHealth self;
  EXPECT_TRUE(find(parse_all(prom_text(metrics::Snapshot{{}, {}, 0, {self}})), "herd_generator_cores",
                   {{"runner", "this process"}}));
}

}  // namespace
}  // namespace herd::exporter
