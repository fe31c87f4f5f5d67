#pragma once
// How herd's metrics are named in Prometheus, as k6's experimental-prometheus-rw
// output names them: every name starts with "k6_"; counters end in "_total",
// rates in "_rate"; gauges are "k6_<name>"; a trend is either one gauge per
// statistic ("k6_<name>_p99", "_avg", ...) or one native histogram named with
// its base unit ("k6_<name>_seconds" for time, "_bytes" for data, no suffix
// otherwise). Time values are converted from milliseconds to seconds.
// The one place for these rules: the remote-write output and a scrape
// endpoint use the same functions.

#include <string>
#include <string_view>

#include "metrics/histogram.h"
#include "metrics/metric.h"

namespace herd::exporter {

std::string counter_name(std::string_view metric);  ///< k6_<metric>_total
std::string gauge_name(std::string_view metric);    ///< k6_<metric>
std::string rate_name(std::string_view metric);     ///< k6_<metric>_rate
/// k6_<metric>_seconds (time), k6_<metric>_bytes (data), k6_<metric> (default).
std::string native_histogram_name(std::string_view metric, metrics::ValueType contains);

/// The factor from herd's unit to Prometheus's base unit: 1/1000 for time
/// (milliseconds -> seconds), 1 otherwise.
double unit_scale(metrics::ValueType contains);

/// One statistic of a trend exported as a gauge (K6_PROMETHEUS_RW_TREND_STATS).
struct TrendStat {
  enum class Kind { kAvg, kMin, kMax, kMed, kCount, kSum, kPercentile };
  Kind kind = Kind::kAvg;
  double percentile = 0;  ///< kPercentile: in (0, 100]
  std::string suffix;     ///< name suffix: "avg", "p99", "p999" (from "p(99.9)"), ...
};
/// Parses "avg", "min", "max", "med", "count", "sum" or "p(N)" with N in
/// [0, 100]. Throws std::invalid_argument quoting `text` otherwise.
TrendStat parse_trend_stat(std::string_view text);
/// k6_<metric>_<suffix>
std::string trend_stat_name(std::string_view metric, const TrendStat& stat);
/// The statistic of `h` in Prometheus's unit (`scale` as unit_scale gives;
/// count is never scaled).
double trend_stat_value(const TrendStat& stat, const metrics::Histogram& h, double scale);

/// A tag key as a Prometheus label name: characters outside [a-zA-Z0-9_]
/// become '_', a leading digit gets a '_' in front; never empty.
std::string label_name(std::string_view tag);

}  // namespace herd::exporter
