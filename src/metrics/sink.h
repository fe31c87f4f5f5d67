#pragma once
// Where samples go: per-worker aggregation into series, periodic snapshots,
// and an optional stream of raw samples (for --out json).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "metrics/generator_health.h"
#include "metrics/metric.h"
#include "metrics/registry.h"
#include "metrics/tag_filter.h"

namespace herd::metrics {

struct SeriesKey {
  MetricId metric;
  TagSet tags;
  bool operator==(const SeriesKey& o) const { return metric == o.metric && tags == o.tags; }
  bool operator<(const SeriesKey& o) const { return metric != o.metric ? metric < o.metric : tags < o.tags; }
};
/// A non-owning key for allocation-free (heterogeneous) look-ups.
struct SeriesKeyRef {
  MetricId metric;
  const TagSet* tags;
};
struct SeriesKeyHash {
  using is_transparent = void;
  std::size_t operator()(const SeriesKey& k) const { return k.tags.hash() * 31 + k.metric; }
  std::size_t operator()(const SeriesKeyRef& k) const { return k.tags->hash() * 31 + k.metric; }
};
struct SeriesKeyEq {
  using is_transparent = void;
  bool operator()(const SeriesKey& a, const SeriesKey& b) const { return a == b; }
  bool operator()(const SeriesKeyRef& a, const SeriesKey& b) const { return a.metric == b.metric && *a.tags == b.tags; }
  bool operator()(const SeriesKey& a, const SeriesKeyRef& b) const { return (*this)(b, a); }
};

/// One raw sample, as streamed to outputs.
struct Sample {
  MetricId metric;
  const TagSet* tags;
  double value;
  std::int64_t time_us;  ///< unix microseconds
};

/// Receives every raw sample (thread-safe implementations only).
class SampleObserver {
 public:
  virtual ~SampleObserver() = default;
  virtual void observe(const Registry& reg, const Sample& s) = 0;
};

/// The whole metric state of a run (or part of one) at one moment: every
/// series with its aggregate. Mergeable; serialisable in a versioned wire format.
struct Snapshot {
  std::map<SeriesKey, SeriesState> series;
  std::vector<MetricDef> metrics;  ///< definitions, indexed by MetricId
  std::int64_t time_us = 0;        ///< when taken (unix microseconds)
  /// The generators' health (metrics/generator_health.h): one entry from a
  /// process that measures itself; merge() appends, so a coordinator's merged
  /// snapshot has one per runner (their `name` set by the coordinator).
  std::vector<GeneratorHealth> generators;

  /// Merges `other` in. Metrics are matched by name (ids may differ between
  /// processes); unknown metrics are defined here.
  void merge(const Snapshot& other);
  /// Aggregate of all series of `metric` whose tags contain `filter`.
  SeriesState aggregate(MetricId metric, const TagSet& filter = TagSet()) const;
  std::optional<MetricId> find(std::string_view name) const;

  /// Wire format v1 (docs/wire-format.md): {"version":1,"time_us":..,"metrics":[{name,type,contains}],
  /// "series":[{"m":index,"tags":{..},"state":{..}}]}, plus "generators":[{..}] when
  /// there are any (read tolerantly: an entry that is not valid is skipped).
  nlohmann::json to_json() const;
  static Snapshot from_json(const nlohmann::json& j);  // throws std::invalid_argument
};

class Sink;

/// The series a VU adds to again and again under the same tags (its request,
/// iteration, check and custom-metric samples): found once with
/// Sink::Batch::series() and reused while the sink and the tags stay the same
/// (Sink::Batch::reuse). Holds no lock and owns no series (series are never erased).
template <std::size_t N>
struct SeriesCache {
  const Sink* sink = nullptr;  ///< whose series these are; nullptr = none yet
  TagSet tags;                 ///< the tags they were found for
  SeriesState* series[N] = {};
  /// Forgets the series: the next reuse() reports a miss.
  void reset() { sink = nullptr; }
};

/// Per-worker (or shared) aggregation point. add() is thread-safe (a mutex
/// that is uncontended when one worker owns the sink).
class Sink {
 public:
  explicit Sink(const Registry& reg) : reg_(reg) {}
  void set_observer(std::shared_ptr<SampleObserver> obs) { observer_ = std::move(obs); }
  /// options.systemTags: samples lose these tag keys before they are stored
  /// or observed. Empty = keep every tag. Call before samples arrive.
  void set_dropped_tags(const std::vector<std::string>& keys);

  void add(MetricId m, const TagSet& tags, double value, std::int64_t time_us);

  /// Adds many samples under one lock.
  class Batch {
   public:
    explicit Batch(Sink& s);
    ~Batch();
    void add(MetricId m, const TagSet& tags, double value, std::int64_t time_us);

    /// True when samples may go straight to a series found with series(): no
    /// tag filter and no observer (outputs) to see each sample.
    bool direct() const { return !s_.filter_ && !s_.observer_; }
    /// The series of (m, tags), created if new. Series are never erased, so the
    /// pointer stays valid for the Sink's lifetime: hot paths cache it and add
    /// with add_direct() while direct() holds.
    SeriesState* series(MetricId m, const TagSet& tags);
    /// Adds one sample to a series from series() (same metric `m`).
    void add_direct(SeriesState* st, MetricId m, double value, std::int64_t time_us) {
      st->add(s_.types_[m], value, time_us);
    }
    /// True when `c` holds this sink's series for `tags`. Otherwise `c` is
    /// re-keyed to them and false returned: the caller fills c.series with
    /// series() before its add_direct() calls.
    template <std::size_t N>
    bool reuse(SeriesCache<N>& c, const TagSet& tags) {
      if (c.sink == &s_ && c.tags == tags) return true;
      c.sink = &s_;
      c.tags = tags;
      return false;
    }

   private:
    Sink& s_;
    std::unique_lock<std::mutex> lock_;
  };

  /// Copies the current state (does not reset it).
  Snapshot snapshot() const;

 private:
  void add_locked(MetricId m, const TagSet& tags, double value, std::int64_t time_us);
  SeriesState& series_locked(MetricId m, const TagSet& tags);
  const Registry& reg_;
  mutable std::mutex mu_;
  std::unordered_map<SeriesKey, SeriesState, SeriesKeyHash, SeriesKeyEq> series_;
  std::vector<MetricType> types_;  ///< cached metric types by id (guarded by mu_)
  std::shared_ptr<SampleObserver> observer_;
  std::unique_ptr<TagFilter> filter_;  ///< guarded by mu_; null = no filtering
};

}  // namespace herd::metrics
