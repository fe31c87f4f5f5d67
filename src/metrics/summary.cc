#include "metrics/summary.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <stdexcept>

namespace herd::metrics {

using json = nlohmann::json;

namespace {

// ------------------------------------------------------------ formatting

// Fixed-point with at most `prec` decimals and no trailing zeros (JS
// parseFloat(x.toFixed(prec)).toString() for the magnitudes we print).
std::string fixed_trim(double v, int prec) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string fmt_number(double v) {
  return fixed_trim(v, 6);
}

// k6's duration humanisation; input in milliseconds.
std::string fmt_duration_impl(double ms, const std::string& unit) {
  if (unit == "s") return fixed_trim(ms / 1000.0, 2) + "s";
  if (unit == "ms") return fixed_trim(ms, 2) + "ms";
  if (unit == "us") return fixed_trim(ms * 1000.0, 2) + "µs";
  if (ms == 0 || !std::isfinite(ms)) return ms == 0 ? "0s" : fixed_trim(ms, 2) + "ms";
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms < 0.001) return sign + std::to_string(static_cast<long long>(ms * 1e6)) + "ns";
  if (ms < 1) return sign + fixed_trim(ms * 1000.0, 2) + "µs";
  if (ms < 1000) return sign + fixed_trim(ms, 2) + "ms";
  double rem_ms = std::fmod(ms, 60000.0);
  std::string result = fixed_trim(rem_ms / 1000.0, ms > 60000 ? 0 : 2) + "s";
  auto minutes = static_cast<long long>(ms / 60000.0);
  if (minutes < 1) return sign + result;
  result = std::to_string(minutes % 60) + "m" + result;
  long long hours = minutes / 60;
  if (hours < 1) return sign + result;
  return sign + std::to_string(hours) + "h" + result;
}

// k6's SI byte humanisation: "718 B", "4.9 kB", "1.3 MB".
std::string fmt_bytes_impl(double b) {
  static const char* kUnits[] = {" B", " kB", " MB", " GB", " TB", " PB", " EB"};
  if (!std::isfinite(b)) return fmt_number(b) + " B";
  if (b < 10) return fmt_number(b) + " B";
  int e = static_cast<int>(std::floor(std::log(b) / std::log(1000.0)));
  e = std::clamp(e, 0, 6);
  double val = std::floor(b / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", val < 10 ? 1 : 0, val);
  return std::string(buf) + kUnits[e];
}

std::string fmt_value(double v, const std::string& contains, const std::string& unit) {
  if (contains == "time") return fmt_duration_impl(v, unit);
  if (contains == "data") return fmt_bytes_impl(v);
  return fmt_number(v);
}

std::string fmt_percent(double r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", r * 100.0);
  return buf;
}

// Display width in terminal columns (UTF-8 code points).
std::size_t width(const std::string& s) {
  std::size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;
  return w;
}

std::string pad_right(const std::string& s, std::size_t w) {
  std::size_t cur = width(s);
  return cur >= w ? s : s + std::string(w - cur, ' ');
}

// ------------------------------------------------------------ stable ids

std::string stable_id(const std::string& path) {
  // Two FNV-1a 64-bit passes with different offsets: 32 hex chars, md5-like.
  auto fnv = [&](std::uint64_t h) {
    for (unsigned char c : path) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
    return h;
  };
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(fnv(0xcbf29ce484222325ULL)),
                static_cast<unsigned long long>(fnv(0x84222325cbf29ce4ULL)));
  return buf;
}

// ------------------------------------------------------------ values

std::optional<double> parse_percentile_stat(const std::string& stat) {
  if (stat.size() < 4 || stat.compare(0, 2, "p(") != 0 || stat.back() != ')') return std::nullopt;
  std::string inner = stat.substr(2, stat.size() - 3);
  double p = 0;
  auto [ptr, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), p);
  if (ec != std::errc() || ptr != inner.data() + inner.size() || p < 0 || p > 100) return std::nullopt;
  return p;
}

