#include "metrics/sink.h"

#include <atomic>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

class CountingObserver : public SampleObserver {
 public:
  void observe(const Registry&, const Sample& s) override {
    ++n;
    sum += s.value;  // not thread-safe for sum, only used single-threaded
    last_tags = s.tags ? s.tags->items().size() : 99;
  }
  std::atomic<int> n{0};
  double sum = 0;
  std::size_t last_tags = 0;
};

TEST(Sink, AggregatesPerSeries) {
  Registry reg;
  Sink sink(reg);
  TagSet a(Tags{{"name", "a"}}), b(Tags{{"name", "b"}});
  sink.add(kHttpReqs, a, 1, 10);
  sink.add(kHttpReqs, a, 1, 11);
  sink.add(kHttpReqs, b, 1, 12);
  sink.add(kHttpReqDuration, a, 100, 10);
  sink.add(kHttpReqDuration, b, 300, 10);
  sink.add(kHttpReqFailed, a, 0, 10);
  sink.add(kHttpReqFailed, b, 1, 10);
  sink.add(kVus, TagSet(), 3, 10);
  Snapshot s = sink.snapshot();
  EXPECT_EQ(s.series.size(), 7u);
  EXPECT_EQ(s.metrics.size(), reg.size());
  EXPECT_GT(s.time_us, 0);
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs).sum, 3);
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs, a).sum, 2);
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs, b).sum, 1);
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs, TagSet(Tags{{"name", "c"}})).sum, 0);
  SeriesState d = s.aggregate(kHttpReqDuration);
  EXPECT_EQ(d.trend.count(), 2u);
  EXPECT_EQ(d.trend.max(), 300);
  SeriesState f = s.aggregate(kHttpReqFailed);
  EXPECT_EQ(f.passes, 1u);
  EXPECT_EQ(f.total, 2u);
  EXPECT_EQ(s.aggregate(kVus).last, 3);
  // snapshot does not reset
  sink.add(kHttpReqs, a, 1, 13);
  EXPECT_DOUBLE_EQ(sink.snapshot().aggregate(kHttpReqs).sum, 4);
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs).sum, 3);
}

TEST(Sink, EqualTagSetsBuiltSeparatelyShareASeries) {
  Registry reg;
  Sink sink(reg);
  sink.add(kIterations, TagSet(Tags{{"a", "1"}, {"b", "2"}}), 1, 0);
  sink.add(kIterations, TagSet(Tags{{"b", "2"}, {"a", "1"}}), 1, 0);
  Snapshot s = sink.snapshot();
  EXPECT_EQ(s.series.size(), 1u);
  EXPECT_DOUBLE_EQ(s.series.begin()->second.sum, 2);
}

TEST(Sink, CustomMetricDefinedAfterSinkCreation) {
  Registry reg;
  Sink sink(reg);
  sink.add(kIterations, TagSet(), 1, 0);
  MetricId m = reg.define("my_gauge", MetricType::kGauge, ValueType::kDefault);
  sink.add(m, TagSet(), 42, 5);
  Snapshot s = sink.snapshot();
  EXPECT_EQ(s.aggregate(m).last, 42);
  EXPECT_EQ(s.metrics[m].name, "my_gauge");
  EXPECT_THROW(sink.add(12345, TagSet(), 1, 0), MetricError);
}

TEST(Sink, BatchAndObserver) {
  Registry reg;
  Sink sink(reg);
  auto obs = std::make_shared<CountingObserver>();
  sink.set_observer(obs);
  TagSet t(Tags{{"k", "v"}});
  sink.add(kIterations, t, 2, 1);
  {
    Sink::Batch b(sink);
    b.add(kIterations, t, 3, 2);
    b.add(kDataSent, t, 100, 2);
  }
  EXPECT_EQ(obs->n.load(), 3);
  EXPECT_DOUBLE_EQ(obs->sum, 105);
  EXPECT_EQ(obs->last_tags, 1u);
  Snapshot s = sink.snapshot();
  EXPECT_DOUBLE_EQ(s.aggregate(kIterations).sum, 5);
  EXPECT_DOUBLE_EQ(s.aggregate(kDataSent).sum, 100);
}

