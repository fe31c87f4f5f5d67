#include "metrics/registry.h"

namespace herd::metrics {

namespace {

struct Builtin {
  const char* name;
  MetricType type;
  ValueType contains;
};

// Same order as the BuiltinMetric enum.
constexpr Builtin kBuiltins[] = {
    {"vus", MetricType::kGauge, ValueType::kDefault},
    {"vus_max", MetricType::kGauge, ValueType::kDefault},
    {"iterations", MetricType::kCounter, ValueType::kDefault},
    {"iteration_duration", MetricType::kTrend, ValueType::kTime},
    {"dropped_iterations", MetricType::kCounter, ValueType::kDefault},
    {"data_sent", MetricType::kCounter, ValueType::kData},
    {"data_received", MetricType::kCounter, ValueType::kData},
    {"checks", MetricType::kRate, ValueType::kDefault},
    {"group_duration", MetricType::kTrend, ValueType::kTime},
    {"http_reqs", MetricType::kCounter, ValueType::kDefault},
    {"http_req_failed", MetricType::kRate, ValueType::kDefault},
    {"http_req_duration", MetricType::kTrend, ValueType::kTime},
    {"http_req_blocked", MetricType::kTrend, ValueType::kTime},
    {"http_req_connecting", MetricType::kTrend, ValueType::kTime},
    {"http_req_tls_handshaking", MetricType::kTrend, ValueType::kTime},
    {"http_req_sending", MetricType::kTrend, ValueType::kTime},
    {"http_req_waiting", MetricType::kTrend, ValueType::kTime},
    {"http_req_receiving", MetricType::kTrend, ValueType::kTime},
};
static_assert(sizeof(kBuiltins) / sizeof(kBuiltins[0]) == kBuiltinMetricCount);

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

Registry::Registry() {
  for (const auto& b : kBuiltins) define(b.name, b.type, b.contains);
}

MetricId Registry::define(const std::string& name, MetricType type, ValueType contains) {
  if (!valid_metric_name(name)) {
    throw MetricError("invalid metric name \"" + name +
                      "\": a metric name must be 1 to 128 ASCII letters, digits or underscores "
                      "and must start with a letter or an underscore");
  }
  std::lock_guard lk(mu_);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    const MetricDef& d = defs_[it->second];
    if (d.type != type || d.contains != contains) {
      throw MetricError("metric \"" + name + "\" is already defined as " + std::string(to_string(d.type)) +
                        " (contains " + std::string(to_string(d.contains)) + "), cannot redefine it as " +
                        std::string(to_string(type)) + " (contains " + std::string(to_string(contains)) + ")");
    }
    return it->second;
  }
  MetricId id = static_cast<MetricId>(defs_.size());
  defs_.push_back(MetricDef{name, type, contains});
  by_name_.emplace(name, id);
  return id;
}

std::optional<MetricId> Registry::find(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

MetricDef Registry::def(MetricId id) const {
  std::lock_guard lk(mu_);
  if (id >= defs_.size()) throw MetricError("unknown metric id " + std::to_string(id));
  return defs_[id];
}

MetricType Registry::type(MetricId id) const {
  std::lock_guard lk(mu_);
  if (id >= defs_.size()) throw MetricError("unknown metric id " + std::to_string(id));
  return defs_[id].type;
}

std::size_t Registry::size() const {
  std::lock_guard lk(mu_);
  return defs_.size();
}

std::vector<MetricDef> Registry::all() const {
  std::lock_guard lk(mu_);
  return defs_;
}

}  // namespace herd::metrics
