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
#include "util/duration.h"

namespace herd::exec {
namespace {

using json = nlohmann::json;
using util::format_duration;

constexpr microseconds kMinDuration{1'000'000};  // k6's minimum executor duration (1s)

const char* const kExecutors[] = {
    "shared-iterations",     "per-vu-iterations",    "constant-vus",          "ramping-vus",
    "constant-arrival-rate", "ramping-arrival-rate", "externally-controlled",
};

const char* const kSystemTags[] = {
    "proto", "subproto", "status",     "method",      "url",      "name",    "group",
    "check", "error",    "error_code", "tls_version", "scenario", "service", "expected_response",
    "vu",    "iter",     "ip",         "ocsp_status",
};

// k6's default system tags (all but vu, iter, ip, ocsp_status).
const char* const kDefaultSystemTags[] = {
    "proto", "subproto", "status",     "method",      "url",      "name",    "group",
    "check", "error",    "error_code", "tls_version", "scenario", "service", "expected_response",
};

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw OptionsError(path + ": " + msg);
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

// ---- JSON readers ---------------------------------------------------------

std::int64_t json_int(const json& v, const std::string& path) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(path, "integer out of range");
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) fail(path, "must be an integer");
    if (d < -9.2e18 || d > 9.2e18) fail(path, "integer out of range");
    return static_cast<std::int64_t>(d);
  }
  fail(path, "must be an integer");
}

bool json_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "must be a boolean");
  return v.get<bool>();
}

std::string json_string(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, "must be a string");
  return v.get<std::string>();
}

microseconds json_duration(const json& v, const std::string& path) {
  if (v.is_string()) {
    try {
      return util::parse_duration(v.get<std::string>());
    } catch (const util::DurationError& e) {
      fail(path, e.what());
    }
  }
  if (v.is_number()) {  // k6: numbers are milliseconds
    double ms = v.get<double>();
    if (!std::isfinite(ms)) fail(path, "invalid duration");
    double us = ms * 1000.0;
    if (us < -9.2e18 || us > 9.2e18) fail(path, "duration out of range");
    return microseconds(static_cast<std::int64_t>(us));
  }
  fail(path, "must be a duration string (e.g. \"30s\") or a number of milliseconds");
}

std::map<std::string, std::string> json_string_map(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    out[it.key()] = json_string(it.value(), path + "." + it.key());
  }
  return out;
}

std::vector<std::string> json_string_array(const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, "must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(json_string(v[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<Stage> json_stages(const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, "must be an array of {duration, target} objects");
  std::vector<Stage> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    const json& st = v[i];
    if (!st.is_object()) fail(p, "must be an object with duration and target");
    for (auto it = st.begin(); it != st.end(); ++it) {
      if (it.key() != "duration" && it.key() != "target") fail(p + "." + it.key(), "unknown field");
    }
    Stage s;
    if (!st.contains("duration") || st["duration"].is_null()) fail(p + ".duration", "is required");
    if (!st.contains("target") || st["target"].is_null()) fail(p + ".target", "is required");
    s.duration = json_duration(st["duration"], p + ".duration");
    s.target = json_int(st["target"], p + ".target");
    out.push_back(s);
  }
  return out;
}

void validate_stages(const std::vector<Stage>& stages, const std::string& path) {
  for (std::size_t i = 0; i < stages.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    if (stages[i].duration.count() < 0) {
      fail(p + ".duration", "must not be negative (got " + format_duration(stages[i].duration) + ")");
    }
    if (stages[i].target < 0) {
      fail(p + ".target", "must not be negative (got " + std::to_string(stages[i].target) + ")");
    }
  }
}

// ---- string parsers (environment) ----------------------------------------

std::int64_t parse_int_text(const std::string& text, const std::string& path) {
  if (text.empty()) fail(path, "invalid integer \"\"");
  std::size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (i == text.size()) fail(path, "invalid integer " + quote(text));
  for (std::size_t j = i; j < text.size(); ++j) {
    if (text[j] < '0' || text[j] > '9') fail(path, "invalid integer " + quote(text));
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE) fail(path, "integer out of range " + quote(text));
  return v;
}

// Go's strconv.ParseBool.
bool parse_bool_text(const std::string& text, const std::string& path) {
  static const std::set<std::string> t = {"1", "t", "T", "true", "TRUE", "True"};
  static const std::set<std::string> f = {"0", "f", "F", "false", "FALSE", "False"};
  if (t.count(text)) return true;
  if (f.count(text)) return false;
  fail(path, "invalid boolean " + quote(text));
}

