#include "metrics/snapshot_binary.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "metrics/binary_wire.h"
#include "metrics/registry.h"

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

/// Every metric type, histograms with hundreds of buckets on both signs and
/// zero, an unset gauge, UTF-8 tags, tag sets shared by many series, and a
/// generator entry: what a runner serves.
Snapshot sample_snapshot(std::uint64_t seed) {
  Registry reg;
  MetricId custom_trend = reg.define("order_value", MetricType::kTrend, ValueType::kDefault);
  MetricId custom_gauge = reg.define("queue", MetricType::kGauge, ValueType::kDefault);
  MetricId unset_gauge = reg.define("never_set", MetricType::kGauge, ValueType::kDefault);
  MetricId custom_rate = reg.define("ok_rate", MetricType::kRate, ValueType::kDefault);
  Sink sink(reg);
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> lat(std::log(30.0), 1.5);
  std::normal_distribution<double> signed_v(0, 1000);
  const char* names[] = {"home", "search", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", ""};
  for (int i = 0; i < 3000; ++i) {
    TagSet t(Tags{{"name", names[i % 5]}, {"status", i % 7 ? "200" : "500"}, {"scenario", "s"}});
    double d = lat(rng);
    sink.add(kHttpReqs, t, 1, 100 + i);
    sink.add(kHttpReqDuration, t, d, 100 + i);
    sink.add(kHttpReqWaiting, t, d * 0.9, 100 + i);
    sink.add(kHttpReqFailed, t, i % 7 ? 0 : 1, 100 + i);
    sink.add(custom_trend, t, i % 11 ? signed_v(rng) : 0.0, 100 + i);
    sink.add(custom_rate, t, i % 3 ? 1 : 0, 100 + i);
    sink.add(custom_gauge, TagSet(Tags{{"q", names[i % 5]}}), signed_v(rng), 100 + i);
  }
  sink.add(kVus, TagSet(), 7, 5000);
  sink.add(kDataSent, TagSet(), 1e15 + 0.5, 5000);
  Snapshot s = sink.snapshot();
  s.series[SeriesKey{unset_gauge, TagSet()}] = SeriesState{};  // last_time_us -1
  s.time_us = -12345 + static_cast<std::int64_t>(seed);
  GeneratorHealth g;
  g.segment = "0:1/2";
  g.cores = 3;
  g.seconds = 12.5;
  g.cpu_max = 0.97;
  g.lag_p99_ms = 4.25;
  s.generators.push_back(g);
  return s;
}

void expect_same(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    EXPECT_EQ(a.metrics[i].name, b.metrics[i].name);
    EXPECT_EQ(a.metrics[i].type, b.metrics[i].type);
    EXPECT_EQ(a.metrics[i].contains, b.metrics[i].contains);
  }
  EXPECT_EQ(a.time_us, b.time_us);
  ASSERT_EQ(a.series.size(), b.series.size());
  for (auto ia = a.series.begin(), ib = b.series.begin(); ia != a.series.end(); ++ia, ++ib) {
    ASSERT_EQ(ia->first, ib->first);
    const SeriesState &x = ia->second, &y = ib->second;
    EXPECT_EQ(x.sum, y.sum);
    EXPECT_EQ(x.passes, y.passes);
    EXPECT_EQ(x.total, y.total);
    EXPECT_EQ(x.last, y.last);
    EXPECT_EQ(x.gmin, y.gmin);
    EXPECT_EQ(x.gmax, y.gmax);
    EXPECT_EQ(x.last_time_us, y.last_time_us);
    EXPECT_TRUE(x.trend == y.trend);
    auto bx = x.trend.buckets(), by = y.trend.buckets();  // bucket for bucket
    ASSERT_EQ(bx.size(), by.size());
    for (std::size_t k = 0; k < bx.size(); ++k) {
      EXPECT_EQ(bx[k].lower, by[k].lower);
      EXPECT_EQ(bx[k].count, by[k].count);
    }
  }
  EXPECT_EQ(a.generators, b.generators);
}

