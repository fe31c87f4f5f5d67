// libFuzzer target: Snapshot and Histogram wire formats. from_json must
// either succeed or throw std::invalid_argument; a decoded value must
// re-encode to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/histogram.h"
#include "metrics/sink.h"

using namespace herd::metrics;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    Histogram h = Histogram::from_json(j);
    (void)h.percentile(50);
    (void)h.percentile(99.9);
    Histogram again = Histogram::from_json(h.to_json());
    if (!(again == h)) std::abort();
    Histogram m = h;
    m.merge(again);
    if (m.count() != h.count() * 2 && h.count() < (1ULL << 62)) std::abort();
  } catch (const std::invalid_argument&) {
  }
  try {
    Snapshot s = Snapshot::from_json(j);
    nlohmann::json out = s.to_json();
    Snapshot back = Snapshot::from_json(out);
    if (back.to_json() != out) std::abort();
    Snapshot merged = s;
    merged.merge(back);
    for (MetricId id = 0; id < merged.metrics.size(); ++id) (void)merged.aggregate(id);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
