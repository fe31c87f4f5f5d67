#include "exec/options_internal.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

namespace herd::exec::optparse {

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

}  // namespace herd::exec::optparse
