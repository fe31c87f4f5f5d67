#include "metrics/metric.h"

#include <thread>
#include <unordered_set>

#include <gtest/gtest.h>

#include "metrics/registry.h"

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

TEST(MetricToString, Names) {
  EXPECT_EQ(to_string(MetricType::kCounter), "counter");
  EXPECT_EQ(to_string(MetricType::kGauge), "gauge");
  EXPECT_EQ(to_string(MetricType::kRate), "rate");
  EXPECT_EQ(to_string(MetricType::kTrend), "trend");
  EXPECT_EQ(to_string(ValueType::kDefault), "default");
  EXPECT_EQ(to_string(ValueType::kTime), "time");
  EXPECT_EQ(to_string(ValueType::kData), "data");
}

TEST(TagSet, SortsAndDedupsLastWins) {
  TagSet t(Tags{{"b", "1"}, {"a", "2"}, {"b", "3"}, {"c", "4"}});
  ASSERT_EQ(t.items().size(), 3u);
  EXPECT_EQ(t.items()[0], (std::pair<std::string, std::string>{"a", "2"}));
  EXPECT_EQ(t.items()[1], (std::pair<std::string, std::string>{"b", "3"}));
  EXPECT_EQ(t.items()[2].first, "c");
  ASSERT_NE(t.get("b"), nullptr);
  EXPECT_EQ(*t.get("b"), "3");
  EXPECT_EQ(t.get("zz"), nullptr);
  EXPECT_FALSE(t.empty());
  EXPECT_TRUE(TagSet().empty());
  EXPECT_TRUE(TagSet(Tags{}).empty());
  EXPECT_EQ(TagSet(), TagSet(Tags{}));
}