void put_trend_stat(json& values, const std::string& stat, const Histogram& h) {
  if (stat == "avg")
    values["avg"] = h.mean();
  else if (stat == "min")
    values["min"] = h.min();
  else if (stat == "max")
    values["max"] = h.max();
  else if (stat == "med")
    values["med"] = h.percentile(50);
  else if (stat == "count")
    values["count"] = h.count();
  else if (auto p = parse_percentile_stat(stat))
    values[stat] = h.percentile(*p);
}

// ------------------------------------------------------------ groups

struct CheckNode {
  std::string name;
  std::uint64_t passes = 0, fails = 0;
};
struct GroupNode {
  std::string name, path;
  std::vector<std::unique_ptr<GroupNode>> groups;
  std::vector<CheckNode> checks;
  GroupNode* child(const std::string& n) {
    for (auto& g : groups)
      if (g->name == n) return g.get();
    auto g = std::make_unique<GroupNode>();
    g->name = n;
    g->path = path + "::" + n;
    groups.push_back(std::move(g));
    return groups.back().get();
  }
};

json group_json(const GroupNode& g) {
  json j = json::object();
  j["name"] = g.name;
  j["path"] = g.path;
  j["id"] = stable_id(g.path);
  j["groups"] = json::array();
  for (const auto& c : g.groups) j["groups"].push_back(group_json(*c));
  j["checks"] = json::array();
  for (const auto& c : g.checks) {
    std::string path = g.path + "::" + c.name;
    j["checks"].push_back(
        {{"name", c.name}, {"path", path}, {"id", stable_id(path)}, {"passes", c.passes}, {"fails", c.fails}});
  }
  return j;
}

json build_root_group(const Snapshot& snap) {
  GroupNode root;
  auto checks_id = snap.find("checks");
  if (checks_id && snap.metrics[*checks_id].type == MetricType::kRate) {
    for (auto it = snap.series.lower_bound(SeriesKey{*checks_id, TagSet()});
         it != snap.series.end() && it->first.metric == *checks_id; ++it) {
      const std::string* check = it->first.tags.get("check");
      if (!check) continue;
      const std::string* group = it->first.tags.get("group");
      GroupNode* g = &root;
      if (group && !group->empty()) {
        std::string_view p = *group;
        if (p.substr(0, 2) == "::") p.remove_prefix(2);
        while (true) {
          std::size_t sep = p.find("::");
          g = g->child(std::string(p.substr(0, sep)));
          if (sep == std::string_view::npos) break;
          p.remove_prefix(sep + 2);
        }
      }
      CheckNode* c = nullptr;
      for (auto& x : g->checks)
        if (x.name == *check) c = &x;
      if (!c) {
        g->checks.push_back(CheckNode{*check});
        c = &g->checks.back();
      }
      c->passes += it->second.passes;
      c->fails += it->second.total - it->second.passes;
    }
  }
  return group_json(root);
}

const std::string& str_or(const json& j, const char* key, const std::string& dflt) {
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) return it->get_ref<const std::string&>();
  return dflt;
}

double num_or(const json& j, const char* key, double dflt = 0) {
  auto it = j.find(key);
  if (it != j.end() && it->is_number()) return it->get<double>();
  return dflt;
}

// ------------------------------------------------------------ text rendering

struct Colors {
  bool on;
  std::string green(const std::string& s) const { return on ? "\x1b[32m" + s + "\x1b[0m" : s; }
  std::string red(const std::string& s) const { return on ? "\x1b[31m" + s + "\x1b[0m" : s; }
  std::string cyan(const std::string& s) const { return on ? "\x1b[36m" + s + "\x1b[0m" : s; }
  std::string faint(const std::string& s) const { return on ? "\x1b[2m" + s + "\x1b[0m" : s; }
  std::string bold(const std::string& s) const { return on ? "\x1b[1m" + s + "\x1b[0m" : s; }
};

