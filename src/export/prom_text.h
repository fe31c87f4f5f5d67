#pragma once
// The Prometheus text exposition format 0.0.4 of a metrics::Snapshot, for
// the scrape endpoint `GET /metrics` of the runner's and the coordinator's
// control APIs (docs/control-api.md, docs/observability.md).
//
// Names follow prom_names.h (k6's Prometheus naming): counters
// k6_<name>_total (counter), gauges k6_<name> (gauge), rates k6_<name>_rate
// (gauge, passes/total), trends classic histograms
// native_histogram_name(...) with _bucket{le=...}, _sum and _count, in the
// base unit (seconds for time trends). Tags become labels (label_name); the
// output is sorted and stable. Pure: no clock, no I/O.

#include <string>
#include <string_view>
#include <vector>

#include "metrics/sink.h"

namespace herd::exporter {

/// The Content-Type of the text format.
inline constexpr std::string_view kPromTextContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds (`le`) of a trend's classic histogram in Prometheus's
/// unit, without +Inf. Time (seconds): 0.001 0.0025 0.005 0.01 0.025 0.05 0.1
/// 0.25 0.5 1 2.5 5 10 30 60. Data (bytes): 10^0 ... 10^9. Default: 10^-3 ... 10^6.
/// Each bound is an edge of herd's histogram buckets, so a bucket's count is
/// exactly the number of samples below the bound.
std::vector<std::string> prom_text_bounds(metrics::ValueType contains);

/// Encodes `snap` in the text format. Label values are escaped (\\, \", \n)
/// and invalid UTF-8 becomes U+FFFD. Tag keys whose label names collide (or
/// are reserved: "__*", "le" on a histogram) get an "exported_" prefix; series
/// that end up with the same labels are merged. A metric whose Prometheus
/// name is taken by another metric's is left out with a "# herd: ..." comment.
/// The snapshot's generators come first as herd_generator_* gauges
/// (export/generator_series.h).
std::string prom_text(const metrics::Snapshot& snap);

}  // namespace herd::exporter
