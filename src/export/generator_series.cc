#include "export/generator_series.h"

#include <algorithm>
#include <functional>

namespace herd::exporter {

namespace {

struct Gauge {
  const char* name;
  const char* help;
  std::function<double(const metrics::GeneratorHealth&)> value;
};

const std::vector<Gauge>& gauges() {
  using H = metrics::GeneratorHealth;
  static const std::vector<Gauge> g = {
      {"herd_generator_cpu_ratio", "herd generator CPU time over wall time per usable core, last second",
       [](const H& h) { return h.cpu_last; }},
      {"herd_generator_cpu_ratio_avg", "herd generator CPU ratio over the test", [](const H& h) { return h.cpu_avg; }},
      {"herd_generator_cpu_ratio_max", "herd generator highest per-second CPU ratio",
       [](const H& h) { return h.cpu_max; }},
      {"herd_generator_loop_lag_seconds", "herd generator largest event-loop lag of the last second (seconds)",
       [](const H& h) { return h.lag_last_ms / 1000; }},
      {"herd_generator_loop_lag_p99_seconds", "herd generator event-loop lag p99 over the test (seconds)",
       [](const H& h) { return h.lag_p99_ms / 1000; }},
      {"herd_generator_loop_lag_max_seconds", "herd generator largest event-loop lag (seconds)",
       [](const H& h) { return h.lag_max_ms / 1000; }},
      {"herd_generator_saturated_seconds", "herd generator seconds CPU-saturated or lagging",
       [](const H& h) { return h.unhealthy_s; }},
      {"herd_generator_cpu_saturated_seconds", "herd generator seconds with CPU ratio >= 0.9",
       [](const H& h) { return h.cpu_saturated_s; }},
      {"herd_generator_loop_lag_saturated_seconds", "herd generator seconds with event-loop lag >= 50 ms",
       [](const H& h) { return h.lag_saturated_s; }},
      {"herd_generator_sampled_seconds", "herd generator seconds sampled", [](const H& h) { return h.seconds; }},
      {"herd_generator_cores", "herd generator cores the CPU ratio is a share of",
       [](const H& h) { return static_cast<double>(h.cores); }},
      {"herd_generator_saturated", "herd generator saturated long enough to distort latencies (1) or not (0)",
       [](const H& h) { return metrics::generator_saturated(h) ? 1.0 : 0.0; }},
  };
  return g;
}

}  // namespace

std::vector<GeneratorSample> generator_samples(const std::vector<metrics::GeneratorHealth>& generators) {
  std::vector<GeneratorSample> out;
  for (const auto& g : gauges())
    for (const auto& h : generators) {
      GeneratorSample s{g.name, g.help, {{"runner", h.name.empty() ? "this process" : h.name}}, g.value(h)};
      if (!h.segment.empty()) s.labels.emplace_back("segment", h.segment);
      out.push_back(std::move(s));
    }
  return out;
}

}  // namespace herd::exporter