TEST(Sink, CachedSeriesTakeDirectAddsUntilAnObserverOrFilterExists) {
  Registry reg;
  Sink sink(reg);
  TagSet t(Tags{{"k", "v"}});
  SeriesState* reqs = nullptr;
  {
    Sink::Batch b(sink);
    ASSERT_TRUE(b.direct());
    reqs = b.series(kHttpReqs, t);
    EXPECT_EQ(b.series(kHttpReqs, TagSet(Tags{{"k", "v"}})), reqs);  // equal tags, one series
    EXPECT_NE(b.series(kHttpReqDuration, t), reqs);
    b.add_direct(reqs, kHttpReqs, 1, 1);
    b.add_direct(b.series(kHttpReqDuration, t), kHttpReqDuration, 250, 1);
  }
  sink.add(kHttpReqs, t, 1, 2);  // the ordinary path lands in the same series
  for (int i = 0; i < 100; ++i) sink.add(kIterations, TagSet(Tags{{"i", std::to_string(i)}}), 1, 3);  // rehash
  {
    Sink::Batch b(sink);
    EXPECT_EQ(b.series(kHttpReqs, t), reqs);  // stable across rehashes
    b.add_direct(reqs, kHttpReqs, 1, 4);
  }
  Snapshot s = sink.snapshot();
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs, t).sum, 3);
  EXPECT_EQ(s.aggregate(kHttpReqDuration, t).trend.count(), 1u);
  EXPECT_EQ(s.aggregate(kHttpReqDuration, t).trend.max(), 250);

  sink.set_observer(std::make_shared<CountingObserver>());
  EXPECT_FALSE(Sink::Batch(sink).direct());
  Sink filtered(reg);
  filtered.set_dropped_tags({"k"});
  EXPECT_FALSE(Sink::Batch(filtered).direct());
}

TEST(Sink, SeriesCacheIsReusedOnlyForTheSameSinkAndTags) {
  Registry reg;
  Sink a(reg), b(reg);
  TagSet t(Tags{{"k", "v"}}), u(Tags{{"k", "w"}});
  SeriesCache<1> c;
  {
    Sink::Batch batch(a);
    EXPECT_FALSE(batch.reuse(c, t));  // empty: a miss, now keyed to (a, t)
    c.series[0] = batch.series(kHttpReqs, t);
    EXPECT_TRUE(batch.reuse(c, t));
    EXPECT_TRUE(batch.reuse(c, TagSet(Tags{{"k", "v"}})));  // equal tags, other storage
    EXPECT_FALSE(batch.reuse(c, u));                        // other tags: a miss, re-keyed
    c.series[0] = batch.series(kHttpReqs, u);
    EXPECT_TRUE(batch.reuse(c, u));
    c.reset();
    EXPECT_FALSE(batch.reuse(c, u));  // reset forgets
    c.series[0] = batch.series(kHttpReqs, u);
    batch.add_direct(c.series[0], kHttpReqs, 1, 1);
  }
  {
    Sink::Batch batch(b);
    EXPECT_FALSE(batch.reuse(c, u));  // same tags, other sink
    c.series[0] = batch.series(kHttpReqs, u);
    batch.add_direct(c.series[0], kHttpReqs, 1, 1);
  }
  EXPECT_DOUBLE_EQ(a.snapshot().aggregate(kHttpReqs, u).sum, 1);
  EXPECT_DOUBLE_EQ(b.snapshot().aggregate(kHttpReqs, u).sum, 1);
  EXPECT_DOUBLE_EQ(a.snapshot().aggregate(kHttpReqs, t).sum, 0);
}

TEST(Sink, ConcurrentAdds) {
  Registry reg;
  Sink sink(reg);
  std::vector<std::thread> ts;
  ts.reserve(4);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&sink, t] {
      TagSet tags(Tags{{"t", std::to_string(t % 2)}});
      for (int i = 0; i < 5000; ++i) {
        sink.add(kHttpReqs, tags, 1, i);
        sink.add(kHttpReqDuration, tags, i, i);
      }
    });
  for (auto& t : ts) t.join();
  Snapshot s = sink.snapshot();
  EXPECT_DOUBLE_EQ(s.aggregate(kHttpReqs).sum, 20000);
  EXPECT_EQ(s.aggregate(kHttpReqDuration).trend.count(), 20000u);
  EXPECT_EQ(s.series.size(), 4u);
}

