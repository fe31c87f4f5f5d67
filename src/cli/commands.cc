#include "cli/commands.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "coord/coordinator.h"
#include "coord/result.h"
#include "coord/testrun.h"
#include "exec/plan.h"
#include "exec/runner.h"
#include "exec/script_source.h"
#include "flags/run_flags.h"
#include "js/bundle.h"
#include "k6/modules.h"
#include "launch/runner_args.h"
#include "metrics/output_stream.h"
#include "target/server.h"
#include "util/duration.h"
#include "util/signals.h"

namespace herd::cli {

using flags::find_result_file;
using flags::parse_run_flags;
using flags::run_usage;
using flags::RunFlags;

namespace {

constexpr const char* kVersion = "0.1.0";

std::map<std::string, std::string> process_env() {
  return exec::process_environment();
}

void print_error(const std::string& msg) {
  std::fprintf(stderr, "herd: error: %s\n", msg.c_str());
}

int usage(FILE* out) {
  std::fprintf(
      out,
      "herd %s: distributed, k6-compatible load testing\n\n"
      "Usage: herd <command> [flags]\n\n"
      "Commands:\n"
      "  run SCRIPT.js        run a k6-style test script\n"
      "  inspect SCRIPT.js    print the resolved options as JSON (--execution-requirements adds plan figures)\n"
      "  archive SCRIPT.js    bundle the script, its imports and open()ed files: herd archive s.js -O test.tar\n"
      "  coordinator          drive runners started elsewhere: herd coordinator --runners h:p,h:p --script s.js\n"
      "  target               run the loopback HTTP target server (herd target --listen 127.0.0.1:8080)\n"
      "  kube run SCRIPT.js   run a test on Kubernetes through the operator (a TestRun), print its summary\n"
      "  operator             the Kubernetes operator for TestRun and PrivateLoadZone (docs/operator.md)\n"
      "  version              print the version\n"
      "  help                 this text\n\n"
      "Run 'herd run --help' for the run flags. Exit codes: docs/exit-codes.md\n",
      kVersion);
  return 0;
}

/// Parses a subcommand's flags; nullopt (after printing the error) when they are bad.
std::optional<RunFlags> parse_flags_or_report(const std::vector<std::string>& args) {
  try {
    return parse_run_flags(args);
  } catch (const std::exception& e) {
    print_error(e.what());
    return std::nullopt;
  }
}

struct LoadFailure {
  int exit_code;
  std::string message;
};

/// The exit code and message for a failure while loading a script or its options.
LoadFailure classify_load_failure(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const js::ScriptError& e) {
    return {exec::kExitScriptException, e.what()};
  } catch (const exec::OptionsError& e) {
    return {exec::kExitInvalidConfig, e.what()};
  } catch (const std::exception& e) {
    return {exec::kExitGenericError, e.what()};
  }
}

/// Prints the failure; returns its exit code.
int report_load_failure(std::exception_ptr ep) {
  LoadFailure f = classify_load_failure(ep);
  print_error(f.message);
  return f.exit_code;
}

/// --result-file: writes `line` to `path` ("" = no file); a failure to write is printed.
void write_result_line(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  std::string err = coord::write_result_file(path, line);
  if (!err.empty()) print_error(err);
}

/// --summary-export (flag or K6_SUMMARY_EXPORT) and, when `with_result_file`,
/// --result-file are written after the test: "" or the error naming the flag
/// and path if one cannot be written now (exit 104; docs/exit-codes.md).
std::string late_output_error(const RunFlags& flags, bool with_result_file) {
  std::map<std::string, std::string> env = process_env();
  std::string summary_export = flags.overrides.summary_export.value_or(env["K6_SUMMARY_EXPORT"]);
  std::vector<std::pair<std::string, std::string>> files;
  if (!summary_export.empty()) files.emplace_back("--summary-export", summary_export);
  if (with_result_file && !flags.result_file.empty()) files.emplace_back("--result-file", flags.result_file);
  for (const auto& [flag, path] : files)
    if (std::string why = metrics::unwritable_reason(path); !why.empty())
      return flag + " " + path + ": cannot write: " + why;
  return "";
}

using exec::load_script;
using exec::make_bundle;

/// `herd run testrun.yaml`: a TestRun manifest on the local backend.
int cmd_run_manifest(const std::string& path, const std::vector<std::string>& args, const std::string& bin) {
  coord::LocalTestRun tr;
  try {
    std::ifstream f(path);
    if (!f) {
      print_error("cannot read manifest \"" + path + "\": " + std::strerror(errno));
      return exec::kExitInvalidConfig;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    tr = coord::parse_testrun(ss.str(), std::filesystem::path(path).parent_path().string());
  } catch (const coord::ManifestError& e) {
    print_error(path + ": " + e.what());
    return exec::kExitInvalidConfig;
  }
  for (const auto& field : tr.cluster_only)
    std::fprintf(stderr, "herd: %s: %s is ignored on the local backend (only a cluster can honour it)\n", path.c_str(),
                 field.c_str());
  // spec.runner.env reaches the runners as their environment, as in a pod.
  for (const auto& [k, v] : tr.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<std::string> run_args = tr.args;
  if (tr.quiet) run_args.push_back("-q");
  for (const auto& a : args)
    if (a != path) run_args.push_back(a);  // the user's own flags come last and win
  run_args.push_back(tr.script);
  if (access(tr.script.c_str(), R_OK) != 0) {
    print_error(path + ": spec.script: cannot read \"" + tr.script + "\": " + std::strerror(errno));
    return exec::kExitScriptException;
  }
  return coord::run_local(tr.parallelism, bin, tr.script, run_args);
}

int cmd_run(const std::vector<std::string>& args) {
  auto parsed = parse_flags_or_report(args);
  if (!parsed) return exec::kExitInvalidConfig;
  RunFlags& flags = *parsed;
  if (flags.help) {
    std::fputs(run_usage().c_str(), stdout);
    return 0;
  }
  if (flags.script.empty()) {
    print_error("herd run needs a script: herd run script.js");
    return exec::kExitUsage;
  }
  char self[4096];
  ssize_t self_len = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string bin = self_len > 0 ? std::string(self, static_cast<size_t>(self_len)) : std::string("herd");
  if (flags.parallelism >= 1 || coord::is_manifest_path(flags.script)) {
    // The single-process engine checks its own (once the script's options are known).
    if (std::string err = late_output_error(flags, true); !err.empty()) {
      print_error(err);
      return exec::kExitInvalidConfig;
    }
  }
  if (coord::is_manifest_path(flags.script)) return cmd_run_manifest(flags.script, args, bin);
  if (flags.parallelism >= 1) {
    // Local distributed mode: N runner processes of this binary and one coordinator.
    return coord::run_local(flags.parallelism, bin, flags.script, args);
  }
  if (flags.overrides.paused && *flags.overrides.paused && flags.address.empty()) {
    // Without the control API nothing could ever resume the test.
    print_error(
        "--paused needs --address HOST:PORT (the control API that resumes the test, e.g. --address "
        "127.0.0.1:6565)");
    return exec::kExitInvalidConfig;
  }
  if (flags.script != exec::kStdinScript && access(flags.script.c_str(), R_OK) != 0) {
    print_error("cannot read script \"" + flags.script + "\": " + std::strerror(errno));
    return exec::kExitScriptException;
  }
  exec::EngineConfig cfg;
  cfg.cli = flags.overrides;
  try {
    cfg.bundle = load_script(flags.script, &cfg.cli);
  } catch (const std::exception& e) {
    print_error(e.what());
    return exec::kExitScriptException;
  }
  cfg.environ = process_env();
  // The operator's runners end their log with where the merged result is.
  if (auto hint = cfg.environ.find(std::string(launch::kResultHintEnv)); hint != cfg.environ.end())
    cfg.end_line = hint->second;
  const std::string end_line = cfg.end_line;
  cfg.no_setup = flags.no_setup;
  cfg.address = flags.address;
  cfg.linger = flags.linger;
  cfg.exit_process_when_done = true;
  cfg.no_teardown = flags.no_teardown;
  cfg.is_stdout_tty = isatty(1);
  cfg.is_stderr_tty = isatty(2);
  cfg.verbose = flags.verbose;
  cfg.console_output = flags.console_output;
  cfg.log_output = flags.log_output.empty() ? cfg.environ["K6_LOG_OUTPUT"] : flags.log_output;
  cfg.log_format = flags.log_format.empty() ? cfg.environ["K6_LOG_FORMAT"] : flags.log_format;
  cfg.no_color = flags.no_color || !cfg.environ["NO_COLOR"].empty() || !cfg.environ["K6_NO_COLOR"].empty();
  if (!flags.result_file.empty())
    std::fprintf(stderr,
                 "herd: warning: --result-file is written by inspect, coordinator and run --parallelism; "
                 "ignored here\n");
  // Signals are taken by the engine's util::SignalWatcher: block them here,
  // before any thread starts, so every thread inherits the mask.
  util::block_stop_signals();
  exec::Engine engine(std::move(cfg));
  exec::RunResult r = engine.run();  // ends the process (exit_process_when_done) but in sanitizer builds
  if (!r.error.empty()) print_error(r.error);
  if (r.ran && !end_line.empty()) std::fprintf(stderr, "herd: %s\n", end_line.c_str());
  return r.exit_code;
}

/// `herd inspect [--execution-requirements] [--result-file PATH] script.js`:
/// the resolved options as JSON on stdout; with --result-file also as one line
/// in PATH, or {"error","exitCode"} there on any failure (a termination message).
int cmd_inspect(const std::vector<std::string>& args) {
  const std::string result_file = find_result_file(args);  // reached by every failure, bad flags too
  auto fail = [&](int exit_code, const std::string& message) {
    print_error(message);
    write_result_line(result_file, coord::error_result(message, exit_code));
    return exit_code;
  };
  RunFlags flags;
  try {
    flags = parse_run_flags(args);
  } catch (const std::exception& e) {
    return fail(exec::kExitInvalidConfig, e.what());
  }
  if (flags.script.empty()) return fail(exec::kExitUsage, "herd inspect needs a script");
  exec::EngineConfig cfg;
  cfg.cli = flags.overrides;
  cfg.environ = process_env();
  try {
    cfg.bundle = load_script(flags.script, &cfg.cli);
    exec::Engine engine(std::move(cfg));
    exec::Options o = engine.inspect();
    nlohmann::json j = o.to_json();
    if (flags.execution_requirements) {
      auto req = exec::execution_requirements(o.scenarios);
      j["maxVUs"] = req.max_vus;
      j["totalDuration"] = util::format_duration(req.total_duration);
    }
    std::cout << j.dump(2) << std::endl;
    write_result_line(result_file, coord::compact_inspect_result(j));
    return 0;
  } catch (...) {
    LoadFailure f = classify_load_failure(std::current_exception());
    return fail(f.exit_code, f.message);
  }
}

/// `herd archive script.js -O test.tar`: evaluates the init context once to
/// find every local module and open()ed file, then writes them with the
/// resolved options and the -e env into a tar (src/archive/FORMAT.md).
int cmd_archive(const std::vector<std::string>& args) {
  auto parsed = parse_flags_or_report(args);
  if (!parsed) return exec::kExitInvalidConfig;
  RunFlags& flags = *parsed;
  if (flags.script.empty()) {
    print_error("herd archive needs a script: herd archive script.js -O test.tar");
    return exec::kExitUsage;
  }
  std::string out = flags.archive_out.empty() ? "archive.tar" : flags.archive_out;
  // Absolute names: relative imports then resolve inside the archive wherever it runs.
  // A script on standard input ("-") is stored as "-" in the working directory.
  std::string main = std::filesystem::absolute(flags.script).lexically_normal().generic_string();
  exec::EngineConfig cfg;
  cfg.bundle = make_bundle(main);
  cfg.cli = flags.overrides;
  cfg.environ = process_env();
  try {
    if (flags.script == exec::kStdinScript) cfg.bundle->add_file(main, exec::read_stdin_script());
    auto bundle = cfg.bundle;
    exec::Engine engine(std::move(cfg));
    exec::Options o = engine.inspect();
    archive::Archive a;
    a.main = main;
    a.options = o.to_json();
    a.env = flags.overrides.env;
    a.herd_version = kVersion;
    for (auto& [path, contents] : bundle->loaded_files()) {
      if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) continue;  // fetched again at run time
      a.files[path] = contents;
    }
    archive::write_archive(out, a);
    std::fprintf(stderr, "herd: wrote %s (%zu files)\n", out.c_str(), a.files.size());
    return 0;
  } catch (...) {
    return report_load_failure(std::current_exception());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return exec::kExitUsage;
  }
  std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "version" || cmd == "--version") {
    std::printf("herd v%s (k6-compatible script API; QuickJS engine)\n", kVersion);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return usage(stdout);
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "inspect") return cmd_inspect(rest);
  if (cmd == "archive") return cmd_archive(rest);
  if (cmd == "coordinator") return coord::coordinator_main(rest);
  if (cmd == "target") return target::target_main(argc - 1, argv + 1);
  std::fprintf(stderr, "herd: unknown command \"%s\"\n\n", cmd.c_str());
  usage(stderr);
  return exec::kExitUsage;
}

}  // namespace herd::cli
