// run_local (herd run --parallelism N) and coordinator_main (herd coordinator).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <algorithm>
#include <fstream>
#include <set>
#include <system_error>

#include "api/control_server.h"
#include "api/http_request.h"
#include "archive/archive.h"
#include "coord/control.h"
#include "coord/coordinator.h"
#include "coord/local_runners.h"
#include "coord/result.h"
#include "dashboard/live.h"
#include "exec/runner.h"
#include "exec/script_source.h"
#include "export/rw_output.h"
#include "flags/run_flags.h"
#include "js/bundle.h"
#include "k6/modules.h"
#include "launch/runner_args.h"
#include "metrics/influxdb_output.h"
#include "util/duration.h"
#include "util/signals.h"

namespace herd::coord {

using detail::LocalRunners;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void print_error(const std::string& msg) {
  std::fprintf(stderr, "herd: error: %s\n", msg.c_str());
}

using exec::load_script;

std::map<std::string, std::string> process_env() {
  return exec::process_environment();
}

/// The coordinator's options: the script's options (thresholds, summary) merged
/// with K6_* variables and the user's flags, as a single `herd run` would see them.
/// Returns an exit code != 0 on failure (message printed and put in *error).
struct Prepared {
  CoordinatorOptions opts;
  /// The run's outputs (--out flags, else K6_OUT) left for the runners once
  /// the coordinator took its own (experimental-prometheus-rw).
  std::vector<std::string> runner_outputs;
  exec::EngineConfig summary_cfg;  ///< for handleSummary (bundle empty: none)
  std::string report_file;         ///< where the dashboard writes the HTML report ("" = none): GET /v1/report
};

/// `local`: `herd run --parallelism` (it starts the runners, so it can hand
/// them an --out); else `herd coordinator` (runners started by someone else).
int prepare(const std::string& script, const flags::RunFlags& flags, bool local, Prepared* out, std::string* error) {
  auto fail = [error](int code, const std::string& msg) {
    print_error(msg);
    *error = msg;
    return code;
  };
  exec::Options o;
  exec::EngineConfig cfg;
  cfg.cli = flags.overrides;
  cfg.environ = process_env();
  if (!script.empty()) {
    if (access(script.c_str(), R_OK) != 0)
      return fail(exec::kExitScriptException, "cannot read script \"" + script + "\": " + std::strerror(errno));
    try {
      cfg.bundle = load_script(script, &cfg.cli);
      out->summary_cfg = cfg;
      exec::Engine engine(cfg);
      o = engine.inspect();
    } catch (const js::ScriptError& e) {
      return fail(exec::kExitScriptException, e.what());
    } catch (const exec::OptionsError& e) {
      return fail(exec::kExitInvalidConfig, e.what());
    } catch (const std::exception& e) {
      return fail(exec::kExitScriptException, e.what());
    }
  } else {
    try {
      o = exec::resolve_options(nlohmann::json(), cfg.environ, cfg.cli);
    } catch (const std::exception& e) {
      return fail(exec::kExitInvalidConfig, e.what());
    }
  }
  CoordinatorOptions& c = out->opts;
  if (auto it = cfg.environ.find(std::string(api::kRunIdEnv)); it != cfg.environ.end()) c.run_id = it->second;
  try {
    if (!o.no_thresholds) c.thresholds = metrics::parse_thresholds(o.thresholds);
  } catch (const std::exception& e) {
    return fail(exec::kExitInvalidConfig, e.what());
  }
  c.summary.trend_stats = o.summary_trend_stats;
  c.summary.time_unit = o.summary_time_unit;
  c.summary.mode = o.summary_mode;
  c.summary.is_stdout_tty = isatty(1);
  c.summary.is_stderr_tty = isatty(2);
  c.no_summary = o.no_summary;
  c.summary_export = o.summary_export;
  c.quiet = o.quiet;
  c.progress = !o.quiet && isatty(2);
  c.no_setup = flags.no_setup;
  c.no_teardown = flags.no_teardown;
  c.setup_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.setup_timeout) + 5s;
  c.teardown_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.teardown_timeout) + 5s;
  std::vector<std::string> specs = o.outputs;
  try {  // the coordinator writes the merged series; the runners never get --out
    c.on_merged = exporter::remote_write_feed(
        specs, cfg.environ, [](const std::string& m) { std::fprintf(stderr, "herd: %s\n", m.c_str()); },
        exporter::RunTags(o.tags.begin(), o.tags.end()));
    {  // the report the dashboard writes is also served by the control API (GET /v1/report)
      std::vector<std::string> peek = specs;
      if (auto d = dashboard::take_dashboard(peek, cfg.environ, o.report)) out->report_file = d->export_path;
    }
    // One dashboard, of the merged data: the runners never serve one (nor see K6_WEB_DASHBOARD).
    dashboard::ReportWriter write_report;
    c.on_merged = dashboard::merged_dashboard_feed(
        specs, cfg.environ, std::move(c.on_merged),
        [](const std::string& m) { std::fprintf(stderr, "herd: %s\n", m.c_str()); }, o.report, &write_report);
    if (write_report)  // the HTML report, once the exit code is known
      c.on_end = [write_report, script, options = o.to_json(), so = c.summary](const CoordinatorReport& rep,
                                                                               std::size_t runners) {
        dashboard::ReportInfo info;
        info.script = script;
        info.options = options;
        info.parallelism = static_cast<int>(runners);
        info.exit_code = rep.exit_code;
        info.summary_data = rep.summary_data;
        info.summary = so;
        info.generators = rep.merged.generators;
        if (std::string err = write_report(info); !err.empty()) std::fprintf(stderr, "herd: error: %s\n", err.c_str());
      };
  } catch (const std::invalid_argument& e) {
    return fail(exec::kExitInvalidConfig, e.what());
  } catch (const std::system_error& e) {
    return fail(exec::kExitInvalidConfig, e.what());
  }
  out->runner_outputs = specs;
  for (const auto& out_spec : specs) {
    if (out_spec == "influxdb" || out_spec.rfind("influxdb=", 0) == 0) {
      // Points are per sample: each runner writes its own (tag instance = its segment).
      if (!local)
        return fail(exec::kExitInvalidConfig,
                    "--out " + out_spec +
                        ": the coordinator has no samples to write; start each runner with this --out "
                        "(its points get the tag instance=<its execution segment>)");
      try {
        auto eq = out_spec.find('=');
        metrics::influx_config(eq == std::string::npos ? std::nullopt : std::optional(out_spec.substr(eq + 1)),
                               cfg.environ);
      } catch (const std::invalid_argument& e) {
        return fail(exec::kExitInvalidConfig, "--out " + out_spec + ": " + e.what());
      }
      continue;
    }
    bool plain_json_file = out_spec.rfind("json=", 0) == 0 && out_spec != "json=-" &&
                           !(out_spec.size() > 3 && out_spec.compare(out_spec.size() - 3, 3, ".gz") == 0);
    if (!plain_json_file)
      return fail(exec::kExitInvalidConfig,
                  "--out " + out_spec + ": distributed runs (--parallelism, coordinator) only join json=FILE outputs");
  }
  if (out->summary_cfg.bundle) {
    auto scfg = out->summary_cfg;
    c.handle_summary = [scfg](const nlohmann::json& data) -> std::optional<nlohmann::json> {
      exec::Engine engine(scfg);
      return engine.handle_summary(data);
    };
  }
  return 0;
}

