#pragma once
// The live web dashboard of one run: a DashboardServer, and a thread that
// every period turns the latest snapshot into an update (DashboardFeed) and
// publishes it. Fed either by a source it calls (a single `herd run`: the
// engine's sinks) or by offer() (the coordinator's merged snapshots).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dashboard/feed.h"
#include "dashboard/options.h"
#include "dashboard/report.h"
#include "dashboard/server.h"
#include "metrics/sink.h"
#include "metrics/threshold.h"

namespace herd::dashboard {

class LiveDashboard {
 public:
  using Source = std::function<metrics::Snapshot()>;
  /// The thresholds' verdicts on a snapshot (may return none).
  using Verdicts = std::function<std::vector<metrics::ThresholdResult>(const metrics::Snapshot&)>;
  /// The run's elapsed time.
  using Elapsed = std::function<std::chrono::milliseconds()>;

  /// Starts the server (unless opts.port is -1) and the update thread. With no
  /// `source`, updates use the latest offer() (none before the first).
  /// `elapsed` unset: measured from the first snapshot. Throws as DashboardServer.
  LiveDashboard(DashboardOptions opts, Source source, Verdicts verdicts, Elapsed elapsed);
  ~LiveDashboard();  ///< stops the thread and the server (no final update)
  LiveDashboard(const LiveDashboard&) = delete;
  LiveDashboard& operator=(const LiveDashboard&) = delete;

  /// "http://127.0.0.1:5665"; "" when no server runs (port -1).
  std::string url() const { return server_ ? server_->url() : ""; }

  /// The latest snapshot and its verdicts (thread-safe).
  void offer(const metrics::Snapshot& snap, std::vector<metrics::ThresholdResult> verdicts);
  /// Stops the periodic updates and publishes the final one. Call once.
  void finish(const metrics::Snapshot& last, const std::vector<metrics::ThresholdResult>& verdicts);
  /// True when the HTML report is asked for (DashboardOptions::export_path).
  bool wants_report() const { return !opts_.export_path.empty(); }
  /// After finish(), once the exit code is known: writes the HTML report with
  /// every update and `info` (nullopt: the charts and tables only). Returns
  /// "" (also when no report is asked for, or finish() was not called: the
  /// test never ran) or why it could not be written.
  std::string write_report(const std::optional<ReportInfo>& info);

 private:
  void run();
  std::chrono::milliseconds now_elapsed();
  /// `at`: the run's elapsed time when `snap` was taken (unset: now).
  void publish(const metrics::Snapshot& snap, const std::vector<metrics::ThresholdResult>& verdicts, bool final,
               std::optional<std::chrono::milliseconds> at = std::nullopt);

  DashboardOptions opts_;
  Source source_;
  Verdicts verdicts_;
  Elapsed elapsed_;
  std::unique_ptr<DashboardServer> server_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                                        ///< guarded by mu_
  std::optional<metrics::Snapshot> latest_;                  ///< guarded by mu_
  std::vector<metrics::ThresholdResult> latest_verdicts_;    ///< guarded by mu_
  std::chrono::milliseconds latest_at_{0};                   ///< elapsed time when latest_ was offered; guarded by mu_
  std::optional<std::chrono::milliseconds> published_at_;    ///< latest_at_ of the last update; update thread
  std::optional<std::chrono::steady_clock::time_point> t0_;  ///< guarded by mu_
  std::mutex feed_mu_;                                       ///< one update at a time
  DashboardFeed feed_;                                       ///< guarded by feed_mu_
  std::vector<std::string> updates_;  ///< every update, for the report (kept only then); guarded by feed_mu_
  bool finished_ = false;             ///< the final update was published; guarded by feed_mu_
  std::thread thread_;                ///< last: starts when the rest exists
};

/// For `herd run`: takes the dashboard out of `specs` (take_dashboard, with
/// `report`: the --report flag) and starts it; null when not asked for. `log`
/// gets the "web dashboard: URL" line. Throws std::invalid_argument for bad
/// options, std::system_error when the port cannot be bound.
std::unique_ptr<LiveDashboard> open_live_dashboard(std::vector<std::string>& specs,
                                                   const std::map<std::string, std::string>& environ,
                                                   LiveDashboard::Source source, LiveDashboard::Verdicts verdicts,
                                                   LiveDashboard::Elapsed elapsed,
                                                   const std::function<void(const std::string&)>& log,
                                                   const std::string& report = "");

/// For the coordinator (CoordinatorOptions::on_merged): as open_live_dashboard,
/// fed by the returned callback (the merged snapshot every poll; the final one
/// finishes it). `next` (may be empty) is called first and its line returned.
/// Returns `next` unchanged when the dashboard is not asked for.
/// When the report is asked for, `*report_writer` (if given) is set to a
/// function to call once the exit code is known (CoordinatorOptions::on_end):
/// it writes the report (LiveDashboard::write_report) and returns "" or why
/// it could not be written.
using MergedFeed = std::function<std::string(const metrics::Snapshot&, bool final,
                                             const std::vector<metrics::ThresholdResult>& verdicts)>;
using ReportWriter = std::function<std::string(const ReportInfo&)>;
MergedFeed merged_dashboard_feed(std::vector<std::string>& specs, const std::map<std::string, std::string>& environ,
                                 MergedFeed next, const std::function<void(const std::string&)>& log,
                                 const std::string& report = "", ReportWriter* report_writer = nullptr);

}  // namespace herd::dashboard
