#include "export/prom_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "export/generator_series.h"
#include "export/prom_names.h"

namespace herd::exporter {

namespace {

using metrics::MetricType;
using metrics::ValueType;

/// One `le` bound: in herd's unit (what Histogram buckets are compared with)
/// and as printed.
struct Bound {
  double herd_value;
  const char* text;
};

const std::vector<Bound>& bounds(ValueType contains) {
  // Time trends are in milliseconds in herd, in seconds in Prometheus.
  static const std::vector<Bound> kTime = {{1, "0.001"},  {2.5, "0.0025"}, {5, "0.005"},  {10, "0.01"},  {25, "0.025"},
                                           {50, "0.05"},  {100, "0.1"},    {250, "0.25"}, {500, "0.5"},  {1000, "1"},
                                           {2500, "2.5"}, {5000, "5"},     {10000, "10"}, {30000, "30"}, {60000, "60"}};
  static const std::vector<Bound> kData = {{1, "1"},       {10, "10"},      {100, "100"},   {1e3, "1000"},
                                           {1e4, "10000"}, {1e5, "100000"}, {1e6, "1e+06"}, {1e7, "1e+07"},
                                           {1e8, "1e+08"}, {1e9, "1e+09"}};
  static const std::vector<Bound> kDefault = {{1e-3, "0.001"}, {1e-2, "0.01"}, {1e-1, "0.1"}, {1, "1"},
                                              {10, "10"},      {100, "100"},   {1e3, "1000"}, {1e4, "10000"},
                                              {1e5, "100000"}, {1e6, "1e+06"}};
  switch (contains) {
    case ValueType::kTime:
      return kTime;
    case ValueType::kData:
      return kData;
    case ValueType::kDefault:
      break;
  }
  return kDefault;
}

/// Go's strconv.ParseFloat reads every output: shortest round-trip form,
/// "+Inf", "-Inf", "NaN".
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// Appends `s` with invalid UTF-8 replaced by U+FFFD, escaping backslash,
/// newline and (in label values) the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '\n')
        out += "\\n";
      else if (c == '"' && quote)
        out += "\\\"";
      else
        out += static_cast<char>(c);
      i++;
      continue;
    }
    // A well-formed multi-byte sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
    std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; k++) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len >= 3) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) ok = false;   // overlong
      if (c == 0xED && c1 >= 0xA0) ok = false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) ok = false;   // overlong
      if (c == 0xF4 && c1 >= 0x90) ok = false;  // above U+10FFFF
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i++;
    }
  }
}

/// The label names of `tags`, in tag-key order: label_name(key), with
/// "exported_" in front while it is reserved or already used.
std::vector<std::pair<std::string, std::string>> labels_of(const metrics::TagSet& tags, bool histogram) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> used;
  for (const auto& [k, v] : tags.items()) {
    std::string name = label_name(k);
    while (name.rfind("__", 0) == 0 || (histogram && name == "le") || used.count(name)) name = "exported_" + name;
    used.insert(name);
    out.emplace_back(std::move(name), v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// `{a="x",b="y"}` (without braces when `extra` and the labels are empty);
/// `extra` is appended as the last label (le="...").
std::string label_text(const std::vector<std::pair<std::string, std::string>>& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ',';
    first = false;
    s += k;
    s += "=\"";
    append_escaped(s, v, true);
    s += '"';
  }
  if (!extra.empty()) {
    if (!first) s += ',';
    s += extra;
  }
  s += '}';
  return s;
}

struct Family {
  std::string name;  ///< the family's (and TYPE line's) name
  std::string help;
  const char* type;
  const metrics::MetricDef* def;
  /// The series by their label text, merged when labels coincide.
  std::map<std::string, metrics::SeriesState> series;
};

/// The sample names a family writes.
std::vector<std::string> sample_names(const Family& f) {
  if (f.def->type == MetricType::kTrend) return {f.name + "_bucket", f.name + "_sum", f.name + "_count"};
  return {f.name};
}

void write_family(std::string& out, const Family& f) {
  out += "# HELP " + f.name + " ";
  append_escaped(out, f.help, false);
  out += "\n# TYPE " + f.name + " " + f.type + "\n";
  for (const auto& [labels, st] : f.series) {
    switch (f.def->type) {
      case MetricType::kCounter:
        out += f.name + labels + " " + number(st.sum) + "\n";
        break;
      case MetricType::kGauge:
        out += f.name + labels + " " + number(st.last) + "\n";
        break;
      case MetricType::kRate: {
        double r = st.total ? static_cast<double>(st.passes) / static_cast<double>(st.total) : 0;
        out += f.name + labels + " " + number(r) + "\n";
        break;
      }
      case MetricType::kTrend: {
        // `labels` is "" or "{...}": the le label goes inside.
        std::string inner = labels.empty() ? "" : labels.substr(1, labels.size() - 2) + ",";
        const auto& h = st.trend;
        auto buckets = h.buckets();
        // Every bound is positive: samples equal to 0 (and negative ones) count toward all of them.
        std::uint64_t cum = h.zero_count();
        std::size_t next = 0;
        for (const Bound& b : bounds(f.def->contains)) {
          // A herd bucket counts toward `le` when its upper edge is <= le.
          while (next < buckets.size() && buckets[next].upper <= b.herd_value) cum += buckets[next++].count;
          out += f.name + "_bucket{" + inner + "le=\"" + b.text + "\"} " + std::to_string(cum) + "\n";
        }
        out += f.name + "_bucket{" + inner + "le=\"+Inf\"} " + std::to_string(h.count()) + "\n";
        out += f.name + "_sum" + labels + " " + number(h.sum() * unit_scale(f.def->contains)) + "\n";
        out += f.name + "_count" + labels + " " + std::to_string(h.count()) + "\n";
        break;
      }
    }
  }
}

}  // namespace

