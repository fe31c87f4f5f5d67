#pragma once
// How a runner process is started (herd run --paused with its execution
// segment) and how user arguments are passed on to it: the pure pieces that
// the coordinator's local runners and the operator's runner Jobs share. This
// library sits below both and links neither the JavaScript engine nor libcurl
// (the operator must not link QuickJS, issue #12).

#include <string>
#include <string_view>
#include <vector>

namespace herd::launch {

/// Environment variable naming where the merged result of a distributed test
/// is (set by the operator on its runner Pods): `herd run` prints
/// "herd: <its value>" as its last line, so a runner's log points there.
/// Unset or empty: nothing is printed.
inline constexpr std::string_view kResultHintEnv = "HERD_RESULT_HINT";

/// The segment sequence for n equal runners: "0,1/4,1/2,3/4,1".
std::string segment_sequence(int n);
/// Runner i's (0-based) segment of n: "1/4:1/2".
std::string segment_of(int i, int n);

/// The user's run arguments minus the positional script, --parallelism and the
/// flags the coordinator owns, long and short forms, "--f v" and "--f=v", and
/// shorthand clusters ("-qv" keeps "-v").
/// Flags are split with the CLI's own table (flags::run_flag_shapes); unknown
/// flags are passed through as they are.
std::vector<std::string> runner_passthrough_args(const std::vector<std::string>& run_args);

/// The long names of the run flags the coordinator owns (dropped by
/// runner_passthrough_args); each is a flag of flags::run_flag_shapes().
std::vector<std::string_view> coordinator_owned_flags();

/// The value of every --out (-o) in `run_args`, in order: "--out v",
/// "--out=v", "-o v", "-o=v", "-ov" and shorthand clusters ("-qo v"). Stops at "--".
std::vector<std::string> output_values(const std::vector<std::string>& run_args);

/// True for an --out value the coordinator writes from its merged metrics
/// (`experimental-prometheus-rw`, with or without `=...`): one set of series per
/// test, so runners must not write it. False for the per-sample outputs (json,
/// csv, influxdb, ...), which stay with whoever makes the samples.
bool is_merged_output(std::string_view out_value);

/// The full argument vector (after the binary) of runner i (0-based) of n:
/// `run --paused --address 127.0.0.1:0 --linger ... <passthrough> -- <script>`.
std::vector<std::string> local_runner_args(int i, int n, const std::string& script,
                                           const std::vector<std::string>& passthrough);

/// Splits a command line like a POSIX shell would (quotes and backslashes), for
/// a TestRun's spec.arguments. Throws std::invalid_argument("unterminated quote").
std::vector<std::string> split_arguments(const std::string& text);

}  // namespace herd::launch
