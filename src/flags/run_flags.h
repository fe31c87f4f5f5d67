#pragma once
// Command-line flags of `herd run` (and `inspect`, `archive`), k6's spelling.

#include <string>
#include <string_view>
#include <vector>

#include "exec/options.h"

namespace herd::flags {

struct RunFlags {
  std::string script;            ///< the positional argument (script.js, archive .tar, or "-")
  exec::CliOverrides overrides;  ///< what the user set
  std::string address;           ///< --address HOST:PORT (control API)
  bool no_setup = false;
  bool no_teardown = false;
  bool linger = false;                  ///< --linger: keep the control API up after the test (for a coordinator)
  bool execution_requirements = false;  ///< inspect --execution-requirements
  /// --result-file PATH: the outcome as one line of JSON, at most 4096 bytes (a
  /// Kubernetes termination message). inspect: its JSON or {"error","exitCode"};
  /// coordinator and run --parallelism: the compact result (docs/coordinator.md).
  std::string result_file;
  std::string archive_out;     ///< archive -O FILE
  std::string log_output;      ///< --log-output (stderr by default)
  std::string log_format;      ///< --log-format: text (default), json or raw
  bool no_color = false;       ///< --no-color
  std::string console_output;  ///< --console-output FILE
  bool verbose = false;
  int parallelism = 0;  ///< herd: local distributed runners (issue 4)
  bool help = false;
};

/// Thrown for an unknown flag (k6 flags herd lacks name the reason), a missing value or a malformed value; the
/// message names the flag (exit 104 for bad values, 2 for unknown flags as in k6's usage errors).
class FlagError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses args after the subcommand name. Supports -u/--vus, -d/--duration,
/// -i/--iterations, -s/--stage (repeatable), -e/--env KEY=VAL (repeatable),
/// --tag KEY=VAL, --summary-export FILE, -o/--out TYPE=DEST (repeatable),
/// --no-summary, --summary-mode, -q/--quiet, --no-thresholds,
/// --summary-trend-stats a,b,c, --summary-time-unit, --paused/-p,
/// --address/-a, --no-setup, --no-teardown, --execution-segment,
/// --execution-segment-sequence, --insecure-skip-tls-verify,
/// --include-system-env-vars, --user-agent, --throw/-w, --max-redirects,
/// --discard-response-bodies, --workers, --parallelism, -O/--archive-out,
/// --execution-requirements, --result-file, --console-output, -c/--config,
/// --log-output, --log-format, --no-color, --system-tags, --no-cookies-reset,
/// --no-usage-report, -v/--verbose,
/// -h/--help. Both "--flag value" and "--flag=value" forms.
RunFlags parse_run_flags(const std::vector<std::string>& args);

/// The value of the last --result-file in `args` ("" when absent), found
/// without parsing the other flags: a failure to parse them still reaches the file.
std::string find_result_file(const std::vector<std::string>& args);

/// The shape of one flag of the table parse_run_flags() uses: what a program
/// that passes the user's flags on (the coordinator, to its runners) needs to
/// split an argument list without a copy of the table.
struct FlagShape {
  std::string_view name;  ///< long name without dashes, e.g. "vus"
  char shorthand = 0;     ///< 0 = none
  bool takes_value = false;
};
/// Every flag parse_run_flags() accepts, in table order.
std::vector<FlagShape> run_flag_shapes();

/// Usage text for `herd run --help`.
std::string run_usage();

}  // namespace herd::flags