microseconds parse_duration_text(const std::string& text, const std::string& path) {
  try {
    return util::parse_duration(text);
  } catch (const util::DurationError& e) {
    fail(path, e.what());
  }
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// ---- validators for plain options -----------------------------------------

void validate_trend_stats(const std::vector<std::string>& stats, const std::string& path) {
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const std::string& s = stats[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (s == "avg" || s == "min" || s == "med" || s == "max" || s == "count") continue;
    if (s.size() > 3 && s.compare(0, 2, "p(") == 0 && s.back() == ')') {
      std::string num = s.substr(2, s.size() - 3);
      bool ok = !num.empty() && num.front() != '.' && num.back() != '.';
      int dots = 0;
      for (char c : num) {
        if (c == '.') {
          ++dots;
        } else if (c < '0' || c > '9') {
          ok = false;
        }
      }
      if (ok && dots <= 1 && num.size() <= 20) {
        double v = std::strtod(num.c_str(), nullptr);
        if (v >= 0 && v <= 100) continue;
      }
    }
    fail(p, "invalid trend stat " + quote(s) + " (expected avg, min, med, max, count or p(N) with 0 <= N <= 100)");
  }
}

void validate_time_unit(const std::string& unit, const std::string& path) {
  if (unit.empty() || unit == "s" || unit == "ms" || unit == "us") return;
  fail(path, "must be one of s, ms, us (got " + quote(unit) + ")");
}

void validate_summary_mode(const std::string& mode, const std::string& path) {
  if (mode == "compact" || mode == "full" || mode == "legacy" || mode == "disabled") return;
  fail(path, "must be one of compact, full, legacy, disabled (got " + quote(mode) + ")");
}

void validate_system_tags(const std::vector<std::string>& tags, const std::string& path) {
  for (std::size_t i = 0; i < tags.size(); ++i) {
    bool known =
        std::any_of(std::begin(kSystemTags), std::end(kSystemTags), [&](const char* t) { return tags[i] == t; });
    if (!known) fail(path + "[" + std::to_string(i) + "]", "unknown system tag " + quote(tags[i]));
    if (tags[i] == "vu" || tags[i] == "iter" || tags[i] == "ip" || tags[i] == "ocsp_status") {
      fail(path + "[" + std::to_string(i) + "]",
           "the system tag " + quote(tags[i]) + " is not supported by herd (it never adds it to samples)");
    }
  }
}

// k6: "full" logs bodies too, "headers" (the flag's value without "=") only the heads; "" is off.
void validate_http_debug(const std::string& mode, const std::string& path) {
  if (mode.empty() || mode == "headers" || mode == "full") return;
  fail(path, "must be \"full\" or \"headers\" (got " + quote(mode) + ")");
}

void check_non_negative(std::int64_t v, const std::string& path) {
  if (v < 0) fail(path, "must not be negative (got " + std::to_string(v) + ")");
}

void check_non_negative(microseconds v, const std::string& path) {
  if (v.count() < 0) fail(path, "must not be negative (got " + format_duration(v) + ")");
}

// Exact fractions for execution segments.
struct Frac {
  __int128 num = 0;
  __int128 den = 1;
};

bool operator<(const Frac& a, const Frac& b) {
  return a.num * b.den < b.num * a.den;
}
bool operator==(const Frac& a, const Frac& b) {
  return a.num * b.den == b.num * a.den;
}

// "1/4", "0.25", "25%", "0", "1".
bool parse_frac(const std::string& s, Frac& out) {
  auto digits = [](std::string_view d) {
    return !d.empty() && d.size() <= 12 && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  auto to_i = [](std::string_view d) {
    __int128 v = 0;
    for (char c : d) v = v * 10 + (c - '0');
    return v;
  };
  std::string_view v(s);
  if (auto slash = v.find('/'); slash != std::string_view::npos) {
    if (!digits(v.substr(0, slash)) || !digits(v.substr(slash + 1))) return false;
    out.num = to_i(v.substr(0, slash));
    out.den = to_i(v.substr(slash + 1));
    return out.den != 0;
  }
  __int128 scale = 1;
  if (!v.empty() && v.back() == '%') {
    v.remove_suffix(1);
    scale = 100;
  }
  std::string_view whole = v, frac;
  if (auto dot = v.find('.'); dot != std::string_view::npos) {
    whole = v.substr(0, dot);
    frac = v.substr(dot + 1);
    if (!digits(frac)) return false;
    if (whole.empty()) whole = "0";
  }
  if (!digits(whole)) return false;
  __int128 den = 1;
  for (std::size_t i = 0; i < frac.size(); ++i) den *= 10;
  out.num = to_i(whole) * den + (frac.empty() ? 0 : to_i(frac));
  out.den = den * scale;
  return true;
}

bool in_unit(const Frac& f) {
  return !(f < Frac{0, 1}) && !(Frac{1, 1} < f);
}

std::pair<Frac, Frac> parse_segment(const std::string& text, const std::string& path) {
  Frac from{0, 1}, to{1, 1};
  auto colon = text.find(':');
  bool ok;
  if (colon == std::string::npos) {
    ok = parse_frac(text, to);
  } else {
    ok = parse_frac(text.substr(0, colon), from) && parse_frac(text.substr(colon + 1), to);
  }
  if (!ok) fail(path, "invalid execution segment " + quote(text) + " (expected e.g. \"1/4:1/2\")");
  if (!in_unit(from) || !in_unit(to) || !(from < to)) {
    fail(path, "invalid execution segment " + quote(text) + ": need 0 <= from < to <= 1");
  }
  return {from, to};
}

std::vector<Frac> parse_segment_sequence(const std::string& text, const std::string& path) {
  std::vector<Frac> out;
  for (const std::string& part : split_commas(text)) {
    Frac f;
    if (!parse_frac(part, f) || !in_unit(f)) {
      fail(path, "invalid execution segment sequence " + quote(text) + " (bad value " + quote(part) + ")");
    }
    if (!out.empty() && !(out.back() < f)) {
      fail(path, "invalid execution segment sequence " + quote(text) + ": values must increase");
    }
    out.push_back(f);
  }
  if (out.size() < 2) {
    fail(path, "invalid execution segment sequence " + quote(text) + ": needs at least two values");
  }
  return out;
}

// ---- scenarios ---------------------------------------------------------------

bool valid_scenario_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
  });
}

