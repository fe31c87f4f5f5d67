#pragma once
// The byte-level helpers of herd's JSON parser (json_parse.cc): character
// classes, the eight-bytes-at-a-time scan of plain string characters, and
// UTF-8 validation and encoding. Internal to src/js.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace herd::js::json_text {

inline bool is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

inline int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool is_continuation(uint8_t c) {
  return (c & 0xC0) == 0x80;
}

static_assert(std::endian::native == std::endian::little, "the string scanner's lane order");

/// The bytes of `v` (eight string bytes, the first in the low lane) that end a
/// run of plain string characters ('"', '\\', below 0x20, 0x80 and up), each
/// flagged by its high bit. Borrows make false flags only above a true one, so
/// the lowest flag is exact.
inline uint64_t special_bytes(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = v ^ (kOnes * '"');
  const uint64_t backslash = v ^ (kOnes * '\\');
  return (((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((v - kOnes * 0x20) & ~v) | v) & kHigh;
}

inline bool is_plain(uint8_t c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/// The first byte at or after `p` that ends a run of plain string characters,
/// or `end`. Eight bytes at a time.
inline const uint8_t* skip_plain(const uint8_t* p, const uint8_t* end) {
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if (const uint64_t flags = special_bytes(v)) return p + (std::countr_zero(flags) >> 3);
    p += 8;
  }
  while (p < end && is_plain(*p)) ++p;
  return p;
}

/// skip_plain that also copies the plain bytes to `*w` (advanced past them).
/// Stores eight bytes at a time: `*w` must have room for as many bytes as
/// remain before `end`.
inline const uint8_t* copy_plain(const uint8_t* p, const uint8_t* end, char** w) {
  char* out = *w;
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    std::memcpy(out, &v, sizeof v);
    if (const uint64_t flags = special_bytes(v)) {
      const int k = std::countr_zero(flags) >> 3;
      *w = out + k;
      return p + k;
    }
    p += 8;
    out += 8;
  }
  while (p < end && is_plain(*p)) *out++ = static_cast<char>(*p++);
  *w = out;
  return p;
}

/// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
/// no surrogates, at most U+10FFFF) starting with the non-ASCII byte at `p`,
/// or 0.
inline std::size_t utf8_sequence_length(const uint8_t* p, const uint8_t* end) {
  const uint8_t c = p[0];
  const std::ptrdiff_t avail = end - p;
  if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && is_continuation(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || !is_continuation(p[1]) || !is_continuation(p[2])) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // a surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || !is_continuation(p[1]) || !is_continuation(p[2]) || !is_continuation(p[3])) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

/// Writes `cp` as UTF-8 at `w`; returns the end.
inline char* put_utf8(char* w, uint32_t cp) {
  if (cp < 0x80) {
    *w++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *w++ = static_cast<char>(0xC0 | (cp >> 6));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *w++ = static_cast<char>(0xE0 | (cp >> 12));
    *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *w++ = static_cast<char>(0xF0 | (cp >> 18));
    *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return w;
}

}  // namespace herd::js::json_text
