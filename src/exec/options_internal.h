#pragma once
// Private to src/exec (options.cc, option_values.cc, option_scenarios.cc): the
// pieces of option resolution shared between its files. Every function throws
// OptionsError naming `path` (e.g. "options.scenarios.a.vus", "K6_VUS") on bad input.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "exec/options.h"
#include "util/duration.h"

namespace herd::exec::optparse {

using json = nlohmann::json;
using util::format_duration;

inline constexpr const char* kSystemTags[] = {
    "proto", "subproto", "status",     "method",      "url",      "name",    "group",
    "check", "error",    "error_code", "tls_version", "scenario", "service", "expected_response",
    "vu",    "iter",     "ip",         "ocsp_status",
};

// k6's default system tags (all but vu, iter, ip, ocsp_status).
inline constexpr const char* kDefaultSystemTags[] = {
    "proto", "subproto", "status",     "method",      "url",      "name",    "group",
    "check", "error",    "error_code", "tls_version", "scenario", "service", "expected_response",
};

// ---- option_values.cc -----------------------------------------------------------

/// Throws OptionsError("path: msg").
[[noreturn]] void fail(const std::string& path, const std::string& msg);
/// `s` in double quotes, for messages.
std::string quote(std::string_view s);

// JSON readers (script options, --config files).
std::int64_t json_int(const json& v, const std::string& path);
bool json_bool(const json& v, const std::string& path);
std::string json_string(const json& v, const std::string& path);
microseconds json_duration(const json& v, const std::string& path);
std::map<std::string, std::string> json_string_map(const json& v, const std::string& path);
std::vector<std::string> json_string_array(const json& v, const std::string& path);
std::vector<Stage> json_stages(const json& v, const std::string& path);
void validate_stages(const std::vector<Stage>& stages, const std::string& path);

// String parsers (environment variables, flags).
std::int64_t parse_int_text(const std::string& text, const std::string& path);
/// Go's strconv.ParseBool.
bool parse_bool_text(const std::string& text, const std::string& path);
microseconds parse_duration_text(const std::string& text, const std::string& path);
std::vector<std::string> split_commas(const std::string& text);

// Validators for plain options.
void validate_trend_stats(const std::vector<std::string>& stats, const std::string& path);
void validate_time_unit(const std::string& unit, const std::string& path);
void validate_summary_mode(const std::string& mode, const std::string& path);
void validate_system_tags(const std::vector<std::string>& tags, const std::string& path);
/// k6: "full" logs bodies too, "headers" (the flag's value without "=") only the heads; "" is off.
void validate_http_debug(const std::string& mode, const std::string& path);
void check_non_negative(std::int64_t v, const std::string& path);
void check_non_negative(microseconds v, const std::string& path);

/// Exact fractions for execution segments.
struct Frac {
  __int128 num = 0;
  __int128 den = 1;
};

bool operator<(const Frac& a, const Frac& b);
bool operator==(const Frac& a, const Frac& b);
/// "1/4", "0.25", "25%", "0", "1".
bool parse_frac(const std::string& s, Frac& out);
bool in_unit(const Frac& f);
/// "FROM:TO" (or "TO"), with 0 <= FROM < TO <= 1.
std::pair<Frac, Frac> parse_segment(const std::string& text, const std::string& path);
std::vector<Frac> parse_segment_sequence(const std::string& text, const std::string& path);

// ---- option_scenarios.cc --------------------------------------------------------

ScenarioConfig parse_scenario(const std::string& name, const json& v, const std::string& path);

/// The execution shortcuts (vus, duration, iterations, stages, scenarios) one tier sets.
struct Shortcuts {
  std::optional<std::int64_t> vus;
  std::string vus_src;
  std::optional<microseconds> duration;
  std::string duration_src;
  std::optional<std::int64_t> iterations;
  std::string iterations_src;
  std::optional<std::vector<Stage>> stages;
  std::string stages_src;
  const json* scenarios = nullptr;  // script tier only

  bool sets_execution() const { return duration || iterations || stages || scenarios; }
};

// k6's Options.Apply: a higher tier that sets any of duration/iterations/stages/
// scenarios discards all of them from the lower tiers; vus is independent.
void apply_tier(Shortcuts& base, const Shortcuts& higher);
/// The scenarios the merged shortcuts describe (options.scenarios, or one derived from vus/duration/...).
std::vector<ScenarioConfig> derive_scenarios(const Shortcuts& sc, std::vector<std::string>& warnings);

json stages_json(const std::vector<Stage>& stages);
json scenario_json(const ScenarioConfig& s);

}  // namespace herd::exec::optparse