struct Presence {
  bool iterations = false;
  bool duration = false;
  bool stages = false;
  bool rate = false;
  bool pre_allocated_vus = false;
  bool max_vus = false;
};

std::vector<std::string> allowed_fields(const std::string& executor) {
  std::vector<std::string> f = {"executor", "startTime", "gracefulStop", "exec", "env", "tags", "options"};
  auto add = [&](std::initializer_list<const char*> more) { f.insert(f.end(), more.begin(), more.end()); };
  if (executor == "shared-iterations" || executor == "per-vu-iterations") {
    add({"vus", "iterations", "maxDuration"});
  } else if (executor == "constant-vus") {
    add({"vus", "duration"});
  } else if (executor == "ramping-vus") {
    add({"startVUs", "stages", "gracefulRampDown"});
  } else if (executor == "constant-arrival-rate") {
    add({"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"});
  } else if (executor == "ramping-arrival-rate") {
    add({"startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"});
  } else if (executor == "externally-controlled") {
    add({"vus", "maxVUs", "duration"});
  }
  return f;
}

void validate_scenario(ScenarioConfig& s, const Presence& has, const std::string& path) {
  const std::string& ex = s.executor;
  auto field = [&](const char* f) { return path + "." + f; };
  if (!valid_scenario_name(s.name)) {
    fail(path,
         "invalid scenario name " + quote(s.name) + " (only letters, digits, underscores and dashes are allowed)");
  }
  if (s.exec.empty()) fail(field("exec"), "must not be empty");
  check_non_negative(s.start_time, field("startTime"));
  check_non_negative(s.graceful_stop, field("gracefulStop"));

  auto positive = [&](std::int64_t v, const char* f) {
    if (v <= 0) fail(field(f), "must be greater than 0 (got " + std::to_string(v) + ")");
  };
  auto min_duration = [&](microseconds d, const char* f) {
    if (d < kMinDuration) {
      fail(field(f), "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(d) + ")");
    }
  };
  auto stages_required = [&]() {
    if (!has.stages) fail(field("stages"), "is required for executor " + quote(ex));
    if (s.stages.empty()) fail(field("stages"), "must contain at least one stage");
    validate_stages(s.stages, field("stages"));
  };
  auto max_vus_check = [&]() {
    if (!has.pre_allocated_vus) fail(field("preAllocatedVUs"), "is required for executor " + quote(ex));
    check_non_negative(s.pre_allocated_vus, field("preAllocatedVUs"));
    if (!has.max_vus) {
      s.max_vus = s.pre_allocated_vus;
    } else if (s.max_vus < s.pre_allocated_vus) {
      fail(field("maxVUs"), "must be >= preAllocatedVUs (" + std::to_string(s.pre_allocated_vus) + "), got " +
                                std::to_string(s.max_vus));
    }
    if (s.max_vus <= 0) fail(field("maxVUs"), "must be greater than 0 (got " + std::to_string(s.max_vus) + ")");
    if (s.time_unit.count() <= 0) {
      fail(field("timeUnit"), "must be greater than 0 (got " + format_duration(s.time_unit) + ")");
    }
  };

  if (ex == "shared-iterations" || ex == "per-vu-iterations") {
    positive(s.vus, "vus");
    positive(s.iterations, "iterations");
    if (ex == "shared-iterations" && s.iterations < s.vus) {
      fail(field("iterations"), "must be >= vus (" + std::to_string(s.vus) + "), got " + std::to_string(s.iterations));
    }
    min_duration(s.max_duration, "maxDuration");
  } else if (ex == "constant-vus") {
    positive(s.vus, "vus");
    if (!has.duration) fail(field("duration"), "is required for executor " + quote(ex));
    min_duration(s.duration, "duration");
  } else if (ex == "ramping-vus") {
    check_non_negative(s.start_vus, field("startVUs"));
    stages_required();
    check_non_negative(s.graceful_ramp_down, field("gracefulRampDown"));
    bool any =
        s.start_vus > 0 || std::any_of(s.stages.begin(), s.stages.end(), [](const Stage& st) { return st.target > 0; });
    if (!any) fail(field("stages"), "either startVUs or one of the stage targets must be greater than 0");
  } else if (ex == "constant-arrival-rate") {
    if (!has.rate) fail(field("rate"), "is required for executor " + quote(ex));
    positive(s.rate, "rate");
    if (!has.duration) fail(field("duration"), "is required for executor " + quote(ex));
    min_duration(s.duration, "duration");
    max_vus_check();
  } else if (ex == "ramping-arrival-rate") {
    check_non_negative(s.start_rate, field("startRate"));
    stages_required();
    max_vus_check();
  } else if (ex == "externally-controlled") {
    check_non_negative(s.vus, field("vus"));
    if (!has.max_vus) {
      s.max_vus = s.vus;
    } else if (s.max_vus < s.vus) {
      fail(field("maxVUs"), "must be >= vus (" + std::to_string(s.vus) + "), got " + std::to_string(s.max_vus));
    }
    if (s.max_vus <= 0) fail(field("maxVUs"), "must be greater than 0 (got " + std::to_string(s.max_vus) + ")");
    check_non_negative(s.duration, field("duration"));
  }
}