struct Row {
  std::string indent;  // before the mark/name
  std::string mark;    // "", "✓ " or "✗ "
  std::string name;    // display name
  bool trend = false;
  std::vector<std::string> cols;  // uncoloured cells
  std::string kind;               // metric type: columns align among rows of one kind
};

std::vector<std::string> metric_cells(const json& m, const SummaryOptions& opts, bool legacy) {
  std::vector<std::string> cells;
  const std::string& type = str_or(m, "type", "");
  const std::string& contains = str_or(m, "contains", "default");
  static const json kEmpty = json::object();
  const json& v = m.contains("values") && m["values"].is_object() ? m["values"] : kEmpty;
  if (type == "trend") {
    for (const auto& st : opts.trend_stats) {
      if (!v.contains(st) || !v[st].is_number()) continue;
      double x = v[st].get<double>();
      cells.push_back(st + "=" + (st == "count" ? fmt_number(x) : fmt_value(x, contains, opts.time_unit)));
    }
  } else if (type == "counter") {
    cells.push_back(fmt_value(num_or(v, "count"), contains, opts.time_unit));
    cells.push_back(fmt_value(num_or(v, "rate"), contains, opts.time_unit) + "/s");
  } else if (type == "rate") {
    double passes = num_or(v, "passes"), fails = num_or(v, "fails");
    cells.push_back(fmt_percent(num_or(v, "rate")));
    if (legacy) {
      cells.push_back("✓ " + fmt_number(passes));
      cells.push_back("✗ " + fmt_number(fails));
    } else {
      cells.push_back(fmt_number(passes) + " out of " + fmt_number(passes + fails));
    }
  } else if (type == "gauge") {
    cells.push_back(fmt_value(num_or(v, "value"), contains, opts.time_unit));
    cells.push_back("min=" + fmt_value(num_or(v, "min"), contains, opts.time_unit));
    cells.push_back("max=" + fmt_value(num_or(v, "max"), contains, opts.time_unit));
  }
  return cells;
}

// Splits "http_req_duration{name:login}" into parent and "{ name:login }".
std::pair<std::string, std::string> split_submetric(const std::string& name) {
  std::size_t b = name.find('{');
  if (b == std::string::npos) return {name, ""};
  std::string inner = name.substr(b + 1);
  if (!inner.empty() && inner.back() == '}') inner.pop_back();
  std::size_t s = inner.find_first_not_of(' ');
  std::size_t e = inner.find_last_not_of(' ');
  inner = s == std::string::npos ? "" : inner.substr(s, e - s + 1);
  return {name.substr(0, b), "{ " + inner + " }"};
}

struct Layout {
  std::size_t name_width = 0;
  std::map<std::string, std::vector<std::size_t>> widths;  // by Row::kind
};

void measure(Layout& L, const std::vector<Row>& rows) {
  for (const auto& r : rows) {
    L.name_width = std::max(L.name_width, width(r.indent) + width(r.mark) + width(r.name));
    auto& w = L.widths[r.kind];
    if (w.size() < r.cols.size()) w.resize(r.cols.size(), 0);
    for (std::size_t i = 0; i < r.cols.size(); ++i) w[i] = std::max(w[i], width(r.cols[i]));
  }
}

std::string render_row(const Row& r, const Layout& L, std::size_t dots_extra, const Colors& c) {
  std::string out = r.indent;
  if (!r.mark.empty()) out += r.mark.rfind("✓", 0) == 0 ? c.green(r.mark) : c.red(r.mark);
  out += r.name;
  std::size_t used = width(r.indent) + width(r.mark) + width(r.name);
  std::size_t ndots = L.name_width + dots_extra - used;
  out += c.faint(std::string(ndots, '.') + ":") + " ";
  const auto& w = L.widths.at(r.kind);
  for (std::size_t i = 0; i < r.cols.size(); ++i) {
    std::string cell = r.cols[i];
    bool last = i + 1 == r.cols.size();
    std::string padded = last ? cell : pad_right(cell, w[i]);
    out += c.cyan(cell) + padded.substr(cell.size());
    if (!last) out += ' ';
  }
  out += "\n";
  return out;
}

