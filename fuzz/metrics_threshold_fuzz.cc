// libFuzzer target: threshold expressions, metric selectors and the
// options.thresholds JSON. Parsers must either succeed or throw
// ThresholdError (never crash, never throw anything else).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/threshold.h"

using namespace herd::metrics;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    ThresholdExpr e = parse_threshold_expr(text);
    (void)threshold_agg_key(e);
  } catch (const ThresholdError&) {
  }
  try {
    MetricSelector s = parse_metric_selector(text);
    (void)s.filter.hash();
  } catch (const ThresholdError&) {
  }
  (void)parse_threshold_duration(text);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      auto ths = parse_thresholds(j);
      Registry reg;
      try {
        validate_thresholds(ths, reg);
        Snapshot snap;
        snap.metrics = reg.all();
        (void)evaluate_thresholds(ths, snap, std::chrono::milliseconds(1000), true);
      } catch (const ThresholdError&) {
      }
    } catch (const ThresholdError&) {
    }
  }
  return 0;
}
