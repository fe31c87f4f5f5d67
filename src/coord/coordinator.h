#pragma once
// The coordinator of a distributed test (issue #4): drives several paused
// runners (`herd run --paused --linger --address ...`) through their control
// API (docs/control-api.md) as one test, and reports one result.
//
//   * waits until every runner is PausedBeforeRun;
//   * runs setup() once (runner 1) and hands its data to the others;
//   * resumes all runners at the same instant (concurrent PATCHes) and reports the start skew;
//   * pulls /v1/snapshot from every runner about once a second, merges them
//     (metrics::Snapshot::merge), evaluates thresholds on the merged data
//     (abortOnFail stops every runner, exit 99) and shows one progress line;
//   * notices a runner that aborted (exit-code 108 / abort-reason) and stops all (108);
//   * notices a runner that is lost (process exited, or no answer for ~5 s):
//     names it, stops the others (or goes on with keep_going), keeps what it
//     had reported, marks the summary partial and exits kExitRunnerLost (97);
//   * when every runner has ended: teardown() once, final snapshots, the
//     summary (text / handleSummary / --summary-export), then ends every
//     runner's linger;
//   * publishes its status, the merged metrics and the end-of-test result
//     (coord/result.h) to a ControlState, which `herd coordinator --address`
//     serves (coord/control.h).
//
// `run_local` is `herd run --parallelism N`: it spawns N runner processes of
// the same binary, each with its execution segment, and drives them.
// `coordinator_main` is `herd coordinator --runners host:port,...`.
// See docs/coordinator.md.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/sink.h"
#include "metrics/summary.h"
#include "metrics/threshold.h"
#include "util/clock.h"