std::vector<std::string> prom_text_bounds(metrics::ValueType contains) {
  std::vector<std::string> out;
  for (const Bound& b : bounds(contains)) out.emplace_back(b.text);
  return out;
}

std::string prom_text(const metrics::Snapshot& snap) {
  // Families by herd metric name first (which metric keeps a contested
  // Prometheus name is decided in that order), then written sorted by their name.
  std::map<std::string, const metrics::MetricDef*> by_metric;
  for (const auto& d : snap.metrics) by_metric.emplace(d.name, &d);
  std::map<const metrics::MetricDef*, std::vector<const std::pair<const metrics::SeriesKey, metrics::SeriesState>*>>
      series_of;
  for (const auto& kv : snap.series)
    if (kv.first.metric < snap.metrics.size()) series_of[&snap.metrics[kv.first.metric]].push_back(&kv);

  std::map<std::string, Family> families;
  std::map<std::string, std::string> taken;  ///< sample name -> the herd metric that writes it
  std::string skipped;
  for (const auto& [mname, def] : by_metric) {
    auto it = series_of.find(def);
    if (it == series_of.end()) continue;
    Family f;
    f.def = def;
    std::string kind(metrics::to_string(def->type));
    switch (def->type) {
      case MetricType::kCounter:
        f.name = counter_name(mname);
        f.type = "counter";
        break;
      case MetricType::kGauge:
        f.name = gauge_name(mname);
        f.type = "gauge";
        break;
      case MetricType::kRate:
        f.name = rate_name(mname);
        f.type = "gauge";
        break;
      case MetricType::kTrend:
        f.name = native_histogram_name(mname, def->contains);
        f.type = "histogram";
        break;
    }
    f.help = "k6 " + kind + " metric " + mname;
    if (def->type == MetricType::kRate) f.help += " (passes / total)";
    if (def->contains == ValueType::kTime && def->type == MetricType::kTrend) f.help += " (seconds)";
    auto names = sample_names(f);
    std::string clash;
    for (const auto& n : names)
      if (auto t = taken.find(n); t != taken.end()) clash = t->second;
    if (!clash.empty()) {
      skipped += "# herd: metric " + mname + " is left out: its Prometheus name " + f.name + " clashes with metric " +
                 clash + "'s\n";
      continue;
    }
    for (const auto& n : names) taken[n] = mname;
    for (const auto* kv : it->second) {
      std::string labels = label_text(labels_of(kv->first.tags, def->type == MetricType::kTrend));
      auto [pos, fresh] = f.series.try_emplace(labels, kv->second);
      if (!fresh) pos->second.merge(def->type, kv->second);
    }
    families.emplace(f.name, std::move(f));
  }
  std::string out = skipped;
  // herd's own generator gauges (herd_* sorts before every k6_* family).
  std::string family;
  for (const auto& g : generator_samples(snap.generators)) {
    if (g.name != family) {
      family = g.name;
      out += "# HELP " + g.name + " ";
      append_escaped(out, g.help, false);
      out += "\n# TYPE " + g.name + " gauge\n";
    }
    out += g.name + label_text(g.labels) + " " + number(g.value) + "\n";
  }
  for (const auto& [name, f] : families) write_family(out, f);
  return out;
}

}  // namespace herd::exporter
