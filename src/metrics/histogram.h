#pragma once
// A mergeable log-linear histogram for Trend metrics.
//
// Values are bucketed on a log-linear grid (HDR-style): each power of two is
// split into kSubBuckets linear sub-buckets, so any reported percentile is
// within 1% relative error of the exact sample. Count, sum, min and max are
// exact. Merging is bucket-wise integer addition: the same result in any
// order, which makes thread -> process -> coordinator aggregation exact within
// the bucket error. Memory is bounded by the value range, never by the number
// of samples. Negative values and zero are supported (separate buckets).
// Not thread-safe: confine an instance to one thread or guard it.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace herd::metrics {

class BinaryReader;
class BinaryWriter;

class Histogram {
 public:
  /// Sub-buckets per power of two; 128 gives <= 0.4% relative error at bucket midpoints.
  static constexpr int kSubBuckets = 128;

  void record(double value, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  /// Exact min/max; 0 when empty.
  double min() const { return count_ ? min_ : 0; }
  double max() const { return count_ ? max_ : 0; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  /// Percentile p in [0, 100], k6's definition (linear interpolation between
  /// closest ranks); clamped to [min, max]. 0 when empty.
  double percentile(double p) const;

  /// Versioned wire form: {"v":1,"count":..,"sum":..,"min":..,"max":..,"zero":n,
  /// "pos":[[firstIndex,[counts...]]...],"neg":[...]} (see docs/wire-format.md).
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);  // throws std::invalid_argument on bad input
  /// The binary wire form (WIRE_FORMAT.md "Binary form"): count, sum, min, max,
  /// zero, then each sign's buckets as runs of varint counts (start, length, counts).
  void write_binary(BinaryWriter& w) const;
  /// Validates as from_json does (throws std::invalid_argument); the dense
  /// windows it allocates are charged to the reader's cell budget.
  static Histogram read_binary(BinaryReader& r);

  bool operator==(const Histogram& o) const;

  /// One non-empty bucket by value (lower < upper): `count` samples in
  /// [lower, upper) for a positive bucket, in (lower, upper] for a negative
  /// one. `mid` is what percentile() reports for a sample of the bucket.
  struct Bucket {
    double lower;
    double upper;
    double mid;
    std::uint64_t count;
  };
  /// Every non-empty bucket ascending by value: negative ones, then positive
  /// ones. Samples equal to 0 are zero_count(), in no bucket.
  std::vector<Bucket> buckets() const;
  std::uint64_t zero_count() const { return zero_; }

 private:
  /// The checks shared by both decoders once the buckets are in: `total` (the
  /// buckets' counts plus zero) equals count_, the sum of an empty histogram is
  /// 0, `mn`/`mx` lie in the lowest/highest non-empty buckets; sets min_/max_.
  void check_decoded(std::uint64_t total, double mn, double mx);
  // Implementation-defined storage; sparse or windowed, never one slot per sample.
  std::vector<std::uint64_t> pos_;  // counts for positive values, indexed from pos_base_
  std::vector<std::uint64_t> neg_;  // counts for negative values (by magnitude), from neg_base_
  std::int32_t pos_base_ = 0;
  std::int32_t neg_base_ = 0;
  std::uint64_t zero_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace herd::metrics
