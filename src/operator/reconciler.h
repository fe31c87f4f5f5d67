#pragma once
// One level-triggered pass over one TestRun (docs/operator.md, "Lifecycle"):
// reads the TestRun and its children as they are now, creates what is missing,
// deletes what must go, and writes the status difference. Idempotent: running
// it twice on the same world changes nothing the second time.
//
//   ""/initialization -> initialized -> created -> started -> (stopped) -> finished
//                  \____________\___________\__________\______________-> error
//
// The stage in status is the only memory between passes, so a restarted
// operator continues where the last one stopped.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "kube/events.h"
#include "operator/jobs.h"
#include "operator/status.h"

namespace herd::op {

/// A non-blocking HTTP call to a coordinator for the TestRun `key`
/// ("namespace/name"; "k6.io:namespace/name" for a k6.io one): {status, body}
/// (status 0 = no answer) when the answer is there, nullopt while it is under
/// way (the TestRun is reconciled again when it arrives). `keep`: a 200 answer
/// stays readable by later calls (CoordinatorPoller::call).
using HttpCall = std::function<std::optional<std::pair<long, std::string>>(
    const std::string& key, const std::string& method, const std::string& url, const std::string& body, bool keep)>;

struct ReconcilerOptions {
  JobSettings jobs;
  std::chrono::milliseconds poll{2'000};  ///< how often a running TestRun is looked at again
  HttpCall http;                          ///< default (set by the Controller): its CoordinatorPoller, 3 s timeout
  int control_port = kControlPort;        ///< the coordinator's control API port (tests change it)
  std::function<Clock::time_point()> now = [] { return Clock::now(); };
  /// True the first time it is asked about a TestRun (by uid) in this operator
  /// process: that live-metrics write is not held back by the 10 s throttle,
  /// so after an operator restart they resume within a poll of the new
  /// leader's caches being synced. Unset: every write is throttled.
  std::function<bool(const std::string& uid)> first_live_write;
};

/// What a TestRun has made, from the informer caches (Jobs it owns, their Pods).
struct TestRunChildren {
  std::vector<nlohmann::json> jobs;
  std::set<std::string> job_names;
  nlohmann::json initializer;                          ///< its pod, or null
  std::map<int, std::vector<nlohmann::json>> runners;  ///< runner index (1-based) -> its pods
  nlohmann::json coordinator;                          ///< its pod, or null
};

/// REST path of the TestRun collection of `ns`, or of one TestRun, in `group` (herd.dev or k6.io).
std::string testruns_path(const std::string& ns, const std::string& name = "", std::string_view group = kGroup);
/// metadata.labels[key], "" when absent.
std::string label_of(const nlohmann::json& object, std::string_view key);
/// Whether metadata.ownerReferences names `uid`.
bool owned_by(const nlohmann::json& object, const std::string& uid);

/// status.startSkew from the coordinator's start object ({"runners":N,"skewMs":x},
/// GET /v1/start or the result's "start"): a Go duration in milliseconds,
/// "1.234ms"; nullopt when `start` has no valid skewMs.
std::optional<std::string> start_skew_text(const nlohmann::json& start);

class TestRunReconciler {
 public:
  /// `testrun` as just read from the API server (not from a cache).
  TestRunReconciler(const kube::Client& client, kube::EventRecorder& events, const ReconcilerOptions& options,
                    std::atomic<std::uint64_t>& stage_changes, nlohmann::json testrun, TestRunChildren children);

  /// Returns when to look again (0 = only on events). Throws on API failures,
  /// kube::ApiError with is_conflict() when the TestRun changed since it was read
  /// (nothing stale is written: reconcile again from the fresh object).
  std::chrono::milliseconds run();

 private:
  using ms = std::chrono::milliseconds;

  std::optional<ms> check_children();  ///< a failed child or a run timeout ends the run
  ms initialization();
  ms initialized();
  ms created(const std::vector<std::string>& addresses, const std::string& not_ready, int ready);
  ms started();
  ms ended();

  ms fail(const std::string& reason, const std::string& message);
  ms finish(const nlohmann::json& result);  ///< from /v1/summary or the coordinator's result file
  /// The <name>-summary ConfigMap, and the HTML report (`report`: the answer to
  /// GET /v1/report) beside it or in <name>-report (operator/report.h).
  void store_summary(const nlohmann::json& summary, const std::pair<long, std::string>& report);
  void note_start(const nlohmann::json& start);  ///< status.startSkew and the operator's log line
  /// Changes the stage with one event: Warning for "error", or when `warning`.
  void set_stage(const std::string& stage, const std::string& reason, const std::string& message, bool warning = false);
  void update_live_metrics(json live);  ///< status.metrics during the run, throttled
  void final_runner_counts();           ///< status.runners after the end, from the Pods left
  void write_status();
  bool create_job(const nlohmann::json& job);  ///< false: an older Job of that name is in the way
  /// Jobs of an earlier TestRun hold the names: says which (a Warning when they are
  /// orphaned), and ends the run after spec.timeouts.ready.
  void wait_for_earlier_jobs();
  /// The failed runners that caused a failure (status.h failure_causes), "; "-joined,
  /// runners whose pod disappeared during the run included.
  std::string runner_failures() const;
  void delete_children();
  bool cleanup_wanted() const;
  std::string coordinator_url(const std::string& path) const;
  std::optional<std::pair<long, std::string>> coordinator_http(const std::string& method, const std::string& path,
                                                               const std::string& body = "", bool keep = false);

  const kube::Client& client_;
  kube::EventRecorder& events_;
  const ReconcilerOptions& options_;
  std::atomic<std::uint64_t>& stage_changes_;
  nlohmann::json tr_;
  const nlohmann::json& spec_;
  TestRunChildren kids_;
  std::string ns_, name_, uid_;
  nlohmann::json original_, status_;
  std::string stage_;
  Clock::time_point now_;
  std::int64_t generation_;
  int parallelism_;
  ms ready_timeout_, run_timeout_;
  ms again_{0};
};

}  // namespace herd::op