ScenarioConfig parse_scenario(const std::string& name, const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "must be an object");
  ScenarioConfig s;
  s.name = name;
  auto exit = v.find("executor");
  if (exit == v.end() || exit->is_null()) fail(path + ".executor", "is required");
  s.executor = json_string(*exit, path + ".executor");
  bool known =
      std::any_of(std::begin(kExecutors), std::end(kExecutors), [&](const char* e) { return s.executor == e; });
  if (!known) {
    fail(path + ".executor", "unknown executor " + quote(s.executor) +
                                 " (expected shared-iterations, per-vu-iterations, constant-vus, ramping-vus, "
                                 "constant-arrival-rate, ramping-arrival-rate or externally-controlled)");
  }
  if (s.executor == "externally-controlled") s.duration = microseconds(0);
  const auto allowed = allowed_fields(s.executor);
  Presence has;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    const json& val = it.value();
    const std::string p = path + "." + k;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      fail(p, "unknown field for executor " + quote(s.executor));
    }
    if (val.is_null() || k == "executor" || k == "options") continue;
    if (k == "startTime") {
      s.start_time = json_duration(val, p);
    } else if (k == "gracefulStop") {
      s.graceful_stop = json_duration(val, p);
    } else if (k == "exec") {
      s.exec = json_string(val, p);
    } else if (k == "env") {
      s.env = json_string_map(val, p);
    } else if (k == "tags") {
      s.tags = json_string_map(val, p);
    } else if (k == "vus") {
      s.vus = json_int(val, p);
    } else if (k == "iterations") {
      s.iterations = json_int(val, p);
      has.iterations = true;
    } else if (k == "maxDuration") {
      s.max_duration = json_duration(val, p);
    } else if (k == "duration") {
      s.duration = json_duration(val, p);
      has.duration = true;
    } else if (k == "startVUs") {
      s.start_vus = json_int(val, p);
    } else if (k == "stages") {
      s.stages = json_stages(val, p);
      has.stages = true;
    } else if (k == "gracefulRampDown") {
      s.graceful_ramp_down = json_duration(val, p);
    } else if (k == "rate") {
      s.rate = json_int(val, p);
      has.rate = true;
    } else if (k == "timeUnit") {
      s.time_unit = json_duration(val, p);
    } else if (k == "preAllocatedVUs") {
      s.pre_allocated_vus = json_int(val, p);
      has.pre_allocated_vus = true;
    } else if (k == "maxVUs") {
      s.max_vus = json_int(val, p);
      has.max_vus = true;
    } else if (k == "startRate") {
      s.start_rate = json_int(val, p);
    }
  }
  validate_scenario(s, has, path);
  return s;
}