std::string encoded() {
  static const std::string b = to_binary(sample_snapshot(1));
  return b;
}

void expect_rejected(const std::string& data, const std::string& why) {
  try {
    (void)from_binary(data);
    ADD_FAILURE() << "accepted; expected: " << why;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

/// A hand-built document: header, then whatever `body` writes.
template <class F>
std::string doc(F body) {
  std::string out = "HRDS";
  out.push_back(1);
  BinaryWriter w(out);
  body(w);
  return out;
}

TEST(SnapshotBinary, RoundTripEqualsTheJsonPathBucketForBucket) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    Snapshot s = sample_snapshot(seed);
    ASSERT_GT(s.aggregate(*s.find("http_req_duration")).trend.buckets().size(), 100u);
    Snapshot via_json = Snapshot::from_json(nlohmann::json::parse(s.to_json().dump()));
    Snapshot via_binary = from_binary(to_binary(s));
    expect_same(via_binary, via_json);
    expect_same(via_binary, s);
    EXPECT_EQ(via_binary.to_json(), s.to_json());
    // Deterministic: the same snapshot encodes to the same bytes.
    EXPECT_EQ(to_binary(via_binary), to_binary(s));
  }
}

TEST(SnapshotBinary, IsMuchSmallerThanJson) {
  Snapshot s = sample_snapshot(1);
  std::size_t json_bytes = s.to_json().dump().size(), bin = to_binary(s).size();
  EXPECT_LT(bin * 2, json_bytes) << bin << " vs " << json_bytes;
}

TEST(SnapshotBinary, EmptySnapshotAndEmptyHistogram) {
  Snapshot empty;
  expect_same(from_binary(to_binary(empty)), empty);
  Snapshot s;
  s.metrics.push_back({"t", MetricType::kTrend, ValueType::kTime});
  s.series[SeriesKey{0, TagSet()}] = SeriesState{};
  expect_same(from_binary(to_binary(s)), s);
}

TEST(SnapshotBinary, EveryTruncationIsRejected) {
  const std::string b = encoded();
  for (std::size_t n = 0; n < b.size(); n += (n < 64 ? 1 : 61)) {
    EXPECT_THROW(from_binary(b.substr(0, n)), std::invalid_argument) << n;
  }
  expect_rejected(b + '\0', "trailing bytes");
}

TEST(SnapshotBinary, CorruptedBytesAreRejectedOrDecodedNeverCrash) {
  const std::string b = encoded();
  std::mt19937_64 rng(7);
  int rejected = 0;
  for (int i = 0; i < 400; ++i) {
    std::string c = b;
    std::size_t at = rng() % c.size();
    c[at] = static_cast<char>(c[at] ^ (1 + rng() % 255));
    std::optional<Snapshot> s;
    try {
      s = from_binary(c);
    } catch (const std::invalid_argument&) {
      ++rejected;
      continue;
    }
    expect_same(from_binary(to_binary(*s)), *s);  // whatever decodes is a valid snapshot again
  }
  EXPECT_GT(rejected, 20);
}

TEST(SnapshotBinary, HeaderChecks) {
  expect_rejected("", "not a herd binary snapshot");
  expect_rejected("{\"version\":1}", "not a herd binary snapshot");
  std::string v2 = encoded();
  v2[4] = 2;
  expect_rejected(v2, "unsupported version");
}

TEST(SnapshotBinary, DefinitionChecks) {
  auto one_metric = [](std::string name, std::uint8_t type, std::uint8_t contains) {
    return doc([&](BinaryWriter& w) {
      w.svarint(0);
      w.varint(1);
      w.bytes(name);
      w.u8(type);
      w.u8(contains);
      for (int k = 0; k < 4; ++k) w.varint(0);  // strings, tag sets, series, generators
    });
  };
  EXPECT_NO_THROW(from_binary(one_metric("ok", 0, 0)));
  expect_rejected(one_metric("1bad", 0, 0), "invalid metric name");
  expect_rejected(one_metric("ok", 4, 0), "unknown metric type");
  expect_rejected(one_metric("ok", 0, 3), "unknown \"contains\"");
  expect_rejected(doc([](BinaryWriter& w) {
                    w.svarint(0);
                    w.varint(2);
                    for (int k = 0; k < 2; ++k) {
                      w.bytes("dup");
                      w.u8(0);
                      w.u8(0);
                    }
                    for (int k = 0; k < 4; ++k) w.varint(0);
                  }),
                  "duplicate metric");
}

