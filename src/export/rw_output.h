#pragma once
// The remote-write output's pusher: a thread of its own that, every push
// interval, takes a snapshot from its source (a single run's sinks, or the
// coordinator's merged snapshot), converts it (export/remote_write.h) and
// POSTs it with libcurl, bounded by the push timeout. A failing endpoint
// (refused, HTTP errors, no answer) never stalls the test: the push is
// dropped, counted, and logged once per kind of failure. finish() pushes the
// final snapshot (and staleness markers when asked) and reports the counts.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "export/remote_write.h"

namespace herd::exporter {

/// What one POST gave: HTTP status (0 = no answer) and a reason when it failed.
struct PushResult {
  long status = 0;
  std::string error;       ///< "" = accepted (2xx)
  bool cancelled = false;  ///< given up at the end of the test (not a failure of the endpoint)
};

/// One libcurl easy handle with the output's URL, headers, auth and TLS
/// settings. Not thread-safe: owned by the pusher thread.
class RemoteWriteClient {
 public:
  explicit RemoteWriteClient(const RemoteWriteConfig& cfg);
  ~RemoteWriteClient();
  RemoteWriteClient(const RemoteWriteClient&) = delete;
  RemoteWriteClient& operator=(const RemoteWriteClient&) = delete;
  /// POSTs `body` (encode()'s output). Gives up after the config's timeout,
  /// or once steady_clock passes `*give_up_at_ns` (nanoseconds since its epoch).
  PushResult post(const std::string& body, const std::atomic<std::int64_t>* give_up_at_ns = nullptr);

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
};

/// Counts of a remote-write output.
struct RemoteWriteStats {
  std::uint64_t pushes = 0;           ///< POSTs tried
  std::uint64_t failed_pushes = 0;    ///< of which failed
  std::uint64_t samples_sent = 0;     ///< samples and histograms accepted
  std::uint64_t samples_dropped = 0;  ///< samples and histograms of failed pushes
};

class RemoteWriteOutput {
 public:
  using SnapshotSource = std::function<metrics::Snapshot()>;
  using Log = std::function<void(const std::string&)>;
  /// The threshold verdicts of a snapshot about to be pushed (`final`: the
  /// end-of-test one); exported as kThresholdSeries. Called on the pusher thread.
  using Verdicts = std::function<std::vector<metrics::ThresholdResult>(const metrics::Snapshot&, bool final)>;
  /// Starts the pusher; its first push is one interval from now. `source` is
  /// called on the pusher thread. `log` gets one line per new kind of failure.
  /// `verdicts` may be empty (no threshold series).
  RemoteWriteOutput(RemoteWriteConfig cfg, SnapshotSource source, Log log, Verdicts verdicts = nullptr);
  ~RemoteWriteOutput();  ///< stops the pusher (an unfinished push is cancelled; no final push)
  RemoteWriteOutput(const RemoteWriteOutput&) = delete;
  RemoteWriteOutput& operator=(const RemoteWriteOutput&) = delete;

  /// How long finish() lets a periodic push under way go on before cancelling
  /// it (a cancelled push loses nothing: the final push carries everything).
  static constexpr std::chrono::milliseconds kFinishGrace{1000};

  /// Stops the periodic pushes (cancelling one under way), pushes `last`, then
  /// staleness markers if configured, and returns the counts. Call once.
  /// `final_verdicts`: the end-of-test threshold results (else `verdicts` is asked).
  RemoteWriteStats finish(const metrics::Snapshot& last,
                          const std::vector<metrics::ThresholdResult>* final_verdicts = nullptr);
  /// One line for the end of the test, e.g. "experimental-prometheus-rw: 1234
  /// samples sent in 5 pushes, 0 dropped".
  static std::string describe(const RemoteWriteStats& s);

