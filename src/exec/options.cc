#include "exec/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string_view>

#include "exec/net_options.h"
#include "exec/option_support.h"
#include "exec/options_internal.h"
#include "util/duration.h"

namespace herd::exec {

using namespace optparse;

namespace {

// ---- script tier -------------------------------------------------------------

// `where` names the source in messages: "options" (the script) or "FILE: options" (--config).
void apply_script(Options& o, Shortcuts& sc, const json& opts, const std::string& where = "options") {
  if (opts.is_null()) return;
  if (!opts.is_object()) fail(where, "must be an object");
  for (auto it = opts.begin(); it != opts.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string p = where + "." + k;
    if (v.is_null()) continue;
    if (k == "vus") {
      sc.vus = json_int(v, p);
      sc.vus_src = p;
    } else if (k == "duration") {
      sc.duration = json_duration(v, p);
      sc.duration_src = p;
    } else if (k == "iterations") {
      sc.iterations = json_int(v, p);
      sc.iterations_src = p;
    } else if (k == "stages") {
      sc.stages = json_stages(v, p);
      sc.stages_src = p;
    } else if (k == "scenarios") {
      sc.scenarios = &v;
    } else if (k == "thresholds") {
      if (!v.is_object()) fail(p, "must be an object mapping metric names to threshold expressions");
      o.thresholds = v;
    } else if (k == "tags") {
      o.tags = json_string_map(v, p);
    } else if (k == "summaryTrendStats") {
      o.summary_trend_stats = json_string_array(v, p);
      validate_trend_stats(o.summary_trend_stats, p);
    } else if (k == "summaryTimeUnit") {
      o.summary_time_unit = json_string(v, p);
      validate_time_unit(o.summary_time_unit, p);
    } else if (k == "setupTimeout") {
      o.setup_timeout = json_duration(v, p);
      check_non_negative(o.setup_timeout, p);
    } else if (k == "teardownTimeout") {
      o.teardown_timeout = json_duration(v, p);
      check_non_negative(o.teardown_timeout, p);
    } else if (k == "minIterationDuration") {
      o.min_iteration_duration = json_duration(v, p);
      check_non_negative(o.min_iteration_duration, p);
    } else if (k == "userAgent") {
      o.user_agent = json_string(v, p);
    } else if (k == "insecureSkipTLSVerify") {
      o.insecure_skip_tls_verify = json_bool(v, p);
    } else if (k == "discardResponseBodies") {
      o.discard_response_bodies = json_bool(v, p);
    } else if (k == "maxRedirects") {
      o.max_redirects = json_int(v, p);
      check_non_negative(o.max_redirects, p);
    } else if (k == "noConnectionReuse") {
      o.no_connection_reuse = json_bool(v, p);
    } else if (k == "noCookiesReset") {
      o.no_cookies_reset = json_bool(v, p);
    } else if (k == "batch") {
      o.batch = json_int(v, p);
      check_non_negative(o.batch, p);
    } else if (k == "batchPerHost") {
      o.batch_per_host = json_int(v, p);
      check_non_negative(o.batch_per_host, p);
    } else if (k == "throw") {
      o.throw_errors = json_bool(v, p);
    } else if (k == "systemTags") {
      o.system_tags = json_string_array(v, p);
      validate_system_tags(o.system_tags, p);
    } else if (k == "noThresholds") {
      o.no_thresholds = json_bool(v, p);
    } else if (k == "noSummary") {
      o.no_summary = json_bool(v, p);
    } else if (k == "executionSegment") {
      o.execution_segment = json_string(v, p);
    } else if (k == "executionSegmentSequence") {
      o.execution_segment_sequence = json_string(v, p);
    } else if (k == "paused") {
      o.paused = json_bool(v, p);
    } else if (k == "rps") {
      o.rps = json_int(v, p);
      check_non_negative(o.rps, p);
    } else if (k == "httpDebug") {
      o.http_debug = json_string(v, p);
      validate_http_debug(o.http_debug, p);
    } else if (apply_net_option(o.net, k, v, p)) {
      o.net_json[k] = v;  // hosts, dns, blacklistIPs, blockHostnames, localIPs, tls*, ... (exec/net_options.cc)
    } else {
      unhandled_option(k, p, o.warnings);
    }
  }
}

// ---- environment tier --------------------------------------------------------------

void apply_env(Options& o, Shortcuts& sc, const std::map<std::string, std::string>& environ) {
  refuse_unsupported_env(environ);
  auto get = [&](const char* name) -> const std::string* {
    auto it = environ.find(name);
    if (it == environ.end() || it->second.empty()) return nullptr;  // empty = unset
    return &it->second;
  };
  auto boolean = [&](const char* name, bool& dst) {
    if (const std::string* v = get(name)) dst = parse_bool_text(*v, name);
  };
  if (const std::string* v = get("K6_VUS")) {
    sc.vus = parse_int_text(*v, "K6_VUS");
    sc.vus_src = "K6_VUS";
  }
  if (const std::string* v = get("K6_DURATION")) {
    sc.duration = parse_duration_text(*v, "K6_DURATION");
    sc.duration_src = "K6_DURATION";
  }
  if (const std::string* v = get("K6_ITERATIONS")) {
    sc.iterations = parse_int_text(*v, "K6_ITERATIONS");
    sc.iterations_src = "K6_ITERATIONS";
  }
  if (const std::string* v = get("K6_STAGES")) {
    try {
      sc.stages = parse_stages_flag(*v);
    } catch (const OptionsError& e) {
      fail("K6_STAGES", e.what());
    }
    sc.stages_src = "K6_STAGES";
  }
  boolean("K6_NO_THRESHOLDS", o.no_thresholds);
  boolean("K6_NO_SUMMARY", o.no_summary);
  if (const std::string* v = get("K6_SUMMARY_EXPORT")) o.summary_export = *v;
  if (const std::string* v = get("K6_OUT")) o.outputs = split_commas(*v);
  boolean("K6_QUIET", o.quiet);
  if (const std::string* v = get("K6_SUMMARY_TREND_STATS")) {
    o.summary_trend_stats = split_commas(*v);
    validate_trend_stats(o.summary_trend_stats, "K6_SUMMARY_TREND_STATS");
  }
  if (const std::string* v = get("K6_SUMMARY_TIME_UNIT")) {
    o.summary_time_unit = *v;
    validate_time_unit(*v, "K6_SUMMARY_TIME_UNIT");
  }
  if (const std::string* v = get("K6_SUMMARY_MODE")) o.summary_mode = *v;
  boolean("K6_INSECURE_SKIP_TLS_VERIFY", o.insecure_skip_tls_verify);
  if (const std::string* v = get("K6_USER_AGENT")) o.user_agent = *v;
  boolean("K6_THROW", o.throw_errors);
  if (const std::string* v = get("K6_MAX_REDIRECTS")) {
    o.max_redirects = parse_int_text(*v, "K6_MAX_REDIRECTS");
    check_non_negative(o.max_redirects, "K6_MAX_REDIRECTS");
  }
  boolean("K6_DISCARD_RESPONSE_BODIES", o.discard_response_bodies);
  boolean("K6_NO_CONNECTION_REUSE", o.no_connection_reuse);
  boolean("K6_NO_COOKIES_RESET", o.no_cookies_reset);
  if (const std::string* v = get("K6_BATCH")) {
    o.batch = parse_int_text(*v, "K6_BATCH");
    check_non_negative(o.batch, "K6_BATCH");
  }
  if (const std::string* v = get("K6_BATCH_PER_HOST")) {
    o.batch_per_host = parse_int_text(*v, "K6_BATCH_PER_HOST");
    check_non_negative(o.batch_per_host, "K6_BATCH_PER_HOST");
  }
  if (const std::string* v = get("K6_SETUP_TIMEOUT")) {
    o.setup_timeout = parse_duration_text(*v, "K6_SETUP_TIMEOUT");
    check_non_negative(o.setup_timeout, "K6_SETUP_TIMEOUT");
  }
  if (const std::string* v = get("K6_TEARDOWN_TIMEOUT")) {
    o.teardown_timeout = parse_duration_text(*v, "K6_TEARDOWN_TIMEOUT");
    check_non_negative(o.teardown_timeout, "K6_TEARDOWN_TIMEOUT");
  }
  if (const std::string* v = get("K6_MIN_ITERATION_DURATION")) {
    o.min_iteration_duration = parse_duration_text(*v, "K6_MIN_ITERATION_DURATION");
    check_non_negative(o.min_iteration_duration, "K6_MIN_ITERATION_DURATION");
  }
  if (const std::string* v = get("K6_SYSTEM_TAGS")) {
    o.system_tags = split_commas(*v);
    validate_system_tags(o.system_tags, "K6_SYSTEM_TAGS");
  }
  if (const std::string* v = get("K6_EXECUTION_SEGMENT")) o.execution_segment = *v;
  if (const std::string* v = get("K6_EXECUTION_SEGMENT_SEQUENCE")) o.execution_segment_sequence = *v;
  boolean("K6_PAUSED", o.paused);
  if (const std::string* v = get("K6_RPS")) {
    o.rps = parse_int_text(*v, "K6_RPS");
    check_non_negative(o.rps, "K6_RPS");
  }
  if (const std::string* v = get("K6_HTTP_DEBUG")) {
    o.http_debug = *v;
    validate_http_debug(o.http_debug, "K6_HTTP_DEBUG");
  }
  boolean("K6_INCLUDE_SYSTEM_ENV_VARS", o.include_system_env_vars);
  apply_net_env(o.net, environ);
}

// ---- CLI tier ------------------------------------------------------------------------

void apply_cli(Options& o, Shortcuts& sc, const CliOverrides& c) {
  if (c.vus) {
    sc.vus = c.vus;
    sc.vus_src = "--vus";
  }
  if (c.duration) {
    sc.duration = c.duration;
    sc.duration_src = "--duration";
  }
  if (c.iterations) {
    sc.iterations = c.iterations;
    sc.iterations_src = "--iterations";
  }
  if (c.stages) {
    sc.stages = c.stages;
    sc.stages_src = "--stage";
  }
  if (!c.env.empty()) o.env = c.env;
  if (!c.tags.empty()) o.tags = c.tags;  // k6: --tag replaces options.tags
  if (c.summary_export) o.summary_export = *c.summary_export;
  if (c.report) o.report = *c.report;
  if (!c.outputs.empty()) o.outputs = c.outputs;
  if (c.no_summary) o.no_summary = *c.no_summary;
  if (c.summary_mode) o.summary_mode = *c.summary_mode;
  if (c.quiet) o.quiet = *c.quiet;
  if (c.no_thresholds) o.no_thresholds = *c.no_thresholds;
  if (c.summary_trend_stats) {
    o.summary_trend_stats = *c.summary_trend_stats;
    validate_trend_stats(o.summary_trend_stats, "--summary-trend-stats");
  }
  if (c.summary_time_unit) {
    o.summary_time_unit = *c.summary_time_unit;
    validate_time_unit(o.summary_time_unit, "--summary-time-unit");
  }
  if (c.workers) {
    o.workers = *c.workers;
    check_non_negative(o.workers, "--workers");
  }
  if (c.paused) o.paused = *c.paused;
  if (c.execution_segment) o.execution_segment = *c.execution_segment;
  if (c.execution_segment_sequence) o.execution_segment_sequence = *c.execution_segment_sequence;
  if (c.insecure_skip_tls_verify) o.insecure_skip_tls_verify = *c.insecure_skip_tls_verify;
  if (c.include_system_env_vars) o.include_system_env_vars = *c.include_system_env_vars;
  if (c.user_agent) o.user_agent = *c.user_agent;
  if (c.min_iteration_duration) {
    o.min_iteration_duration = *c.min_iteration_duration;
    check_non_negative(o.min_iteration_duration, "--min-iteration-duration");
  }
  if (c.throw_errors) o.throw_errors = *c.throw_errors;
  if (c.max_redirects) {
    o.max_redirects = *c.max_redirects;
    check_non_negative(o.max_redirects, "--max-redirects");
  }
  if (c.discard_response_bodies) o.discard_response_bodies = *c.discard_response_bodies;
  if (c.no_cookies_reset) o.no_cookies_reset = *c.no_cookies_reset;
  if (c.http_debug) o.http_debug = *c.http_debug;
  if (c.rps) {
    o.rps = *c.rps;
    check_non_negative(o.rps, "--rps");
  }
  if (c.system_tags) {
    o.system_tags = *c.system_tags;
    validate_system_tags(o.system_tags, "--system-tags");
  }
  if (c.batch) {
    o.batch = *c.batch;
    check_non_negative(o.batch, "--batch");
  }
  if (c.batch_per_host) {
    o.batch_per_host = *c.batch_per_host;
    check_non_negative(o.batch_per_host, "--batch-per-host");
  }
  if (c.no_connection_reuse) o.no_connection_reuse = *c.no_connection_reuse;
  static const std::map<std::string, std::string> kNetFlagLabels = {
      {"K6_DNS", "--dns"},
      {"K6_LOCAL_IPS", "--local-ips"},
      {"K6_BLACKLIST_IPS", "--blacklist-ip"},
      {"K6_BLOCK_HOSTNAMES", "--block-hostnames"},
      {"K6_NO_VU_CONNECTION_REUSE", "--no-vu-connection-reuse"},
  };
  apply_net_env(o.net, c.net_flags, kNetFlagLabels);
}

}  // namespace

std::vector<std::string> emitted_system_tags() {
  return {std::begin(kDefaultSystemTags), std::end(kDefaultSystemTags)};
}

std::vector<Stage> parse_stages_flag(const std::string& text) {
  std::vector<Stage> out;
  for (const std::string& item : split_commas(text)) {
    auto colon = item.find(':');
    if (colon == std::string::npos) {
      throw OptionsError("invalid stage " + quote(item) + ": expected DURATION:TARGET, e.g. \"30s:10\"");
    }
    Stage s;
    try {
      s.duration = util::parse_duration(item.substr(0, colon));
    } catch (const util::DurationError& e) {
      throw OptionsError("invalid stage " + quote(item) + ": " + e.what());
    }
    const std::string target = item.substr(colon + 1);
    try {
      s.target = parse_int_text(target, "target");
    } catch (const OptionsError&) {
      throw OptionsError("invalid stage " + quote(item) + ": invalid target " + quote(target));
    }
    out.push_back(s);
  }
  return out;
}

Options resolve_options(const json& script_options, const std::map<std::string, std::string>& environ,
                        const CliOverrides& cli) {
  Options o;
  Shortcuts merged;
  Shortcuts config, script, env, flags;
  json file_options = cli.config_options;  // outlives `config`, which points into it
  if (!file_options.is_null()) {
    // k6's config file: the options object, plus the outputs ("out").
    const std::string where = cli.config_file + ": options";
    if (file_options.is_object() && file_options.contains("out")) {
      o.outputs = json_string_array(file_options["out"], where + ".out");
      file_options.erase("out");
    }
    apply_script(o, config, file_options, where);
  }
  apply_script(o, script, script_options);
  apply_env(o, env, environ);
  apply_cli(o, flags, cli);
  apply_tier(merged, config);
  apply_tier(merged, script);
  apply_tier(merged, env);
  apply_tier(merged, flags);

  validate_summary_mode(o.summary_mode, cli.summary_mode ? "--summary-mode" : "K6_SUMMARY_MODE");
  if (o.summary_mode == "disabled") o.no_summary = true;

  // Execution segments (validated after merging so the message names the winning source).
  {
    auto env_set = [&](const char* name) {
      auto it = environ.find(name);
      return it != environ.end() && !it->second.empty();
    };
    std::string seg_path = cli.execution_segment             ? "--execution-segment"
                           : env_set("K6_EXECUTION_SEGMENT") ? "K6_EXECUTION_SEGMENT"
                                                             : "options.executionSegment";
    std::string seq_path = cli.execution_segment_sequence             ? "--execution-segment-sequence"
                           : env_set("K6_EXECUTION_SEGMENT_SEQUENCE") ? "K6_EXECUTION_SEGMENT_SEQUENCE"
                                                                      : "options.executionSegmentSequence";
    std::optional<std::pair<Frac, Frac>> seg;
    if (!o.execution_segment.empty()) seg = parse_segment(o.execution_segment, seg_path);
    if (!o.execution_segment_sequence.empty()) {
      auto seq = parse_segment_sequence(o.execution_segment_sequence, seq_path);
      if (seg) {
        auto has = [&](const Frac& f) {
          return std::any_of(seq.begin(), seq.end(), [&](const Frac& x) { return x == f; });
        };
        if (!has(seg->first) || !has(seg->second)) {
          fail(seg_path, "segment " + quote(o.execution_segment) + " is not part of the execution segment sequence " +
                             quote(o.execution_segment_sequence));
        }
      }
    }
  }

  if (o.system_tags.empty() && !cli.system_tags &&
      !(script_options.is_object() && script_options.contains("systemTags") &&
        !script_options["systemTags"].is_null()) &&
      (environ.find("K6_SYSTEM_TAGS") == environ.end() || environ.at("K6_SYSTEM_TAGS").empty())) {
    o.system_tags.assign(std::begin(kDefaultSystemTags), std::end(kDefaultSystemTags));
  }

  o.vus = merged.vus;
  o.duration = merged.duration;
  o.iterations = merged.iterations;
  o.stages = merged.stages;
  o.scenarios = derive_scenarios(merged, o.warnings);
  return o;
}

nlohmann::json Options::to_json() const {
  json j = json::object();
  if (vus) j["vus"] = *vus;
  if (duration) j["duration"] = format_duration(*duration);
  if (iterations) j["iterations"] = *iterations;
  if (stages) j["stages"] = stages_json(*stages);
  json sc = json::object();
  for (const ScenarioConfig& s : scenarios) sc[s.name] = scenario_json(s);
  j["scenarios"] = sc;
  j["thresholds"] = thresholds;
  j["noThresholds"] = no_thresholds;
  j["noSummary"] = no_summary;
  j["summaryMode"] = summary_mode;
  j["summaryTrendStats"] = summary_trend_stats;
  if (!summary_time_unit.empty()) j["summaryTimeUnit"] = summary_time_unit;
  if (!summary_export.empty()) j["summaryExport"] = summary_export;
  if (!outputs.empty()) j["out"] = outputs;
  j["quiet"] = quiet;
  j["tags"] = tags;
  j["setupTimeout"] = format_duration(setup_timeout);
  j["teardownTimeout"] = format_duration(teardown_timeout);
  if (min_iteration_duration.count() > 0) j["minIterationDuration"] = format_duration(min_iteration_duration);
  j["userAgent"] = user_agent;
  j["insecureSkipTLSVerify"] = insecure_skip_tls_verify;
  j["discardResponseBodies"] = discard_response_bodies;
  j["maxRedirects"] = max_redirects;
  j["noConnectionReuse"] = no_connection_reuse;
  j["noCookiesReset"] = no_cookies_reset;
  j["batch"] = batch;
  j["batchPerHost"] = batch_per_host;
  j["throw"] = throw_errors;
  if (!http_debug.empty()) j["httpDebug"] = http_debug;
  if (rps > 0) j["rps"] = rps;
  j["systemTags"] = system_tags;
  j["paused"] = paused;
  j["includeSystemEnvVars"] = include_system_env_vars;
  if (workers != 0) j["workers"] = workers;
  if (!execution_segment.empty()) j["executionSegment"] = execution_segment;
  if (!execution_segment_sequence.empty()) j["executionSegmentSequence"] = execution_segment_sequence;
  for (const auto& [k, v] : net_json.items()) j[k] = v;
  return j;
}

}  // namespace herd::exec
