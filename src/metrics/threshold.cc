#include "metrics/threshold.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/duration.h"

namespace herd::metrics {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Strict decimal number: [+-]digits[.digits][e[+-]digits]; no inf/nan/hex.
std::optional<double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t ed = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++ed;
    if (ed == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::string tmp(s[0] == '+' ? s.substr(1) : s);
  double v = 0;
  auto [p, ec] = std::from_chars(tmp.data(), tmp.data() + tmp.size(), v);
  if (ec != std::errc() || p != tmp.data() + tmp.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

// Returns the reason for a bad expression, or "" on success.
std::string parse_expr_impl(const std::string& text, ThresholdExpr& out) {
  std::string_view s = trim(text);
  if (s.empty()) return "empty expression";
  // Find the operator: the first of < > = !.
  std::size_t op_pos = s.find_first_of("<>=!");
  if (op_pos == std::string_view::npos) return "no comparison operator (expected one of <, <=, >, >=, ==, ===, !=)";
  std::string_view lhs = trim(s.substr(0, op_pos));
  std::string_view rest = s.substr(op_pos);
  static constexpr std::pair<std::string_view, ThresholdExpr::Op> kOps[] = {
      {"===", ThresholdExpr::Op::kEq}, {"!==", ThresholdExpr::Op::kNe}, {"<=", ThresholdExpr::Op::kLe},
      {">=", ThresholdExpr::Op::kGe},  {"==", ThresholdExpr::Op::kEq},  {"!=", ThresholdExpr::Op::kNe},
      {"<", ThresholdExpr::Op::kLt},   {">", ThresholdExpr::Op::kGt},
  };
  bool found = false;
  std::string_view rhs;
  for (const auto& [tok, op] : kOps) {
    if (rest.substr(0, tok.size()) == tok) {
      out.op = op;
      rhs = trim(rest.substr(tok.size()));
      found = true;
      break;
    }
  }
  if (!found) return "unknown operator " + quote(rest.substr(0, std::min<std::size_t>(rest.size(), 3)));
  if (rhs.empty()) return "missing threshold value after the operator";
  if (rhs.find_first_of("<>=!") != std::string_view::npos) return "malformed operator";
  auto val = parse_number(rhs);
  if (!val) return "threshold value " + quote(rhs) + " is not a number";
  out.value = *val;

  if (lhs.empty()) return "missing aggregation method (e.g. avg, p(95), rate, count)";
  out.percentile = 0;
  if (lhs == "count")
    out.agg = ThresholdExpr::Agg::kCount;
  else if (lhs == "rate")
    out.agg = ThresholdExpr::Agg::kRate;
  else if (lhs == "value")
    out.agg = ThresholdExpr::Agg::kValue;
  else if (lhs == "avg")
    out.agg = ThresholdExpr::Agg::kAvg;
  else if (lhs == "min")
    out.agg = ThresholdExpr::Agg::kMin;
  else if (lhs == "max")
    out.agg = ThresholdExpr::Agg::kMax;
  else if (lhs == "med")
    out.agg = ThresholdExpr::Agg::kMed;
  else if (lhs.size() >= 2 && lhs[0] == 'p' && trim(lhs.substr(1)).substr(0, 1) == "(") {
    std::string_view inner = trim(lhs.substr(1));
    if (inner.back() != ')') return "malformed percentile " + quote(lhs) + " (expected p(N))";
    inner = trim(inner.substr(1, inner.size() - 2));
    auto p = parse_number(inner);
    if (!p) return "percentile " + quote(inner) + " is not a number";
    if (*p < 0 || *p > 100) return "percentile " + quote(inner) + " must be between 0 and 100";
    out.agg = ThresholdExpr::Agg::kPercentile;
    out.percentile = *p;
  } else {
    return "unknown aggregation method " + quote(lhs) + " (expected count, rate, value, avg, min, max, med or p(N))";
  }
  return "";
}

// delayAbortEval as k6 reads it (ParseExtendedDuration): a plain number
// (exponent included) is milliseconds, anything else a duration of
// util::parse_duration ("1h2m3.5s", "500ms", "1d"). Negative: rejected.
std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view s) {
  if (auto n = parse_number(s)) {
    if (*n < 0 || *n > 1e15) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(*n));
  }
  std::chrono::microseconds us;
  try {
    us = util::parse_duration(s);
  } catch (const util::DurationError&) {
    return std::nullopt;
  }
  if (us.count() < 0) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(us);
}

std::string agg_name(const ThresholdExpr& e) {
  switch (e.agg) {
    case ThresholdExpr::Agg::kCount:
      return "count";
    case ThresholdExpr::Agg::kRate:
      return "rate";
    case ThresholdExpr::Agg::kValue:
      return "value";
    case ThresholdExpr::Agg::kAvg:
      return "avg";
    case ThresholdExpr::Agg::kMin:
      return "min";
    case ThresholdExpr::Agg::kMax:
      return "max";
    case ThresholdExpr::Agg::kMed:
      return "med";
    case ThresholdExpr::Agg::kPercentile: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6f", e.percentile);
      std::string n = buf;
      while (!n.empty() && n.back() == '0') n.pop_back();
      if (!n.empty() && n.back() == '.') n.pop_back();
      return "p(" + n + ")";
    }
  }
  return "?";
}

