#pragma once
// The coordinator's control API (`herd coordinator --address HOST:PORT`): the
// runner endpoints of docs/control-api.md served on the MERGED view of the
// whole test, plus `GET /v1/summary` (the end-of-test result, coord/result.h).
//
// ControlState is the meeting point of two threads: the Coordinator publishes
// there what the API serves (status, merged snapshot, thresholds, result), and
// the API server leaves there what it was asked (stop the test, end the
// linger). CoordinatorControl is the api::ControlHandler over a ControlState.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/control_server.h"
#include "metrics/sink.h"
#include "metrics/threshold.h"

namespace herd::coord {

/// What the coordinator's control API serves, and what it was asked.
/// Thread-safe: every method may be called from any thread.
class ControlState {
 public:
  // ---- published by the coordinator

  /// The whole test's status: `status` is the least advanced runner's (0
  /// until it answers, at most 3 InitDone) while runners are not all ready,
  /// then 4 PausedBeforeRun, 6 Setup, 7 Running, 8 Teardown, and 9 Ended
  /// (set by set_result only); `vus`/`vus_max` are sums over the runners.
  /// `elapsed`, `tainted` and `exit_code` come from set_metrics and
  /// set_result, whatever the argument holds. Ignored after set_result.
  void set_status(const api::StatusInfo& st);
  /// The merged snapshot, the test's running time when it was taken (for
  /// counters' rate) and the thresholds evaluated on it.
  void set_metrics(metrics::Snapshot merged, std::chrono::microseconds elapsed,
                   const std::vector<metrics::MetricThresholds>& thresholds,
                   const std::vector<metrics::ThresholdResult>& results);
  /// setup()'s data as runner 1 returned it (served by GET /v1/setup).
  void set_setup_data(nlohmann::json data);
  /// How the runners were released (start_info's object), once they were.
  void set_start(nlohmann::json start);
  /// The end: the full result (build_result's object); the status becomes 9
  /// Ended with `exitCode` as its exit-code. From now on a stop request ends the linger.
  void set_result(nlohmann::json result);
  /// Where the test's HTML report is written (K6_WEB_DASHBOARD_EXPORT; "" = none asked):
  /// served by GET /v1/report once there is a result (it is written before the result).
  void set_report_file(std::string path);

  // ---- read by the API

  api::StatusInfo status() const;
  metrics::Snapshot snapshot() const;
  /// Every runner's generator health in the last merged snapshot (runner
  /// order, named "runner 2 (segment 1/3:2/3)"); metrics::generator_saturated
  /// tells which ones the summary warns about.
  std::vector<metrics::GeneratorHealth> generators() const;
  /// nullopt: the metric has no thresholds; else whether one of them fails.
  std::optional<bool> metric_tainted(const std::string& metric) const;
  nlohmann::json setup_data() const;
  /// nullopt until set_result.
  std::optional<nlohmann::json> result() const;
  /// nullopt until set_start.
  std::optional<nlohmann::json> start() const;
  /// set_report_file's path, "" when none.
  std::string report_file() const;
  /// Whether set_result was called.
  bool ended() const;

  // ---- requests

  /// A stop (PATCH {"stopped":true}): before the result, stops the test
  /// through the stop handler (once; remembered until there is one); after
  /// it, ends the linger.
  void request_stop();
  /// Who stops the test. Called at once when a stop was requested before.
  /// The handler runs on the requesting thread, without `mu_` held (it must
  /// not call back into this ControlState's request_stop/on_stop). Returns only
  /// once no call of the previous handler is running: after on_stop(nullptr)
  /// whatever that handler captured may be destroyed.
  void on_stop(std::function<void()> stop_test);
  /// Ends the linger (e.g. on a signal).
  void end_linger();
  /// Blocks until the linger ends or `timeout` passes. True if it was ended.
  bool wait_linger(std::chrono::milliseconds timeout);

 private:
  std::mutex deliver_mu_;  ///< held while the stop handler runs or is replaced
  mutable std::mutex mu_;  ///< everything below
  std::condition_variable linger_cv_;
  api::StatusInfo status_;
  std::shared_ptr<const metrics::Snapshot> merged_ = std::make_shared<const metrics::Snapshot>();
  std::set<std::string> thresholded_;  ///< metrics with thresholds
  std::set<std::string> failing_;      ///< metrics with a failing threshold
  nlohmann::json setup_data_;
  std::optional<nlohmann::json> result_;
  std::optional<nlohmann::json> start_;
  std::string report_file_;
  bool stop_requested_ = false;
  bool stop_delivered_ = false;
  bool linger_ended_ = false;
  std::function<void()> stop_test_;
};

/// The control API handler of `herd coordinator --address`. Reads and writes
/// only `state` (thread-safe), so it holds no state of its own.
///   GET /v1/status, /v1/metrics[/{name}], /v1/groups[/{id}], /v1/snapshot:
///     the merged view; GET /v1/summary: the result once the test has ended;
///     GET /v1/start: how the runners were released (start skew), once they were.
///   GET /v1/report: the HTML report (set_report_file), once the test has ended.
///   PATCH /v1/status: {"stopped":true} stops the whole test (exit 105), or,
///     once it has ended, ends the linger. `paused`, `vus` and `vus-max` may
///     only repeat their current value (400 otherwise: the coordinator drives
///     the runners itself).
///   GET /v1/setup: setup()'s data; POST/PUT /v1/setup and POST /v1/teardown: 501.
class CoordinatorControl : public api::ControlHandler {
 public:
  explicit CoordinatorControl(ControlState& state) : state_(state) {}

  api::StatusInfo status() override;
  std::optional<std::string> patch_status(const api::StatusPatch& patch) override;
  metrics::Snapshot snapshot() override;
  std::optional<bool> metric_tainted(const std::string& metric) override;
  nlohmann::json get_setup_data() override;
  nlohmann::json run_setup() override;
  void set_setup_data(nlohmann::json data) override;
  void run_teardown() override;
  std::optional<nlohmann::json> summary() override;
  std::optional<nlohmann::json> start_info() override;
  /// The report file's bytes; nullopt when none was asked for. HandlerError 404
  /// before the end, 500 when it cannot be read (the coordinator logged why it
  /// was not written).
  std::optional<std::string> report() override;

 private:
  ControlState& state_;
};

}  // namespace herd::coord
