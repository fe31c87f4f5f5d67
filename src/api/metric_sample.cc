// metric_sample(): k6's "sample" object of /v1/metrics (declared in control_server.h).
#include "api/control_server.h"
#include "metrics/summary.h"

namespace herd::api {

using nlohmann::json;

json metric_sample(metrics::MetricType type, const metrics::SeriesState& agg, double elapsed_s) {
  // The summary's values with k6's default trend stats; a rate's sample is its rate only.
  json s = metrics::metric_values(type, agg, metrics::SummaryOptions{}.trend_stats, elapsed_s);
  if (type == metrics::MetricType::kRate) {
    s.erase("passes");
    s.erase("fails");
  }
  return s;
}

}  // namespace herd::api
