#include "export/native_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace herd::exporter {
namespace {

TEST(NativeHistogram, IndexBoundaries) {
  EXPECT_EQ(native_index(1.0), 0);  // (2^(-1/256), 1]
  EXPECT_EQ(native_index(2.0), 256);
  EXPECT_EQ(native_index(0.5), -256);
  EXPECT_EQ(native_index(1.0000001), 1);
  for (double x : {1e-9, 0.0123, 0.37, 1.5, 7.77, 1234.5, 9e12}) {
    std::int32_t i = native_index(x);
    EXPECT_LE(x, std::exp2(i / 256.0) * (1 + 1e-12)) << x;
    EXPECT_GT(x, std::exp2((i - 1) / 256.0) * (1 - 1e-12)) << x;
  }
}

TEST(NativeHistogram, ExactCountSumZerosAndLayout) {
  metrics::Histogram h;
  h.record(0, 3);
  h.record(10, 2);
  h.record(10.01);  // same herd bucket as 10
  h.record(-4);
  h.record(1000);
  NativeHistogram n = to_native(h, 1e-3);
  EXPECT_EQ(n.count, 8u);
  EXPECT_EQ(n.zero_count, 3u);
  EXPECT_DOUBLE_EQ(n.sum, h.sum() * 1e-3);
  EXPECT_EQ(n.schema, 8);
  ASSERT_EQ(n.positive_spans.size(), 2u);  // 0.01 s and 1 s are far apart
  EXPECT_EQ(n.positive_spans[0].length, 1u);
  EXPECT_EQ(n.positive_spans[0].offset, native_index(h.buckets()[1].mid * 1e-3));
  ASSERT_EQ(n.positive_deltas.size(), 2u);
  EXPECT_EQ(n.positive_deltas[0], 3);   // 3 samples
  EXPECT_EQ(n.positive_deltas[1], -2);  // then 1
  ASSERT_EQ(n.negative_spans.size(), 1u);
  EXPECT_EQ(n.negative_deltas, std::vector<std::int64_t>{1});
  std::int64_t c = 0, pos_total = 0;
  for (auto d : n.positive_deltas) pos_total += (c += d);
  EXPECT_EQ(n.zero_count + static_cast<std::uint64_t>(pos_total) + 1, n.count);  // + 1 negative
}

TEST(NativeHistogram, ConsecutiveBucketsShareASpan) {
  metrics::Histogram h;
  for (int i = 0; i < 2000; ++i) h.record(100 + i * 0.05);  // 100..200 ms, dense
  NativeHistogram n = to_native(h, 1e-3);
  std::size_t buckets = 0;
  for (const auto& s : n.positive_spans) buckets += s.length;
  EXPECT_EQ(buckets, n.positive_deltas.size());
  EXPECT_EQ(n.positive_spans.size(), 1u);  // short gaps are empty buckets inside the span
}

// The requirement: Prometheus's quantile over the exported histogram agrees with
// herd's own percentile within 1% (measured bound printed for the docs).
TEST(NativeHistogram, QuantilesAgreeWithHerdWithinOnePercent) {
  std::mt19937_64 rng(42);
  double worst = 0;
  for (int dist = 0; dist < 3; ++dist) {
    metrics::Histogram h;
    std::lognormal_distribution<double> logn(std::log(20.0), 0.8);
    std::exponential_distribution<double> expo(1 / 5.0);
    std::uniform_real_distribution<double> uni(0.2, 3000);
    for (int i = 0; i < 200000; ++i) h.record(dist == 0 ? logn(rng) : dist == 1 ? expo(rng) : uni(rng));
    NativeHistogram n = to_native(h, 1e-3);
    for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
      double herd = h.percentile(q * 100) / 1000;
      double prom = native_quantile(n, q);
      double err = std::abs(prom - herd) / herd;
      worst = std::max(worst, err);
      EXPECT_LT(err, 0.01) << "dist " << dist << " q " << q << " herd " << herd << " prom " << prom;
    }
  }
  std::printf("worst relative difference of histogram_quantile vs herd: %.4f %%\n", worst * 100);
  EXPECT_LT(worst, 0.005);  // one schema-8 bucket (0.27 %) plus rank rounding
}

TEST(NativeHistogram, MergedHistogramsMapLikeOne) {
  metrics::Histogram a, b, all;
  for (int i = 1; i < 5000; ++i) {
    (i % 3 ? a : b).record(i * 0.37);
    all.record(i * 0.37);
  }
  a.merge(b);
  NativeHistogram na = to_native(a, 1), nall = to_native(all, 1);
  EXPECT_EQ(na.positive_spans, nall.positive_spans);
  EXPECT_EQ(na.positive_deltas, nall.positive_deltas);
  EXPECT_EQ(na.count, nall.count);
}

TEST(NativeHistogram, Empty) {
  NativeHistogram n = to_native(metrics::Histogram(), 1);
  EXPECT_EQ(n.count, 0u);
  EXPECT_TRUE(n.positive_spans.empty());
  EXPECT_TRUE(std::isnan(native_quantile(n, 0.5)));
}

}  // namespace
}  // namespace herd::exporter