 private:
  void loop();
  /// Returns whether the endpoint accepted it.
  bool push(const herd::rw::WriteRequest& req, const std::atomic<std::int64_t>* give_up_at_ns);
  /// push() with the series' zero baselines (ZeroBaselines); `time_ms`: req's time.
  void push_with_baselines(herd::rw::WriteRequest req, std::int64_t time_ms,
                           const std::atomic<std::int64_t>* give_up_at_ns);
  std::int64_t next_time_ms();

  RemoteWriteConfig cfg_;
  SnapshotSource source_;
  Log log_;
  Verdicts verdicts_;
  RemoteWriteClient client_;  ///< used by the pusher thread, then by finish() after the join
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  ///< guarded by mu_
  /// A periodic push under way gives up when steady_clock passes this
  /// (ns since its epoch): finish() leaves it kFinishGrace, the destructor none.
  std::atomic<std::int64_t> give_up_at_ns_{INT64_MAX};
  RemoteWriteStats stats_;             ///< pusher thread, then finish()
  std::set<std::string> logged_;       ///< failure kinds already logged
  std::int64_t last_time_ms_ = 0;      ///< timestamps strictly increase per push
  std::int64_t previous_push_ms_ = 0;  ///< the last push's time (the start before the first)
  ZeroBaselines baselines_;            ///< pusher thread, then finish()
  std::thread thread_;                 ///< last member: starts when every other one exists
};

/// A remote-write output fed from outside: the coordinator hands it the
/// merged snapshot every poll, and it pushes the latest one every interval.
using RunTags = std::vector<std::pair<std::string, std::string>>;

class FedRemoteWrite {
 public:
  /// As open_remote_write; null when `specs` do not name the output.
  static std::shared_ptr<FedRemoteWrite> open(std::vector<std::string>& specs,
                                              const std::map<std::string, std::string>& environ,
                                              RemoteWriteOutput::Log log, RunTags run_tags = {});
  /// The latest snapshot and the owner's threshold verdicts on it (thread-safe).
  void offer(const metrics::Snapshot& s, std::vector<metrics::ThresholdResult> verdicts = {});
  /// As RemoteWriteOutput::finish, with the final verdicts.
  RemoteWriteStats finish(const metrics::Snapshot& last, std::vector<metrics::ThresholdResult> verdicts = {});

 private:
  std::mutex mu_;
  metrics::Snapshot latest_;                        ///< guarded by mu_
  std::vector<metrics::ThresholdResult> verdicts_;  ///< of latest_; guarded by mu_
  std::unique_ptr<RemoteWriteOutput> out_;
};

/// Opens the remote-write output when `specs` (--out values) name it, and
/// takes its value out of `specs` (the others are metrics::open_outputs's).
/// Returns null when it is not named. Throws std::invalid_argument, the
/// message starting with "--out experimental-prometheus-rw: ", for a value
/// with an argument, a second one, or a bad K6_PROMETHEUS_RW_* variable.
/// `verdicts` and `run_tags`: threshold verdict series (RemoteWriteOutput,
/// RemoteWriteConfig::run_tags); may be empty.
std::unique_ptr<RemoteWriteOutput> open_remote_write(std::vector<std::string>& specs,
                                                     const std::map<std::string, std::string>& environ,
                                                     RemoteWriteOutput::SnapshotSource source,
                                                     RemoteWriteOutput::Log log,
                                                     RemoteWriteOutput::Verdicts verdicts = nullptr,
                                                     RunTags run_tags = {});

/// For the coordinator (CoordinatorOptions::on_merged): opens a FedRemoteWrite
/// when `specs` name the output and returns a callback that offers it each
/// merged snapshot and, for the final one, finishes it and returns the counts
/// (RemoteWriteOutput::describe) for the summary.
/// Empty when not named; throws as open_remote_write.
/// `verdicts` are the coordinator's threshold results on that snapshot.
std::function<std::string(const metrics::Snapshot&, bool final, const std::vector<metrics::ThresholdResult>& verdicts)>
remote_write_feed(std::vector<std::string>& specs, const std::map<std::string, std::string>& environ,
                  RemoteWriteOutput::Log log, RunTags run_tags = {});

}  // namespace herd::exporter
