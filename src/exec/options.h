#pragma once
// Test options: k6's `options` object from the script, K6_* environment
// variables and CLI flags, merged with k6's precedence (defaults < script <
// environment < CLI), then turned into scenarios (shortcuts vus/duration/
// iterations/stages become one "default" scenario, as k6 does).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/netopts.h"

namespace herd::exec {

using std::chrono::microseconds;

/// An invalid option. The message names the field path, e.g.
/// "options.scenarios.spike.maxVUs: must be >= preAllocatedVUs (10)". Exit 104.
class OptionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Stage {
  microseconds duration{0};
  std::int64_t target = 0;
};

/// One scenario, any executor. Fields that do not apply to the executor are
/// left at their defaults. Defaults are k6's.
struct ScenarioConfig {
  std::string name;
  std::string executor;          ///< "shared-iterations", "per-vu-iterations", "constant-vus",
                                 ///< "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate",
                                 ///< "externally-controlled"
  std::string exec = "default";  ///< exported function to run
  microseconds start_time{0};
  microseconds graceful_stop{30'000'000};
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> tags;
  // shared-iterations / per-vu-iterations / constant-vus / externally-controlled
  std::int64_t vus = 1;
  std::int64_t iterations = 1;
  microseconds max_duration{600'000'000};  ///< iterations executors: default 10m
  microseconds duration{0};                ///< constant-vus, constant-arrival-rate, externally-controlled
  // ramping-vus
  std::int64_t start_vus = 1;
  std::vector<Stage> stages;  ///< ramping-vus (targets = VUs), ramping-arrival-rate (targets = rate)
  microseconds graceful_ramp_down{30'000'000};
  // arrival-rate
  std::int64_t rate = 0;
  microseconds time_unit{1'000'000};
  std::int64_t pre_allocated_vus = 0;
  std::int64_t max_vus = 0;  ///< 0 = preAllocatedVUs
  std::int64_t start_rate = 0;
};

/// The fully resolved options of a run.
struct Options {
  // Shortcuts, as given (before conversion to scenarios).
  std::optional<std::int64_t> vus;
  std::optional<microseconds> duration;
  std::optional<std::int64_t> iterations;
  std::optional<std::vector<Stage>> stages;
  /// In declaration order. Never empty after resolve_options().
  std::vector<ScenarioConfig> scenarios;

  nlohmann::json thresholds = nlohmann::json::object();  ///< options.thresholds as given
  bool no_thresholds = false;
  bool no_summary = false;
  std::string summary_mode = "compact";  ///< compact | full | legacy | disabled (= no_summary)
  std::vector<std::string> summary_trend_stats{"avg", "min", "med", "max", "p(90)", "p(95)"};
  std::string summary_time_unit;
  std::string summary_export;        ///< --summary-export FILE; "" = none
  std::string report;                ///< --report FILE: the HTML report (docs/dashboard.md); "" = none
  std::vector<std::string> outputs;  ///< --out values, e.g. "json=out.json"
  bool quiet = false;
  std::map<std::string, std::string> tags;  ///< options.tags / --tag: added to every sample
  std::map<std::string, std::string> env;   ///< -e KEY=VAL (merged over the process environment for __ENV)
  bool include_system_env_vars = true;
  microseconds setup_timeout{60'000'000};
  microseconds teardown_timeout{60'000'000};
  /// minIterationDuration: a shorter iteration is padded with a sleep (not
  /// counted in iteration_duration; setup/teardown are not padded). 0 = none.
  microseconds min_iteration_duration{0};
  std::string user_agent = "herd/0.1 (k6-compatible)";
  bool insecure_skip_tls_verify = false;
  bool discard_response_bodies = false;
  std::int64_t max_redirects = 10;
  bool no_connection_reuse = false;
  bool no_cookies_reset = false;
  std::int64_t batch = 20;
  std::int64_t batch_per_host = 6;
  bool throw_errors = false;  ///< options.throw
  /// hosts, dns, blacklistIPs, blockHostnames, localIPs, tlsVersion, tlsCipherSuites,
  /// tlsAuth, noVUConnectionReuse (exec/net_options.h). noConnectionReuse stays above.
  http::NetConfig net;
  nlohmann::json net_json = nlohmann::json::object();  ///< the script's network options as given (to_json)
  std::string http_debug;                ///< options.httpDebug / --http-debug: "" (off), "headers" or "full"
  std::int64_t rps = 0;                  ///< options.rps: requests started per second by this instance; 0 = no cap
  std::vector<std::string> system_tags;  ///< default k6 system tags
  std::int64_t workers = 0;              ///< herd: worker threads, 0 = one per core
  bool paused = false;
  std::string execution_segment;           ///< as given, e.g. "1/4:1/2"
  std::string execution_segment_sequence;  ///< as given
  /// Non-fatal notes k6 would log as warnings while resolving, e.g. a lone
  /// `vus` that is ignored because no duration/iterations/stages were given.
  std::vector<std::string> warnings;