bool agg_applies(MetricType t, ThresholdExpr::Agg a) {
  using A = ThresholdExpr::Agg;
  switch (t) {
    case MetricType::kCounter:
      return a == A::kCount || a == A::kRate;
    case MetricType::kGauge:
      return a == A::kValue;
    case MetricType::kRate:
      return a == A::kRate;
    case MetricType::kTrend:
      return a == A::kAvg || a == A::kMin || a == A::kMax || a == A::kMed || a == A::kPercentile;
  }
  return false;
}

const char* supported_aggs(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "count, rate";
    case MetricType::kGauge:
      return "value";
    case MetricType::kRate:
      return "rate";
    case MetricType::kTrend:
      return "avg, min, max, med, p(N)";
  }
  return "";
}

bool compare(double a, ThresholdExpr::Op op, double b) {
  switch (op) {
    case ThresholdExpr::Op::kLt:
      return a < b;
    case ThresholdExpr::Op::kLe:
      return a <= b;
    case ThresholdExpr::Op::kGt:
      return a > b;
    case ThresholdExpr::Op::kGe:
      return a >= b;
    case ThresholdExpr::Op::kEq:
      return a == b;
    case ThresholdExpr::Op::kNe:
      return a != b;
  }
  return false;
}

}  // namespace

std::string threshold_agg_key(const ThresholdExpr& e) {
  return agg_name(e);
}

std::optional<std::chrono::milliseconds> parse_threshold_duration(std::string_view text) {
  return parse_duration_ms(text);
}

ThresholdExpr parse_threshold_expr(const std::string& text) {
  ThresholdExpr e{};
  std::string why = parse_expr_impl(text, e);
  if (!why.empty()) throw ThresholdError("invalid threshold expression " + quote(text) + ": " + why);
  e.source = text;
  return e;
}

