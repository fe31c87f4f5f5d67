#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::metrics {
namespace {

// k6's definition on sorted samples: linear interpolation between closest ranks.
double exact_percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  if (v.size() == 1) return v[0];
  double r = p / 100.0 * static_cast<double>(v.size() - 1);
  double lo = v[static_cast<std::size_t>(std::floor(r))];
  double hi = v[static_cast<std::size_t>(std::ceil(r))];
  return lo + (hi - lo) * (r - std::floor(r));
}

const double kPcts[] = {0, 0.1, 1, 10, 25, 50, 66.6, 75, 90, 95, 99, 99.9, 100};

void expect_close_percentiles(const std::vector<double>& samples, const char* label) {
  Histogram h;
  for (double x : samples) h.record(x);
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  for (double p : kPcts) {
    double exact = exact_percentile(samples, p);
    double got = h.percentile(p);
    // Each interpolation end point is within bucket error of its own magnitude.
    double r = p / 100.0 * static_cast<double>(sorted.size() - 1);
    double scale = std::max(std::abs(sorted[static_cast<std::size_t>(std::floor(r))]),
                            std::abs(sorted[static_cast<std::size_t>(std::ceil(r))]));
    EXPECT_LE(std::abs(got - exact), 0.01 * scale + 1e-300)
        << label << " p(" << p << ") exact=" << exact << " got=" << got;
    EXPECT_GE(got, h.min());
    EXPECT_LE(got, h.max());
  }
}

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
  EXPECT_EQ(h.percentile(50), 0);
  EXPECT_EQ(h.percentile(100), 0);
}

TEST(Histogram, ExactCountSumMinMax) {
  Histogram h;
  std::vector<double> v = {3.5, 1e-3, 250, 42, 42, 7};
  double sum = 0;
  for (double x : v) {
    h.record(x);
    sum += x;
  }
  EXPECT_EQ(h.count(), v.size());
  EXPECT_DOUBLE_EQ(h.sum(), sum);
  EXPECT_EQ(h.min(), 1e-3);
  EXPECT_EQ(h.max(), 250);
  EXPECT_DOUBLE_EQ(h.mean(), sum / 6);
  EXPECT_EQ(h.percentile(0), 1e-3);
  EXPECT_EQ(h.percentile(100), 250);
}

TEST(Histogram, SingleValueAllPercentilesEqual) {
  Histogram h;
  h.record(123.456);
  for (double p : kPcts) EXPECT_EQ(h.percentile(p), 123.456) << p;
}

TEST(Histogram, RecordWithCount) {
  Histogram a, b;
  a.record(5, 10);
  for (int i = 0; i < 10; ++i) b.record(5);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.count(), 10u);
  EXPECT_DOUBLE_EQ(a.sum(), 50);
  a.record(7, 0);
  EXPECT_EQ(a.count(), 10u);
}

TEST(Histogram, NonFiniteIgnored) {
  Histogram h;
  h.record(std::numeric_limits<double>::quiet_NaN());
  h.record(std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.count(), 0u);
  h.record(1);
  EXPECT_EQ(h.count(), 1u);
}

TEST(Histogram, UniformAccuracy) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> d(0, 1000);
  std::vector<double> v(20000);
  for (auto& x : v) x = d(rng);
  expect_close_percentiles(v, "uniform");
}

TEST(Histogram, LognormalAccuracy) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> d(3, 1.5);
  std::vector<double> v(30000);
  for (auto& x : v) x = d(rng);
  expect_close_percentiles(v, "lognormal");
}

TEST(Histogram, BimodalAccuracy) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(20, 2), slow(900, 50);
  std::bernoulli_distribution pick(0.8);
  std::vector<double> v(25000);
  for (auto& x : v) x = std::max(0.001, pick(rng) ? fast(rng) : slow(rng));
  expect_close_percentiles(v, "bimodal");
}

TEST(Histogram, SmallValuesAccuracy) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> d(1e-6, 0.5);
  std::vector<double> v(10000);
  for (auto& x : v) x = d(rng);
  expect_close_percentiles(v, "small");
}