Snapshot make_snapshot(Registry& reg, double base) {
  Sink sink(reg);
  TagSet a(Tags{{"name", "a"}, {"status", "200"}});
  TagSet b(Tags{{"name", "b"}, {"status", "500"}});
  sink.add(kHttpReqs, a, 1, 10);
  sink.add(kHttpReqs, b, 1, 10);
  sink.add(kHttpReqDuration, a, base + 1, 10);
  sink.add(kHttpReqDuration, b, base + 2, 10);
  sink.add(kChecks, a, 1, 10);
  sink.add(kChecks, b, 0, 10);
  sink.add(kVus, TagSet(), base, static_cast<std::int64_t>(base));
  return sink.snapshot();
}

TEST(Snapshot, MergeMatchesMetricsByName) {
  Registry r1, r2;
  MetricId c1 = r1.define("custom_one", MetricType::kCounter, ValueType::kDefault);
  MetricId t2 = r2.define("custom_two", MetricType::kTrend, ValueType::kTime);
  MetricId c2 = r2.define("custom_one", MetricType::kCounter, ValueType::kDefault);
  ASSERT_NE(c1, c2);
  Sink s1(r1), s2(r2);
  s1.add(c1, TagSet(), 5, 0);
  s2.add(c2, TagSet(), 7, 0);
  s2.add(t2, TagSet(), 12, 0);
  Snapshot a = s1.snapshot();
  a.merge(s2.snapshot());
  auto id1 = a.find("custom_one");
  auto id2 = a.find("custom_two");
  ASSERT_TRUE(id1 && id2);
  EXPECT_EQ(*id1, c1);
  EXPECT_DOUBLE_EQ(a.aggregate(*id1).sum, 12);
  EXPECT_EQ(a.aggregate(*id2).trend.count(), 1u);
  EXPECT_EQ(a.metrics[*id2].type, MetricType::kTrend);

  Registry r3;
  r3.define("custom_one", MetricType::kGauge, ValueType::kDefault);
  Sink s3(r3);
  EXPECT_THROW(a.merge(s3.snapshot()), std::invalid_argument);
}

TEST(Snapshot, MergeAddsUp) {
  Registry reg;
  Snapshot a = make_snapshot(reg, 100);
  Snapshot b = make_snapshot(reg, 200);
  Snapshot ab = a;
  ab.merge(b);
  Snapshot ba = b;
  ba.merge(a);
  EXPECT_DOUBLE_EQ(ab.aggregate(kHttpReqs).sum, 4);
  EXPECT_EQ(ab.aggregate(kHttpReqDuration).trend, ba.aggregate(kHttpReqDuration).trend);
  EXPECT_EQ(ab.aggregate(kHttpReqDuration).trend.count(), 4u);
  EXPECT_EQ(ab.aggregate(kChecks).passes, 2u);
  EXPECT_EQ(ab.aggregate(kVus).last, 200);  // later timestamp wins
  EXPECT_EQ(ab.aggregate(kVus).gmin, 100);
  EXPECT_EQ(ab.aggregate(kHttpReqs, TagSet(Tags{{"status", "500"}})).sum, 2);
  EXPECT_FALSE(ab.find("nope").has_value());
  EXPECT_EQ(ab.find("http_reqs"), kHttpReqs);
}

