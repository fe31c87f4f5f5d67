#pragma once
// herd's log-linear histogram (metrics/histogram.h: 128 linear sub-buckets per
// power of two) as a Prometheus native histogram of schema 8, whose bucket i
// holds the values in (2^((i-1)/256), 2^(i/256)]: 256 buckets per power of
// two, each 0.27 % wide, finer than herd's (0.39 % to 0.78 %).
//
// Re-binning: each herd bucket's count goes whole to the schema-8 bucket that
// holds the herd bucket's midpoint, the value herd's own percentile() reports
// for it. So a quantile Prometheus interpolates lies in the same 0.27 % bucket
// as herd's (up to the two definitions of rank), counts stay integers, and
// count, zero count and sum are exact. (Splitting a herd bucket across the
// schema-8 buckets it overlaps would need float counts and moves Prometheus's
// answer away from herd's midpoint.)

#include <cstdint>
#include <vector>

#include "metrics/histogram.h"

namespace herd::exporter {

/// The finest schema Prometheus accepts.
inline constexpr int kNativeSchema = 8;

struct NativeSpan {
  std::int32_t offset = 0;  ///< first span: index of its first bucket; later: gap after the previous span
  std::uint32_t length = 0;
  bool operator==(const NativeSpan&) const = default;
};

/// A native histogram with integer counts, in the remote-write layout.
struct NativeHistogram {
  std::int32_t schema = kNativeSchema;
  std::uint64_t count = 0;    ///< every sample, zeros included (exact)
  double sum = 0;             ///< exact, in Prometheus's unit
  double zero_threshold = 0;  ///< only exact zeros go to the zero bucket
  std::uint64_t zero_count = 0;
  std::vector<NativeSpan> positive_spans, negative_spans;
  /// Each bucket's count minus the previous bucket's (the first: minus 0),
  /// across spans, in span order.
  std::vector<std::int64_t> positive_deltas, negative_deltas;
};

/// Schema-8 index of the bucket holding magnitude `x` > 0 (finite).
std::int32_t native_index(double x);

/// `h` with every value multiplied by `scale` (> 0; 1/1000 turns
/// milliseconds into seconds), as a schema-8 native histogram.
NativeHistogram to_native(const metrics::Histogram& h, double scale);

/// Prometheus's histogram_quantile over one native histogram (q in [0, 1]):
/// the rank q*count, linear interpolation inside the bucket that holds it.
/// For tests and docs: what a PromQL query will answer.
double native_quantile(const NativeHistogram& h, double q);

}  // namespace herd::exporter