// ---- execution shortcuts, per tier ---------------------------------------------

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
void apply_tier(Shortcuts& base, const Shortcuts& higher) {
  if (higher.sets_execution()) {
    base.duration.reset();
    base.iterations.reset();
    base.stages.reset();
    base.scenarios = nullptr;
  }
  if (higher.duration) {
    base.duration = higher.duration;
    base.duration_src = higher.duration_src;
  }
  if (higher.iterations) {
    base.iterations = higher.iterations;
    base.iterations_src = higher.iterations_src;
  }
  if (higher.stages) {
    base.stages = higher.stages;
    base.stages_src = higher.stages_src;
  }
  if (higher.scenarios) base.scenarios = higher.scenarios;
  if (higher.vus) {
    base.vus = higher.vus;
    base.vus_src = higher.vus_src;
  }
}

void conflict(const std::string& a, const std::string& b) {
  fail(a, "cannot be combined with " + b +
              " (using several execution shortcuts, or a shortcut together with scenarios, is not allowed)");
}

std::vector<ScenarioConfig> derive_scenarios(const Shortcuts& sc, std::vector<std::string>& warnings) {
  const std::string kScenariosPath = "options.scenarios";
  bool has_stages = sc.stages && !sc.stages->empty();
  if (sc.vus) check_non_negative(*sc.vus, sc.vus_src);
  auto need_positive_vus = [&]() {
    if (sc.vus && *sc.vus <= 0) fail(sc.vus_src, "must be greater than 0 (got " + std::to_string(*sc.vus) + ")");
  };
  ScenarioConfig d;
  d.name = "default";
  if (sc.iterations) {
    if (has_stages) conflict(sc.iterations_src, sc.stages_src);
    if (sc.scenarios) conflict(sc.iterations_src, kScenariosPath);
    need_positive_vus();
    d.executor = "shared-iterations";
    d.vus = sc.vus.value_or(1);
    d.iterations = *sc.iterations;
    if (d.iterations <= 0) {
      fail(sc.iterations_src, "must be greater than 0 (got " + std::to_string(d.iterations) + ")");
    }
    if (d.iterations < d.vus) {
      fail(sc.iterations_src, "must be >= vus (" + std::to_string(d.vus) + "), got " + std::to_string(d.iterations));
    }
    if (sc.duration) {
      d.max_duration = *sc.duration;
      if (d.max_duration < kMinDuration) {
        fail(sc.duration_src,
             "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(d.max_duration) + ")");
      }
    }
    return {d};
  }
  if (sc.duration) {
    if (has_stages) conflict(sc.duration_src, sc.stages_src);
    if (sc.scenarios) conflict(sc.duration_src, kScenariosPath);
    if (sc.duration->count() <= 0) {
      fail(sc.duration_src, "must be greater than 0 (got " + format_duration(*sc.duration) +
                                "); for an unbounded run use the externally-controlled executor");
    }
    if (*sc.duration < kMinDuration) {
      fail(sc.duration_src,
           "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(*sc.duration) + ")");
    }
    need_positive_vus();
    d.executor = "constant-vus";
    d.vus = sc.vus.value_or(1);
    d.duration = *sc.duration;
    return {d};
  }
  if (has_stages) {
    if (sc.scenarios) conflict(sc.stages_src, kScenariosPath);
    validate_stages(*sc.stages, sc.stages_src);
    d.executor = "ramping-vus";
    d.start_vus = sc.vus.value_or(1);
    d.stages = *sc.stages;
    bool any =
        d.start_vus > 0 || std::any_of(d.stages.begin(), d.stages.end(), [](const Stage& st) { return st.target > 0; });
    if (!any) fail(sc.stages_src, "either vus or one of the stage targets must be greater than 0");
    return {d};
  }
  if (sc.scenarios && !(sc.scenarios->is_object() && sc.scenarios->empty())) {
    const json& all = *sc.scenarios;
    if (!all.is_object()) fail(kScenariosPath, "must be an object of scenarios");
    std::vector<ScenarioConfig> out;
    for (auto it = all.begin(); it != all.end(); ++it) {
      out.push_back(parse_scenario(it.key(), it.value(), kScenariosPath + "." + it.key()));
    }
    // k6 orders scenarios by startTime, then name.
    std::stable_sort(out.begin(), out.end(), [](const ScenarioConfig& a, const ScenarioConfig& b) {
      if (a.start_time != b.start_time) return a.start_time < b.start_time;
      return a.name < b.name;
    });
    return out;
  }
  // Nothing execution-related: k6 runs one iteration on one VU (a lone `vus` is ignored).
  if (sc.vus && *sc.vus != 1) {
    warnings.push_back(sc.vus_src + "=" + std::to_string(*sc.vus) +
                       " is ignored: it only works together with iterations, duration or stages");
  }
  if (sc.stages) warnings.push_back(sc.stages_src + " is empty: running 1 iteration on 1 VU");
  if (sc.scenarios) warnings.push_back("options.scenarios is empty: running 1 iteration on 1 VU");
  d.executor = "per-vu-iterations";
  d.vus = 1;
  d.iterations = 1;
  return {d};
}

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

