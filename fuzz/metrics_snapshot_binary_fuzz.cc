// libFuzzer target: the snapshot's binary wire form (metrics/snapshot_binary.h),
// what a coordinator decodes from every runner. from_binary must either
// succeed or throw std::invalid_argument, within bounded memory; a decoded
// snapshot must re-encode to bytes that decode to the same bytes again, and
// agree with the JSON form. Decoded again with a small shared TagSetPool (as
// the coordinator decodes every runner's), it is the same snapshot, and the
// coordinator's one-at-a-time merge (SnapshotMerger's Snapshot::merge with
// hinted insertion) gives what the plain merge gives.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "metrics/snapshot_binary.h"

using namespace herd::metrics;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Snapshot s;
  try {
    s = from_binary(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string enc = to_binary(s);
  Snapshot back = from_binary(enc);  // must not throw: what decodes is valid
  if (to_binary(back) != enc) std::abort();
  if (to_binary(Snapshot::from_json(s.to_json())) != enc) std::abort();
  static TagSetPool pool(64);  // shared across inputs, as across runners; small so it starts over often
  Snapshot pooled = from_binary(enc, &pool);
  if (to_binary(pooled) != enc) std::abort();
  Snapshot merged = s;
  merged.merge(back);
  merged.merge(pooled);
  Snapshot twice = back;
  twice.merge(s);
  twice.merge(back);
  if (to_binary(twice) != to_binary(merged)) std::abort();
  for (MetricId id = 0; id < merged.metrics.size(); ++id) (void)merged.aggregate(id).trend.percentile(95);
  return 0;
}