TEST(Histogram, LargeValuesAccuracy) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> d(1e6, 5e6);
  std::vector<double> v(10000);
  for (auto& x : v) x = d(rng);
  expect_close_percentiles(v, "large");
}

TEST(Histogram, NegativeAndZeroAccuracy) {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> d(-500, 500);
  std::vector<double> v(10000);
  for (auto& x : v) x = d(rng);
  for (int i = 0; i < 500; ++i) v.push_back(0);
  expect_close_percentiles(v, "mixed-sign");
  std::vector<double> neg(5000);
  for (auto& x : neg) x = -std::abs(d(rng)) - 1;
  expect_close_percentiles(neg, "negative");
}

TEST(Histogram, ZerosAndNegativesOrdered) {
  Histogram h;
  h.record(-10);
  h.record(0);
  h.record(0);
  h.record(10);
  EXPECT_EQ(h.min(), -10);
  EXPECT_EQ(h.max(), 10);
  EXPECT_EQ(h.percentile(50), 0);
  EXPECT_NEAR(h.percentile(100.0 / 3), 0, 1e-9);
  EXPECT_LT(h.percentile(10), 0);
  EXPECT_GT(h.percentile(90), 0);
}

TEST(Histogram, MergeIsCommutativeAndEqualsUnion) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(2, 1);
  std::uniform_real_distribution<double> u(-5, 5);
  Histogram a, b, all;
  std::vector<double> samples;
  for (int i = 0; i < 5000; ++i) {
    double x = d(rng);
    a.record(x);
    all.record(x);
    samples.push_back(x);
  }
  for (int i = 0; i < 3000; ++i) {
    double x = u(rng) * 1000;
    b.record(x);
    all.record(x);
    samples.push_back(x);
  }
  Histogram ab = a, ba = b;
  ab.merge(b);
  ba.merge(a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.count(), all.count());
  EXPECT_EQ(ab.min(), all.min());
  EXPECT_EQ(ab.max(), all.max());
  EXPECT_NEAR(ab.sum(), all.sum(), 1e-6 * std::abs(all.sum()) + 1e-6);
  for (double p : kPcts) EXPECT_EQ(ab.percentile(p), all.percentile(p)) << p;
  Histogram empty;
  Histogram a2 = a;
  a2.merge(empty);
  EXPECT_EQ(a2, a);
  empty.merge(a);
  EXPECT_EQ(empty, a);
}

std::size_t stored_buckets(const Histogram& h) {
  nlohmann::json j = h.to_json();
  std::size_t n = 0;
  for (const char* side : {"pos", "neg"})
    for (const auto& run : j[side]) n += run[1].size();
  return n;
}

TEST(Histogram, MemoryBoundedByRangeNotCount) {
  Histogram h;
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> d(100, 200);  // one power of two-ish
  for (int i = 0; i < 200000; ++i) h.record(d(rng));
  std::size_t n1 = stored_buckets(h);
  EXPECT_LE(n1, static_cast<std::size_t>(2 * Histogram::kSubBuckets));
  for (int i = 0; i < 200000; ++i) h.record(d(rng));
  EXPECT_EQ(stored_buckets(h), n1);
  EXPECT_EQ(h.count(), 400000u);
}