MetricSelector parse_metric_selector(const std::string& text) {
  std::string_view s = trim(text);
  MetricSelector sel;
  sel.source = std::string(s);
  auto fail = [&](const std::string& why) -> ThresholdError {
    return ThresholdError("invalid metric selector " + quote(text) + ": " + why);
  };
  std::size_t brace = s.find('{');
  std::string_view name = trim(s.substr(0, brace));
  if (!valid_metric_name(name))
    throw fail("invalid metric name " + quote(name) +
               " (1 to 128 letters, digits or underscores, starting with a letter or an underscore)");
  sel.metric = std::string(name);
  if (brace == std::string_view::npos) {
    if (s.find('}') != std::string_view::npos) throw fail("unexpected '}'");
    return sel;
  }
  if (s.back() != '}') throw fail("missing closing '}'");
  std::string_view body = s.substr(brace + 1, s.size() - brace - 2);
  if (body.find_first_of("{}") != std::string_view::npos) throw fail("nested or unbalanced braces");
  if (trim(body).empty()) throw fail("empty tag filter '{}'");
  std::vector<std::pair<std::string, std::string>> tags;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t comma = body.find(',', start);
    std::string_view part =
        body.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::size_t colon = part.find(':');
    if (colon == std::string_view::npos)
      throw fail("tag filter " + quote(trim(part)) + " is not of the form key:value");
    std::string_view k = trim(part.substr(0, colon));
    std::string_view v = trim(part.substr(colon + 1));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    if (k.empty()) throw fail("empty tag name in " + quote(trim(part)));
    for (const auto& [ek, ev] : tags)
      if (ek == k && ev != v) throw fail("tag " + quote(k) + " given twice with different values");
    tags.emplace_back(std::string(k), std::string(v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  sel.filter = TagSet(std::move(tags));
  return sel;
}

std::vector<MetricThresholds> parse_thresholds(const nlohmann::json& thresholds) {
  std::vector<MetricThresholds> out;
  if (thresholds.is_null()) return out;
  if (!thresholds.is_object())
    throw ThresholdError("invalid thresholds: expected an object of metric name -> [thresholds]");
  for (auto it = thresholds.begin(); it != thresholds.end(); ++it) {
    const std::string& key = it.key();
    MetricThresholds mt;
    mt.selector = parse_metric_selector(key);
    const auto& list = it.value();
    if (!list.is_array() && !list.is_string() && !list.is_object())
      throw ThresholdError("invalid thresholds on metric " + quote(key) + ": expected an array of thresholds");
    auto one = [&](const nlohmann::json& item) {
      Threshold th;
      std::string src;
      if (item.is_string()) {
        src = item.get<std::string>();
      } else if (item.is_object()) {
        auto t = item.find("threshold");
        if (t == item.end() || !t->is_string())
          throw ThresholdError("invalid threshold on metric " + quote(key) + ": object needs a string \"threshold\"");
        src = t->get<std::string>();
        if (auto a = item.find("abortOnFail"); a != item.end() && !a->is_null()) {
          if (!a->is_boolean())
            throw ThresholdError("invalid threshold " + quote(src) + " on metric " + quote(key) +
                                 ": abortOnFail must be a boolean");
          th.abort_on_fail = a->get<bool>();
        }
        if (auto d = item.find("delayAbortEval"); d != item.end() && !d->is_null()) {
          std::optional<std::chrono::milliseconds> ms;
          if (d->is_string())
            ms = parse_duration_ms(d->get<std::string>());
          else if (d->is_number() && d->get<double>() >= 0 && d->get<double>() < 1e15)
            ms = std::chrono::milliseconds(static_cast<std::int64_t>(d->get<double>()));
          if (!ms)
            throw ThresholdError("invalid threshold " + quote(src) + " on metric " + quote(key) + ": delayAbortEval " +
                                 quote(d->dump()) + " is not a valid duration");
          th.delay_abort_eval = *ms;
        }
      } else {
        throw ThresholdError("invalid threshold on metric " + quote(key) + ": expected a string or an object, got " +
                             item.dump());
      }
      std::string why = parse_expr_impl(src, th.expr);
      if (!why.empty())
        throw ThresholdError("invalid threshold " + quote(src) + " on metric " + quote(key) + ": " + why);
      th.expr.source = src;
      mt.thresholds.push_back(std::move(th));
    };
    if (list.is_array()) {
      for (const auto& item : list) one(item);
    } else {
      one(list);
    }
    out.push_back(std::move(mt));
  }
  return out;
}

std::optional<double> aggregate_value(MetricType t, const SeriesState& s, const ThresholdExpr& e,
                                      double test_duration_s) {
  if (!agg_applies(t, e.agg)) return std::nullopt;
  using A = ThresholdExpr::Agg;
  switch (t) {
    case MetricType::kCounter:
      if (e.agg == A::kCount) return s.sum;
      return test_duration_s > 0 ? s.sum / test_duration_s : 0.0;
    case MetricType::kGauge:
      return s.last;
    case MetricType::kRate:
      return s.total ? static_cast<double>(s.passes) / static_cast<double>(s.total) : 0.0;
    case MetricType::kTrend:
      switch (e.agg) {
        case A::kAvg:
          return s.trend.mean();
        case A::kMin:
          return s.trend.min();
        case A::kMax:
          return s.trend.max();
        case A::kMed:
          return s.trend.percentile(50);
        case A::kPercentile:
          return s.trend.percentile(e.percentile);
        default:
          return std::nullopt;
      }
  }
  return std::nullopt;
}

std::vector<ThresholdResult> evaluate_thresholds(const std::vector<MetricThresholds>& ths, const Snapshot& snap,
                                                 std::chrono::milliseconds elapsed, bool final) {
  std::vector<ThresholdResult> out;
  double secs = static_cast<double>(elapsed.count()) / 1000.0;
  for (const auto& mt : ths) {
    auto id = snap.find(mt.selector.metric);
    std::optional<SeriesState> agg;
    bool any = false;
    MetricType type = MetricType::kCounter;
    if (id) {
      type = snap.metrics[*id].type;
      for (auto it = snap.series.lower_bound(SeriesKey{*id, TagSet()});
           it != snap.series.end() && it->first.metric == *id; ++it) {
        if (it->first.tags.contains_all(mt.selector.filter)) {
          any = true;
          break;
        }
      }
      agg = snap.aggregate(*id, mt.selector.filter);
    }
    for (const auto& th : mt.thresholds) {
      ThresholdResult r;
      r.selector = mt.selector.source;
      r.source = th.expr.source;
      r.abort_on_fail = th.abort_on_fail;
      // No samples: skipped while the test runs. At the end a counter, gauge or trend is judged on its
      // zero values (count=0 fails 'count>=100'), as k6 does; a rate with no samples has no rate and stays
      // unevaluated (k6 logs it and does not count it as crossed).
      const bool empty = !id || !agg->has_samples(type, any);
      if (empty && (!final || !id || type == MetricType::kRate)) {
        out.push_back(std::move(r));
        continue;
      }
      auto v = aggregate_value(type, empty ? SeriesState{} : *agg, th.expr, secs);
      if (!v)
        throw ThresholdError("invalid threshold " + quote(th.expr.source) + " on metric " + quote(mt.selector.source) +
                             ": aggregation method " + quote(agg_name(th.expr)) + " cannot be used with metric type " +
                             std::string(to_string(type)) + " (supported: " + supported_aggs(type) + ")");
      r.observed = v;
      if (!final && elapsed < th.delay_abort_eval) {
        r.ok = true;
      } else {
        r.ok = compare(*v, th.expr.op, th.expr.value);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

void validate_thresholds(const std::vector<MetricThresholds>& ths, const Registry& reg) {
  for (const auto& mt : ths) {
    auto id = reg.find(mt.selector.metric);
    if (!id)
      throw ThresholdError("invalid thresholds on metric " + quote(mt.selector.source) + ": no metric named " +
                           quote(mt.selector.metric) + " exists");
    MetricDef d = reg.def(*id);
    for (const auto& th : mt.thresholds) {
      if (!agg_applies(d.type, th.expr.agg))
        throw ThresholdError("invalid threshold " + quote(th.expr.source) + " on metric " + quote(mt.selector.source) +
                             ": aggregation method " + quote(agg_name(th.expr)) + " cannot be used with metric type " +
                             std::string(to_string(d.type)) + " (supported: " + supported_aggs(d.type) + ")");
    }
  }
}

}  // namespace herd::metrics
