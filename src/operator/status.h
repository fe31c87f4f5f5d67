#pragma once
// Pure helpers of the TestRun reconciler: reading pods, mapping exit codes to
// results, and keeping status conditions (docs/operator.md). No I/O here.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::op {

using nlohmann::json;
using Clock = std::chrono::system_clock;

/// A failure of `pod` that will not heal by waiting, or nullopt: phase Failed,
/// a container terminated with a non-zero code (OOMKilled named), a restart, or
/// a waiting reason that needs a change of spec (CreateContainerConfigError,
/// InvalidImageName, CrashLoopBackOff, RunContainerError, StartError, ...).
/// The text names the pod: "pod ns/x-1: container herd was OOMKilled (exit code 137)".
std::optional<std::string> pod_failure(const json& pod);

/// Bytes of a container's termination message (its log's tail) kept in a failure text.
constexpr std::size_t kPodMessageMaxBytes = 300;
/// Exit code of a runner stopped through its control API (the coordinator stops
/// every runner when one is lost): a consequence of a failure, not a cause.
constexpr int kExitStoppedByCoordinator = 103;

/// The end of `text` (trailing blank space dropped) in at most `max_bytes`:
/// as many whole lines from the end as fit after a leading "…", the last line
/// always (cut at its front when it alone is too long). Shorter text is unchanged.
std::string tail_excerpt(const std::string& text, std::size_t max_bytes);

/// The exit code of the terminated main container, nullopt while it has not terminated.
std::optional<int> pod_exit_code(const json& pod);

/// What caused a failure: `known` (found elsewhere, e.g. a runner whose pod is
/// gone), then the pod_failure() texts of the failed `pods` that did not exit
/// 103 (stopped by the coordinator: a consequence); only when there is nothing
/// else, those of the stopped ones. Empty when nothing failed.
std::vector<std::string> failure_causes(const std::vector<json>& pods, std::vector<std::string> known = {});

/// Why `pod` is not running yet, for timeout messages: the scheduler's
/// Unschedulable message, a container's waiting reason, or its phase.
std::string pod_pending_reason(const json& pod);

/// Running with an IP and every container started.
bool pod_running(const json& pod);
/// Terminated with exit code 0 (phase Succeeded).
bool pod_succeeded(const json& pod);
/// The terminated main container's termination message parsed as JSON; null when
/// there is none or it is not JSON. `raw` receives the message text.
json termination_message(const json& pod, std::string* raw = nullptr);

/// 0 passed, 99 failed, 105 and 108 aborted, anything else error.
std::string result_for_exit_code(int code);

/// RFC 3339 "2026-11-29T12:00:00Z" (fractions allowed) -> time point; nullopt if malformed.
std::optional<Clock::time_point> parse_time(const std::string& text);
std::string format_time(Clock::time_point t);  ///< "2026-11-29T12:00:00Z"

/// Sets (or replaces) the condition `type` in status["conditions"]; the
/// lastTransitionTime changes only when the condition's status changes.
void set_condition(json& status, const std::string& type, bool value, const std::string& reason,
                   const std::string& message, Clock::time_point now, std::int64_t generation);

/// Copies the headline metrics of a coordinator summary ("metrics" of GET
/// /v1/summary or the result file) into the CRD's status.metrics shape.
json status_metrics(const json& summary_metrics);

/// status.generators from the coordinator's result "generators" (one entry a
/// runner: name, cpuAvg, cpuMax, lagP99Ms, unhealthySeconds, saturated);
/// malformed entries are left out.
json status_generators(const json& result_generators);
/// The names of the saturated generators, ", "-joined ("" = none).
std::string saturated_generators(const json& status_generators);

}  // namespace herd::op
