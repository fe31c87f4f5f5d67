#include "metrics/tag_filter.h"

#include <algorithm>

namespace herd::metrics {

namespace {
constexpr std::size_t kMaxCached = 1 << 16;  // bounds memory when URLs are unique per request
}

TagFilter::TagFilter(std::vector<std::string> dropped) : dropped_(std::move(dropped)) {
  std::sort(dropped_.begin(), dropped_.end());
}

TagSet TagFilter::apply(const TagSet& tags) {
  auto it = cache_.find(tags);
  if (it != cache_.end()) return it->second;
  bool any = std::any_of(tags.items().begin(), tags.items().end(), [&](const auto& kv) {
    return std::binary_search(dropped_.begin(), dropped_.end(), kv.first);
  });
  TagSet out = tags;
  if (any) {
    std::vector<std::pair<std::string, std::string>> kept;
    kept.reserve(tags.items().size());
    for (const auto& kv : tags.items()) {
      if (!std::binary_search(dropped_.begin(), dropped_.end(), kv.first)) kept.push_back(kv);
    }
    out = intern(TagSet(std::move(kept)));
  }
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_.emplace(tags, out);
  return out;
}

std::vector<std::string> dropped_system_tags(const std::vector<std::string>& known,
                                             const std::vector<std::string>& enabled) {
  std::vector<std::string> out;
  for (const auto& k : known) {
    if (std::find(enabled.begin(), enabled.end(), k) == enabled.end()) out.push_back(k);
  }
  return out;
}

}  // namespace herd::metrics
