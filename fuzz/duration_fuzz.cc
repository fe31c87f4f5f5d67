// libFuzzer target: parse_duration must never crash, and every parsed value
// must survive a format/parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "util/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::chrono::microseconds d{0};
  try {
    d = herd::util::parse_duration(text);
  } catch (const herd::util::DurationError&) {
    return 0;
  }
  const std::string formatted = herd::util::format_duration(d);
  std::chrono::microseconds again{0};
  try {
    again = herd::util::parse_duration(formatted);
  } catch (const herd::util::DurationError&) {
    std::abort();  // format_duration produced something parse_duration rejects
  }
  if (again != d) std::abort();
  return 0;
}