/// SIGINT/SIGTERM: blocked in the calling thread (so in every thread started
/// later, util::block_stop_signals); the shared util::SignalWatcher turns the
/// first into a graceful stop and the second into an immediate exit (after
/// `on_hard`). The caller's signal mask is restored at destruction.
class SignalForwarder {
 public:
  SignalForwarder() {
    pthread_sigmask(SIG_SETMASK, nullptr, &old_);  // query only
    util::block_stop_signals();
    try {
      watcher_.emplace([this](int count, int) { on_signal(count); });
    } catch (...) {
      pthread_sigmask(SIG_SETMASK, &old_, nullptr);
      throw;
    }
  }
  ~SignalForwarder() {
    watcher_.reset();  // joins the watcher thread before what it uses goes
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  /// `notice` is printed when the first signal arrives ("" keeps the current one).
  void set(std::function<void()> on_stop, std::function<void()> on_hard, const std::string& notice = "") {
    std::lock_guard<std::mutex> g(mu_);
    on_stop_ = std::move(on_stop);
    on_hard_ = std::move(on_hard);
    if (!notice.empty()) notice_ = notice;
    if (signalled_ && on_stop_) on_stop_();
  }
  bool signalled() const { return signalled_.load(); }

 private:
  /// On the watcher thread; a callback's exception is dropped, never let out of the thread.
  void on_signal(int count) noexcept {
    std::lock_guard<std::mutex> g(mu_);
    if (count >= 2) {
      std::fputs("\nAborting immediately (second signal)\n", stderr);
      try {
        if (on_hard_) on_hard_();
      } catch (...) {
      }
      std::_Exit(exec::kExitSignal);
    }
    std::fputs(notice_.c_str(), stderr);
    signalled_ = true;
    try {
      if (on_stop_) on_stop_();
    } catch (...) {
    }
  }

  sigset_t old_{};
  std::mutex mu_;
  std::function<void()> on_stop_, on_hard_;
  std::string notice_ = "\nStopping the test (signal received); press Ctrl+C again to abort immediately\n";
  std::atomic<bool> signalled_{false};
  std::optional<util::SignalWatcher> watcher_;  ///< last: started after, and joined before, what it uses
};

/// How long `--linger` keeps a coordinator's API up after the end, unless
/// `--linger-timeout` says otherwise.
constexpr std::chrono::milliseconds kDefaultLingerTimeout = 10min;

/// The result of a test that failed before the Coordinator ran it.
nlohmann::json failure_result(int exit_code, const std::string& message) {
  ResultInput in;
  in.exit_code = exit_code;
  in.message = message;
  return build_result(in);
}

/// A failure before the flags are known: prints it and writes the result
/// file if `args` name one.
int fail_before_start(const std::vector<std::string>& args, int exit_code, const std::string& message) {
  print_error(message);
  std::string path = flags::find_result_file(args);
  if (!path.empty()) {
    std::string err = write_result_file(path, compact_result(failure_result(exit_code, message)));
    if (!err.empty()) print_error(err);
  }
  return exit_code;
}

/// What a program watching the coordinator (the Kubernetes operator) reads:
/// the control API on the merged view (--address), the compact result in a
/// file (--result-file) and, with --linger, the API kept up after the end
/// until a PATCH {"stopped":true}, a signal or the linger timeout.
class ResultReporting {
 public:
  ResultReporting(std::string result_file, bool linger, std::chrono::milliseconds linger_timeout)
      : result_file_(std::move(result_file)), linger_(linger), linger_timeout_(linger_timeout) {}

