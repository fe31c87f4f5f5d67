// The coordinator's merge is order-independent: merging the same runners'
// snapshots in any order gives the same merged metrics, bucket for bucket
// (issue #17). Snapshots come from real Registries and Sinks, go through the
// wire format as the runners' do, define their metrics in different orders
// and hold sparse histograms with different bucket sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coord/coordinator.h"
#include "metrics/registry.h"
#include "metrics/sink.h"
#include "metrics/snapshot_binary.h"

namespace herd::coord {
namespace {

using metrics::MetricType;
using metrics::ValueType;
using json = nlohmann::json;

/// One runner's snapshot, through the wire format. `seed` decides its metric
/// definition order, its tag sets and its latency range (so histograms of
/// different runners cover different, sparse bucket sets).
metrics::Snapshot runner_snapshot(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  metrics::Registry reg;
  // Custom metrics defined in a runner-specific order: ids differ between runners.
  std::vector<std::pair<std::string, MetricType>> custom = {{"orders", MetricType::kCounter},
                                                            {"queue", MetricType::kGauge},
                                                            {"ok_rate", MetricType::kRate},
                                                            {"order_value", MetricType::kTrend},
                                                            {"only_some", MetricType::kTrend}};
  std::shuffle(custom.begin(), custom.end(), rng);
  std::vector<metrics::MetricId> ids;
  for (auto& [name, type] : custom) {
    if (name == "only_some" && seed % 3 != 0) continue;  // a metric only some runners have
    ids.push_back(reg.define(name, type, ValueType::kDefault));
  }
  metrics::Sink sink(reg);
  const auto dur = *reg.find("http_req_duration");
  const auto reqs = *reg.find("http_reqs");
  const auto failed = *reg.find("http_req_failed");
  const auto vus = *reg.find("vus");
  const char* names[] = {"home", "search", "cart", "pay", "rare"};
  std::uniform_int_distribution<int> pick(0, 4);
  // Each runner's latencies sit in its own range: sparse, partly disjoint bucket sets.
  const double scale = std::ldexp(1.0, static_cast<int>(seed % 11) - 4);
  std::lognormal_distribution<double> lat(std::log(20.0 * scale), 1.2);
  std::uniform_real_distribution<double> u(-5, 5);
  const int n = 200 + static_cast<int>(seed % 500);
  const std::int64_t t0 = 1'700'000'000'000'000 + static_cast<std::int64_t>(seed % 7) * 1000;
  for (int i = 0; i < n; ++i) {
    int k = pick(rng);
    if (k == 4 && seed % 2) continue;  // some series exist on some runners only
    metrics::TagSet tags({{"name", names[k]}, {"status", i % 9 == 0 ? "500" : "200"}});
    double d = lat(rng);
    sink.add(dur, tags, d, t0 + i);
    sink.add(reqs, tags, 1, t0 + i);
    sink.add(failed, tags, i % 9 == 0 ? 1 : 0, t0 + i);
    for (std::size_t m = 0; m < ids.size(); ++m) {
      auto def = reg.def(ids[m]);
      double v = def.type == MetricType::kTrend ? u(rng) : def.type == MetricType::kRate ? i % 2 : i % 13;
      if (def.name == "order_value" && i % 17 == 0) v = 0;  // zero bucket
      sink.add(ids[m], metrics::TagSet(std::vector<std::pair<std::string, std::string>>{{"name", names[k]}}), v,
               t0 + i);
    }
  }
  sink.add(vus, metrics::TagSet(), static_cast<double>(seed % 5 + 1), t0 + n);
  auto s = sink.snapshot();
  s.time_us = t0 + n;
  metrics::GeneratorHealth g;
  g.segment = std::to_string(seed);
  g.seconds = 1;
  s.generators.push_back(g);
  return metrics::Snapshot::from_json(json::parse(s.to_json().dump()));
}

/// The merged snapshot keyed by names rather than ids (ids follow merge
/// order): "metric{tags}" -> state as on the wire; histogram sums apart.
struct Canonical {
  std::map<std::string, json> states;
  std::map<std::string, double> trend_sums;
  std::map<std::string, std::string> defs;
  std::vector<std::string> generators;
  std::int64_t time_us = 0;
};

Canonical canonical(const metrics::Snapshot& s) {
  Canonical c;
  json j = s.to_json();
  for (auto& m : j["metrics"])
    c.defs[m["name"]] = m["type"].get<std::string>() + "/" + m["contains"].get<std::string>();
  for (auto& se : j["series"]) {
    std::string key = j["metrics"][se["m"].get<std::size_t>()]["name"].get<std::string>() + se["tags"].dump();
    json st = se["state"];
    if (st.contains("h")) {
      c.trend_sums[key] = st["h"]["sum"].get<double>();
      st["h"].erase("sum");
    }
    c.states[key] = st;
  }
  for (auto& g : s.generators) c.generators.push_back(g.to_json().dump());
  std::sort(c.generators.begin(), c.generators.end());
  c.time_us = s.time_us;
  return c;
}

TEST(MergeOrder, AnyOrderGivesTheSameMergedSummaryBucketForBucket) {
  for (std::uint64_t seed : {1u, 42u, 99991u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<metrics::Snapshot> parts;
    for (std::uint64_t r = 0; r < 16; ++r) parts.push_back(runner_snapshot(seed * 1000 + r));
    std::vector<const metrics::Snapshot*> order;
    for (auto& p : parts) order.push_back(&p);
    const Canonical want = canonical(merge_snapshots(order));
    ASSERT_GT(want.states.size(), 20u);
    std::mt19937_64 rng(seed);
    for (int perm = 0; perm < 10; ++perm) {
      std::shuffle(order.begin(), order.end(), rng);
      metrics::Snapshot got_s = merge_snapshots(order);
      const Canonical got = canonical(got_s);
      EXPECT_EQ(got.defs, want.defs);
      // Every series' state: counters, rates, gauges (latest by time, min,
      // max; vus summed), histogram count, min, max, zero and every bucket.
      EXPECT_EQ(got.states, want.states);
      EXPECT_EQ(got.generators, want.generators);
      EXPECT_EQ(got.time_us, want.time_us);
      // Histogram sums are doubles: addition order may move the last bits.
      ASSERT_EQ(got.trend_sums.size(), want.trend_sums.size());
      for (auto& [k, v] : want.trend_sums) EXPECT_NEAR(got.trend_sums.at(k), v, 1e-9 * (1 + std::fabs(v))) << k;
      // And what the summary shows from it: percentiles of the merged trend.
      const metrics::Snapshot rev = merge_snapshots({order.rbegin(), order.rend()});
      auto id_got = got_s.find("http_req_duration");
      auto id_rev = rev.find("http_req_duration");
      ASSERT_TRUE(id_got && id_rev);
      for (double p : {50.0, 90.0, 95.0, 99.0})
        EXPECT_EQ(got_s.aggregate(*id_got).trend.percentile(p), rev.aggregate(*id_rev).trend.percentile(p));
    }
  }
}

TEST(MergeOrder, TotalsAreExact) {
  std::vector<metrics::Snapshot> parts;
  double want_reqs = 0;
  std::uint64_t want_count = 0;
  for (std::uint64_t r = 0; r < 60; ++r) {
    parts.push_back(runner_snapshot(r));
    want_reqs += parts.back().aggregate(*parts.back().find("http_reqs")).sum;
    want_count += parts.back().aggregate(*parts.back().find("http_req_duration")).trend.count();
  }
  std::vector<const metrics::Snapshot*> order;
  for (auto& p : parts) order.push_back(&p);
  std::mt19937_64 rng(5);
  std::shuffle(order.begin(), order.end(), rng);
  auto m = merge_snapshots(order);
  EXPECT_EQ(m.aggregate(*m.find("http_reqs")).sum, want_reqs);
  EXPECT_EQ(m.aggregate(*m.find("http_req_duration")).trend.count(), want_count);
  EXPECT_EQ(m.generators.size(), 60u);
}

TEST(MergeOrder, BinaryWireFormGivesTheSameMergeAsJson) {
  // What the coordinator merges when its runners answer in the binary form
  // equals what it merges from their JSON, bucket for bucket and (same order)
  // to the last bit of every sum.
  std::vector<metrics::Snapshot> via_json, via_binary;
  for (std::uint64_t r = 0; r < 24; ++r) {
    metrics::Snapshot s = runner_snapshot(7000 + r);
    via_json.push_back(metrics::Snapshot::from_json(json::parse(s.to_json().dump())));
    via_binary.push_back(metrics::from_binary(metrics::to_binary(s)));
  }
  std::vector<const metrics::Snapshot*> a, b;
  for (auto& p : via_json) a.push_back(&p);
  for (auto& p : via_binary) b.push_back(&p);
  metrics::Snapshot ma = merge_snapshots(a), mb = merge_snapshots(b);
  EXPECT_EQ(mb.to_json(), ma.to_json());
  const Canonical want = canonical(ma), got = canonical(mb);
  EXPECT_EQ(got.states, want.states);
  EXPECT_EQ(got.trend_sums, want.trend_sums);
  // And in another order, as any merge.
  std::reverse(b.begin(), b.end());
  EXPECT_EQ(canonical(merge_snapshots(b)).states, want.states);
}

TEST(MergeOrder, OnePartAtATimeIsTheSameMergeToTheLastBit) {
  // What the coordinator does each round: decode a runner's snapshot, add it,
  // drop it (SnapshotMerger), equals merge_snapshots over all of them kept.
  std::vector<metrics::Snapshot> parts;
  for (std::uint64_t r = 0; r < 20; ++r) parts.push_back(runner_snapshot(500 + r));
  std::vector<const metrics::Snapshot*> order;
  for (auto& p : parts) order.push_back(&p);
  const metrics::Snapshot want = merge_snapshots(order);
  SnapshotMerger m;
  for (const auto& p : parts) m.add(metrics::from_binary(metrics::to_binary(p)));
  const metrics::Snapshot got = m.take();
  EXPECT_EQ(got.to_json(), want.to_json());  // sums (histogram and vus) to the last bit
  auto vus = got.find("vus");
  ASSERT_TRUE(vus);
  double want_vus = 0;
  for (std::uint64_t r = 0; r < 20; ++r) want_vus += static_cast<double>((500 + r) % 5 + 1);
  EXPECT_EQ(got.aggregate(*vus).last, want_vus);
  // take() leaves it empty: the next round starts over.
  m.add(parts[0]);
  EXPECT_EQ(m.take().to_json(), merge_snapshots({&parts[0]}).to_json());
}

TEST(MergeOrder, TagSetsSharedAcrossRunnersMergeTheSame) {
  // The coordinator decodes with one TagSetPool: equal tag sets of different
  // runners share storage (compared by pointer); the merge is unchanged.
  metrics::TagSetPool pool;
  std::vector<metrics::Snapshot> plain, pooled;
  for (std::uint64_t r = 0; r < 12; ++r) {
    std::string wire = metrics::to_binary(runner_snapshot(900 + r));
    plain.push_back(metrics::from_binary(wire));
    pooled.push_back(metrics::from_binary(wire, &pool));
  }
  std::vector<const metrics::Snapshot*> a, b;
  for (auto& p : plain) a.push_back(&p);
  for (auto& p : pooled) b.push_back(&p);
  EXPECT_EQ(merge_snapshots(b).to_json(), merge_snapshots(a).to_json());
  // Shared: the same tags of two runners are one object.
  auto first_tags = [](const metrics::Snapshot& s) {
    auto id = *s.find("http_reqs");
    return &s.series.lower_bound(metrics::SeriesKey{id, metrics::TagSet()})->first.tags.items();
  };
  EXPECT_EQ(first_tags(pooled[0]), first_tags(pooled[2]));
  EXPECT_NE(first_tags(plain[0]), first_tags(plain[2]));
  // Bounded: past its limit the pool starts over, and what it gave out stays valid.
  metrics::TagSetPool small(4);
  std::vector<metrics::TagSet> given;
  for (int i = 0; i < 10; ++i)
    given.push_back(
        small.share(metrics::TagSet(std::vector<std::pair<std::string, std::string>>{{"k", std::to_string(i)}})));
  EXPECT_LE(small.size(), 4u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*given[static_cast<std::size_t>(i)].get("k"), std::to_string(i));
}

TEST(MergeOrder, AConflictingDefinitionLeavesTheMergeAsItWas) {
  // A runner whose metric has another type is refused as a whole: nothing of
  // it (not even its other, new metrics) lands in the merge.
  metrics::Snapshot base = runner_snapshot(1);
  metrics::Registry reg;
  reg.define("zz_new_metric", MetricType::kCounter, ValueType::kDefault);
  reg.define("orders", MetricType::kTrend, ValueType::kDefault);  // a counter on the other runners
  metrics::Sink sink(reg);
  sink.add(*reg.find("zz_new_metric"), metrics::TagSet(), 1, 1);
  sink.add(*reg.find("orders"), metrics::TagSet(), 1, 1);
  metrics::Snapshot bad = sink.snapshot();
  metrics::Snapshot merged = base;
  const json before = merged.to_json();
  EXPECT_THROW(merged.merge(bad), std::invalid_argument);
  EXPECT_EQ(merged.to_json(), before);
}

}  // namespace
}  // namespace herd::coord