bool all_thresholds_ok(const json& m) {
  auto it = m.find("thresholds");
  if (it == m.end() || !it->is_object()) return true;
  for (const auto& [k, v] : it->items())
    if (v.is_object() && v.contains("ok") && v["ok"].is_boolean() && !v["ok"].get<bool>()) return false;
  return true;
}

bool has_thresholds(const json& m) {
  auto it = m.find("thresholds");
  return it != m.end() && it->is_object() && !it->empty();
}

void render_checks(std::string& out, const json& group, const std::string& indent, const Colors& c, bool recurse) {
  if (group.contains("checks") && group["checks"].is_array()) {
    for (const auto& ch : group["checks"]) {
      std::string name = str_or(ch, "name", "");
      double passes = num_or(ch, "passes"), fails = num_or(ch, "fails");
      if (fails == 0) {
        out += indent + c.green("✓ " + name) + "\n";
      } else {
        out += indent + c.red("✗ " + name) + "\n";
        long long pct = passes + fails > 0 ? static_cast<long long>(std::floor(100.0 * passes / (passes + fails))) : 0;
        out += indent +
               c.faint(" ↳  " + std::to_string(pct) + "% — ✓ " + fmt_number(passes) + " / ✗ " + fmt_number(fails)) +
               "\n";
      }
    }
  }
  if (!recurse || !group.contains("groups") || !group["groups"].is_array()) return;
  for (const auto& g : group["groups"]) {
    out += "\n" + indent + "█ " + str_or(g, "name", "") + "\n\n";
    render_checks(out, g, indent + "  ", c, true);
  }
}

void collect_check_totals(const json& group, double& passes, double& fails) {
  if (group.contains("checks") && group["checks"].is_array())
    for (const auto& ch : group["checks"]) {
      passes += num_or(ch, "passes");
      fails += num_or(ch, "fails");
    }
  if (group.contains("groups") && group["groups"].is_array())
    for (const auto& g : group["groups"]) collect_check_totals(g, passes, fails);
}

std::string category_of(const std::string& name) {
  static const std::set<std::string> kExec = {
      "vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations", "group_duration"};
  if (name.rfind("http_", 0) == 0) return "HTTP";
  if (kExec.count(name)) return "EXECUTION";
  if (name == "data_sent" || name == "data_received") return "NETWORK";
  if (name.rfind("grpc_", 0) == 0) return "GRPC";
  if (name.rfind("ws_", 0) == 0) return "WEBSOCKETS";
  if (name.rfind("browser_", 0) == 0 || name.rfind("web_vital_", 0) == 0) return "BROWSER";
  return "CUSTOM";
}

bool hidden_in_compact(const std::string& name) {
  static const std::set<std::string> kHidden = {"http_req_blocked", "http_req_connecting", "http_req_tls_handshaking",
                                                "http_req_sending", "http_req_waiting",    "http_req_receiving"};
  return kHidden.count(name) > 0;
}

// Metric names in display order: parents sorted, each followed by its sub-metrics.
std::vector<std::string> ordered_metric_names(const json& metrics) {
  std::map<std::string, std::vector<std::string>> tree;
  for (const auto& [name, m] : metrics.items()) {
    (void)m;
    auto [parent, sub] = split_submetric(name);
    auto& subs = tree[parent];
    if (!sub.empty()) subs.push_back(name);
  }
  std::vector<std::string> out;
  for (auto& [parent, subs] : tree) {
    if (metrics.contains(parent)) out.push_back(parent);
    std::sort(subs.begin(), subs.end());
    for (auto& s : subs) out.push_back(s);
  }
  return out;
}

