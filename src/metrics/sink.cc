#include "metrics/sink.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace herd::metrics {

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void bad(const std::string& why) {
  throw std::invalid_argument("invalid snapshot: " + why);
}

std::optional<MetricType> parse_type(const std::string& s) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "rate") return MetricType::kRate;
  if (s == "trend") return MetricType::kTrend;
  return std::nullopt;
}

std::optional<ValueType> parse_contains(const std::string& s) {
  if (s == "default") return ValueType::kDefault;
  if (s == "time") return ValueType::kTime;
  if (s == "data") return ValueType::kData;
  return std::nullopt;
}

nlohmann::json state_to_json(MetricType t, const SeriesState& s) {
  nlohmann::json j = nlohmann::json::object();
  switch (t) {
    case MetricType::kCounter:
      j["sum"] = s.sum;
      break;
    case MetricType::kRate:
      j["passes"] = s.passes;
      j["total"] = s.total;
      break;
    case MetricType::kGauge:
      j["last"] = s.last;
      j["min"] = s.gmin;
      j["max"] = s.gmax;
      j["time_us"] = s.last_time_us;
      break;
    case MetricType::kTrend:
      j["h"] = s.trend.to_json();
      break;
  }
  return j;
}

double get_finite(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) bad(std::string("state \"") + key + "\" must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v)) bad(std::string("state \"") + key + "\" must be finite");
  return v;
}

std::uint64_t get_uint(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned())
    bad(std::string("state \"") + key + "\" must be a non-negative integer");
  return it->get<std::uint64_t>();
}

SeriesState state_from_json(MetricType t, const nlohmann::json& j) {
  if (!j.is_object()) bad("series \"state\" must be an object");
  SeriesState s;
  switch (t) {
    case MetricType::kCounter:
      s.sum = get_finite(j, "sum");
      break;
    case MetricType::kRate:
      s.passes = get_uint(j, "passes");
      s.total = get_uint(j, "total");
      if (s.passes > s.total) bad("rate passes exceed total");
      break;
    case MetricType::kGauge: {
      auto it = j.find("time_us");
      if (it == j.end() || !it->is_number_integer()) bad("gauge \"time_us\" must be an integer");
      s.last_time_us = it->get<std::int64_t>();
      if (s.last_time_us < -1) bad("gauge \"time_us\" must be >= -1");
      s.last = get_finite(j, "last");
      s.gmin = get_finite(j, "min");
      s.gmax = get_finite(j, "max");
      if (s.last_time_us >= 0 && !(s.gmin <= s.last && s.last <= s.gmax)) bad("gauge min <= last <= max violated");
      break;
    }
    case MetricType::kTrend: {
      auto it = j.find("h");
      if (it == j.end()) bad("trend state needs \"h\"");
      try {
        s.trend = Histogram::from_json(*it);
      } catch (const std::invalid_argument& e) {
        bad(e.what());
      }
      break;
    }
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------- Snapshot

void Snapshot::merge(const Snapshot& other) {
  std::vector<MetricId> remap(other.metrics.size());
  // A conflict leaves this snapshot as it was: checked before anything is added.
  for (const MetricDef& od : other.metrics) {
    auto id = find(od.name);
    if (id && (metrics[*id].type != od.type || metrics[*id].contains != od.contains))
      throw std::invalid_argument("cannot merge snapshots: metric \"" + od.name + "\" has conflicting definitions");
  }
  for (std::size_t i = 0; i < other.metrics.size(); ++i) {
    const MetricDef& od = other.metrics[i];
    auto id = find(od.name);
    if (id) {
      remap[i] = *id;
    } else {
      remap[i] = static_cast<MetricId>(metrics.size());
      metrics.push_back(od);
    }
  }
  // `other` is sorted by its ids; where those map to ours in the same order
  // (runners define their metrics alike), each key lands right after the
  // previous one: a hinted insertion finds it without a search.
  auto hint = series.begin();
  for (const auto& [key, st] : other.series) {
    if (key.metric >= remap.size()) throw std::invalid_argument("cannot merge snapshots: series of an unknown metric");
    MetricId m = remap[key.metric];
    auto it = series.try_emplace(hint, SeriesKey{m, key.tags});
    it->second.merge(metrics[m].type, st);
    hint = std::next(it);
  }
  time_us = std::max(time_us, other.time_us);
  generators.insert(generators.end(), other.generators.begin(), other.generators.end());
}

SeriesState Snapshot::aggregate(MetricId metric, const TagSet& filter) const {
  SeriesState out;
  if (metric >= metrics.size()) return out;
  MetricType t = metrics[metric].type;
  for (auto it = series.lower_bound(SeriesKey{metric, TagSet()}); it != series.end() && it->first.metric == metric;
       ++it) {
    if (filter.empty() || it->first.tags.contains_all(filter)) out.merge(t, it->second);
  }
  return out;
}

std::optional<MetricId> Snapshot::find(std::string_view name) const {
  for (std::size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i].name == name) return static_cast<MetricId>(i);
  return std::nullopt;
}

nlohmann::json Snapshot::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["version"] = 1;
  j["time_us"] = time_us;
  nlohmann::json ms = nlohmann::json::array();
  for (const auto& d : metrics)
    ms.push_back(
        {{"name", d.name}, {"type", std::string(to_string(d.type))}, {"contains", std::string(to_string(d.contains))}});
  j["metrics"] = std::move(ms);
  nlohmann::json ss = nlohmann::json::array();
  for (const auto& [key, st] : series) {
    if (key.metric >= metrics.size()) continue;
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [k, v] : key.tags.items()) tags[k] = v;
    ss.push_back(
        {{"m", key.metric}, {"tags", std::move(tags)}, {"state", state_to_json(metrics[key.metric].type, st)}});
  }
  j["series"] = std::move(ss);
  if (!generators.empty()) {
    nlohmann::json gs = nlohmann::json::array();
    for (const auto& g : generators) gs.push_back(g.to_json());
    j["generators"] = std::move(gs);
  }
  return j;
}