/// One counter "c"; `tags` writes the strings and tag sets; then the series.
template <class F, class G>
std::string counter_doc(F tags, G series) {
  return doc([&](BinaryWriter& w) {
    w.svarint(0);
    w.varint(1);
    w.bytes("c");
    w.u8(static_cast<std::uint8_t>(MetricType::kCounter));
    w.u8(0);
    tags(w);
    series(w);
    w.varint(0);
  });
}

TEST(SnapshotBinary, TagAndSeriesChecks) {
  auto one_tagset = [](std::string_view value) {
    return [value](BinaryWriter& w) {
      w.varint(2);
      w.bytes("k");
      w.bytes(value);
      w.varint(1);
      w.varint(1);
      w.varint(0);
      w.varint(1);
    };
  };
  auto series = [](std::uint64_t m, std::uint64_t t, double v, int n = 1) {
    return [=](BinaryWriter& w) {
      w.varint(static_cast<std::uint64_t>(n));
      for (int k = 0; k < n; ++k) {
        w.varint(m);
        w.varint(t);
        w.f64(v);
      }
    };
  };
  Snapshot ok = from_binary(counter_doc(one_tagset("v"), series(0, 0, 2.5)));
  ASSERT_EQ(ok.series.size(), 1u);
  EXPECT_EQ(*ok.series.begin()->first.tags.get("k"), "v");
  EXPECT_EQ(ok.series.begin()->second.sum, 2.5);
  expect_rejected(counter_doc(one_tagset("\xc3\x28"), series(0, 0, 1)), "UTF-8");
  expect_rejected(counter_doc(one_tagset("\xed\xa0\x80"), series(0, 0, 1)), "UTF-8");  // a surrogate
  expect_rejected(counter_doc(one_tagset("v"), series(1, 0, 1)), "metric index out of range");
  expect_rejected(counter_doc(one_tagset("v"), series(0, 1, 1)), "tag set index out of range");
  expect_rejected(counter_doc(one_tagset("v"), series(0, 0, 1, 2)), "duplicate series");
  expect_rejected(counter_doc(one_tagset("v"), series(0, 0, std::nan(""))), "must be finite");
  expect_rejected(counter_doc(
                      [](BinaryWriter& w) {
                        w.varint(1);
                        w.bytes("k");
                        w.varint(1);
                        w.varint(1);
                        w.varint(0);
                        w.varint(5);  // no such string
                      },
                      series(0, 0, 1)),
                  "tag string index out of range");
}

TEST(SnapshotBinary, HostileCountsAndVarintsFailWithoutAllocating) {
  // A series count of 2^62 with a few bytes behind it.
  expect_rejected(doc([](BinaryWriter& w) {
                    w.svarint(0);
                    w.varint(0);
                    w.varint(0);
                    w.varint(0);
                    w.varint(1ULL << 62);
                  }),
                  "series count exceeds the input");
  std::string overlong = "HRDS";
  overlong.push_back(1);
  overlong.append(11, '\xff');
  expect_rejected(overlong, "varint");
  std::string overflow = "HRDS";
  overflow.push_back(1);
  overflow.append(9, '\xff');
  overflow.push_back('\x02');  // bit 64 set
  expect_rejected(overflow, "overflows 64 bits");
}