std::string render_legacy(const json& data, const SummaryOptions& opts, const Colors& c) {
  std::string out = "\n";
  static const json kEmpty = json::object();
  const json& metrics = data.contains("metrics") && data["metrics"].is_object() ? data["metrics"] : kEmpty;
  const json& root = data.contains("root_group") && data["root_group"].is_object() ? data["root_group"] : kEmpty;
  std::string checks_block;
  render_checks(checks_block, root, "     ", c, true);
  if (!checks_block.empty()) out += checks_block + "\n";

  std::vector<Row> rows;
  for (const auto& name : ordered_metric_names(metrics)) {
    const json& m = metrics[name];
    Row r;
    auto [parent, sub] = split_submetric(name);
    r.name = sub.empty() ? name : sub;
    r.trend = str_or(m, "type", "") == "trend";
    r.cols = metric_cells(m, opts, true);
    r.kind = str_or(m, "type", "");
    if (has_thresholds(m)) {
      r.indent = sub.empty() ? "   " : "     ";
      r.mark = all_thresholds_ok(m) ? "✓ " : "✗ ";
    } else {
      r.indent = sub.empty() ? "     " : "       ";
    }
    rows.push_back(std::move(r));
  }
  Layout L;
  measure(L, rows);
  for (const auto& r : rows) out += render_row(r, L, 3, c);
  out += "\n";
  return out;
}

