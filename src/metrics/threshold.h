#pragma once
// k6 thresholds: parsing of `p(95)<200`-style expressions and of metric
// selectors with tag filters (`http_req_duration{name:login}`), and their
// evaluation on a Snapshot.

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "metrics/metric.h"
#include "metrics/sink.h"

namespace herd::metrics {

class ThresholdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A parsed threshold expression: aggregation method, operator, value.
struct ThresholdExpr {
  enum class Agg { kCount, kRate, kValue, kAvg, kMin, kMax, kMed, kPercentile };
  enum class Op { kLt, kLe, kGt, kGe, kEq, kNe };  // <, <=, >, >=, ===/==, !=/!==
  Agg agg = Agg::kCount;
  double percentile = 0;  ///< for kPercentile, in [0, 100]
  Op op = Op::kLt;
  double value = 0;
  std::string source;  ///< the original text, as written by the user
};

/// Parses e.g. "p(99.9) < 300", "rate>0.95", "count==0". Throws ThresholdError
/// with a message that quotes the input.
ThresholdExpr parse_threshold_expr(const std::string& text);

/// The summary/values key of an expression's aggregation: "avg", "p(99.9)", "rate", ...
std::string threshold_agg_key(const ThresholdExpr& e);

/// Go-style duration ("1h2m3.5s", "500ms", "10us", "1µs"; a bare number is
/// milliseconds) as used by delayAbortEval; nullopt when malformed or negative.
std::optional<std::chrono::milliseconds> parse_threshold_duration(std::string_view text);

/// Parses a selector "name" or "name{tag:value,tag2:value2}". Throws ThresholdError.
struct MetricSelector {
  std::string metric;
  TagSet filter;
  std::string source;
};
MetricSelector parse_metric_selector(const std::string& text);

struct Threshold {
  ThresholdExpr expr;
  bool abort_on_fail = false;
  std::chrono::milliseconds delay_abort_eval{0};
};

/// All thresholds of one selector (one key of options.thresholds).
struct MetricThresholds {
  MetricSelector selector;
  std::vector<Threshold> thresholds;
};

/// Parses options.thresholds (the JSON object k6 accepts: strings or
/// {threshold, abortOnFail, delayAbortEval} objects). Throws ThresholdError
/// naming the offending key.
std::vector<MetricThresholds> parse_thresholds(const nlohmann::json& thresholds);

/// The value a threshold aggregation takes for a series state of type `t`;
/// nullopt when the aggregation does not apply to the type (an error).
std::optional<double> aggregate_value(MetricType t, const SeriesState& s, const ThresholdExpr& e,
                                      double test_duration_s);

struct ThresholdResult {
  std::string selector;  ///< e.g. "http_req_duration{name:login}"
  std::string source;    ///< e.g. "p(95)<200"
  bool ok = true;
  bool abort_on_fail = false;
  std::optional<double> observed;
};

/// Evaluates every threshold on `snap`. `elapsed` is the test's running
/// time so far (for counter rates and delayAbortEval). When `final` is false,
/// thresholds whose delayAbortEval has not passed are reported ok.
/// Thresholds on metrics with no samples are ok while the test runs; in the
/// final evaluation a counter, gauge or trend with none is judged on zero
/// (count=0, value=0, p(95)=0) and a rate with none stays ok with no observed
/// value (k6 behaviour). An unknown metric name throws ThresholdError
/// (checked once at start by validate_thresholds).
std::vector<ThresholdResult> evaluate_thresholds(const std::vector<MetricThresholds>& ths, const Snapshot& snap,
                                                 std::chrono::milliseconds elapsed, bool final);

/// Checks that every selector names a metric in `reg` and that every
/// aggregation applies to the metric's type; throws ThresholdError otherwise.
void validate_thresholds(const std::vector<MetricThresholds>& ths, const Registry& reg);

}  // namespace herd::metrics
