#include "dashboard/feed.h"

#include <gtest/gtest.h>

#include "metrics/registry.h"

namespace herd::dashboard {
namespace {

using metrics::Histogram;

TEST(HistogramDelta, IsTheSamplesInBetween) {
  Histogram before;
  for (int i = 1; i <= 100; ++i) before.record(1000);  // a slow start
  Histogram after = before;
  for (int i = 1; i <= 100; ++i) after.record(i);
  Histogram d = histogram_delta(after, before);
  EXPECT_EQ(d.count(), 100u);
  EXPECT_NEAR(d.percentile(50), 50, 1);
  EXPECT_NEAR(d.percentile(99), 99, 1.5);
  EXPECT_GT(after.percentile(99), 900);  // the whole run's p99 would hide the change
  EXPECT_EQ(histogram_delta(before, before).count(), 0u);
}

metrics::Snapshot snapshot(int requests, int failed, double latency_ms) {
  metrics::Snapshot s;
  s.metrics = {{"http_reqs", metrics::MetricType::kCounter, metrics::ValueType::kDefault},
               {"http_req_failed", metrics::MetricType::kRate, metrics::ValueType::kDefault},
               {"http_req_duration", metrics::MetricType::kTrend, metrics::ValueType::kTime},
               {"checks", metrics::MetricType::kRate, metrics::ValueType::kDefault}};
  metrics::TagSet tags({{"scenario", "default"}, {"name", "home"}});
  auto& reqs = s.series[{0, tags}];
  reqs.sum = requests;
  auto& f = s.series[{1, tags}];
  f.total = static_cast<std::uint64_t>(requests);
  f.passes = static_cast<std::uint64_t>(failed);
  auto& d = s.series[{2, tags}];
  d.trend.record(latency_ms, static_cast<std::uint64_t>(requests));
  auto& c = s.series[{3, metrics::TagSet({{"check", "is 200"}, {"group", ""}})}];
  c.total = static_cast<std::uint64_t>(requests);
  c.passes = static_cast<std::uint64_t>(requests - failed);
  return s;
}

TEST(DashboardFeed, ManyRequestNamesGiveTheBusiestRowsAndOneRowForTheRest) {
  metrics::Snapshot s = snapshot(0, 0, 1);
  s.series.clear();
  // 250 names: name-i has i+1 requests, every second one failed, at i ms;
  // two series per name (two scenarios) must add up.
  for (int i = 0; i < 250; ++i) {
    for (const char* sc : {"a", "b"}) {
      metrics::TagSet tags({{"scenario", sc}, {"name", "name-" + std::to_string(i)}});
      s.series[{0, tags}].sum = (i + 1) / 2.0;
      auto& f = s.series[{1, tags}];
      f.total = 2;
      f.passes = 1;
      s.series[{2, tags}].trend.record(i, 1);
    }
  }
  auto u = DashboardFeed().update(s, {}, std::chrono::seconds(1), true);
  const nlohmann::json rows = u["breakdown"]["name"];
  ASSERT_EQ(rows.size(), 101u);
  EXPECT_EQ(rows[0]["value"], "name-249");  // the busiest first
  EXPECT_DOUBLE_EQ(rows[0]["requests"].get<double>(), 250);
  EXPECT_DOUBLE_EQ(rows[0]["failed"].get<double>(), 0.5);
  EXPECT_NEAR(rows[0]["p95"].get<double>(), 249, 249 * 0.01);
  EXPECT_EQ(rows[99]["value"], "name-150");
  EXPECT_EQ(rows[100]["value"], "(150 other values)");
  EXPECT_DOUBLE_EQ(rows[100]["requests"].get<double>(), 150 * 151 / 2.0);  // 1 + ... + 150
  EXPECT_DOUBLE_EQ(rows[100]["failed"].get<double>(), 0.5);
  ASSERT_EQ(u["breakdown"]["scenario"].size(), 2u);
  EXPECT_DOUBLE_EQ(u["breakdown"]["scenario"][0]["requests"].get<double>(), 250 * 251 / 4.0);
}

TEST(DashboardFeed, IntervalRatesAndPercentiles) {
  DashboardFeed feed;
  auto a = feed.update(snapshot(100, 0, 10), {}, std::chrono::seconds(1), false);
  EXPECT_DOUBLE_EQ(a["overview"]["req_rate"].get<double>(), 100);
  EXPECT_NEAR(a["overview"]["p95"].get<double>(), 10, 0.1);
  // 300 more requests in 2 s, 30 of them failed, all at 50 ms.
  metrics::Snapshot s = snapshot(400, 30, 10);
  s.series.begin()->second.sum = 400;
  for (auto& [k, st] : s.series)
    if (k.metric == 2) {
      st.trend = Histogram();
      st.trend.record(10, 100);
      st.trend.record(50, 300);
    }
  metrics::ThresholdResult th{"http_req_failed", "rate<0.05", false, false, 0.075};
  auto b = feed.update(s, {th}, std::chrono::seconds(3), true);
  EXPECT_DOUBLE_EQ(b["overview"]["req_rate"].get<double>(), 150);
  EXPECT_DOUBLE_EQ(b["overview"]["failed"].get<double>(), 0.1);
  EXPECT_NEAR(b["overview"]["p50"].get<double>(), 50, 0.5);
  EXPECT_DOUBLE_EQ(b["overview"]["requests"].get<double>(), 400);
  EXPECT_TRUE(b["final"].get<bool>());
  ASSERT_EQ(b["thresholds"].size(), 1u);
  EXPECT_FALSE(b["thresholds"][0]["ok"].get<bool>());
  EXPECT_DOUBLE_EQ(b["thresholds"][0]["value"].get<double>(), 0.075);
  ASSERT_EQ(b["checks"].size(), 1u);
  EXPECT_EQ(b["checks"][0]["passes"], 370);
  EXPECT_EQ(b["checks"][0]["fails"], 30);
  ASSERT_EQ(b["breakdown"]["name"].size(), 1u);
  EXPECT_EQ(b["breakdown"]["name"][0]["value"], "home");
  EXPECT_EQ(b["breakdown"]["scenario"][0]["requests"], 400);
  EXPECT_TRUE(b["breakdown"]["group"].empty());
  EXPECT_TRUE(b["runners"].is_null());
}

TEST(DashboardFeed, RunnersViewShowsEachGeneratorsCpuAndLag) {
  DashboardFeed feed;
  metrics::Snapshot s = snapshot(100, 0, 10);
  metrics::GeneratorHealth calm, busy;
  calm.name = "runner 1 (segment 0:1/2)";
  calm.cpu_last = 0.25;
  calm.lag_last_ms = 1.5;
  busy.name = "runner 2 (segment 1/2:1)";
  busy.seconds = 10;
  busy.cpu_last = 1;
  busy.unhealthy_s = 10;
  busy.lag_last_ms = 400;
  s.generators = {calm, busy};
  auto u = feed.update(s, {}, std::chrono::seconds(1), false);
  ASSERT_EQ(u["runners"].size(), 2u) << u["runners"];
  EXPECT_EQ(u["runners"][0]["name"], calm.name);
  EXPECT_DOUBLE_EQ(u["runners"][0]["cpu"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(u["runners"][1]["loop_lag_ms"].get<double>(), 400);
  EXPECT_FALSE(u["runners"][0]["saturated"].get<bool>());
  EXPECT_TRUE(u["runners"][1]["saturated"].get<bool>());
}

TEST(DashboardFeed, RunnersRequestRateIsEachRunnersOwnCountDelta) {
  DashboardFeed feed;
  metrics::Snapshot s = snapshot(300, 0, 10);
  metrics::GeneratorHealth r1, r2;
  r1.name = "runner 1 (segment 0:1/2)";
  r1.requests = 100;
  r2.name = "runner 2 (segment 1/2:1)";
  r2.requests = 200;
  s.generators = {r1, r2};
  auto a = feed.update(s, {}, std::chrono::seconds(2), false);
  EXPECT_DOUBLE_EQ(a["runners"][0]["req_rate"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(a["runners"][1]["req_rate"].get<double>(), 100);
  // 2 s later: runner 1 did 400 more, runner 2 none.
  s.generators[0].requests = 500;
  auto b = feed.update(s, {}, std::chrono::seconds(4), false);
  EXPECT_DOUBLE_EQ(b["runners"][0]["req_rate"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(b["runners"][0]["requests"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(b["runners"][1]["req_rate"].get<double>(), 0);
  // A single process (no per-runner count): the run's own rate.
  DashboardFeed single;
  metrics::Snapshot one = snapshot(300, 0, 10);
  one.generators = {metrics::GeneratorHealth{}};
  auto c = single.update(one, {}, std::chrono::seconds(3), false);
  EXPECT_EQ(c["runners"][0]["name"], "this process");
  EXPECT_DOUBLE_EQ(c["runners"][0]["req_rate"].get<double>(), 100);
}

}  // namespace
}  // namespace herd::dashboard