TEST(TagSet, EqualityAndHashIndependentOfOrder) {
  TagSet a(Tags{{"x", "1"}, {"y", "2"}});
  TagSet b(Tags{{"y", "2"}, {"x", "1"}});
  TagSet c(Tags{{"y", "2"}, {"x", "2"}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_FALSE(a == c);
  EXPECT_NE(a.hash(), c.hash());
  EXPECT_TRUE(a < c || c < a);
  EXPECT_FALSE(a < b);
  EXPECT_FALSE(b < a);
  EXPECT_TRUE(TagSet() < a);
}

TEST(TagSet, CopiesShareStorage) {
  TagSet a(Tags{{"k", "v"}});
  TagSet b = a;
  EXPECT_EQ(&a.items(), &b.items());
}

TEST(TagSet, WithAddsOrReplaces) {
  TagSet a(Tags{{"k", "v"}});
  TagSet b = a.with("z", "1");
  TagSet c = b.with("k", "w");
  EXPECT_EQ(a.items().size(), 1u);
  EXPECT_EQ(b.items().size(), 2u);
  EXPECT_EQ(*c.get("k"), "w");
  EXPECT_EQ(*c.get("z"), "1");
  EXPECT_EQ(b, TagSet(Tags{{"z", "1"}, {"k", "v"}}));
}

TEST(TagSet, ContainsAll) {
  TagSet t(Tags{{"a", "1"}, {"b", "2"}, {"c", "3"}});
  EXPECT_TRUE(t.contains_all(TagSet()));
  EXPECT_TRUE(t.contains_all(TagSet(Tags{{"b", "2"}})));
  EXPECT_TRUE(t.contains_all(TagSet(Tags{{"c", "3"}, {"a", "1"}})));
  EXPECT_FALSE(t.contains_all(TagSet(Tags{{"b", "3"}})));
  EXPECT_FALSE(t.contains_all(TagSet(Tags{{"d", "1"}})));
  EXPECT_FALSE(TagSet().contains_all(t));
}

TEST(TagSet, UsableInHashSet) {
  std::unordered_set<TagSet, TagSetHash> s;
  s.insert(TagSet(Tags{{"a", "1"}}));
  s.insert(TagSet(Tags{{"a", "1"}}));
  s.insert(TagSet(Tags{{"a", "2"}}));
  EXPECT_EQ(s.size(), 2u);
}

TEST(SeriesState, Counter) {
  SeriesState s;
  s.add(MetricType::kCounter, 2, 1);
  s.add(MetricType::kCounter, 3.5, 2);
  EXPECT_DOUBLE_EQ(s.sum, 5.5);
  SeriesState o;
  o.add(MetricType::kCounter, 1, 1);
  s.merge(MetricType::kCounter, o);
  EXPECT_DOUBLE_EQ(s.sum, 6.5);
}

TEST(SeriesState, Rate) {
  SeriesState s;
  s.add(MetricType::kRate, 1, 0);
  s.add(MetricType::kRate, 0, 0);
  s.add(MetricType::kRate, 5, 0);
  EXPECT_EQ(s.passes, 2u);
  EXPECT_EQ(s.total, 3u);
  SeriesState o;
  o.add(MetricType::kRate, 0, 0);
  s.merge(MetricType::kRate, o);
  EXPECT_EQ(s.passes, 2u);
  EXPECT_EQ(s.total, 4u);
}

TEST(SeriesState, GaugeKeepsLatestMinMax) {
  SeriesState s;
  EXPECT_EQ(s.last_time_us, -1);
  s.add(MetricType::kGauge, 5, 100);
  s.add(MetricType::kGauge, 2, 200);
  s.add(MetricType::kGauge, 9, 150);  // older: affects min/max only
  EXPECT_EQ(s.last, 2);
  EXPECT_EQ(s.last_time_us, 200);
  EXPECT_EQ(s.gmin, 2);
  EXPECT_EQ(s.gmax, 9);

  SeriesState newer;
  newer.add(MetricType::kGauge, 7, 300);
  SeriesState a = s, b = newer;
  a.merge(MetricType::kGauge, newer);
  b.merge(MetricType::kGauge, s);
  for (const auto* x : {&a, &b}) {
    EXPECT_EQ(x->last, 7);
    EXPECT_EQ(x->last_time_us, 300);
    EXPECT_EQ(x->gmin, 2);
    EXPECT_EQ(x->gmax, 9);
  }
  SeriesState empty;
  SeriesState c = s;
  c.merge(MetricType::kGauge, empty);
  EXPECT_EQ(c.last, 2);
  empty.merge(MetricType::kGauge, s);
  EXPECT_EQ(empty.last, 2);
  EXPECT_EQ(empty.gmax, 9);
}

TEST(SeriesState, GaugeTieIsOrderIndependent) {
  SeriesState x, y;
  x.add(MetricType::kGauge, 1, 10);
  y.add(MetricType::kGauge, 4, 10);
  SeriesState a = x, b = y;
  a.merge(MetricType::kGauge, y);
  b.merge(MetricType::kGauge, x);
  EXPECT_EQ(a.last, b.last);
}

TEST(SeriesState, Trend) {
  SeriesState s, o;
  s.add(MetricType::kTrend, 10, 0);
  o.add(MetricType::kTrend, 30, 0);
  s.merge(MetricType::kTrend, o);
  EXPECT_EQ(s.trend.count(), 2u);
  EXPECT_EQ(s.trend.min(), 10);
  EXPECT_EQ(s.trend.max(), 30);
  EXPECT_DOUBLE_EQ(s.trend.mean(), 20);
}

TEST(Registry, BuiltinsInEnumOrder) {
  Registry r;
  ASSERT_EQ(r.size(), static_cast<std::size_t>(kBuiltinMetricCount));
  struct E {
    MetricId id;
    const char* name;
    MetricType t;
    ValueType c;
  };
  const E expected[] = {
      {kVus, "vus", MetricType::kGauge, ValueType::kDefault},
      {kVusMax, "vus_max", MetricType::kGauge, ValueType::kDefault},
      {kIterations, "iterations", MetricType::kCounter, ValueType::kDefault},
      {kIterationDuration, "iteration_duration", MetricType::kTrend, ValueType::kTime},
      {kDroppedIterations, "dropped_iterations", MetricType::kCounter, ValueType::kDefault},
      {kDataSent, "data_sent", MetricType::kCounter, ValueType::kData},
      {kDataReceived, "data_received", MetricType::kCounter, ValueType::kData},
      {kChecks, "checks", MetricType::kRate, ValueType::kDefault},
      {kGroupDuration, "group_duration", MetricType::kTrend, ValueType::kTime},
      {kHttpReqs, "http_reqs", MetricType::kCounter, ValueType::kDefault},
      {kHttpReqFailed, "http_req_failed", MetricType::kRate, ValueType::kDefault},
      {kHttpReqDuration, "http_req_duration", MetricType::kTrend, ValueType::kTime},
      {kHttpReqBlocked, "http_req_blocked", MetricType::kTrend, ValueType::kTime},
      {kHttpReqConnecting, "http_req_connecting", MetricType::kTrend, ValueType::kTime},
      {kHttpReqTlsHandshaking, "http_req_tls_handshaking", MetricType::kTrend, ValueType::kTime},
      {kHttpReqSending, "http_req_sending", MetricType::kTrend, ValueType::kTime},
      {kHttpReqWaiting, "http_req_waiting", MetricType::kTrend, ValueType::kTime},
      {kHttpReqReceiving, "http_req_receiving", MetricType::kTrend, ValueType::kTime},
  };
  for (const auto& e : expected) {
    MetricDef d = r.def(e.id);
    EXPECT_EQ(d.name, e.name);
    EXPECT_EQ(d.type, e.t) << e.name;
    EXPECT_EQ(d.contains, e.c) << e.name;
    EXPECT_EQ(r.find(e.name), e.id);
  }
  EXPECT_EQ(r.all().size(), r.size());
}

TEST(Registry, DefineIsIdempotentAndRejectsConflicts) {
  Registry r;
  MetricId id = r.define("my_trend", MetricType::kTrend, ValueType::kTime);
  EXPECT_EQ(id, static_cast<MetricId>(kBuiltinMetricCount));
  EXPECT_EQ(r.define("my_trend", MetricType::kTrend, ValueType::kTime), id);
  EXPECT_THROW(r.define("my_trend", MetricType::kCounter, ValueType::kTime), MetricError);
  EXPECT_THROW(r.define("my_trend", MetricType::kTrend, ValueType::kDefault), MetricError);
  EXPECT_THROW(r.define("http_reqs", MetricType::kTrend, ValueType::kDefault), MetricError);
  EXPECT_EQ(r.define("http_reqs", MetricType::kCounter, ValueType::kDefault), kHttpReqs);
  EXPECT_FALSE(r.find("nope").has_value());
  EXPECT_THROW(r.def(9999), MetricError);
}

TEST(Registry, NameValidation) {
  Registry r;
  for (const std::string& ok : std::vector<std::string>{"a", "_", "A1_b", "_x9", std::string(128, 'z')}) {
    EXPECT_TRUE(valid_metric_name(ok)) << ok;
    EXPECT_NO_THROW(r.define(ok, MetricType::kCounter, ValueType::kDefault)) << ok;
  }
  for (std::string bad : {std::string(""), std::string("1abc"), std::string("a-b"), std::string("a b"),
                          std::string("é"), std::string("a.b"), std::string(129, 'z'), std::string("a{b}")}) {
    EXPECT_FALSE(valid_metric_name(bad)) << bad;
    try {
      r.define(bad, MetricType::kCounter, ValueType::kDefault);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const MetricError& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + bad + "\""), std::string::npos) << e.what();
    }
  }
}

TEST(Registry, ConcurrentDefine) {
  Registry r;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&r] {
      for (int i = 0; i < 50; ++i) r.define("m" + std::to_string(i), MetricType::kCounter, ValueType::kDefault);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(r.size(), static_cast<std::size_t>(kBuiltinMetricCount) + 50);
}

TEST(SeriesState, HasSamplesPerType) {
  SeriesState s;
  EXPECT_FALSE(s.has_samples(MetricType::kCounter, false));
  EXPECT_TRUE(s.has_samples(MetricType::kCounter, true));  // a counter's series exists, even at 0
  EXPECT_FALSE(s.has_samples(MetricType::kGauge, true));
  EXPECT_FALSE(s.has_samples(MetricType::kRate, true));
  EXPECT_FALSE(s.has_samples(MetricType::kTrend, true));
  s.add(MetricType::kGauge, 0, 5);
  s.add(MetricType::kRate, 0, 5);
  s.add(MetricType::kTrend, 1, 5);
  EXPECT_TRUE(s.has_samples(MetricType::kGauge, false));
  EXPECT_TRUE(s.has_samples(MetricType::kRate, false));
  EXPECT_TRUE(s.has_samples(MetricType::kTrend, false));
}

}  // namespace
}  // namespace herd::metrics