std::string render_compact(const json& data, const SummaryOptions& opts, const Colors& c, bool full) {
  std::string out;
  static const json kEmpty = json::object();
  const json& metrics = data.contains("metrics") && data["metrics"].is_object() ? data["metrics"] : kEmpty;
  const json& root = data.contains("root_group") && data["root_group"].is_object() ? data["root_group"] : kEmpty;
  std::vector<std::string> names = ordered_metric_names(metrics);

  // THRESHOLDS
  bool any_th = false;
  for (const auto& n : names) any_th = any_th || has_thresholds(metrics[n]);
  if (any_th) {
    out += "\n  " + c.bold("█ THRESHOLDS") + "\n\n";
    for (const auto& n : names) {
      const json& m = metrics[n];
      if (!has_thresholds(m)) continue;
      out += "    " + n + "\n";
      const std::string& contains = str_or(m, "contains", "default");
      const std::string& type = str_or(m, "type", "");
      for (const auto& [src, res] : m["thresholds"].items()) {
        bool ok = !(res.is_object() && res.contains("ok") && res["ok"].is_boolean() && !res["ok"].get<bool>());
        std::string line = std::string(ok ? "✓" : "✗") + " '" + src + "'";
        std::string observed;
        try {
          ThresholdExpr e = parse_threshold_expr(src);
          std::string key = threshold_agg_key(e);
          if (m.contains("values") && m["values"].contains(key) && m["values"][key].is_number()) {
            double v = m["values"][key].get<double>();
            std::string shown;
            if (type == "rate")
              shown = fmt_percent(v);
            else if (type == "counter" && key == "rate")
              shown = fmt_value(v, contains, opts.time_unit) + "/s";
            else
              shown = fmt_value(v, contains, opts.time_unit);
            observed = " " + key + "=" + shown;
          }
        } catch (const ThresholdError&) {
        }
        out += "    " + (ok ? c.green(line) : c.red(line)) + observed + "\n";
      }
      out += "\n";
    }
    out += "\n";
  } else {
    out += "\n";
  }

  out += "  " + c.bold("█ TOTAL RESULTS") + "\n\n";

  // Checks
  double cp = 0, cf = 0;
  collect_check_totals(root, cp, cf);
  Layout L;
  std::vector<Row> check_rows;
  if (cp + cf > 0) {
    double secs = num_or(data.contains("state") ? data["state"] : kEmpty, "testRunDurationMs") / 1000.0;
    double total = cp + cf;
    check_rows.push_back(Row{"    ",
                             "",
                             "checks_total",
                             false,
                             {fmt_number(total), fmt_number(secs > 0 ? total / secs : 0) + "/s"},
                             "checks"});
    check_rows.push_back(Row{"    ",
                             "",
                             "checks_succeeded",
                             false,
                             {fmt_percent(cp / total), fmt_number(cp) + " out of " + fmt_number(total)},
                             "checks"});
    check_rows.push_back(Row{"    ",
                             "",
                             "checks_failed",
                             false,
                             {fmt_percent(cf / total), fmt_number(cf) + " out of " + fmt_number(total)},
                             "checks"});
  }

  std::vector<std::string> order = {"CUSTOM", "BROWSER", "GRPC", "HTTP", "EXECUTION", "NETWORK", "WEBSOCKETS"};
  std::map<std::string, std::vector<Row>> sections;
  for (const auto& n : names) {
    auto [parent, sub] = split_submetric(n);
    if (parent == "checks") continue;
    if (!full && hidden_in_compact(parent) && !has_thresholds(metrics[n])) continue;
    const json& m = metrics[n];
    Row r;
    r.indent = sub.empty() ? "    " : "      ";
    r.name = sub.empty() ? n : sub;
    r.trend = str_or(m, "type", "") == "trend";
    r.cols = metric_cells(m, opts, false);
    r.kind = str_or(m, "type", "");
    sections[category_of(parent)].push_back(std::move(r));
  }
  measure(L, check_rows);
  for (const auto& [k, rows] : sections) measure(L, rows);
  L.name_width = std::max<std::size_t>(L.name_width, 28);

  if (!check_rows.empty()) {
    for (const auto& r : check_rows) out += render_row(r, L, 7, c);
    out += "\n";
    std::string list;
    render_checks(list, root, "    ", c, false);
    if (!list.empty()) out += list + "\n";
  }
  for (const auto& cat : order) {
    auto it = sections.find(cat);
    if (it == sections.end() || it->second.empty()) continue;
    out += "    " + cat + "\n";
    for (const auto& r : it->second) out += render_row(r, L, 7, c);
    out += "\n";
  }
  if (full && root.contains("groups") && root["groups"].is_array()) {
    for (const auto& g : root["groups"]) {
      out += "\n  " + c.bold("█ GROUP: " + str_or(g, "name", "")) + "\n\n";
      std::string list;
      render_checks(list, g, "    ", c, true);
      out += list + "\n";
    }
  }
  return out;
}

json legacy_group(const json& g) {
  json j = json::object();
  j["name"] = g.value("name", "");
  j["path"] = g.value("path", "");
  j["id"] = g.value("id", "");
  j["groups"] = json::object();
  j["checks"] = json::object();
  if (g.contains("groups") && g["groups"].is_array())
    for (const auto& sg : g["groups"]) j["groups"][sg.value("name", "")] = legacy_group(sg);
  if (g.contains("checks") && g["checks"].is_array())
    for (const auto& c : g["checks"]) j["checks"][c.value("name", "")] = c;
  return j;
}

}  // namespace

// ================================================================ public API

json metric_values(MetricType type, const SeriesState& s, const std::vector<std::string>& trend_stats, double secs) {
  json v = json::object();
  switch (type) {
    case MetricType::kCounter:
      v["count"] = s.sum;
      v["rate"] = secs > 0 ? s.sum / secs : 0.0;
      break;
    case MetricType::kGauge:
      v["value"] = s.last;
      v["min"] = s.gmin;
      v["max"] = s.gmax;
      break;
    case MetricType::kRate:
      v["rate"] = s.total ? static_cast<double>(s.passes) / static_cast<double>(s.total) : 0.0;
      v["passes"] = s.passes;
      v["fails"] = s.total - s.passes;
      break;
    case MetricType::kTrend:
      for (const auto& st : trend_stats) put_trend_stat(v, st, s.trend);
      break;
  }
  return v;
}

