#pragma once
// The end-of-test result of a distributed test, in the two forms a program
// (the Kubernetes operator) reads without parsing logs:
//
//   * the full result, served by the coordinator's `GET /v1/summary`
//     (docs/control-api.md): exit code, result name, thresholds, headline
//     metrics, the text summary and the summary-export data;
//   * the compact result, written by `--result-file` (a pod's termination
//     message): the same object without `text` and `data`, one line, at most
//     kResultFileMaxBytes.
//
// Pure functions: no I/O except write_result_file.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/sink.h"
#include "metrics/summary.h"
#include "metrics/threshold.h"

namespace herd::coord {

/// A Kubernetes termination message holds at most 4096 bytes: the result
/// file's line, its newline included, never exceeds this.
inline constexpr std::size_t kResultFileMaxBytes = 4096;
/// The longest line compact_result and error_result produce by default.
inline constexpr std::size_t kResultLineMaxBytes = kResultFileMaxBytes - 1;
/// Longest `message` / `error` text kept in a compact result (bytes); longer
/// ones keep their beginning and say how much was cut.
inline constexpr std::size_t kResultMessageMaxBytes = 3500;

/// "passed" (0), "failed" (99), "aborted" (108 exec.test.abort(); 105 stopped
/// by a signal or through the API; 103 a runner stopped through its own API),
/// "error" (everything else: 97 runner lost, 104, 107, ...).
std::string result_name(int exit_code);

/// Everything the full result is made of.
struct ResultInput {
  int exit_code = 0;
  bool partial = false;                              ///< a runner was lost: the metrics cover what it had reported
  std::string message;                               ///< errors / lost runners / why the test stopped; "" = none
  std::vector<metrics::ThresholdResult> thresholds;  ///< evaluated on the merged data at the end
  const metrics::Snapshot* merged = nullptr;         ///< null: no metrics (the test never ran)
  std::chrono::milliseconds duration{0};             ///< test run time as the coordinator saw it
  std::string text;      ///< the end-of-test text summary as printed, without colours; "" = none
  nlohmann::json data;   ///< the --summary-export object (metrics::summary_export); null = none
  nlohmann::json start;  ///< start_info's object; null = the runners were never released
};

/// How the runners were released, as GET /v1/start and the result's "start"
/// serve it: {"runners":N,"skewMs":x}; `skew_ms` (the spread of the resume
/// moments) is rounded to the microsecond.
nlohmann::json start_info(std::size_t runners, double skew_ms);
/// The summary's second COORDINATOR line after "start at T": "started at an
/// agreed instant; runner clock offsets up to 357µs (estimated)"; "" otherwise.
std::string clock_note(const nlohmann::json& start);

/// The summary's line for start_info's object: "start skew: 1.23ms across 4
/// runners"; "" when `start` is not such an object.
std::string start_note(const nlohmann::json& start);

/// The headline numbers of a merged snapshot:
/// {"iterations","requests","failureRate","checksRate","avgMs","p95Ms","p99Ms",
///  "vusMax","dataSentBytes","dataReceivedBytes","durationMs"}. Counts are
/// integers, rates 0..1, times milliseconds; a trend or rate without samples
/// gives 0.
nlohmann::json headline_metrics(const metrics::Snapshot& merged, std::chrono::milliseconds duration);

/// The full result (GET /v1/summary):
/// {"exitCode","result","partial","message","thresholds":[{"metric","expression","ok"}],
///  "metrics":{...headline_metrics...},"start":{...start_info...}|null,"text":"...",
///  "data":{...summary export...}}.
/// Without a snapshot every metric is 0.
nlohmann::json build_result(const ResultInput& in);

/// The compact result: `full` without "text" and "data", as one line of JSON
/// of at most `max_bytes`. A long message keeps its first
/// kResultMessageMaxBytes; then thresholds are dropped from the end of the
/// list until it fits. Either adds "truncated":true.
std::string compact_result(const nlohmann::json& full, std::size_t max_bytes = kResultLineMaxBytes);

/// `herd inspect --result-file` on success: `inspect` (its JSON output) as one
/// line. When that is longer than `max_bytes`, its largest fields are dropped
/// (never "maxVUs" or "totalDuration") and "truncated":true is added.
std::string compact_inspect_result(const nlohmann::json& inspect, std::size_t max_bytes = kResultLineMaxBytes);

/// `herd inspect --result-file` on failure: {"error":message,"exitCode":code},
/// one line, the message shortened like compact_result's.
std::string error_result(const std::string& message, int exit_code, std::size_t max_bytes = kResultLineMaxBytes);

/// `text` shortened to at most `max_bytes` bytes, cut on a UTF-8 character
/// boundary and ending with " [... N more bytes]" when it was cut.
std::string shorten(const std::string& text, std::size_t max_bytes);

/// Writes `content` and a newline to `path` (replacing it). Returns "" or an error message.
std::string write_result_file(const std::string& path, const std::string& content);

}  // namespace herd::coord
