// metric_sample(): k6's "sample" object of /v1/metrics (declared in control_server.h).
#include "api/control_server.h"
#include "metrics/summary.h"

namespace herd::api {

using nlohmann::json;

json metric_sample(metrics::MetricType type, const metrics::SeriesState& agg, double elapsed_s) {
  using metrics::MetricType;
  json s = json::object();
  switch (type) {
    case MetricType::kCounter:
      s["count"] = agg.sum;
      s["rate"] = elapsed_s > 0 ? agg.sum / elapsed_s : 0.0;
      break;
    case MetricType::kGauge:
      s["value"] = agg.last;
      s["min"] = agg.gmin;
      s["max"] = agg.gmax;
      break;
    case MetricType::kRate:
      s["rate"] = agg.total ? static_cast<double>(agg.passes) / static_cast<double>(agg.total) : 0.0;
      break;
    case MetricType::kTrend:
      s["avg"] = agg.trend.mean();
      s["min"] = agg.trend.min();
      s["med"] = agg.trend.percentile(50);
      s["max"] = agg.trend.max();
      s["p(90)"] = agg.trend.percentile(90);
      s["p(95)"] = agg.trend.percentile(95);
      break;
  }
  return s;
}

}  // namespace herd::api
