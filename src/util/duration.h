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

/// The longest wait or duration herd schedules: 100 years. Script waits
/// beyond it (sleep(Infinity), setTimeout(f, 1e300), a request timeout of
/// 1e30) are clamped to it, i.e. they last until the test ends; options
/// beyond it are rejected. Keeps steady_clock arithmetic (nanoseconds, ~292
/// years) far from overflow.
inline constexpr std::chrono::microseconds kMaxWait = std::chrono::hours(24 * 365 * 100);
inline constexpr double kMaxWaitMs = 1e3 * 3600 * 24 * 365 * 100;

/// `seconds` (any double: NaN, negative, Infinity) as a wait: NaN and
/// non-positive give 0, anything beyond kMaxWait gives kMaxWait. Never UB.
std::chrono::microseconds clamp_wait_seconds(double seconds);

/// Go-style formatting: "0s", "500ms", "1m30s", "1h0m0s", "1.5s".
std::string format_duration(std::chrono::microseconds d);

}  // namespace herd::util