std::string format_duration_ms(double ms, const std::string& unit) {
  return fmt_duration_impl(ms, unit);
}
std::string format_bytes(double bytes) {
  return fmt_bytes_impl(bytes);
}

nlohmann::json build_summary_data(const Snapshot& snap, const std::vector<MetricThresholds>& ths,
                                  const std::vector<ThresholdResult>& results, std::chrono::milliseconds test_duration,
                                  const SummaryOptions& opts, bool partial) {
  json data = json::object();
  double secs = static_cast<double>(test_duration.count()) / 1000.0;

  data["root_group"] = build_root_group(snap);
  data["options"] = {
      {"summaryTrendStats", opts.trend_stats}, {"summaryTimeUnit", opts.time_unit}, {"noColor", opts.no_color}};
  data["state"] = {{"isStdOutTTY", opts.is_stdout_tty},
                   {"isStdErrTTY", opts.is_stderr_tty},
                   {"testRunDurationMs", static_cast<double>(test_duration.count())}};
  if (partial) data["state"]["partial"] = true;

  // Thresholds by selector source.
  std::map<std::string, const MetricThresholds*> th_by_sel;
  for (const auto& mt : ths) th_by_sel[mt.selector.source] = &mt;

  json metrics = json::object();
  auto emit = [&](const std::string& name, const MetricDef& d, const SeriesState& st) {
    std::vector<std::string> stats = opts.trend_stats;
    json entry = json::object();
    entry["type"] = std::string(to_string(d.type));
    entry["contains"] = std::string(to_string(d.contains));
    auto th = th_by_sel.find(name);
    if (th != th_by_sel.end()) {
      json tj = json::object();
      for (const auto& t : th->second->thresholds) {
        bool ok = true;
        for (const auto& r : results)
          if (r.selector == name && r.source == t.expr.source) ok = r.ok;
        tj[t.expr.source] = {{"ok", ok}};
        if (d.type == MetricType::kTrend) {
          std::string key = threshold_agg_key(t.expr);
          if (std::find(stats.begin(), stats.end(), key) == stats.end()) stats.push_back(key);
        }
      }
      entry["values"] = metric_values(d.type, st, stats, secs);
      entry["thresholds"] = std::move(tj);
    } else {
      entry["values"] = metric_values(d.type, st, stats, secs);
    }
    metrics[name] = std::move(entry);
  };

  for (std::size_t i = 0; i < snap.metrics.size(); ++i) {
    const MetricDef& d = snap.metrics[i];
    MetricId id = static_cast<MetricId>(i);
    auto lo = snap.series.lower_bound(SeriesKey{id, TagSet()});
    bool any = lo != snap.series.end() && lo->first.metric == id;
    SeriesState st = snap.aggregate(id);
    if (st.has_samples(d.type, any) || th_by_sel.count(d.name)) emit(d.name, d, st);
  }
  // Sub-metrics: one per threshold selector with a tag filter, plus k6's
  // implicit http_req_duration{expected_response:true}.
  for (const auto& mt : ths) {
    if (mt.selector.filter.empty()) continue;
    auto id = snap.find(mt.selector.metric);
    if (!id) continue;
    emit(mt.selector.source, snap.metrics[*id], snap.aggregate(*id, mt.selector.filter));
  }
  if (auto id = snap.find("http_req_duration")) {
    TagSet f(std::vector<std::pair<std::string, std::string>>{{"expected_response", "true"}});
    std::string name = "http_req_duration{expected_response:true}";
    bool any = false;
    for (auto it = snap.series.lower_bound(SeriesKey{*id, TagSet()});
         it != snap.series.end() && it->first.metric == *id; ++it)
      any = any || it->first.tags.contains_all(f);
    if (any && !metrics.contains(name)) emit(name, snap.metrics[*id], snap.aggregate(*id, f));
  }
  data["metrics"] = std::move(metrics);
  return data;
}

