#pragma once
// The decisions of the closed-model executors (shared-iterations,
// per-vu-iterations, constant-vus, ramping-vus, externally-controlled), free
// of threads, fibers and clocks: the engine asks before every iteration, with
// the current time, and does what the answer says. Tests drive it with any
// times they like (an injected clock). Arrival-rate executors are scheduled by
// plan.h's arrival_offset on absolute deadlines instead.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "exec/options.h"
#include "exec/segment.h"

namespace herd::exec {

using SteadyTime = std::chrono::steady_clock::time_point;

/// What a VU does next.
struct NextStep {
  enum Kind { kRun, kWait, kStop };
  Kind kind = kStop;
  /// kRun: this instance's iteration number in the scenario (shared-iterations:
  /// the shared index, 0..iterations-1; others: a scenario-wide counter).
  std::int64_t iteration = 0;
  /// kWait: ask again at this time (or earlier, when the engine is woken:
  /// externally-controlled VUs are woken when vus changes).
  SteadyTime wake_at{};
  /// kRun, ramping-vus: if the ramp drops this VU during the iteration, the
  /// time by which the iteration must end (drop + gracefulRampDown).
  std::optional<SteadyTime> interrupt_at;
};

/// ramping-vus, this instance's active VUs at offset `t` when the run is split
/// by `tuple`: tuple.scale(ramping_vus_at(global, t)). Summed over the
/// segments of a sequence it equals ramping_vus_at(global, t).
std::int64_t segment_ramping_vus_at(const ScenarioConfig& global, const ExecutionTuple& tuple, microseconds t);

/// ramping-vus: the first offset t >= from (from the scenario start) at which
/// VU `k` (0-based) is needed (ramping_vus_at(s, t) > k), or nullopt.
std::optional<microseconds> ramping_next_activation(const ScenarioConfig& s, std::int64_t k, microseconds from);

/// ramping-vus: the first offset t >= from at which VU `k` is no longer
/// needed (ramping_vus_at(s, t) <= k), or nullopt within the stages.
std::optional<microseconds> ramping_next_deactivation(const ScenarioConfig& s, std::int64_t k, microseconds from);

/// Thread-safe: VUs on every worker ask concurrently (atomics only).
class ClosedModelExecutor {
 public:
  /// `cfg` as segmented for this instance; `start` is the scenario's start.
  /// Unsegmented runs (or executors other than ramping-vus) need nothing else.
  ClosedModelExecutor(const ScenarioConfig& cfg, SteadyTime start);
  /// A run split into execution segments: `cfg` as segment_scenario made it
  /// for `tuple`, `global` the unsplit scenario. ramping-vus then follows the
  /// GLOBAL ramp: this instance's VU k is the tuple's k-th owned global VU
  /// slot (tuple.global_iteration(k)) and runs while the global target exceeds
  /// that slot, so at every instant the instances' active VUs add up to
  /// ramping_vus_at(global, t) exactly (k6's striping of the ramp). Scaling
  /// each stage target instead would round every instance down on the ramps.
  ClosedModelExecutor(const ScenarioConfig& cfg, SteadyTime start, const ScenarioConfig& global,
                      const ExecutionTuple& tuple);

  /// The next step of VU `vu_index` (0-based within the scenario) that has
  /// completed `vu_iterations` iterations of this scenario, at time `now`.
  NextStep next(std::int64_t vu_index, std::int64_t vu_iterations, SteadyTime now);

  /// externally-controlled: how many VUs run (VU indexes below it).
  void set_active_vus(std::int64_t n) { active_.store(n); }
  std::int64_t active_vus() const { return active_.load(); }

  SteadyTime start() const { return start_; }
  /// No iteration starts at or after end().
  SteadyTime end() const { return end_; }
  /// Iterations still running are interrupted at hard_stop() (end + gracefulStop).
  SteadyTime hard_stop() const { return hard_stop_; }
  /// shared-iterations: iterations handed out so far (may exceed the total by the number of VUs).
  std::int64_t handed_out() const { return shared_next_.load(); }

 private:
  ScenarioConfig cfg_;
  ScenarioConfig ramp_;   ///< ramping-vus: the global (unsplit) stages
  ExecutionTuple tuple_;  ///< maps this instance's VU k to its global VU slot
  SteadyTime start_, end_, hard_stop_;
  std::atomic<std::int64_t> shared_next_{0};
  std::atomic<std::int64_t> counter_{0};
  std::atomic<std::int64_t> active_{0};
};

}  // namespace herd::exec