TEST(Snapshot, JsonRoundTrip) {
  Registry reg;
  MetricId g = reg.define("temp", MetricType::kGauge, ValueType::kDefault);
  Sink sink(reg);
  sink.add(g, TagSet(Tags{{"room", "a\"b"}}), -3.25, 1000);
  Snapshot s = make_snapshot(reg, 50);
  Snapshot s2 = sink.snapshot();
  s.merge(s2);
  nlohmann::json j = s.to_json();
  EXPECT_EQ(j["version"], 1);
  Snapshot back = Snapshot::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.time_us, s.time_us);
  ASSERT_EQ(back.metrics.size(), s.metrics.size());
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    EXPECT_EQ(back.metrics[i].name, s.metrics[i].name);
    EXPECT_EQ(back.metrics[i].type, s.metrics[i].type);
    EXPECT_EQ(back.metrics[i].contains, s.metrics[i].contains);
  }
  ASSERT_EQ(back.series.size(), s.series.size());
  for (const auto& [k, v] : s.series) {
    auto it = back.series.find(k);
    ASSERT_NE(it, back.series.end());
    EXPECT_EQ(it->second.sum, v.sum);
    EXPECT_EQ(it->second.passes, v.passes);
    EXPECT_EQ(it->second.total, v.total);
    EXPECT_EQ(it->second.last, v.last);
    EXPECT_EQ(it->second.gmin, v.gmin);
    EXPECT_EQ(it->second.last_time_us, v.last_time_us);
    EXPECT_EQ(it->second.trend, v.trend);
  }
  EXPECT_EQ(back.to_json(), j);
}

TEST(Snapshot, FromJsonRejectsMalformed) {
  Registry reg;
  nlohmann::json good = make_snapshot(reg, 10).to_json();
  ASSERT_NO_THROW(Snapshot::from_json(good));
  std::vector<nlohmann::json> bad = {nlohmann::json(), nlohmann::json::array(), nlohmann::json(1)};
  auto mut = [&](auto f) {
    nlohmann::json j = good;
    f(j);
    bad.push_back(j);
  };
  // find index of series entries by metric type
  auto idx_of = [&](const char* name) {
    for (std::size_t i = 0; i < good["series"].size(); ++i)
      if (good["metrics"][good["series"][i]["m"].get<std::size_t>()]["name"] == name) return i;
    return std::size_t{0};
  };
  std::size_t rate_i = idx_of("checks"), trend_i = idx_of("http_req_duration"), gauge_i = idx_of("vus"),
              counter_i = idx_of("http_reqs");
  mut([](auto& j) { j["version"] = 2; });
  mut([](auto& j) { j.erase("version"); });
  mut([](auto& j) { j["time_us"] = "now"; });
  mut([](auto& j) { j["metrics"] = nlohmann::json::object(); });
  mut([](auto& j) { j["metrics"][0]["name"] = "bad-name"; });
  mut([](auto& j) { j["metrics"][0]["type"] = "histogram"; });
  mut([](auto& j) { j["metrics"][0]["contains"] = "bytes"; });
  mut([](auto& j) { j["metrics"][1]["name"] = j["metrics"][0]["name"]; });
  mut([](auto& j) { j["metrics"][0] = 5; });
  mut([](auto& j) { j["series"] = 5; });
  mut([](auto& j) { j["series"][0]["m"] = 9999; });
  mut([](auto& j) { j["series"][0]["m"] = -1; });
  mut([](auto& j) { j["series"][0]["tags"] = nlohmann::json::array(); });
  mut([](auto& j) { j["series"][0]["tags"]["x"] = 1; });
  mut([](auto& j) { j["series"][0].erase("state"); });
  mut([](auto& j) { j["series"].push_back(j["series"][0]); });  // duplicate
  mut([&](auto& j) { j["series"][rate_i]["state"]["passes"] = 100; });
  mut([&](auto& j) { j["series"][rate_i]["state"]["total"] = -1; });
  mut([&](auto& j) { j["series"][trend_i]["state"]["h"]["count"] = 17; });
  mut([&](auto& j) { j["series"][trend_i]["state"].erase("h"); });
  mut([&](auto& j) { j["series"][gauge_i]["state"]["time_us"] = -5; });
  mut([&](auto& j) { j["series"][gauge_i]["state"]["min"] = 1e9; });
  mut([&](auto& j) { j["series"][counter_i]["state"]["sum"] = "1"; });
  mut([&](auto& j) { j["series"][counter_i]["state"] = 3; });
  for (const auto& j : bad) EXPECT_THROW(Snapshot::from_json(j), std::invalid_argument) << j.dump();
}

}  // namespace
}  // namespace herd::metrics