  /// Starts the control API on `address` ("" = none) and prints the line
  /// runners print: "control API listening on http://HOST:PORT". Returns ""
  /// or the error message (the address is named).
  std::string serve(const std::string& address) {
    if (address.empty()) {
      if (linger_) std::fprintf(stderr, "herd: warning: --linger has no effect without --address\n");
      return "";
    }
    try {
      handler_ = std::make_unique<CoordinatorControl>(*state_);
      server_ = std::make_unique<api::ControlServer>(address, *handler_);
    } catch (const std::exception& e) {
      return "--address " + address + ": " + e.what();
    }
    std::fprintf(stderr, "control API listening on http://%s\n", server_->address().c_str());
    return "";
  }

  const std::shared_ptr<ControlState>& state() const { return state_; }

  /// A failure before the Coordinator ran: prints it, then as finish().
  int fail(int exit_code, const std::string& message, SignalForwarder* signals) {
    print_error(message);
    return finish(failure_result(exit_code, message), signals);
  }

  /// The end: publishes `result` (build_result's object), writes the result
  /// file, lingers when asked. Returns the result's exit code.
  int finish(const nlohmann::json& result, SignalForwarder* signals) {
    int code = result.value("exitCode", 1);
    state_->set_result(result);
    if (!result_file_.empty()) {
      std::string err = write_result_file(result_file_, compact_result(result));
      if (!err.empty()) print_error(err);
    }
    if (server_ && linger_) {
      std::fprintf(stderr,
                   "herd: test ended (exit code %d); the control API lingers until stopped (PATCH /v1/status "
                   "{\"stopped\":true}, SIGINT/SIGTERM, or %s)\n",
                   code, util::format_duration(linger_timeout_).c_str());
      if (signals)
        signals->set([st = state_] { st->end_linger(); }, nullptr, "herd: signal received; the linger ends\n");
      if (!state_->wait_linger(linger_timeout_))
        std::fprintf(stderr, "herd: nobody ended the linger within %s; exiting\n",
                     util::format_duration(linger_timeout_).c_str());
    }
    return code;
  }

