#include "export/remote_write.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "export/native_histogram.h"

namespace herd::exporter {
namespace {

using metrics::MetricType;
using metrics::ValueType;

metrics::Snapshot sample_snapshot() {
  metrics::Snapshot s;
  s.metrics = {{"http_reqs", MetricType::kCounter, ValueType::kDefault},
               {"vus", MetricType::kGauge, ValueType::kDefault},
               {"checks", MetricType::kRate, ValueType::kDefault},
               {"http_req_duration", MetricType::kTrend, ValueType::kTime}};
  metrics::TagSet tags({{"status", "200"}, {"scenario", "default"}, {"testid", "t1"}, {"empty", ""}});
  s.series[{0, tags}].sum = 42;
  auto& g = s.series[{1, metrics::TagSet()}];
  g.add(MetricType::kGauge, 7, 1000);
  auto& r = s.series[{2, metrics::TagSet()}];
  r.passes = 3;
  r.total = 4;
  auto& t = s.series[{3, tags}];
  for (int i = 1; i <= 100; ++i) t.trend.record(i);
  return s;
}

const herd::rw::TimeSeries* find(const herd::rw::WriteRequest& req, const std::string& name) {
  for (const auto& ts : req.timeseries())
    for (const auto& l : ts.labels())
      if (l.name() == "__name__" && l.value() == name) return &ts;
  return nullptr;
}

TEST(RemoteWrite, SeriesWithStats) {
  RemoteWriteConfig cfg = remote_write_config({});
  auto req = to_write_request(sample_snapshot(), cfg, 1234);
  const auto* c = find(req, "k6_http_reqs_total");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->samples_size(), 1);
  EXPECT_EQ(c->samples(0).value(), 42);
  EXPECT_EQ(c->samples(0).timestamp(), 1234);
  // Labels sorted by name, empty values dropped.
  std::vector<std::string> names;
  for (const auto& l : c->labels()) names.push_back(l.name());
  EXPECT_EQ(names, (std::vector<std::string>{"__name__", "scenario", "status", "testid"}));
  EXPECT_EQ(find(req, "k6_vus")->samples(0).value(), 7);
  EXPECT_EQ(find(req, "k6_checks_rate")->samples(0).value(), 0.75);
  const auto* p99 = find(req, "k6_http_req_duration_p99");
  ASSERT_TRUE(p99);
  EXPECT_NEAR(p99->samples(0).value(), 0.099, 0.001);  // seconds
  EXPECT_FALSE(find(req, "k6_http_req_duration_seconds"));
  EXPECT_EQ(sample_count(req), 4u);
}

TEST(RemoteWrite, ThresholdVerdictsWithTheRunTags) {
  RemoteWriteConfig cfg = remote_write_config({});
  cfg.run_tags = {{"testid", "t1"}};
  std::vector<metrics::ThresholdResult> verdicts(2);
  verdicts[0].selector = "http_req_duration{name:login}";
  verdicts[0].source = "p(95)<200";
  verdicts[0].ok = false;
  verdicts[1].selector = "checks";
  verdicts[1].source = "rate>0.9";
  auto req = to_write_request(sample_snapshot(), cfg, 99, &verdicts);
  std::vector<std::pair<std::map<std::string, std::string>, double>> got;
  for (const auto& ts : req.timeseries()) {
    std::map<std::string, std::string> labels;
    for (const auto& l : ts.labels()) labels[l.name()] = l.value();
    if (labels["__name__"] == kThresholdSeries) got.emplace_back(labels, ts.samples(0).value());
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, (std::map<std::string, std::string>{{"__name__", "herd_threshold_passed"},
                                                              {"metric", "http_req_duration{name:login}"},
                                                              {"testid", "t1"},
                                                              {"threshold", "p(95)<200"}}));
  EXPECT_EQ(got[0].second, 0);
  EXPECT_EQ(got[1].second, 1);
  EXPECT_EQ(sample_count(to_write_request(sample_snapshot(), cfg, 99)), 4u) << "no verdicts, no series";
}

TEST(RemoteWrite, NativeHistogramRoundTrip) {
  RemoteWriteConfig cfg = remote_write_config({{"K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM", "true"}});
  metrics::Snapshot snap = sample_snapshot();
  auto req = decode(encode(to_write_request(snap, cfg, 99)));
  const auto* h = find(req, "k6_http_req_duration_seconds");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->histograms_size(), 1);
  const auto& hist = h->histograms(0);
  NativeHistogram want = to_native(snap.series.rbegin()->second.trend, 1e-3);
  EXPECT_EQ(hist.count_int(), 100u);
  EXPECT_DOUBLE_EQ(hist.sum(), 5.05);
  EXPECT_EQ(hist.schema(), 8);
  EXPECT_EQ(hist.timestamp(), 99);
  ASSERT_EQ(hist.positive_spans_size(), static_cast<int>(want.positive_spans.size()));
  EXPECT_EQ(hist.positive_spans(0).offset(), want.positive_spans[0].offset);
  EXPECT_EQ(std::vector<std::int64_t>(hist.positive_deltas().begin(), hist.positive_deltas().end()),
            want.positive_deltas);
  EXPECT_EQ(remote_write_config({{"K6_FEATURES", "foo,native-histograms"}}).native_histograms, true);
}

