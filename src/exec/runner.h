#pragma once
// The load engine: worker threads (each an event loop, an HTTP client and a
// metric sink), virtual users as fibers with their own QuickJS runtime, the
// executors that give VUs their iterations, and the controller on the calling
// thread that starts scenarios, stops them, evaluates thresholds and reports.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/control_server.h"
#include "exec/options.h"
#include "js/bundle.h"
#include "k6/vu_state.h"
#include "metrics/registry.h"
#include "metrics/sink.h"
#include "metrics/summary.h"
#include "metrics/threshold.h"

namespace herd::exec {

/// k6's exit codes (docs/exit-codes.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitGenericError = 1,
  /// Results lost after the test (herd): an --out, --summary-export or
  /// handleSummary() file could not be written (full disk, missing folder).
  kExitOutputFailed = 1,
  kExitUsage = 2,
  kExitThresholdsFailed = 99,
  kExitSetupTimeout = 100,
  kExitTeardownTimeout = 101,
  kExitStoppedByApi = 103,
  kExitInvalidConfig = 104,
  kExitSignal = 105,
  kExitScriptException = 107,
  kExitScriptAborted = 108,
  kExitMarkedAsFailed = 110,  ///< exec.test.fail() was called; the test ran to its end
};

/// Everything the engine needs besides the script's own options.
struct EngineConfig {
  std::shared_ptr<js::Bundle> bundle;
  CliOverrides cli;
  std::map<std::string, std::string> environ;  ///< the process environment (K6_*, and __ENV)
  bool no_setup = false;
  bool no_teardown = false;
  bool is_stdout_tty = false;
  bool is_stderr_tty = false;
  bool verbose = false;
  std::string console_output;
  std::string log_output;  ///< --log-output: stderr (""), stdout, none, file=PATH
  std::string log_format;  ///< --log-format: text (""), json, raw
  bool no_color = false;   ///< --no-color (or NO_COLOR / K6_NO_COLOR set)
  /// --address HOST:PORT: serve the control API (docs/control-api.md) there. "" = none.
  std::string address;
  /// --linger: after the test (summary written), keep serving the API until
  /// PATCH /v1/status {"stopped": true} or a signal.
  bool linger = false;
  /// The CLI's fast path: once the results are written, print any error and
  /// end the process without freeing every VU (seconds at 10,000 VUs).
  /// Ignored in sanitizer builds, where the clean shutdown is checked.
  bool exit_process_when_done = false;
  /// With exit_process_when_done, after a test that ran (RunResult::ran):
  /// printed on stderr as "herd: <end_line>" just before the process ends, after
  /// everything else (the operator's runners: where the merged result is;
  /// launch::kResultHintEnv). "" = nothing. When run() returns instead, the
  /// caller prints it.
  std::string end_line;
};

/// The outcome of a run.
struct RunResult {
  int exit_code = kExitOk;
  std::string error;  ///< a user-facing message for failures before/around the run
  metrics::Snapshot snapshot;
  std::vector<metrics::ThresholdResult> thresholds;
  nlohmann::json summary_data;
  std::chrono::milliseconds duration{0};
  bool aborted = false;
  std::string abort_reason;
  bool ran = false;  ///< the test ran to its end (results collected), whatever its exit code
};

/// Ways a caller can reach a running engine from another thread.
class EngineControl {
 public:
  virtual ~EngineControl() = default;
  /// Graceful stop (first SIGINT): iterations are interrupted, teardown and
  /// summary still run. `exit_code` becomes the run's exit code.
  virtual void stop(int exit_code) = 0;
};

class Engine : public EngineControl {
 public:
  explicit Engine(EngineConfig cfg);
  ~Engine() override;

  /// Loads the script, resolves options, runs the whole test and writes the
  /// summary/outputs. Blocks. Never throws: failures become RunResult.exit_code.
  RunResult run();

  /// Only evaluates the init context and resolves options (herd inspect).
  /// Throws js::ScriptError or OptionsError.
  Options inspect();

  void stop(int exit_code) override;

  /// The engine's control interface, the one --address serves (docs/control-api.md):
  /// status, pause/resume, vus, stop, setup data, metrics. Every method may be
  /// called from any thread, concurrently with each other and with run(), from
  /// before run() starts (status Created, vus-max 0) on; after run() has
  /// returned, all but run_setup() and run_teardown() (which need the VUs).
  /// The reference lives as long as the Engine.
  api::ControlHandler& control();

  /// For a coordinator: evaluates the script's init context (once) and calls
  /// its handleSummary(data). nullopt when the script exports none. Throws
  /// js::ScriptError on script errors.
  std::optional<nlohmann::json> handle_summary(const nlohmann::json& data);

  /// Writes a handleSummary() result: "stdout" and "stderr" keys to those
  /// streams, any other key to the file it names. Returns false if a file
  /// could not be written (reported on stderr).
  static bool write_summary_outputs(const nlohmann::json& result);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::exec
