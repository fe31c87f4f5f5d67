#include "metrics/snapshot_binary.h"

#include <cmath>
#include <iterator>
#include <stdexcept>
#include <unordered_map>

#include "metrics/binary_wire.h"
#include "util/ascii.h"

namespace herd::metrics {

namespace {

constexpr char kMagic[4] = {'H', 'R', 'D', 'S'};
constexpr std::uint8_t kVersion = 1;
/// Histogram cells a decode may allocate: a fixed floor (every realistic
/// snapshot stays far below it) plus an allowance per input byte.
constexpr std::uint64_t kCellFloor = 1ULL << 22;
constexpr std::uint64_t kCellsPerByte = 256;
constexpr int kMaxCores = 1 << 20;

[[noreturn]] void bad(const std::string& why) {
  BinaryReader::fail(why);
}

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, at most U+10FFFF.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k)
      if ((p[k] & 0xc0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

void write_state(BinaryWriter& w, MetricType t, const SeriesState& s) {
  switch (t) {
    case MetricType::kCounter:
      w.f64(s.sum);
      break;
    case MetricType::kRate:
      w.varint(s.passes);
      w.varint(s.total);
      break;
    case MetricType::kGauge:
      w.f64(s.last);
      w.f64(s.gmin);
      w.f64(s.gmax);
      w.svarint(s.last_time_us);
      break;
    case MetricType::kTrend:
      s.trend.write_binary(w);
      break;
  }
}

double finite(BinaryReader& r, const char* what) {
  double v = r.f64();
  if (!std::isfinite(v)) bad(std::string(what) + " must be finite");
  return v;
}

SeriesState read_state(BinaryReader& r, MetricType t) {
  SeriesState s;
  switch (t) {
    case MetricType::kCounter:
      s.sum = finite(r, "counter sum");
      break;
    case MetricType::kRate:
      s.passes = r.varint();
      s.total = r.varint();
      if (s.passes > s.total) bad("rate passes exceed total");
      break;
    case MetricType::kGauge:
      s.last = finite(r, "gauge last");
      s.gmin = finite(r, "gauge min");
      s.gmax = finite(r, "gauge max");
      s.last_time_us = r.svarint();
      if (s.last_time_us < -1) bad("gauge time_us must be >= -1");
      if (s.last_time_us >= 0 && !(s.gmin <= s.last && s.last <= s.gmax)) bad("gauge min <= last <= max violated");
      break;
    case MetricType::kTrend:
      try {
        s.trend = Histogram::read_binary(r);
      } catch (const std::invalid_argument& e) {
        bad(e.what());
      }
      break;
  }
  return s;
}

constexpr double GeneratorHealth::*kHealthFields[] = {
    &GeneratorHealth::seconds,     &GeneratorHealth::cpu_last,        &GeneratorHealth::cpu_avg,
    &GeneratorHealth::cpu_max,     &GeneratorHealth::cpu_saturated_s, &GeneratorHealth::lag_last_ms,
    &GeneratorHealth::lag_p99_ms,  &GeneratorHealth::lag_max_ms,      &GeneratorHealth::lag_saturated_s,
    &GeneratorHealth::unhealthy_s,
};

}  // namespace

void BinaryReader::fail(const std::string& why) {
  throw std::invalid_argument("invalid snapshot: " + why);
}

std::string to_binary(const Snapshot& s) {
  std::string out;
  out.reserve(64 + s.series.size() * 64);
  BinaryWriter w(out);
  for (char c : kMagic) w.u8(static_cast<std::uint8_t>(c));
  w.u8(kVersion);
  w.svarint(s.time_us);
  w.varint(s.metrics.size());
  for (const auto& d : s.metrics) {
    w.bytes(d.name);
    w.u8(static_cast<std::uint8_t>(d.type));
    w.u8(static_cast<std::uint8_t>(d.contains));
  }
  // Every tag string once, every tag set once.
  std::unordered_map<std::string_view, std::uint64_t> strings;
  std::vector<std::string_view> string_list;
  std::unordered_map<TagSet, std::uint64_t, TagSetHash> tagsets;
  std::vector<const TagSet*> tagset_list;
  auto str = [&](const std::string& v) {
    auto [it, fresh] = strings.try_emplace(v, string_list.size());
    if (fresh) string_list.push_back(v);
    return it->second;
  };
  std::size_t series = 0;
  for (const auto& [key, st] : s.series) {
    if (key.metric >= s.metrics.size()) continue;
    ++series;
    auto [it, fresh] = tagsets.try_emplace(key.tags, tagset_list.size());
    if (!fresh) continue;
    tagset_list.push_back(&it->first);
    for (const auto& [k, v] : key.tags.items()) {
      str(k);
      str(v);
    }
  }
  w.varint(string_list.size());
  for (auto v : string_list) w.bytes(v);
  w.varint(tagset_list.size());
  for (const TagSet* t : tagset_list) {
    w.varint(t->items().size());
    for (const auto& [k, v] : t->items()) {
      w.varint(strings.at(k));
      w.varint(strings.at(v));
    }
  }
  w.varint(series);
  for (const auto& [key, st] : s.series) {
    if (key.metric >= s.metrics.size()) continue;
    w.varint(key.metric);
    w.varint(tagsets.at(key.tags));
    write_state(w, s.metrics[key.metric].type, st);
  }
  w.varint(s.generators.size());
  for (const auto& g : s.generators) {
    w.bytes(g.segment);
    w.varint(static_cast<std::uint64_t>(g.cores));
    for (auto f : kHealthFields) w.f64(g.*f);
  }
  return out;
}

TagSet TagSetPool::share(TagSet t) {
  if (auto it = sets_.find(t); it != sets_.end()) return *it;
  if (sets_.size() >= limit_) sets_.clear();
  sets_.insert(t);
  return t;
}

Snapshot from_binary(std::string_view data, TagSetPool* pool) {
  BinaryReader r(data, kCellFloor + kCellsPerByte * data.size());
  for (char c : kMagic)
    if (r.left() == 0 || r.u8() != static_cast<std::uint8_t>(c)) bad("not a herd binary snapshot");
  if (r.u8() != kVersion) bad("unsupported version");
  Snapshot s;
  s.time_us = r.svarint();
  std::size_t n = r.count(3, "metric");
  s.metrics.reserve(n);
  std::unordered_map<std::string_view, MetricId> names;
  for (std::size_t i = 0; i < n; ++i) {
    std::string_view name = r.bytes();
    if (!valid_metric_name(name)) bad("invalid metric name \"" + std::string(name.substr(0, 128)) + "\"");
    std::uint8_t t = r.u8(), c = r.u8();
    if (t > static_cast<std::uint8_t>(MetricType::kTrend)) bad("unknown metric type for \"" + std::string(name) + "\"");
    if (c > static_cast<std::uint8_t>(ValueType::kData)) bad("unknown \"contains\" for \"" + std::string(name) + "\"");
    if (!names.emplace(name, static_cast<MetricId>(i)).second) bad("duplicate metric \"" + std::string(name) + "\"");
    s.metrics.push_back(MetricDef{std::string(name), static_cast<MetricType>(t), static_cast<ValueType>(c)});
  }
  std::vector<std::string_view> strings(r.count(1, "string"));
  for (auto& v : strings) {
    v = r.bytes();
    if (!valid_utf8(v)) bad("tag strings must be UTF-8");
  }
  std::vector<TagSet> tagsets(r.count(1, "tag set"));
  for (auto& t : tagsets) {
    std::vector<std::pair<std::string, std::string>> items(r.count(2, "tag"));
    for (auto& [k, v] : items) {
      std::uint64_t ki = r.varint(), vi = r.varint();
      if (ki >= strings.size() || vi >= strings.size()) bad("tag string index out of range");
      k = strings[ki];
      v = strings[vi];
    }
    t = TagSet(std::move(items));
    if (pool) t = pool->share(std::move(t));
  }
  n = r.count(3, "series");
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t m = r.varint(), ti = r.varint();
    if (m >= s.metrics.size()) bad("series metric index out of range");
    if (ti >= tagsets.size()) bad("series tag set index out of range");
    SeriesKey key{static_cast<MetricId>(m), tagsets[ti]};
    SeriesState st = read_state(r, s.metrics[m].type);
    // Encoders write the map's order: the hint makes appending O(1); a key
    // already present is not inserted (the size stays).
    std::size_t before = s.series.size();
    s.series.emplace_hint(s.series.end(), std::move(key), std::move(st));
    if (s.series.size() == before) bad("duplicate series");
  }
  n = r.count(1 + 1 + 8 * std::size(kHealthFields), "generator");
  for (std::size_t i = 0; i < n; ++i) {
    GeneratorHealth g;
    std::string_view seg = r.bytes();
    std::uint64_t cores = r.varint();
    bool ok = valid_utf8(seg) && cores >= 1 && cores <= kMaxCores;
    for (auto f : kHealthFields) {
      double v = r.f64();
      ok = ok && std::isfinite(v) && v >= 0;
      g.*f = v;
    }
    if (!ok) continue;  // as from_json: an entry that is not valid is skipped
    g.segment = std::string(seg);
    g.cores = static_cast<int>(cores);
    s.generators.push_back(std::move(g));
  }
  if (!r.at_end()) bad("trailing bytes");
  return s;
}

namespace {

using util::iequals;

}  // namespace

bool accepts_binary_snapshot(std::string_view accept) {
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    std::size_t semi = range.find(';');
    if (!iequals(util::trim_ows(range.substr(0, semi)), kSnapshotBinaryType)) continue;
    bool refused = false;  // q=0 (q=0.0, q=0.000): "not acceptable"
    while (semi != std::string_view::npos) {
      range.remove_prefix(semi + 1);
      semi = range.find(';');
      std::string_view param = util::trim_ows(range.substr(0, semi));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string_view q = param.substr(2);
        refused = !q.empty() && q[0] == '0' && q.find_first_not_of("0.", 1) == std::string_view::npos;
      }
    }
    if (!refused) return true;
  }
  return false;
}

bool is_binary_snapshot_type(std::string_view content_type) {
  return iequals(util::trim_ows(content_type.substr(0, content_type.find(';'))), kSnapshotBinaryType);
}

}  // namespace herd::metrics