TEST(RemoteWrite, StaleMarkers) {
  RemoteWriteConfig cfg = remote_write_config({{"K6_FEATURES", "native-histograms"}});
  auto stale = stale_markers(to_write_request(sample_snapshot(), cfg, 5), 6);
  ASSERT_EQ(stale.timeseries_size(), 4);
  for (const auto& ts : stale.timeseries()) {
    double v = ts.samples_size() ? ts.samples(0).value() : ts.histograms(0).sum();
    EXPECT_EQ(std::bit_cast<std::uint64_t>(v), kStaleNaNBits);
  }
}

TEST(RemoteWrite, EncodeIsSnappyOfTheProtobuf) {
  auto req = to_write_request(sample_snapshot(), remote_write_config({}), 1);
  std::string body = encode(req);
  EXPECT_EQ(decode(body).SerializeAsString(), req.SerializeAsString());
  EXPECT_THROW(decode("not snappy at all"), std::invalid_argument);
}

TEST(RemoteWrite, Config) {
  RemoteWriteConfig d = remote_write_config({{"PATH", "/bin"}, {"K6_OTHER", "x"}});
  EXPECT_EQ(d.url, "http://127.0.0.1:9090/api/v1/write");
  EXPECT_EQ(d.push_interval.count(), 5000);
  ASSERT_EQ(d.trend_stats.size(), 1u);
  EXPECT_EQ(d.trend_stats[0].suffix, "p99");
  EXPECT_FALSE(d.native_histograms);

  RemoteWriteConfig c = remote_write_config({{"K6_PROMETHEUS_RW_SERVER_URL", "https://127.0.0.1:9090/w"},
                                             {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "250ms"},
                                             {"K6_PROMETHEUS_RW_TREND_STATS", "avg,p(95),max"},
                                             {"K6_PROMETHEUS_RW_USERNAME", "u"},
                                             {"K6_PROMETHEUS_RW_PASSWORD", "p"},
                                             {"K6_PROMETHEUS_RW_HEADERS_X-Org", "7"},
                                             {"K6_PROMETHEUS_RW_HTTP_HEADERS", "a:1,b:2:3"},
                                             {"K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY", "true"},
                                             {"K6_PROMETHEUS_RW_STALE_MARKERS", "1"}});
  EXPECT_EQ(c.url, "https://127.0.0.1:9090/w");
  EXPECT_EQ(c.push_interval.count(), 250);
  EXPECT_EQ(c.trend_stats.size(), 3u);
  EXPECT_TRUE(c.basic_auth);
  EXPECT_EQ(c.password, "p");
  EXPECT_EQ(c.headers.size(), 3u);
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_TRUE(c.stale_markers);
}

