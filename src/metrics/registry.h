#pragma once
// The set of metrics of one test run: built-in k6 metrics plus custom ones.

#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/metric.h"

namespace herd::metrics {

/// Ids of k6's built-in metrics, registered in this order by every Registry.
enum BuiltinMetric : MetricId {
  kVus = 0,
  kVusMax,
  kIterations,
  kIterationDuration,
  kDroppedIterations,
  kDataSent,
  kDataReceived,
  kChecks,
  kGroupDuration,
  kHttpReqs,
  kHttpReqFailed,
  kHttpReqDuration,
  kHttpReqBlocked,
  kHttpReqConnecting,
  kHttpReqTlsHandshaking,
  kHttpReqSending,
  kHttpReqWaiting,
  kHttpReqReceiving,
  kBuiltinMetricCount
};

class MetricError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// k6's metric name rule: 1-128 chars, [a-zA-Z_][a-zA-Z0-9_]*.
bool valid_metric_name(std::string_view name);

/// Thread-safe. Definitions are never removed; MetricId indexes are dense.
class Registry {
 public:
  Registry();  ///< registers the built-in metrics
  /// Defines a metric or returns the existing id when name, type and contains
  /// all match. Throws MetricError on an invalid name or a conflicting redefinition.
  MetricId define(const std::string& name, MetricType type, ValueType contains);
  std::optional<MetricId> find(std::string_view name) const;
  MetricDef def(MetricId id) const;
  /// def(id).type without copying the definition (throws as def does).
  MetricType type(MetricId id) const;
  std::size_t size() const;
  std::vector<MetricDef> all() const;

 private:
  mutable std::mutex mu_;
  std::vector<MetricDef> defs_;
  std::unordered_map<std::string, MetricId> by_name_;
};

}  // namespace herd::metrics