Snapshot Snapshot::from_json(const nlohmann::json& j) {
  if (!j.is_object()) bad("expected an object");
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1) bad("unsupported or missing \"version\"");
  Snapshot s;
  auto t = j.find("time_us");
  if (t == j.end() || !t->is_number_integer()) bad("\"time_us\" must be an integer");
  s.time_us = t->get<std::int64_t>();
  auto ms = j.find("metrics");
  if (ms == j.end() || !ms->is_array()) bad("\"metrics\" must be an array");
  for (const auto& m : *ms) {
    if (!m.is_object()) bad("metric definitions must be objects");
    auto n = m.find("name");
    auto ty = m.find("type");
    auto c = m.find("contains");
    if (n == m.end() || !n->is_string() || ty == m.end() || !ty->is_string() || c == m.end() || !c->is_string())
      bad("metric definitions need string \"name\", \"type\" and \"contains\"");
    const auto& name = n->get_ref<const std::string&>();
    if (!valid_metric_name(name)) bad("invalid metric name \"" + name + "\"");
    auto pt = parse_type(ty->get_ref<const std::string&>());
    auto pc = parse_contains(c->get_ref<const std::string&>());
    if (!pt) bad("unknown metric type for \"" + name + "\"");
    if (!pc) bad("unknown \"contains\" for \"" + name + "\"");
    if (s.find(name)) bad("duplicate metric \"" + name + "\"");
    s.metrics.push_back(MetricDef{name, *pt, *pc});
  }
  auto ss = j.find("series");
  if (ss == j.end() || !ss->is_array()) bad("\"series\" must be an array");
  for (const auto& e : *ss) {
    if (!e.is_object()) bad("series entries must be objects");
    auto m = e.find("m");
    if (m == e.end() || !m->is_number_unsigned() || m->get<std::uint64_t>() >= s.metrics.size())
      bad("series \"m\" must index \"metrics\"");
    MetricId id = static_cast<MetricId>(m->get<std::uint64_t>());
    auto tg = e.find("tags");
    if (tg == e.end() || !tg->is_object()) bad("series \"tags\" must be an object");
    std::vector<std::pair<std::string, std::string>> items;
    for (auto it = tg->begin(); it != tg->end(); ++it) {
      if (!it.value().is_string()) bad("tag values must be strings");
      items.emplace_back(it.key(), it.value().get<std::string>());
    }
    auto st = e.find("state");
    if (st == e.end()) bad("series needs \"state\"");
    SeriesKey key{id, TagSet(std::move(items))};
    if (s.series.count(key)) bad("duplicate series");
    s.series.emplace(std::move(key), state_from_json(s.metrics[id].type, *st));
  }
  if (auto gs = j.find("generators"); gs != j.end() && gs->is_array())
    for (const auto& g : *gs)
      if (auto h = GeneratorHealth::from_json(g)) s.generators.push_back(std::move(*h));
  return s;
}

