#pragma once
// Pure execution-plan arithmetic (no clocks, no threads): how many VUs each
// scenario needs, when it starts and ends, how many VUs ramping executors
// have at a given offset. Executors and `herd inspect` use it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "exec/options.h"

namespace herd::exec {

/// VUs a scenario needs at most at once (arrival-rate: maxVUs).
std::int64_t scenario_max_vus(const ScenarioConfig& s);

/// How long the scenario runs, from its own start, without gracefulStop
/// (iterations executors: maxDuration; ramping: sum of stages).
microseconds scenario_duration(const ScenarioConfig& s);

/// Its duration plus gracefulStop (plus gracefulRampDown where k6 adds it).
microseconds scenario_duration_with_grace(const ScenarioConfig& s);

/// The target VU count of a ramping-vus scenario at offset `t` from its start
/// (linear interpolation within stages, rounded toward the stage's start value
/// as k6 does: a ramp up counts VU n from the instant the line reaches n, a
/// ramp down drops it once the line reaches n - 1).
std::int64_t ramping_vus_at(const ScenarioConfig& s, microseconds t);

/// The arrival rate (iterations per time unit) of a ramping-arrival-rate
/// scenario at offset `t`, linearly interpolated.
double ramping_rate_at(const ScenarioConfig& s, microseconds t);

/// Arrival-rate executors: the offset from the scenario's start at which
/// global iteration number `i` (0-based) is due, or nullopt when the scenario
/// ends before it. constant-arrival-rate: i * timeUnit / rate. ramping: the
/// time at which the integral of the (piecewise linear) rate reaches i.
/// Exact to the microsecond; deadlines are absolute, never chained sleeps.
std::optional<microseconds> arrival_offset(const ScenarioConfig& s, std::int64_t i);

struct ExecutionRequirements {
  std::int64_t max_vus = 0;        ///< peak VUs needed at once across scenarios
  microseconds total_duration{0};  ///< end of the last scenario including gracefulStop
  /// True if some scenario never ends by itself (externally-controlled with
  /// duration 0); total_duration then only covers the bounded scenarios.
  bool unbounded = false;
};

/// k6's planning: VUs are reused between scenarios whose windows do not
/// overlap, so max_vus is the peak of the sum over concurrently running scenarios.
ExecutionRequirements execution_requirements(const std::vector<ScenarioConfig>& scenarios);

}  // namespace herd::exec