// The wire index of a sample is the documented frexp form (WIRE_FORMAT.md):
// e * kSubBuckets + floor((m - 0.5) * 2 * kSubBuckets) for v = m * 2^e, m in
// [0.5, 1). record() reads it off the double's bits for normal values; both
// signs, powers of two and their neighbours, subnormals and the extremes here.
TEST(Histogram, BucketIndexIsTheFrexpForm) {
  std::vector<double> vs = {std::numeric_limits<double>::min(),
                            std::numeric_limits<double>::denorm_min(),
                            std::numeric_limits<double>::max(),
                            1e-310,
                            3e-320,
                            0.5,
                            1,
                            1.5,
                            2,
                            1000,
                            0.1};
  for (int e = -1074; e <= 1023; e += 7) {
    double p = std::ldexp(1.0, e);
    vs.insert(vs.end(), {p, std::nextafter(p, 0.0), std::nextafter(p, 1e308)});
  }
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<std::uint64_t> bits(0, 0x7fefffffffffffffULL);  // positive finite doubles
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t b = bits(rng);
    double v;
    std::memcpy(&v, &b, sizeof v);
    vs.push_back(v);
  }
  for (double v : vs) {
    if (!(v > 0) || !std::isfinite(v)) continue;
    int e = 0;
    double m = std::frexp(v, &e);
    std::int64_t want =
        static_cast<std::int64_t>(e) * Histogram::kSubBuckets +
        std::clamp(static_cast<int>((m - 0.5) * 2.0 * Histogram::kSubBuckets), 0, Histogram::kSubBuckets - 1);
    for (double sign : {1.0, -1.0}) {
      Histogram h;
      h.record(sign * v);
      nlohmann::json j = h.to_json();
      const nlohmann::json& runs = sign > 0 ? j["pos"] : j["neg"];
      ASSERT_EQ(runs.size(), 1u) << v;
      EXPECT_EQ(runs[0][0].get<std::int64_t>(), want) << sign * v;
    }
  }
}

TEST(Histogram, JsonRoundTrip) {
  Histogram h;
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> d(0, 3);
  for (int i = 0; i < 3000; ++i) h.record(i % 7 == 0 ? -d(rng) : d(rng));
  h.record(0, 4);
  nlohmann::json j = h.to_json();
  EXPECT_EQ(j["v"], 1);
  Histogram back = Histogram::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back, h);
  for (double p : kPcts) EXPECT_EQ(back.percentile(p), h.percentile(p));
  Histogram empty = Histogram::from_json(Histogram().to_json());
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty, Histogram());
}

TEST(Histogram, FromJsonRejectsMalformed) {
  Histogram h;
  h.record(1.5);
  h.record(3);
  nlohmann::json good = h.to_json();
  ASSERT_NO_THROW(Histogram::from_json(good));
  std::vector<nlohmann::json> bad;
  bad.push_back(nlohmann::json::array());
  bad.push_back(nlohmann::json("x"));
  auto mut = [&](auto f) {
    nlohmann::json j = good;
    f(j);
    bad.push_back(j);
  };
  mut([](auto& j) { j["v"] = 2; });
  mut([](auto& j) { j.erase("v"); });
  mut([](auto& j) { j["count"] = -1; });
  mut([](auto& j) { j["count"] = 3; });  // does not match buckets
  mut([](auto& j) { j["count"] = "2"; });
  mut([](auto& j) { j["sum"] = "x"; });
  mut([](auto& j) { j.erase("sum"); });
  mut([](auto& j) { j["min"] = 5; });    // min > max
  mut([](auto& j) { j["min"] = 1.0; });  // not in lowest bucket
  mut([](auto& j) { j["max"] = 100.0; });
  mut([](auto& j) { j["zero"] = -3; });
  mut([](auto& j) { j["pos"] = 5; });
  mut([](auto& j) { j["pos"] = nlohmann::json::array({1, 2}); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[0,[]]]"); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[\"a\",[1]]]"); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[99999999999,[1,1]]]"); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[-99999999999,[1,1]]]"); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[0,[1,-1]]]"); });
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[10,[1]],[5,[1]]]"); });                    // descending
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[10,[1,1]],[11,[1]]]"); });                 // overlap
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[0,[18446744073709551615]],[5,[1]]]"); });  // overflow
  mut([](auto& j) { j["pos"] = nlohmann::json::parse("[[0,[1.5]]]"); });
  mut([](auto& j) { j.erase("neg"); });
  for (const auto& j : bad) EXPECT_THROW(Histogram::from_json(j), std::invalid_argument) << j.dump();
}

}  // namespace
}  // namespace herd::metrics