 private:
  std::string result_file_;
  bool linger_;
  std::chrono::milliseconds linger_timeout_;
  std::shared_ptr<ControlState> state_ = std::make_shared<ControlState>();
  std::unique_ptr<CoordinatorControl> handler_;
  std::unique_ptr<api::ControlServer> server_;  ///< last: stopped before what its thread uses
};

}  // namespace

/// Joins the runners' --out json files (FILE.runner<i>) into FILE: every
/// Point line, and each metric's Metric line once. Removes the parts.
void join_json_outputs(const std::string& file, int parallelism) {
  std::ofstream out(file, std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "herd: error: --out json: cannot write %s\n", file.c_str());
    return;
  }
  std::set<std::string> announced;
  for (int i = 0; i < parallelism; ++i) {
    std::string part = file + ".runner" + std::to_string(i);
    std::ifstream in(part);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("{\"type\":\"Metric\"", 0) == 0) {
        auto m = line.rfind("\"metric\":");
        std::string name = m == std::string::npos ? line : line.substr(m);
        if (!announced.insert(name).second) continue;
      }
      out << line << '\n';
    }
    in.close();
    std::remove(part.c_str());
  }
}

int run_local(int parallelism, const std::string& herd_binary, const std::string& script,
              const std::vector<std::string>& run_args) try {
  if (parallelism < 1) return fail_before_start(run_args, exec::kExitInvalidConfig, "--parallelism must be at least 1");
  if (parallelism > kMaxLocalParallelism)
    return fail_before_start(run_args, exec::kExitInvalidConfig,
                             "--parallelism " + std::to_string(parallelism) + ": at most " +
                                 std::to_string(kMaxLocalParallelism) +
                                 " local runners (for more, run `herd coordinator` with runners on several machines)");
  if (script.empty() || script == "-")
    return fail_before_start(run_args, exec::kExitUsage, "--parallelism needs a script file (not stdin)");
  flags::RunFlags flags;
  try {
    flags = flags::parse_run_flags(run_args);
  } catch (const std::exception& e) {
    return fail_before_start(run_args, exec::kExitInvalidConfig, e.what());
  }
  if (flags.overrides.paused && *flags.overrides.paused)
    return fail_before_start(run_args, exec::kExitInvalidConfig,
                             "--paused cannot be used with --parallelism: the coordinator starts the runners itself "
                             "(use `herd coordinator` to drive paused runners)");
  LocalRunners kids;        // destroyed last: kills and reaps every runner on any return
  SignalForwarder signals;  // before any thread starts (its callbacks may use kids)
  ResultReporting reporting(flags.result_file, flags.linger, kDefaultLingerTimeout);
  if (std::string err = reporting.serve(flags.address); !err.empty())
    return reporting.fail(exec::kExitGenericError, err, nullptr);
  Prepared prep;
  std::string prep_error;
  if (int rc = prepare(script, flags, true, &prep, &prep_error))
    return reporting.finish(failure_result(rc, prep_error), &signals);

  std::vector<std::string> pass = launch::runner_passthrough_args(run_args);
  // --out json=FILE: each runner writes FILE.runner<i>; they are joined into FILE at the end.
  // --out influxdb[=URL]: each runner writes its own points. Both from --out or K6_OUT: the
  // runners do not see K6_OUT (LocalRunners::spawn).
  std::vector<std::string> json_outs, runner_outs;
  for (const auto& o : prep.runner_outputs) {
    if (o.rfind("json=", 0) == 0 && o.size() > 5) json_outs.push_back(o.substr(5));
    if (o == "influxdb" || o.rfind("influxdb=", 0) == 0) runner_outs.push_back(o);
  }
  try {
    for (int i = 0; i < parallelism && !signals.signalled(); ++i) {
      std::vector<std::string> a = launch::local_runner_args(i, parallelism, script, pass);
      auto dashdash = std::find(a.begin(), a.end(), std::string("--"));
      for (const auto& f : json_outs) {
        dashdash = a.insert(dashdash, {"--out", "json=" + f + ".runner" + std::to_string(i)});
        dashdash += 2;
      }
      for (const auto& o : runner_outs) {
        dashdash = a.insert(dashdash, {"--out", o});
        dashdash += 2;
      }
      kids.spawn(herd_binary, a);
    }
  } catch (const std::exception& e) {
    kids.kill_now();
    return reporting.fail(kExitRunnerLost, std::string("cannot start the runners: ") + e.what(), &signals);
  }
  signals.set(nullptr, [&kids] { kids.kill_now(); });
  if (signals.signalled()) {  // while the runners were being started
    kids.kill_now();
    return reporting.fail(exec::kExitSignal, "stopped before the runners were up", &signals);
  }
  int early = 0;
  std::string early_message;
  auto addrs = kids.wait_addresses(
      prep.opts.ready_timeout, [&] { return signals.signalled(); }, &early, &early_message);
  if (!addrs) {
    kids.kill_now();
    return reporting.fail(early, early_message, &signals);
  }

  std::vector<RunnerEndpoint> eps;
  for (std::size_t i = 0; i < addrs->size(); ++i) eps.push_back({(*addrs)[i], kids.pid(i)});
  CoordinatorOptions opts = prep.opts;
  opts.process_alive = [&kids](std::size_t i) { return kids.alive(i); };
  opts.process_exit_code = [&kids](std::size_t i) { return kids.exit_status(i); };
  opts.abandon = [&kids](std::size_t i) { kids.kill_one(i); };
  opts.describe_failure = [&kids](std::size_t i) { return kids.describe(i) + kids.tail(i); };
  opts.control = reporting.state();
  reporting.state()->set_report_file(prep.report_file);
  if (!opts.quiet)
    for (std::size_t i = 0; i < eps.size(); ++i)
      std::fprintf(stderr, "herd: %s: segment %s\n", runner_name(i, eps[i]).c_str(),
                   launch::segment_of(static_cast<int>(i), parallelism).c_str());
  Coordinator coord(eps, std::move(opts));
  reporting.state()->on_stop(
      [&coord] { coord.request_stop(exec::kExitSignal, "stopped through the control API (PATCH /v1/status)"); });
  signals.set([&coord] { coord.request_stop(exec::kExitSignal, "stopped by a signal"); }, [&kids] { kids.kill_now(); });
  coord.run();
  reporting.state()->on_stop(nullptr);
  signals.set(nullptr, [&kids] { kids.kill_now(); });
  kids.finish(10s);
  for (const auto& f : json_outs) join_json_outputs(f, parallelism);
  return reporting.finish(coord.report().result, &signals);
} catch (const std::exception& e) {
  // Reached after the unwinding: every runner was killed and reaped, every thread joined.
  return fail_before_start(run_args, exec::kExitGenericError, std::string("internal error: ") + e.what());
}

