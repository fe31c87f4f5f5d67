#pragma once
// options.systemTags: removes the system tags a run does not want from every
// sample's tag set before it is aggregated or streamed to an output.

#include <string>
#include <unordered_map>
#include <vector>

#include "metrics/metric.h"

namespace herd::metrics {

/// Drops a fixed set of tag keys. apply() caches its results per input tag
/// set, so a hot path that reuses interned sets pays one hash look-up.
/// Not thread-safe: each Sink owns one, used under the sink's lock.
class TagFilter {
 public:
  /// `dropped`: the tag keys to remove (never empty for a useful filter).
  explicit TagFilter(std::vector<std::string> dropped);

  /// `tags` without the dropped keys (the same set when none is present).
  TagSet apply(const TagSet& tags);

  const std::vector<std::string>& dropped() const { return dropped_; }

 private:
  std::vector<std::string> dropped_;  ///< sorted
  std::unordered_map<TagSet, TagSet, TagSetHash> cache_;
};

/// The system tag keys to drop when only `enabled` are wanted, out of every
/// system tag herd knows (`known`). Empty when nothing herd emits is dropped.
std::vector<std::string> dropped_system_tags(const std::vector<std::string>& known,
                                             const std::vector<std::string>& enabled);

}  // namespace herd::metrics