std::string render_text_summary(const nlohmann::json& data, const SummaryOptions& opts) {
  Colors c{!opts.no_color};
  if (opts.mode == "legacy") {
    std::string out = render_legacy(data, opts, c);
    bool any = !opts.notes.empty() || !opts.coordinator_notes.empty();
    for (const auto& n : opts.coordinator_notes) out += "     " + n + "\n";
    for (const auto& b : opts.blocks)
      for (const auto& l : b.lines) {
        out += "     " + b.heading + ": " + l + "\n";
        any = true;
      }
    for (const auto& n : opts.notes) out += "     " + n + "\n";
    return out + (any ? "\n" : "");
  }
  std::string out = render_compact(data, opts, c, opts.mode == "full");
  auto section = [&out](const std::string& heading, const std::vector<std::string>& lines) {
    if (lines.empty()) return;
    out += "    " + heading + "\n";
    for (const auto& n : lines) out += "    " + n + "\n";
    out += "\n";
  };
  section("COORDINATOR", opts.coordinator_notes);
  for (const auto& b : opts.blocks) section(b.heading, b.lines);
  section("OUTPUTS", opts.notes);
  return out;
}

SummaryBlock generator_health_block(const std::vector<GeneratorHealth>& generators) {
  SummaryBlock b{"GENERATOR HEALTH", {}};
  for (const auto& g : generators)
    if (generator_saturated(g)) b.lines.push_back(describe_saturation(g));
  return b;
}

std::vector<SummaryTableRow> summary_table(const nlohmann::json& data, const SummaryOptions& opts) {
  std::map<std::string, std::vector<SummaryTableRow>> sections;
  if (data.contains("metrics") && data["metrics"].is_object()) {
    const json& metrics = data["metrics"];
    for (const auto& n : ordered_metric_names(metrics)) {
      std::string section = category_of(split_submetric(n).first);
      sections[section].push_back({section, n, str_or(metrics[n], "type", ""), metric_cells(metrics[n], opts, false)});
    }
  }
  std::vector<SummaryTableRow> out;
  for (const char* cat : {"CUSTOM", "BROWSER", "GRPC", "HTTP", "EXECUTION", "NETWORK", "WEBSOCKETS"})
    for (auto& r : sections[cat]) out.push_back(std::move(r));
  return out;
}

nlohmann::json summary_export(const nlohmann::json& data) {
  json out = json::object();
  out["root_group"] = data.contains("root_group") && data["root_group"].is_object() ? legacy_group(data["root_group"])
                                                                                    : legacy_group(json::object());
  json metrics = json::object();
  if (data.contains("metrics") && data["metrics"].is_object()) {
    for (const auto& [name, m] : data["metrics"].items()) {
      json flat = json::object();
      const std::string type = m.value("type", "");
      json values = m.contains("values") && m["values"].is_object() ? m["values"] : json::object();
      if (type == "rate") {
        flat["value"] = values.value("rate", 0.0);
        flat["passes"] = values.value("passes", 0);
        flat["fails"] = values.value("fails", 0);
      } else {
        for (const auto& [k, v] : values.items()) flat[k] = v;
      }
      if (m.contains("thresholds") && m["thresholds"].is_object()) {
        // k6's legacy export: the boolean is true when the threshold FAILED.
        json th = json::object();
        for (const auto& [src, res] : m["thresholds"].items())
          th[src] = res.is_object() && res.contains("ok") && res["ok"].is_boolean() ? !res["ok"].get<bool>() : false;
        flat["thresholds"] = std::move(th);
      }
      metrics[name] = std::move(flat);
    }
  }
  out["metrics"] = std::move(metrics);
  return out;
}

}  // namespace herd::metrics