  /// The options as k6 prints them (`herd inspect`): camelCase keys, durations as strings.
  nlohmann::json to_json() const;
};

/// Overrides from the command line (only what the user set).
struct CliOverrides {
  /// -c/--config FILE (or K6_CONFIG): k6's JSON config file, already parsed
  /// (load_config_file). Its options rank below the script's. Null = none.
  std::string config_file;
  nlohmann::json config_options;
  std::optional<std::int64_t> vus;
  std::optional<microseconds> duration;
  std::optional<std::int64_t> iterations;
  std::optional<std::vector<Stage>> stages;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> tags;
  std::optional<std::string> summary_export;
  std::optional<std::string> report;
  std::vector<std::string> outputs;
  std::optional<bool> no_summary;
  std::optional<std::string> summary_mode;
  std::optional<bool> quiet;
  std::optional<bool> no_thresholds;
  std::optional<std::vector<std::string>> summary_trend_stats;
  std::optional<std::string> summary_time_unit;
  std::optional<std::int64_t> workers;
  std::optional<bool> paused;
  std::optional<std::string> execution_segment;
  std::optional<std::string> execution_segment_sequence;
  std::optional<bool> insecure_skip_tls_verify;
  std::optional<bool> include_system_env_vars;
  std::optional<std::string> user_agent;
  std::optional<bool> throw_errors;
  std::optional<std::int64_t> max_redirects;
  std::optional<bool> discard_response_bodies;
  std::optional<microseconds> min_iteration_duration;
  std::optional<std::vector<std::string>> system_tags;  ///< --system-tags
  std::optional<bool> no_cookies_reset;                 ///< --no-cookies-reset
  std::optional<std::string> http_debug;                ///< --http-debug[=full]: "headers" or "full"
  std::optional<std::int64_t> rps;                      ///< --rps
  std::optional<std::int64_t> batch;                    ///< --batch
  std::optional<std::int64_t> batch_per_host;           ///< --batch-per-host
  std::optional<bool> no_connection_reuse;              ///< --no-connection-reuse
  /// --dns, --local-ips, --blacklist-ip, --block-hostnames, --no-vu-connection-reuse,
  /// stored under their K6_* variable names (the same syntax; apply_net_env).
  std::map<std::string, std::string> net_flags;
  /// --secret-source values in order (k6/secrets.h parses them).
  std::vector<std::string> secret_sources;
};

/// The system tags herd's samples can carry (k6's defaults: all but vu, iter,
/// ip and ocsp_status, which herd never adds). Dropping tags outside this list
/// changes nothing, so it is what options.systemTags is compared against.
std::vector<std::string> emitted_system_tags();

/// Parses "30s:10,1m:20" (the -s/--stage flag; repeatable, concatenated) into stages.
std::vector<Stage> parse_stages_flag(const std::string& text);

/// Merges script options (the exported `options` object as JSON; may be null),
/// K6_* variables from `environ` (K6_VUS, K6_DURATION, K6_ITERATIONS, K6_STAGES,
/// K6_NO_THRESHOLDS, K6_NO_SUMMARY, K6_SUMMARY_EXPORT, K6_OUT, K6_QUIET,
/// K6_SUMMARY_TREND_STATS, K6_SUMMARY_MODE, K6_INSECURE_SKIP_TLS_VERIFY, ...), and CLI overrides.
/// Then derives scenarios from shortcuts (k6's rules: CLI shortcuts replace the
/// script's scenarios; shortcuts together with scenarios at the same level is an
/// error) and validates everything. Throws OptionsError naming the field.
Options resolve_options(const nlohmann::json& script_options, const std::map<std::string, std::string>& environ,
                        const CliOverrides& cli);

}  // namespace herd::exec
