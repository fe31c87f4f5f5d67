#include "util/duration.h"

#include <cstdint>
#include <limits>

namespace herd::util {
namespace {

using i128 = __int128;

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  std::string msg = "invalid duration \"";
  msg.append(text);
  msg += "\": ";
  msg.append(why);
  throw DurationError(msg);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Nanoseconds per unit, or 0 for an unknown unit.
std::int64_t unit_ns(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" /* U+00B5 */ || u == "\xCE\xBCs" /* U+03BC */) return 1'000;
  if (u == "ms") return 1'000'000;
  if (u == "s") return 1'000'000'000;
  if (u == "m") return 60LL * 1'000'000'000;
  if (u == "h") return 3600LL * 1'000'000'000;
  if (u == "d") return 86400LL * 1'000'000'000;  // k6's extension
  return 0;
}

// Largest |ns| whose microsecond value fits in int64 (plus slack for truncation).
constexpr i128 kMaxNs = static_cast<i128>(std::numeric_limits<std::int64_t>::max()) * 1000 + 999;

// Parses "123", "1.5", ".5" (digits with an optional fraction) at `pos`.
// Returns false if no digits. Value = whole + frac/scale.
struct Number {
  i128 whole = 0;
  i128 frac = 0;
  i128 scale = 1;
  bool overflow = false;
};

bool parse_number(std::string_view s, std::size_t& pos, Number& n) {
  bool any = false;
  while (pos < s.size() && is_digit(s[pos])) {
    any = true;
    if (n.whole > kMaxNs) {
      n.overflow = true;
    } else {
      n.whole = n.whole * 10 + (s[pos] - '0');
    }
    ++pos;
  }
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && is_digit(s[pos])) {
      any = true;
      // Keep at most 18 fractional digits; the rest cannot matter at ns precision.
      if (n.scale < static_cast<i128>(1'000'000'000'000'000'000LL)) {
        n.frac = n.frac * 10 + (s[pos] - '0');
        n.scale *= 10;
      }
      ++pos;
    }
  }
  return any;
}

}  // namespace

std::chrono::microseconds parse_duration(std::string_view text) {
  if (text.empty()) fail(text, "empty");
  std::size_t pos = 0;
  bool neg = false;
  if (text[0] == '-' || text[0] == '+') {
    neg = text[0] == '-';
    pos = 1;
  }
  std::string_view rest = text.substr(pos);
  if (rest.empty()) fail(text, "missing number");

  // k6: a bare number is milliseconds.
  {
    std::size_t p = 0;
    Number n;
    if (parse_number(rest, p, n) && p == rest.size()) {
      if (n.overflow) fail(text, "overflow");
      i128 ns = n.whole * 1'000'000 + n.frac * 1'000'000 / n.scale;
      if (ns > kMaxNs) fail(text, "overflow");
      i128 us = ns / 1000;
      return std::chrono::microseconds(static_cast<std::int64_t>(neg ? -us : us));
    }
  }

  i128 total = 0;
  while (pos < text.size()) {
    Number n;
    std::size_t start = pos;
    if (!parse_number(text, pos, n)) {
      fail(text, pos < text.size() && text[pos] == '.' ? "invalid number" : "missing number");
    }
    if (n.overflow) fail(text, "overflow");
    (void)start;
    std::size_t ustart = pos;
    while (pos < text.size() && text[pos] != '.' && !is_digit(text[pos])) ++pos;
    std::string_view unit = text.substr(ustart, pos - ustart);
    if (unit.empty()) fail(text, "missing unit");
    std::int64_t mult = unit_ns(unit);
    if (mult == 0) fail(text, "unknown unit \"" + std::string(unit) + "\"");
    i128 v = n.whole * mult;
    if (n.whole > kMaxNs || v > kMaxNs) fail(text, "overflow");
    v += n.frac * mult / n.scale;
    total += v;
    if (total > kMaxNs) fail(text, "overflow");
  }
  i128 us = total / 1000;
  if (us > std::numeric_limits<std::int64_t>::max()) fail(text, "overflow");
  return std::chrono::microseconds(static_cast<std::int64_t>(neg ? -us : us));
}

namespace {

// Appends v / 10^prec with trailing fractional zeros trimmed.
void append_frac(std::string& out, std::uint64_t v, int prec) {
  std::uint64_t div = 1;
  for (int i = 0; i < prec; ++i) div *= 10;
  out += std::to_string(v / div);
  std::uint64_t frac = v % div;
  if (frac == 0) return;
  std::string digits(static_cast<std::size_t>(prec), '0');
  for (int i = prec - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  out += '.';
  out += digits;
}

}  // namespace

std::string format_duration(std::chrono::microseconds d) {
  std::int64_t c = d.count();
  if (c == 0) return "0s";
  bool neg = c < 0;
  std::uint64_t u = neg ? static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(c) : static_cast<std::uint64_t>(c);
  std::string out = neg ? "-" : "";
  if (u < 1'000) {
    out += std::to_string(u);
    out += "\xC2\xB5s";  // Go prints U+00B5
    return out;
  }
  if (u < 1'000'000) {
    append_frac(out, u, 3);
    out += "ms";
    return out;
  }
  std::uint64_t secs_us = u % 60'000'000;
  std::uint64_t mins_total = u / 60'000'000;
  std::uint64_t hours = mins_total / 60;
  std::uint64_t mins = mins_total % 60;
  if (hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (hours > 0 || mins > 0) {
    out += std::to_string(mins) + "m";
  }
  append_frac(out, secs_us, 6);
  out += "s";
  return out;
}

std::chrono::microseconds clamp_wait_seconds(double seconds) {
  if (!(seconds > 0)) return std::chrono::microseconds(0);
  if (seconds * 1e6 >= static_cast<double>(kMaxWait.count())) return kMaxWait;
  return std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6));
}

}  // namespace herd::util
