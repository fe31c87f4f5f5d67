#include "metrics/metric.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_set>

namespace herd::metrics {

std::string_view to_string(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kRate:
      return "rate";
    case MetricType::kTrend:
      return "trend";
  }
  return "unknown";
}

std::string_view to_string(ValueType t) {
  switch (t) {
    case ValueType::kDefault:
      return "default";
    case ValueType::kTime:
      return "time";
    case ValueType::kData:
      return "data";
  }
  return "unknown";
}

namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

const std::shared_ptr<const Items>& empty_items() {
  static const std::shared_ptr<const Items> e = std::make_shared<const Items>();
  return e;
}

std::size_t hash_items(const Items& items) {
  std::size_t h = 0xcbf29ce484222325ULL;
  std::hash<std::string_view> hs;
  for (const auto& [k, v] : items) {
    h ^= hs(k) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= hs(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return h;
}

}  // namespace

TagSet::TagSet() : items_(empty_items()), hash_(hash_items(*items_)) {}

TagSet::TagSet(Items tags) {
  // Stable sort keeps insertion order among equal keys so "last wins" holds.
  std::stable_sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Items out;
  out.reserve(tags.size());
  for (auto& kv : tags) {
    if (!out.empty() && out.back().first == kv.first) {
      out.back().second = std::move(kv.second);
    } else {
      out.push_back(std::move(kv));
    }
  }
  hash_ = hash_items(out);
  items_ = out.empty() ? empty_items() : std::make_shared<const Items>(std::move(out));
}

const Items& TagSet::items() const {
  return *items_;
}

const std::string* TagSet::get(std::string_view key) const {
  auto it = std::lower_bound(items_->begin(), items_->end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  if (it != items_->end() && it->first == key) return &it->second;
  return nullptr;
}

TagSet TagSet::with(std::string key, std::string value) const {
  Items copy = *items_;
  copy.emplace_back(std::move(key), std::move(value));
  return TagSet(std::move(copy));
}

bool TagSet::contains_all(const TagSet& filter) const {
  if (filter.items_ == items_) return true;
  // Both sorted by key: merge walk.
  auto it = items_->begin();
  for (const auto& [k, v] : *filter.items_) {
    while (it != items_->end() && it->first < k) ++it;
    if (it == items_->end() || it->first != k || it->second != v) return false;
  }
  return true;
}

bool TagSet::empty() const {
  return items_->empty();
}

TagSet intern(const TagSet& tags) {
  static std::mutex mu;
  static auto* table = new std::unordered_set<TagSet, TagSetHash>();  // never destroyed: used until exit
  std::lock_guard lk(mu);
  return *table->insert(tags).first;
}

bool TagSet::same_items(const TagSet& o) const {
  return *items_ == *o.items_;
}

bool TagSet::operator<(const TagSet& o) const {
  if (items_ == o.items_) return false;
  return *items_ < *o.items_;
}

void SeriesState::add(MetricType t, double value, std::int64_t time_us) {
  switch (t) {
    case MetricType::kCounter:
      sum += value;
      break;
    case MetricType::kRate:
      ++total;
      if (value != 0) ++passes;
      break;
    case MetricType::kGauge:
      if (last_time_us == -1) {
        last = gmin = gmax = value;
        last_time_us = time_us < 0 ? 0 : time_us;
      } else {
        if (time_us >= last_time_us) {
          last = value;
          last_time_us = time_us;
        }
        gmin = std::min(gmin, value);
        gmax = std::max(gmax, value);
      }
      break;
    case MetricType::kTrend:
      trend.record(value);
      break;
  }
}

bool SeriesState::has_samples(MetricType t, bool any_series) const {
  switch (t) {
    case MetricType::kCounter:
      return any_series;
    case MetricType::kGauge:
      return last_time_us != -1;
    case MetricType::kRate:
      return total > 0;
    case MetricType::kTrend:
      return trend.count() > 0;
  }
  return false;
}

void SeriesState::merge(MetricType t, const SeriesState& o) {
  switch (t) {
    case MetricType::kCounter:
      sum += o.sum;
      break;
    case MetricType::kRate:
      passes += o.passes;
      total += o.total;
      break;
    case MetricType::kGauge:
      if (o.last_time_us == -1) break;
      if (last_time_us == -1) {
        last = o.last;
        gmin = o.gmin;
        gmax = o.gmax;
        last_time_us = o.last_time_us;
        break;
      }
      gmin = std::min(gmin, o.gmin);
      gmax = std::max(gmax, o.gmax);
      // Latest wins; equal timestamps resolve to the larger value so that
      // merging is order-independent.
      if (o.last_time_us > last_time_us || (o.last_time_us == last_time_us && o.last > last)) {
        last = o.last;
        last_time_us = o.last_time_us;
      }
      break;
    case MetricType::kTrend:
      trend.merge(o.trend);
      break;
  }
}

}  // namespace herd::metrics
