#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection package does it: a candidate takes the Lease when it is free
// or its holder has not renewed it for leaseDurationSeconds (measured on the
// local clock from when this candidate last saw the record change, so clock
// skew between machines does not matter); every write carries the read
// resourceVersion, so two candidates cannot both win. The leader renews every
// retry_period and gives up when it could not renew for renew_deadline or sees
// another holder. stop() releases the Lease (holderIdentity "") so another
// candidate takes over at once.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "kube/client.h"

namespace herd::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  ///< unique per candidate (e.g. pod name + random suffix); never empty
  std::chrono::milliseconds lease_duration{15'000};  ///< written rounded up to whole seconds (>= 1)
  std::chrono::milliseconds renew_deadline{10'000};  ///< < lease_duration
  std::chrono::milliseconds retry_period{2'000};     ///< between attempts and renewals
  /// Called on the elector's thread when this candidate becomes leader; must return quickly
  /// (start the work elsewhere).
  std::function<void()> on_started_leading;
  /// Called when leadership ends (lost, or released by stop(): then on stop()'s thread).
  /// The candidate then competes again unless stopped.
  std::function<void()> on_stopped_leading;
};

class LeaderElector {
 public:
  /// `client` must outlive the elector. Throws std::invalid_argument on an incomplete config.
  LeaderElector(const Client& client, LeaderElectionConfig config);
  ~LeaderElector();  ///< stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();  ///< starts competing on a background thread (once)
  void stop();   ///< stops; a leader releases the Lease and gets on_stopped_leading (never call from a callback)

  bool is_leader() const { return leading_; }
  std::string leader() const;  ///< the holder last observed; "" = none

  /// One attempt to take or renew the Lease; true when this candidate holds it
  /// afterwards. Used by the loop; public for tests. Not concurrent with itself.
  bool try_acquire_or_renew();

 private:
  void run(std::stop_token stop);
  void release();
  void observe(const nlohmann::json& lease);

  const Client& client_;
  const LeaderElectionConfig config_;
  const std::string path_;
  std::atomic<bool> leading_{false};
  mutable std::mutex mu_;
  std::string observed_holder_, observed_renew_, observed_rv_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::jthread thread_;
};

/// A Kubernetes MicroTime for `t`: "2006-01-02T15:04:05.000000Z" (UTC).
std::string micro_time(std::chrono::system_clock::time_point t);

}  // namespace herd::kube