namespace herd::coord {

class ControlState;

/// Exit code of a test that did not complete because a runner was lost (it
/// died, stopped answering, or never became ready). Documented in docs/coordinator.md.
inline constexpr int kExitRunnerLost = 97;

/// The most runner processes `herd run --parallelism N` starts on one machine
/// (each is a full herd process; larger tests belong on `herd coordinator`
/// with runners on several machines, or the Kubernetes operator).
inline constexpr int kMaxLocalParallelism = 256;

// ---------------------------------------------------------------------------
// Hooks for the CLI.

/// `herd run --parallelism N ... script`: local distributed mode.
///   parallelism  N >= 1 runner processes
///   herd_binary  the herd executable to spawn (e.g. "/proc/self/exe" resolved, or argv[0])
///   script       the script (or archive) path, as the user gave it
///   run_args     the user's arguments after `herd run`, as given (the script and
///                --parallelism may be included: they are removed; flags the
///                coordinator owns — --summary-export, --out, --no-summary, -q,
///                --address, --paused, --linger, --no-setup, --no-teardown,
///                --execution-segment[-sequence], --no-thresholds, --result-file —
///                are handled here and not passed to the runners; --address,
///                --linger and --result-file act as for `herd coordinator`)
/// Returns the exit code a single `herd run` would have had (0, 99, 108, ...)
/// or kExitRunnerLost. Blocks SIGINT/SIGTERM in the calling thread (a first
/// signal stops the test gracefully, a second kills the runners and exits 105).
/// Never leaves a runner process behind. Call it from the main thread.
int run_local(int parallelism, const std::string& herd_binary, const std::string& script,
              const std::vector<std::string>& run_args);

/// `herd coordinator --runners host:port,host:port [--script script.js]
/// [--keep-going] [--ready-timeout 60s] [--linger-timeout 10m] [run flags,
/// among them --address, --linger, --result-file]`: drives runners started
/// elsewhere. `args` are the arguments after `coordinator`.
int coordinator_main(const std::vector<std::string>& args);

// ---------------------------------------------------------------------------
// The coordinator itself.

struct RunnerEndpoint {
  std::string address;  ///< "127.0.0.1:40123"
  pid_t pid = -1;       ///< local mode: the runner's process (for messages)
};

struct CoordinatorReport;

struct CoordinatorOptions {
  std::vector<metrics::MetricThresholds> thresholds;  ///< parsed options.thresholds (empty: none)
  metrics::SummaryOptions summary;
  bool no_summary = false;
  std::string summary_export;  ///< "" = none
  bool quiet = false;          ///< no progress line, fewer info lines
  bool progress = false;       ///< show the live progress line (stderr is a TTY and not quiet)
  bool no_setup = false;
  bool no_teardown = false;
  bool keep_going = false;  ///< a lost runner does not stop the others
  /// Sent to the runners as X-Herd-Run (from HERD_RUN_ID; "" = none): runners
  /// of another test run refuse the calls.
  std::string run_id;
  std::chrono::milliseconds ready_timeout{60'000};   ///< every runner PausedBeforeRun
  std::chrono::milliseconds lost_after{5'000};       ///< no answer for this long = lost
  std::chrono::milliseconds poll_interval{1'000};    ///< snapshots/thresholds
  std::chrono::milliseconds request_timeout{3'000};  ///< one status/snapshot request
  std::chrono::milliseconds setup_timeout{65'000};   ///< POST /v1/setup, POST /v1/teardown
  std::chrono::milliseconds teardown_timeout{65'000};
  std::chrono::milliseconds stop_timeout{45'000};  ///< after a stop, until every runner has ended (else lost)
  /// After a stop by a signal or the API (exit 105), until every runner has
  /// ended; the ones still running are then abandoned (their last results
  /// kept, `abandon` called), not lost: the exit code stays 105.
  std::chrono::milliseconds user_stop_timeout{5'000};
  /// Calls the script's handleSummary(data) (exec::Engine::handle_summary);
  /// nullopt when the script has none. Unset = text summary only.
  std::function<std::optional<nlohmann::json>(const nlohmann::json&)> handle_summary;
  /// Local mode: false once runner i's process has exited (then it is lost at once).
  std::function<bool(std::size_t)> process_alive;
  /// Local mode: extra text naming why runner i failed (e.g. its last stderr lines).
  std::function<std::string(std::size_t)> describe_failure;
  /// Local mode: the exit status of runner i if its process exited by itself
  /// (to pass a runner's own failure, e.g. 107 before it became ready,
  /// through); nullopt while it runs or when a signal killed it.
  std::function<std::optional<int>(std::size_t)> process_exit_code;
  /// Local mode: runner i is not driven any more (lost, abandoned after a
  /// stop, or not released at the end): end its process now rather than
  /// wait for it. May be called more than once for one runner.
  std::function<void(std::size_t)> abandon;
  /// When set, the status, the merged metrics (every poll_interval) and, at
  /// the end, the result are published there (for the control API).
  std::shared_ptr<ControlState> control;
  /// Where every timeout above, the polling rhythm and the reported times
  /// (start skew, stop latency, elapsed) take their time from. Unset = the
  /// real steady clock; tests pass a util::ManualClock.
  std::shared_ptr<util::Clock> clock;
  /// When set, gets the merged snapshot every poll_interval (final = false)
  /// and, once the runners' final snapshots are in, the final one (final =
  /// true): --out experimental-prometheus-rw writes the merged series once.
  /// `verdicts`: the thresholds' results on that snapshot (the final ones when final).
  /// Returns, for the final snapshot, a line for the summary's OUTPUTS ("" = none).
  std::function<std::string(const metrics::Snapshot&, bool final,
                            const std::vector<metrics::ThresholdResult>& verdicts)>
      on_merged;
  /// When set, called once at the end of run(), when the exit code is known
  /// (report.exit_code), before the result is published: the web dashboard's
  /// HTML report, which states that exit code. `runners`: how many there were.
  std::function<void(const CoordinatorReport& report, std::size_t runners)> on_end;
};

/// What happened (for tests and messages).
struct CoordinatorReport {
  int exit_code = 0;
  double start_skew_ms = -1;  ///< spread of the resume PATCHes' completion moments
  nlohmann::json start;       ///< coord::start_info's object once the runners were released (else null)
  bool partial = false;
  std::vector<std::string> lost;  ///< names of lost runners
  std::string abort_reason;
  double stop_latency_ms = -1;  ///< after a stop decision, until every live runner had ended
  /// The final merged metrics; `merged.generators` holds every runner's
  /// generator health (named by generator_name), in runner order.
  metrics::Snapshot merged;
  nlohmann::json summary_data;
  std::vector<std::string> errors;  ///< every error message printed, in order
  /// The end-of-test result (build_result's object, served as GET /v1/summary).
  nlohmann::json result;
};

class Coordinator {
 public:
  Coordinator(std::vector<RunnerEndpoint> runners, CoordinatorOptions opts);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  /// Runs the whole test. Blocks; every wait is bounded. Returns the exit code.
  int run();
  /// Thread-safe (e.g. from a signal thread): stops every runner gracefully;
  /// `exit_code` becomes the result (105 for a signal). `reason` ("stopped
  /// by a signal") is printed and becomes the result's message when there is
  /// no error. Only the first request counts.
  void request_stop(int exit_code, const std::string& reason = "stop requested");
  const CoordinatorReport& report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Pure helpers (unit-tested without processes).

/// "runner 2 (127.0.0.1:40123, pid 4242)"; i is 0-based.
std::string runner_name(std::size_t i, const RunnerEndpoint& r);

// The runners' command lines (segments, passed-through flags) come from
// herd::launch (launch/runner_args.h), shared with the operator.

/// "control API listening on http://127.0.0.1:40123" -> "127.0.0.1:40123".
std::optional<std::string> parse_listening_line(const std::string& line);

/// One answer of a control API; status 0 = no answer (`error` says why).
struct ControlResponse {
  long status = 0;
  std::string body;
  std::string error;
};
/// One JSON request to a control API (a runner's or a coordinator's), e.g.
/// control_request("GET", "http://127.0.0.1:6565/v1/summary"). Uses a per-thread
/// keep-alive connection (coord/control_client.h); never throws.
ControlResponse control_request(const std::string& method, const std::string& url, const std::string* body = nullptr,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

/// A runner's generator health name: "runner 2 (segment 1/3:2/3)", or
/// "runner 2" without a segment; i is 0-based.
std::string generator_name(std::size_t i, const std::string& segment);

/// "a:1,b:2" -> {"a:1","b:2"}; throws std::invalid_argument for empty entries or a missing port.
std::vector<std::string> parse_runner_list(const std::string& text);

/// Merges every snapshot (Snapshot::merge: counters and rates add, histograms
/// add, gauges keep the latest value and the overall min/max).
metrics::Snapshot merge_snapshots(const std::vector<const metrics::Snapshot*>& parts);

/// merge_snapshots one part at a time: add() the parts in order, then take()
/// gives what merge_snapshots gives for that order (to the last bit), without
/// keeping the parts. The coordinator decodes each runner's snapshot, adds it
/// and drops it, so 1,000 runners' decoded histograms are never all alive.
class SnapshotMerger {
 public:
  void add(const metrics::Snapshot& part);
  /// The merged snapshot; the merger is empty again afterwards.
  metrics::Snapshot take();

 private:
  metrics::Snapshot out_;
  /// vus and vus_max: per tag set, the sums of last, min, max over the parts.
  std::map<std::string, std::map<metrics::TagSet, std::array<double, 3>>> sums_;
};

/// How long the coordinator waits between status checks in between merge
/// rounds: 200 ms (100 ms while stopping), but at least 1 ms per runner. A
/// check is one request per runner, and at scale requests are what the
/// coordinator's CPU goes to (~40 µs each, docs/scaling.md): up to 200
/// runners an end, an abort or a lost runner is seen within 200 ms; at 1,000
/// within a second (the merge rounds' own status requests). So the checks
/// stay at about 1,000 requests a second whatever the number of runners.
std::chrono::milliseconds status_check_gap(std::size_t runners, bool stopping);

/// The live progress line.
struct ProgressInput {
  double elapsed_s = 0;
  std::int64_t vus = 0;     ///< sum of the runners' active VUs
  std::size_t runners = 0;  ///< answering runners
  std::size_t total_runners = 0;
};
struct ProgressRates {
  double iterations_per_s = 0;
  double requests_per_s = 0;
  double error_rate = 0;  ///< http_req_failed over the whole run so far
  double p95_ms = 0;      ///< http_req_duration p(95) so far
  bool has_requests = false;
};
/// Rates between two merged snapshots `dt_s` seconds apart (prev may be empty).
ProgressRates progress_rates(const metrics::Snapshot& prev, const metrics::Snapshot& cur, double dt_s);
std::string format_progress(const ProgressInput& in, const ProgressRates& r);

/// The exit code of the whole test from what happened, with a single
/// process's precedence: a lost runner (97) > an early failure of a runner
/// (its own code) > script abort (108) > a stop requested by a threshold
/// (99) or a signal (105) > thresholds failing at the end (99) > 0.
struct Outcome {
  bool runner_lost = false;
  std::optional<int> runner_failure;  ///< e.g. 107 from a runner's setup/init
  bool script_aborted = false;
  std::optional<int> stop_code;  ///< 99 abortOnFail, 105 signal
  bool thresholds_failed = false;
  bool marked_failed = false;  ///< a runner ended with 110 (exec.test.fail())
};
int decide_exit_code(const Outcome& o);

/// "herd: PARTIAL RESULTS: ..." on stderr: which of `total` runners were lost.
void print_partial_results(const std::vector<std::string>& lost, std::size_t total);

/// The end-of-test summary outputs of the merged data: --summary-export,
/// handleSummary(data) (with data.setup_data) or else the text summary on
/// stdout (unless no_summary). `plain_text` is the text summary without
/// colours. Returns the error messages (the caller prints them);
/// `text_printed` tells whether the text summary went to stdout.
std::vector<std::string> write_summary(const CoordinatorOptions& opts, const nlohmann::json& summary_data,
                                       const nlohmann::json& setup_data, const std::string& plain_text,
                                       bool* text_printed);

}  // namespace herd::coord
