#pragma once
// Metric definitions, tag sets and the per-series aggregate state.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram.h"

namespace herd::metrics {

enum class MetricType : std::uint8_t { kCounter, kGauge, kRate, kTrend };
enum class ValueType : std::uint8_t { kDefault, kTime, kData };

/// "counter" | "gauge" | "rate" | "trend", and "default" | "time" | "data" (k6's words).
std::string_view to_string(MetricType t);
std::string_view to_string(ValueType t);

/// Dense index of a metric in its Registry; stable for the life of the registry.
using MetricId = std::uint32_t;

struct MetricDef {
  std::string name;  ///< k6 rules: [a-zA-Z_][a-zA-Z0-9_]{0,127}
  MetricType type;
  ValueType contains;
};

/// An immutable, sorted (by key) set of tags with a precomputed hash.
/// Cheap to copy (shared storage). Keys are unique.
class TagSet {
 public:
  TagSet();
  /// Sorts and de-duplicates by key (last value wins).
  explicit TagSet(std::vector<std::pair<std::string, std::string>> tags);

  const std::vector<std::pair<std::string, std::string>>& items() const;
  /// The value of `key`, or nullptr.
  const std::string* get(std::string_view key) const;
  /// A copy with `key` set to `value`.
  TagSet with(std::string key, std::string value) const;
  /// True when every (k, v) of `filter` is present here.
  bool contains_all(const TagSet& filter) const;
  std::size_t hash() const { return hash_; }
  bool empty() const;
  /// Shared storage (interned sets) compares by pointer, without a call.
  bool operator==(const TagSet& o) const { return items_ == o.items_ || (hash_ == o.hash_ && same_items(o)); }
  bool operator<(const TagSet& o) const;

 private:
  bool same_items(const TagSet& o) const;
  std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> items_;
  std::size_t hash_ = 0;
};

struct TagSetHash {
  std::size_t operator()(const TagSet& t) const { return t.hash(); }
};

/// The process-wide shared instance equal to `tags`. Equal tag sets that share
/// storage compare by pointer, so series lookups of interned sets skip the
/// element-wise comparison: intern the sets a hot path reuses (a VU's base
/// tags, its cached HTTP sample tags). Thread-safe; interned sets live until exit.
TagSet intern(const TagSet& tags);

/// Aggregate state of one (metric, tag set) series. Which fields are used
/// depends on the metric type. Merge rules: counters add; rates add passes and
/// totals; trends merge histograms; gauges keep the latest value (by
/// timestamp) and the min and max.
struct SeriesState {
  // Counter
  double sum = 0;
  // Rate
  std::uint64_t passes = 0;
  std::uint64_t total = 0;
  // Gauge
  double last = 0;
  double gmin = 0;
  double gmax = 0;
  std::int64_t last_time_us = -1;  ///< unix microseconds of `last`; -1 = never set
  // Trend
  Histogram trend;

  /// Adds one sample of a metric of type `t` at unix time `time_us`.
  void add(MetricType t, double value, std::int64_t time_us);
  void merge(MetricType t, const SeriesState& other);
  /// True when the series holds a sample, as thresholds and the summary see it:
  /// a counter counts once any series of it exists (`any_series`), even at 0.
  bool has_samples(MetricType t, bool any_series) const;
};

}  // namespace herd::metrics
