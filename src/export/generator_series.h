#pragma once
// The generators' health (metrics/generator_health.h) as herd's own gauges,
// for GET /metrics (prom_text) and --out experimental-prometheus-rw
// (to_write_request): one sample per generator and gauge, labelled
// runner="this process" (a single `herd run`) or runner="runner 2 (segment
// 1/2:1)" (the coordinator's runners), plus segment="1/2:1" when it has one.
// See docs/generator-health.md.

#include <string>
#include <utility>
#include <vector>

#include "metrics/generator_health.h"

namespace herd::exporter {

struct GeneratorSample {
  std::string name;                                         ///< e.g. "herd_generator_cpu_ratio"
  std::string help;                                         ///< the family's HELP text
  std::vector<std::pair<std::string, std::string>> labels;  ///< sorted by name
  double value = 0;
};

/// Every gauge of every generator, grouped by name (the families in a stable order):
///   herd_generator_cpu_ratio{,_avg,_max}           CPU time / wall time / cores (last second, whole test, worst
///   second) herd_generator_loop_lag_seconds{,_p99,_max}    event-loop lag (last second's largest, p99 of probes,
///   largest) herd_generator_saturated_seconds               seconds CPU-saturated or lagging
///   herd_generator_cpu_saturated_seconds, herd_generator_loop_lag_saturated_seconds, herd_generator_sampled_seconds
///   herd_generator_cores                           the cores the ratios are shares of
///   herd_generator_saturated                       1 when the summary warns about it (generator_saturated), else 0
std::vector<GeneratorSample> generator_samples(const std::vector<metrics::GeneratorHealth>& generators);

}  // namespace herd::exporter
