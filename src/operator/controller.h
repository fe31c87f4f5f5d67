#pragma once
// The TestRun controller (`herd operator`, docs/operator.md): informers on
// TestRuns, PrivateLoadZones and the Jobs and Pods it made, a rate-limited work
// queue, and a level-triggered reconcile that drives each TestRun through
// initialization -> initialized -> created -> started -> stopped -> finished
// (or error), reading results from termination messages and the coordinator's
// control API, never from logs.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/workqueue.h"
#include "operator/coordinator_poller.h"
#include "operator/jobs.h"
#include "operator/reconciler.h"

namespace herd::op {

struct ControllerOptions {
  std::vector<std::string> namespaces;  ///< empty = every namespace
  int workers = 2;
  bool k6io = false;  ///< also k6.io TestRuns and PrivateLoadZones (--k6-io; the CRDs are checked by check_k6io_crds)
  ReconcilerOptions reconcile;
};

/// Counters for /metrics.
struct ControllerStats {
  std::atomic<std::uint64_t> reconciles{0}, reconcile_errors{0}, stage_changes{0};
  std::atomic<std::uint64_t> conflicts{0};  ///< reconciles that met a 409 Conflict (part of reconcile_errors)
};

/// Whether the controller can work (/readyz); `reason` says why not.
struct Readiness {
  bool ready = false;
  std::string reason;  ///< e.g. "jobs in namespace perf: not synced: list failed with HTTP 403: ..."; "" when ready
};

class Controller {
 public:
  /// `client` must outlive the controller.
  Controller(const kube::Client& client, ControllerOptions options);
  ~Controller();  ///< stop()
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void start();  ///< informers + workers; returns at once
  void stop();   ///< idempotent; joins everything
  bool synced() const;

  /// One reconcile of "namespace/name" (a TestRun) or "zone:namespace/name" (a
  /// PrivateLoadZone's status) (public for tests); "k6.io:" after "zone:" or at
  /// the start names a k6.io one (testrun_key). Returns the delay
  /// after which the key should be looked at again (0 = only on events).
  /// Throws on API failures (the caller requeues with backoff).
  std::chrono::milliseconds reconcile(const std::string& key);

  /// Ready once every informer that TestRuns need has listed; while one has
  /// not, the reason names its resource and its last list/watch error.
  Readiness readiness() const;
  /// The Prometheus text of /metrics (`leading`: this replica is the leader).
  std::string metrics_text(bool leading) const;
  /// Failed lists and watches so far, by {resource, HTTP status (0 = no answer)}.
  std::map<std::pair<std::string, long>, std::uint64_t> informer_errors() const;

  const ControllerStats& stats() const { return stats_; }
  std::size_t queue_depth() const { return queue_.size(); }
  /// TestRuns per stage, from the cache (for /metrics).
  std::map<std::string, int> stages() const;

 private:
  TestRunChildren children_of(const nlohmann::json& testrun) const;
  void worker();
  void enqueue_owner(const kube::Object& child);
  /// Logs a failed list/watch and counts it (informer threads).
  void note_informer_error(const std::string& path, const kube::InformerError& error);

  const kube::Client& client_;
  ControllerOptions options_;
  kube::EventRecorder events_;
  kube::WorkQueue queue_;
  std::chrono::milliseconds reconcile_zone(std::string_view group, const std::string& ns, const std::string& name);
  void enqueue_zones();

  /// Asynchronous coordinator calls; an answer requeues its TestRun. Declared
  /// after queue_ (it calls queue_.add) and stopped after the workers.
  std::unique_ptr<CoordinatorPoller> poller_;
  std::vector<std::unique_ptr<kube::Informer>> testruns_, jobs_, pods_, zones_;
  std::unique_ptr<kube::Informer> nodes_;  ///< for PrivateLoadZone status; not needed to reconcile TestRuns
  std::vector<std::thread> workers_;
  ControllerStats stats_;
  mutable std::mutex errors_mu_;
  std::mutex live_mu_;
  std::set<std::string> live_written_;  ///< TestRun uids whose live metrics this process wrote (guarded by live_mu_)
  std::map<std::pair<std::string, long>, std::uint64_t> informer_errors_;  ///< guarded by errors_mu_
  std::atomic<bool> started_{false}, stopped_{false};
  std::atomic<bool> synced_logged_{false};  ///< "caches synced" is logged once
};

/// `herd operator [--kubeconfig F] [--namespace NS,...] [--leader-elect] ...`
int operator_main(const std::vector<std::string>& args);

}  // namespace herd::op
