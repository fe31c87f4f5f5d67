#pragma once
// Pure helpers of the TestRun reconciler: reading pods, mapping exit codes to
// results, and keeping status conditions (docs/operator.md). No I/O here.

#include <chrono>
#include <optional>
#include <string>

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

}  // namespace herd::op
