#pragma once
// What the live dashboard shows, computed from the run's (merged) snapshots.
// Each update is one JSON object (docs/dashboard.md, "The update stream"):
//
//   {"t": seconds since the start, "final": bool,
//    "overview": {"vus", "req_rate" (requests/s over the last period),
//                 "failed" (share of failed requests over the last period, 0..1),
//                 "p50","p90","p95","p99" (http_req_duration over the last period, ms),
//                 "requests" (total), "iterations" (total)},
//    "timings": {"http_req_waiting": {"avg", "p95"}, ...}  (last period, ms),
//    "thresholds": [{"metric", "source", "ok", "value"}],
//    "checks": [{"name", "group", "passes", "fails"}],
//    "breakdown": {"scenario"|"group"|"name": [{"value", "requests", "failed", "p95"}]} (whole run),
//    "runners": [{"name", "segment", "requests" (total), "req_rate" (last period),
//                 "cpu" (last second, share of its cores), "loop_lag_ms", "saturated"}]
//               or null when the snapshot carries no generator health}
//
// Interval values come from the difference between this snapshot's merged
// histograms and counters and the previous one's: exact to the bucket error.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/histogram.h"
#include "metrics/sink.h"
#include "metrics/threshold.h"

namespace herd::dashboard {

/// `cur` minus `prev` (a histogram that `cur` contains, e.g. an earlier state
/// of the same series): the samples recorded in between, at their buckets'
/// midpoints. Buckets that shrank (not a later state) count as empty.
metrics::Histogram histogram_delta(const metrics::Histogram& cur, const metrics::Histogram& prev);

/// Not thread-safe: one owner calls update() in time order.
class DashboardFeed {
 public:
  /// One update from `snap` (the whole run so far), its threshold verdicts and
  /// the run's elapsed time. Intervals are measured from the previous call.
  nlohmann::json update(const metrics::Snapshot& snap, const std::vector<metrics::ThresholdResult>& verdicts,
                        std::chrono::milliseconds elapsed, bool final);

 private:
  struct Totals {
    double requests = 0;
    std::uint64_t failed_passes = 0;
    std::uint64_t failed_total = 0;
    std::map<std::string, metrics::Histogram> trends;  ///< http_req_* by name
  };
  Totals prev_;
  std::chrono::milliseconds prev_elapsed_{0};
  std::map<std::string, double> prev_runner_requests_;  ///< each runner's http_reqs at the previous update
};

}  // namespace herd::dashboard