int coordinator_main(const std::vector<std::string>& args) try {
  std::vector<std::string> rest;
  std::string runners_text, script;
  bool keep_going = false;
  std::optional<std::chrono::milliseconds> ready_timeout;
  std::chrono::milliseconds linger_timeout = kDefaultLingerTimeout;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name, std::string* out) -> bool {
      if (a == name) {
        if (i + 1 >= args.size()) throw std::invalid_argument("flag needs an argument: " + name);
        *out = args[++i];
        return true;
      }
      if (a.rfind(name + "=", 0) == 0) {
        *out = a.substr(name.size() + 1);
        return true;
      }
      return false;
    };
    auto duration = [](const std::string& name, const std::string& v) {
      try {
        return std::chrono::duration_cast<std::chrono::milliseconds>(util::parse_duration(v));
      } catch (const std::exception& e) {
        throw std::invalid_argument("invalid argument \"" + v + "\" for \"" + name + "\" flag: " + e.what());
      }
    };
    try {
      std::string v;
      if (value("--runners", &runners_text)) continue;
      if (value("--script", &script)) continue;
      if (value("--ready-timeout", &v)) {
        ready_timeout = duration("--ready-timeout", v);
        continue;
      }
      if (value("--linger-timeout", &v)) {
        linger_timeout = duration("--linger-timeout", v);
        continue;
      }
    } catch (const std::exception& e) {
      return fail_before_start(args, exec::kExitInvalidConfig, e.what());
    }
    if (a == "--keep-going") {
      keep_going = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::printf(
          "Drive paused runners as one distributed test.\n\n"
          "Usage:\n  herd coordinator --runners HOST:PORT,HOST:PORT [--script script.js] [--keep-going]\n"
          "                   [--ready-timeout 60s] [--address HOST:PORT] [--linger] [--linger-timeout 10m]\n"
          "                   [--result-file PATH] [run flags: --summary-export, --no-summary, -q, ...]\n\n"
          "  --runners             the runners' control API addresses, in execution-segment order\n"
          "  --script              the script: thresholds, summary options, handleSummary\n"
          "  --keep-going          a lost runner does not stop the others\n"
          "  --ready-timeout       how long to wait (retrying) for every runner to be paused and ready\n"
          "  --address             serve the control API on the merged results, with GET /v1/summary\n"
          "  --linger              after the end, keep the API up until PATCH /v1/status {\"stopped\":true},\n"
          "                        SIGINT/SIGTERM or --linger-timeout (default 10m)\n"
          "  --result-file         write the compact result (one line of JSON, <= 4096 bytes) at the end\n\n"
          "Start each runner with: herd run --paused --linger --no-setup --no-teardown --no-thresholds\n"
          "  --address HOST:PORT --execution-segment A:B --execution-segment-sequence 0,...,1 script.js\n"
          "See docs/coordinator.md and docs/control-api.md.\n");
      return 0;
    }
    rest.push_back(a);
  }
  if (runners_text.empty())
    return fail_before_start(args, exec::kExitUsage, "herd coordinator needs --runners HOST:PORT,HOST:PORT");
  std::vector<std::string> addrs;
  flags::RunFlags flags;
  try {
    addrs = parse_runner_list(runners_text);
    flags = flags::parse_run_flags(rest);
  } catch (const std::exception& e) {
    return fail_before_start(args, exec::kExitInvalidConfig, e.what());
  }
  if (script.empty()) script = flags.script;
  SignalForwarder signals;  // before any thread starts
  ResultReporting reporting(flags.result_file, flags.linger, linger_timeout);
  if (std::string err = reporting.serve(flags.address); !err.empty())
    return reporting.fail(exec::kExitGenericError, err, nullptr);
  Prepared prep;
  std::string prep_error;
  if (int rc = prepare(script, flags, false, &prep, &prep_error))
    return reporting.finish(failure_result(rc, prep_error), &signals);
  CoordinatorOptions opts = prep.opts;
  opts.keep_going = keep_going;
  if (ready_timeout) opts.ready_timeout = *ready_timeout;
  opts.control = reporting.state();
  reporting.state()->set_report_file(prep.report_file);
  std::vector<RunnerEndpoint> eps;
  eps.reserve(addrs.size());
  for (auto& a : addrs) eps.push_back({a, -1});
  Coordinator coord(eps, std::move(opts));
  reporting.state()->on_stop(
      [&coord] { coord.request_stop(exec::kExitSignal, "stopped through the control API (PATCH /v1/status)"); });
  signals.set([&coord] { coord.request_stop(exec::kExitSignal, "stopped by a signal"); }, nullptr);
  coord.run();
  reporting.state()->on_stop(nullptr);
  signals.set(nullptr, nullptr);
  return reporting.finish(coord.report().result, &signals);
} catch (const std::exception& e) {
  return fail_before_start(args, exec::kExitGenericError, std::string("internal error: ") + e.what());
}

}  // namespace herd::coord