// BinaryReader::varint reads one-byte values (below 128) without its loop:
// every length from 1 to 10 bytes, each boundary, and a value ending the
// input read back; a continuation byte at the end is "truncated".
TEST(SnapshotBinary, VarintsOfEveryLengthReadBack) {
  std::vector<std::uint64_t> vs = {0, 1, 126, 127, 128, 129, 255, 256, 16383, 16384, ~0ULL, 1ULL << 63};
  for (int bits = 7; bits < 64; bits += 7) vs.insert(vs.end(), {(1ULL << bits) - 1, 1ULL << bits});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) vs.push_back(rng() >> (rng() % 64));
  std::string buf;
  BinaryWriter w(buf);
  for (auto v : vs) w.varint(v);
  for (auto v : vs) w.svarint(static_cast<std::int64_t>(v));
  BinaryReader r(buf, 0);
  for (auto v : vs) ASSERT_EQ(r.varint(), v);
  for (auto v : vs) ASSERT_EQ(r.svarint(), static_cast<std::int64_t>(v));
  EXPECT_TRUE(r.at_end());
  for (const std::string& cut : {std::string("\x80"), std::string("\xff\xff"), std::string()}) {
    BinaryReader t(cut, 0);
    try {
      t.varint();
      ADD_FAILURE() << "read a varint from " << cut.size() << " bytes ending in a continuation";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
  std::string last = "\x85\x01\x7f";  // 133, then 127 as the input's last byte
  BinaryReader t(last, 0);
  EXPECT_EQ(t.varint(), 133u);
  EXPECT_EQ(t.varint(), 127u);
  EXPECT_TRUE(t.at_end());
}

/// One trend "t" with one series whose histogram `h` writes.
template <class F>
std::string trend_doc(F h, int series = 1) {
  return doc([&](BinaryWriter& w) {
    w.svarint(0);
    w.varint(1);
    w.bytes("t");
    w.u8(static_cast<std::uint8_t>(MetricType::kTrend));
    w.u8(0);
    w.varint(series);  // strings: one per series
    for (int k = 0; k < series; ++k) w.bytes(std::to_string(k));
    w.varint(series);
    for (int k = 0; k < series; ++k) {
      w.varint(1);
      w.varint(k);
      w.varint(k);
    }
    w.varint(series);
    for (int k = 0; k < series; ++k) {
      w.varint(0);
      w.varint(k);
      h(w);
    }
    w.varint(0);
  });
}

TEST(SnapshotBinary, HistogramChecks) {
  Histogram h;
  h.record(5);
  h.record(7);
  std::string hb;
  BinaryWriter hw(hb);
  h.write_binary(hw);
  auto raw = [&](BinaryWriter& w) {
    for (char c : hb) w.u8(static_cast<std::uint8_t>(c));
  };
  EXPECT_TRUE(from_binary(trend_doc(raw)).series.begin()->second.trend == h);
  using Runs = std::vector<std::pair<std::int64_t, std::vector<std::uint64_t>>>;  // (start, counts)
  auto hist = [](std::uint64_t count, double min, double max, Runs runs, std::uint64_t second_gap = ~0ULL) {
    return [=](BinaryWriter& w) {
      w.varint(count);
      w.f64(min + max);
      w.f64(min);
      w.f64(max);
      w.varint(0);
      w.varint(runs.size());
      std::int64_t next = 0;
      for (std::size_t k = 0; k < runs.size(); ++k) {
        if (k == 0)
          w.svarint(runs[k].first);
        else
          w.varint(k == 1 && second_gap != ~0ULL ? second_gap : static_cast<std::uint64_t>(runs[k].first - next));
        w.varint(runs[k].second.size());
        for (std::uint64_t c : runs[k].second) w.varint(c);
        next = runs[k].first + static_cast<std::int64_t>(runs[k].second.size());
      }
      w.varint(0);
    };
  };
  // 1.0 is index 1*128+0 = 128; 3.0 is 2*128+64 = 320; 1.016 is 130.
  EXPECT_NO_THROW(from_binary(trend_doc(hist(2, 1.0, 3.0, {{128, {1}}, {320, {1}}}))));
  EXPECT_NO_THROW(from_binary(trend_doc(hist(5, 1.0, 1.016, {{128, {1, 0, 4}}}))));
  expect_rejected(trend_doc(hist(3, 1.0, 3.0, {{128, {1}}, {320, {1}}})), "do not add up");
  expect_rejected(trend_doc(hist(2, 2.0, 3.0, {{128, {1}}, {320, {1}}})), "lowest bucket");
  expect_rejected(trend_doc(hist(2, 1.0, 5.0, {{128, {1}}, {320, {1}}})), "highest bucket");
  expect_rejected(trend_doc(hist(1, 1.0, 1.0, {{128, {1, 0}}})), "non-empty bucket");
  expect_rejected(trend_doc(hist(1, 1.0, 1.0, {{128, {0, 1}}})), "non-empty bucket");
  expect_rejected(trend_doc(hist(2, 1.0, 3.0, {{128, {1}}, {320, {1}}}, /*second_gap=*/1ULL << 40)), "ascend");
  expect_rejected(trend_doc(hist(1, 1.0, 1.0, {{1LL << 40, {1}}})), "out of range");
  expect_rejected(trend_doc(hist(2, 1.0, 3.0, {{128, {1ULL << 63}}, {320, {1ULL << 63}}})), "overflow");
  // Two buckets at the ends of the index range: a 2 MB window from 20 bytes.
  // A few are fine; thousands exceed the budget for so small an input.
  const double tiny = std::ldexp(1.0, -1074), huge = std::ldexp(1.0, 1023);
  auto spread = hist(2, tiny, huge, {{-1073 * 128, {1}}, {1024 * 128, {1}}});
  EXPECT_NO_THROW(from_binary(trend_doc(spread, 4)));
  expect_rejected(trend_doc(spread, 2000), "span more buckets");
}

TEST(SnapshotBinary, FuzzSeedsDecode) {
  // fuzz/corpus/snapshot_binary was written from WIRE_FORMAT.md by a separate
  // encoder: the layout as documented is the layout decoded.
  for (const char* name : {"empty", "counter_tags", "all_types", "many_buckets"}) {
    std::ifstream f(std::string(HERD_SOURCE_DIR) + "/fuzz/corpus/snapshot_binary/" + name, std::ios::binary);
    ASSERT_TRUE(f) << name;
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Snapshot s;
    ASSERT_NO_THROW(s = from_binary(data)) << name;
    EXPECT_EQ(from_binary(to_binary(s)).to_json(), s.to_json()) << name;
  }
  Snapshot all = from_binary([] {
    std::ifstream f(std::string(HERD_SOURCE_DIR) + "/fuzz/corpus/snapshot_binary/all_types", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }());
  ASSERT_EQ(all.metrics.size(), 4u);
  EXPECT_EQ(all.aggregate(*all.find("http_req_duration")).trend.count(), 8u);
  EXPECT_EQ(all.aggregate(*all.find("checks")).passes, 9u);
  ASSERT_EQ(all.generators.size(), 1u);
  EXPECT_EQ(all.generators[0].cores, 4);
}

TEST(SnapshotBinary, AcceptNegotiation) {
  EXPECT_TRUE(accepts_binary_snapshot("application/vnd.herd.snapshot"));
  EXPECT_TRUE(accepts_binary_snapshot("application/json;q=0.5, Application/Vnd.Herd.Snapshot"));
  EXPECT_TRUE(accepts_binary_snapshot("application/vnd.herd.snapshot; q=0.9"));
  EXPECT_FALSE(accepts_binary_snapshot(""));
  EXPECT_FALSE(accepts_binary_snapshot("*/*"));
  EXPECT_FALSE(accepts_binary_snapshot("application/json"));
  EXPECT_FALSE(accepts_binary_snapshot("application/vnd.herd.snapshot;q=0"));
  EXPECT_FALSE(accepts_binary_snapshot("application/vnd.herd.snapshot; q=0.00"));
  EXPECT_FALSE(accepts_binary_snapshot("application/vnd.herd.snapshotx"));
  EXPECT_TRUE(is_binary_snapshot_type("application/vnd.herd.snapshot"));
  EXPECT_TRUE(is_binary_snapshot_type("application/vnd.herd.snapshot; charset=binary"));
  EXPECT_FALSE(is_binary_snapshot_type("application/json"));
}

}  // namespace
}  // namespace herd::metrics
