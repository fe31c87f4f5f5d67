#include "export/prom_names.h"

#include <gtest/gtest.h>

namespace herd::exporter {
namespace {

using metrics::ValueType;

TEST(PromNames, K6Names) {
  EXPECT_EQ(counter_name("http_reqs"), "k6_http_reqs_total");
  EXPECT_EQ(gauge_name("vus"), "k6_vus");
  EXPECT_EQ(rate_name("checks"), "k6_checks_rate");
  EXPECT_EQ(native_histogram_name("http_req_duration", ValueType::kTime), "k6_http_req_duration_seconds");
  EXPECT_EQ(native_histogram_name("data_size", ValueType::kData), "k6_data_size_bytes");
  EXPECT_EQ(native_histogram_name("custom", ValueType::kDefault), "k6_custom");
}

TEST(PromNames, TrendStats) {
  EXPECT_EQ(trend_stat_name("http_req_duration", parse_trend_stat("p(99)")), "k6_http_req_duration_p99");
  EXPECT_EQ(trend_stat_name("x", parse_trend_stat("p(99.9)")), "k6_x_p999");
  EXPECT_EQ(trend_stat_name("x", parse_trend_stat("avg")), "k6_x_avg");
  for (const char* bad : {"", "p()", "p(101)", "p(-1)", "p(9x)", "mean", "p(99", "P(99)"})
    EXPECT_THROW(parse_trend_stat(bad), std::invalid_argument) << bad;

  metrics::Histogram h;
  for (int i = 1; i <= 100; ++i) h.record(i);  // milliseconds
  double s = unit_scale(ValueType::kTime);
  EXPECT_DOUBLE_EQ(trend_stat_value(parse_trend_stat("count"), h, s), 100);
  EXPECT_DOUBLE_EQ(trend_stat_value(parse_trend_stat("sum"), h, s), 5.050);
  EXPECT_DOUBLE_EQ(trend_stat_value(parse_trend_stat("max"), h, s), 0.1);
  EXPECT_DOUBLE_EQ(trend_stat_value(parse_trend_stat("min"), h, s), 0.001);
  EXPECT_NEAR(trend_stat_value(parse_trend_stat("p(90)"), h, s), h.percentile(90) / 1000, 1e-12);
  EXPECT_NEAR(trend_stat_value(parse_trend_stat("med"), h, 1), h.percentile(50), 1e-12);
}

TEST(PromNames, LabelNames) {
  EXPECT_EQ(label_name("expected_response"), "expected_response");
  EXPECT_EQ(label_name("my-tag.x"), "my_tag_x");
  EXPECT_EQ(label_name("1st"), "_1st");
  EXPECT_EQ(label_name(""), "_");
}

}  // namespace
}  // namespace herd::exporter