json stages_json(const std::vector<Stage>& stages) {
  json arr = json::array();
  for (const Stage& s : stages) arr.push_back({{"duration", format_duration(s.duration)}, {"target", s.target}});
  return arr;
}

json scenario_json(const ScenarioConfig& s) {
  json j = json::object();
  j["executor"] = s.executor;
  j["startTime"] = format_duration(s.start_time);
  j["exec"] = s.exec;
  if (!s.env.empty()) j["env"] = s.env;
  if (!s.tags.empty()) j["tags"] = s.tags;
  const std::string& ex = s.executor;
  if (ex != "externally-controlled") j["gracefulStop"] = format_duration(s.graceful_stop);
  if (ex == "shared-iterations" || ex == "per-vu-iterations") {
    j["vus"] = s.vus;
    j["iterations"] = s.iterations;
    j["maxDuration"] = format_duration(s.max_duration);
  } else if (ex == "constant-vus") {
    j["vus"] = s.vus;
    j["duration"] = format_duration(s.duration);
  } else if (ex == "ramping-vus") {
    j["startVUs"] = s.start_vus;
    j["stages"] = stages_json(s.stages);
    j["gracefulRampDown"] = format_duration(s.graceful_ramp_down);
  } else if (ex == "constant-arrival-rate") {
    j["rate"] = s.rate;
    j["timeUnit"] = format_duration(s.time_unit);
    j["duration"] = format_duration(s.duration);
    j["preAllocatedVUs"] = s.pre_allocated_vus;
    j["maxVUs"] = s.max_vus;
  } else if (ex == "ramping-arrival-rate") {
    j["startRate"] = s.start_rate;
    j["timeUnit"] = format_duration(s.time_unit);
    j["stages"] = stages_json(s.stages);
    j["preAllocatedVUs"] = s.pre_allocated_vus;
    j["maxVUs"] = s.max_vus;
  } else if (ex == "externally-controlled") {
    j["vus"] = s.vus;
    j["maxVUs"] = s.max_vus;
    j["duration"] = format_duration(s.duration);
  }
  return j;
}

}  // namespace

std::vector<std::string> all_system_tags() {
  return {std::begin(kSystemTags), std::end(kSystemTags)};
}

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
