#pragma once
// Generator health (issue #15): is the load generator itself saturated? A
// generator short of CPU, or whose event loops turn late, reports latencies
// that include its own delay and look like the server's fault.
//
// A HealthMonitor measures one process: every second (a sampler thread) the
// process's CPU time over wall time, per core it may use, and the event-loop
// lag its probes saw (how late a timer fired on each worker loop, or how long
// an overdue timer has been waiting). GeneratorHealth is what it reports:
// carried in the snapshot's wire form (metrics/sink.h, docs/wire-format.md),
// merged per runner by the coordinator, judged by generator_saturated() with
// the thresholds of docs/generator-health.md.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "metrics/histogram.h"

namespace herd::metrics {

/// A second is CPU-saturated when the process used at least this share of the cores it may use.
inline constexpr double kCpuSaturatedRatio = 0.90;
/// A second is lagging when an event loop's timer was at least this late (milliseconds).
inline constexpr double kLagSaturatedMs = 50.0;
/// Warn when the unhealthy seconds reach this many...
inline constexpr double kUnhealthyMinSeconds = 5.0;
/// ...or this share of the sampled seconds,
inline constexpr double kUnhealthyMinShare = 0.10;
/// ...and in any case at least this many (one hiccup is not a saturated generator).
inline constexpr double kUnhealthyFloorSeconds = 2.0;

/// One generator's health over the test so far. Plain data; every time is in
/// the unit its name says, ratios are shares of `cores` (may exceed 1 a bit:
/// helper threads beyond the worker threads).
struct GeneratorHealth {
  /// Who measured it: "this process", or the coordinator's "runner 2 (segment 1/3:2/3)".
  /// Not on the wire (the coordinator names its runners).
  std::string name;
  std::string segment;         ///< the runner's execution segment ("" = the whole test)
  int cores = 1;               ///< CPUs the process may use: min(its CPU affinity, its worker threads), >= 1
  double seconds = 0;          ///< seconds sampled
  double cpu_last = 0;         ///< CPU ratio of the last sampled second
  double cpu_avg = 0;          ///< CPU ratio over all sampled seconds
  double cpu_max = 0;          ///< highest per-second CPU ratio
  double cpu_saturated_s = 0;  ///< seconds with CPU ratio >= kCpuSaturatedRatio
  double lag_last_ms = 0;      ///< largest event-loop lag of the last sampled second
  double lag_p99_ms = 0;       ///< p99 of every probe's lag
  double lag_max_ms = 0;       ///< largest lag seen
  double lag_saturated_s = 0;  ///< seconds whose largest lag >= kLagSaturatedMs
  double unhealthy_s = 0;      ///< seconds CPU-saturated or lagging (or both)
  /// The runner's own http_reqs count so far (for its request rate); set by
  /// the coordinator from the runner's snapshot, unset in a single process.
  /// Not on the wire.
  std::optional<double> requests;

  /// Wire form: {"segment","cores","seconds","cpuLast","cpuAvg","cpuMax","cpuSaturatedS",
  /// "lagLastMs","lagP99Ms","lagMaxMs","lagSaturatedS","unhealthyS"}.
  nlohmann::json to_json() const;
  /// Tolerant: missing fields are 0 / ""; nullopt when `j` is not an object or
  /// a present field has the wrong type or a negative / non-finite value.
  static std::optional<GeneratorHealth> from_json(const nlohmann::json& j);
  bool operator==(const GeneratorHealth&) const = default;
};

/// True when the generator was unhealthy long enough to distort latencies:
/// unhealthy_s >= kUnhealthyFloorSeconds and (>= kUnhealthyMinSeconds or >=
/// kUnhealthyMinShare of `seconds`).
bool generator_saturated(const GeneratorHealth& h);

/// The summary's warning line for a saturated generator, e.g. "runner 2
/// (segment 1/2:1): saturated for 4 of 5 s (CPU >= 90 % for 4 s, max 100 % of
/// 1 core; event-loop lag >= 50 ms for 4 s, p99 310 ms): its latencies include
/// its own delay".
std::string describe_saturation(const GeneratorHealth& h);

/// CPU time (user + system) this process has used so far, in seconds (getrusage).
double process_cpu_seconds();
/// CPUs this process may run on (sched_getaffinity), >= 1.
int affinity_cpus();

/// Measures one process. record_lag() and probe bookkeeping are thread-safe
/// (the worker loops call them); close_second() is the sampler's (one thread).
class HealthMonitor {
 public:
  using Clock = std::chrono::steady_clock;
  /// `cores` >= 1 (clamped); `probes`: how many event loops are probed.
  HealthMonitor(int cores, std::string segment, std::size_t probes);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  /// Starts the sampler thread: every `period` it closes a second with the
  /// process's CPU time and the time passed. Idempotent.
  void start(std::chrono::milliseconds period = std::chrono::milliseconds(1000));
  /// Stops and joins the sampler; the last partial period counts when it is at
  /// least half a period long. Idempotent; also done by the destructor.
  void stop();
  bool running() const { return running_.load(); }

  /// Probe `probe`'s timer is due at `due` (armed) / has fired `lag` late.
  void probe_armed(std::size_t probe, Clock::time_point due);
  void probe_fired(std::size_t probe, std::chrono::microseconds lag);

  /// One sample: `cpu_s` CPU seconds used in `wall_s` seconds ending at `now`.
  /// The second's lag is the largest lag fired since the last sample, or how
  /// long an armed probe has been overdue at `now`. Public for tests.
  void close_second(double cpu_s, double wall_s, Clock::time_point now);

  /// The health so far (thread-safe).
  GeneratorHealth health() const;

 private:
  void sampler(std::chrono::milliseconds period);

  const int cores_;
  const std::string segment_;
  std::vector<std::atomic<std::int64_t>> due_ns_;  ///< per probe: armed deadline (steady ns), 0 = none
  std::atomic<std::int64_t> second_lag_us_{0};     ///< largest fired lag since the last sample

  mutable std::mutex mu_;  ///< guards everything below
  Histogram lag_ms_;       ///< every fired probe's lag, milliseconds
  GeneratorHealth h_;
  double cpu_total_s_ = 0;
  double wall_total_s_ = 0;

  std::atomic<bool> running_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace herd::metrics