TEST(RemoteWrite, BadConfigNamesTheVariable) {
  auto msg = [](std::map<std::string, std::string> env) {
    try {
      remote_write_config(env);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_PUSH_INTERVAL", "soon"}}).find("K6_PROMETHEUS_RW_PUSH_INTERVAL"),
            std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_PUSH_INTERVAL", "0s"}}).find("K6_PROMETHEUS_RW_PUSH_INTERVAL"), std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_SERVER_URL", "ftp://x"}}).find("K6_PROMETHEUS_RW_SERVER_URL"), std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_TREND_STATS", "p(99),nope"}}).find("nope"), std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_STALE_MARKERS", "yes"}}).find("K6_PROMETHEUS_RW_STALE_MARKERS"), std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_PASSWORD", "p"}}).find("K6_PROMETHEUS_RW_USERNAME"), std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_HTTP_HEADERS", "novalue"}}).find("K6_PROMETHEUS_RW_HTTP_HEADERS"),
            std::string::npos);
  // Not implemented: refused, never ignored.
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_CLIENT_CERTIFICATE", "c.pem"}}).find("K6_PROMETHEUS_RW_CLIENT_CERTIFICATE"),
            std::string::npos);
  EXPECT_NE(msg({{"K6_PROMETHEUS_RW_BOGUS", "1"}}).find("does not support"), std::string::npos);
}

TEST(RemoteWrite, CountersAndHistogramsStartFromAZeroUntilWritten) {
  RemoteWriteConfig cfg = remote_write_config({{"K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM", "true"}});
  ZeroBaselines zeros;
  auto first = to_write_request(sample_snapshot(), cfg, 2000);
  auto fresh = zeros.add(first, 1000);
  EXPECT_EQ(fresh.size(), 2u) << "the counter and the histogram; not the gauge or the rate";
  const auto* c = find(first, "k6_http_reqs_total");
  ASSERT_EQ(c->samples_size(), 2);
  EXPECT_EQ(c->samples(0).value(), 0);
  EXPECT_EQ(c->samples(0).timestamp(), 1000);
  EXPECT_EQ(c->samples(1).value(), 42);
  const auto* h = find(first, "k6_http_req_duration_seconds");
  ASSERT_EQ(h->histograms_size(), 2);
  EXPECT_EQ(h->histograms(0).count_int(), 0u);
  EXPECT_EQ(h->histograms(0).timestamp(), 1000);
  EXPECT_EQ(h->histograms(0).schema(), h->histograms(1).schema());
  EXPECT_EQ(h->histograms(1).count_int(), 100u);
  EXPECT_EQ(find(first, "k6_vus")->samples_size(), 1);
  // Not accepted: the next push repeats the zero at the time the series was first seen.
  auto retry = to_write_request(sample_snapshot(), cfg, 3000);
  EXPECT_EQ(zeros.add(retry, 2000).size(), 2u);
  EXPECT_EQ(find(retry, "k6_http_reqs_total")->samples(0).timestamp(), 1000);
  zeros.written(fresh);
  auto later = to_write_request(sample_snapshot(), cfg, 4000);
  EXPECT_TRUE(zeros.add(later, 3000).empty());
  EXPECT_EQ(find(later, "k6_http_reqs_total")->samples_size(), 1) << "written once: no more zeros";
}

TEST(RemoteWrite, GeneratorHealthGaugesWithTheRunTags) {
  RemoteWriteConfig cfg = remote_write_config({});
  cfg.run_tags = {{"testid", "t1"}};
  auto snap = sample_snapshot();
  metrics::GeneratorHealth g;
  g.name = "runner 2 (segment 1/2:1)";
  g.segment = "1/2:1";
  g.lag_last_ms = 120;
  snap.generators.push_back(g);
  auto req = to_write_request(snap, cfg, 77);
  const auto* lag = find(req, "herd_generator_loop_lag_seconds");
  ASSERT_TRUE(lag);
  std::map<std::string, std::string> labels;
  for (const auto& l : lag->labels()) labels[l.name()] = l.value();
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"__name__", "herd_generator_loop_lag_seconds"},
                                                        {"runner", "runner 2 (segment 1/2:1)"},
                                                        {"segment", "1/2:1"},
                                                        {"testid", "t1"}}));
  EXPECT_DOUBLE_EQ(lag->samples(0).value(), 0.12);
  EXPECT_EQ(lag->samples(0).timestamp(), 77);
  EXPECT_EQ(sample_count(req), 4u + 12u);  // twelve gauges per generator
}

}  // namespace
}  // namespace herd::exporter