// ---------------------------------------------------------------- Sink

SeriesState& Sink::series_locked(MetricId m, const TagSet& tags) {
  if (m >= types_.size()) {
    std::size_t n = reg_.size();
    if (m >= n) throw MetricError("unknown metric id " + std::to_string(m));
    types_.reserve(n);
    for (std::size_t i = types_.size(); i < n; ++i) types_.push_back(reg_.def(static_cast<MetricId>(i)).type);
  }
  auto it = series_.find(SeriesKeyRef{m, &tags});
  if (it == series_.end()) it = series_.emplace(SeriesKey{m, tags}, SeriesState{}).first;
  return it->second;
}

void Sink::add_locked(MetricId m, const TagSet& tags, double value, std::int64_t time_us) {
  SeriesState& st = series_locked(m, tags);
  st.add(types_[m], value, time_us);
}

void Sink::set_dropped_tags(const std::vector<std::string>& keys) {
  std::lock_guard lk(mu_);
  filter_ = keys.empty() ? nullptr : std::make_unique<TagFilter>(keys);
}

void Sink::add(MetricId m, const TagSet& tags, double value, std::int64_t time_us) {
  std::optional<TagSet> filtered;  // built only when a filter exists
  const TagSet* t = &tags;
  {
    std::lock_guard lk(mu_);
    if (filter_) {
      filtered = filter_->apply(tags);
      t = &*filtered;
    }
    add_locked(m, *t, value, time_us);
  }
  if (observer_) observer_->observe(reg_, Sample{m, t, value, time_us});
}

Sink::Batch::Batch(Sink& s) : s_(s), lock_(s.mu_) {}

SeriesState* Sink::Batch::series(MetricId m, const TagSet& tags) {
  return &s_.series_locked(m, tags);
}
Sink::Batch::~Batch() = default;

void Sink::Batch::add(MetricId m, const TagSet& tags, double value, std::int64_t time_us) {
  if (s_.filter_) {
    TagSet filtered = s_.filter_->apply(tags);
    s_.add_locked(m, filtered, value, time_us);
    if (s_.observer_) s_.observer_->observe(s_.reg_, Sample{m, &filtered, value, time_us});
    return;
  }
  s_.add_locked(m, tags, value, time_us);
  if (s_.observer_) s_.observer_->observe(s_.reg_, Sample{m, &tags, value, time_us});
}

Snapshot Sink::snapshot() const {
  Snapshot snap;
  snap.metrics = reg_.all();
  snap.time_us = now_us();
  std::lock_guard lk(mu_);
  for (const auto& [k, v] : series_) snap.series.emplace(k, v);
  return snap;
}

}  // namespace herd::metrics
