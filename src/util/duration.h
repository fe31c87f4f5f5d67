#pragma once
// k6 / Go duration strings: "1h2m3.5s", "500ms", "10us", "1µs"; a bare number
// is milliseconds (k6's rule for numeric option values).

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace herd::util {

class DurationError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Parses a duration; throws DurationError quoting the input on a bad string
/// (empty, unknown unit, overflow). Negative durations are accepted here
/// ("-1s"); callers validate ranges.
std::chrono::microseconds parse_duration(std::string_view text);

/// Go-style formatting: "0s", "500ms", "1m30s", "1h0m0s", "1.5s".
std::string format_duration(std::chrono::microseconds d);

}  // namespace herd::util
