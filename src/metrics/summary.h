#pragma once
// The end-of-test summary: k6's handleSummary data shape, the text layout k6
// users know, the --summary-export JSON, and the --out json sample stream.

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/sink.h"
#include "metrics/threshold.h"

namespace herd::metrics {

/// A block of herd's own lines in the text summary, under its heading (e.g.
/// "GENERATOR HEALTH"), after k6's sections and before OUTPUTS.
struct SummaryBlock {
  std::string heading;
  std::vector<std::string> lines;  ///< never empty when shown; an empty block is skipped
};

struct SummaryOptions {
  /// Default: avg, min, med, max, p(90), p(95).
  std::vector<std::string> trend_stats{"avg", "min", "med", "max", "p(90)", "p(95)"};
  std::string time_unit;  ///< "" (auto), "s", "ms" or "us"
  bool no_color = true;
  std::string mode = "compact";  ///< "compact" | "full" | "legacy"
  bool is_stdout_tty = false;
  bool is_stderr_tty = false;
  /// herd's own lines at the end of the text summary, under OUTPUTS (not in
  /// the summary data): e.g. what --out experimental-prometheus-rw sent and dropped.
  std::vector<std::string> notes;
  /// herd's lines about how a distributed test was run, at the end of the
  /// text summary under COORDINATOR (before OUTPUTS; not in the summary data):
  /// e.g. "start skew: 1.23ms across 4 runners".
  std::vector<std::string> coordinator_notes;
  /// More of herd's own blocks (not in the summary data), in order, after COORDINATOR, before OUTPUTS.
  std::vector<SummaryBlock> blocks;
};

/// The GENERATOR HEALTH block for `generators`: one warning line per
/// saturated generator (generator_saturated); no lines when none was.
SummaryBlock generator_health_block(const std::vector<GeneratorHealth>& generators);

/// k6's duration text for a value in milliseconds: "0s", "850ns", "12.5µs", "1.23ms",
/// "2.5s", "1m2s", "1h0m5s". `unit` "s"/"ms"/"us" forces a unit (summaryTimeUnit).
std::string format_duration_ms(double ms, const std::string& unit = "");
/// k6's SI byte text: "9 B", "718 B", "4.9 kB", "1.3 MB".
std::string format_bytes(double bytes);

/// One metric's values as k6 reports them: counter {count, rate}, gauge
/// {value, min, max}, rate {rate, passes, fails}, trend the `trend_stats`
/// ("avg", "med", "p(99)", "count", ...). `secs`: the duration for the counter's rate.
nlohmann::json metric_values(MetricType type, const SeriesState& s, const std::vector<std::string>& trend_stats,
                             double secs);

/// Builds the object passed to handleSummary(data): {root_group, options,
/// state, metrics}. Metrics include every metric with samples plus one entry
/// per threshold selector with a tag filter (sub-metrics, e.g.
/// "http_req_duration{name:login}"); metrics with thresholds get
/// "thresholds": {"p(95)<200": {"ok": true}}. root_group holds the group tree
/// and checks (name, path, id, passes, fails), reconstructed from the
/// `checks` series' `group` and `check` tags. `partial` adds state.partial=true.
nlohmann::json build_summary_data(const Snapshot& snap, const std::vector<MetricThresholds>& ths,
                                  const std::vector<ThresholdResult>& results, std::chrono::milliseconds test_duration,
                                  const SummaryOptions& opts, bool partial = false);

/// k6's end-of-test text summary from summary data: thresholds with ✓/✗,
/// checks with pass counts, then metrics grouped (HTTP, EXECUTION, NETWORK,
/// CUSTOM) with the configured trend stats.
std::string render_text_summary(const nlohmann::json& data, const SummaryOptions& opts);

/// One metric's row of the end-of-test summary: its section ("HTTP",
/// "EXECUTION", "NETWORK", "CUSTOM", ...), name (a sub-metric as
/// "http_req_duration{name:login}"), type and the text summary's cells
/// ("avg=1.2ms", "12.3/s", "0.00%", "3 out of 3", ...).
struct SummaryTableRow {
  std::string section;
  std::string metric;
  std::string type;
  std::vector<std::string> cells;
};

/// Every metric of summary data with the figures the text summary shows for
/// it (as in its "full" mode: the http_req_* timings too), in the text
/// summary's order: by section, each metric followed by its sub-metrics.
std::vector<SummaryTableRow> summary_table(const nlohmann::json& data, const SummaryOptions& opts);

/// The --summary-export shape (k6's legacy export): {root_group, metrics:{name:{...flat values...,
/// "thresholds":{"expr": bool}}}}.
nlohmann::json summary_export(const nlohmann::json& data);

}  // namespace herd::metrics
