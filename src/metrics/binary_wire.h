#pragma once
// Primitives of the metrics binary wire form (src/metrics/WIRE_FORMAT.md,
// "Binary form"): LEB128 varints, zigzag-signed varints, little-endian
// IEEE-754 doubles and length-prefixed byte strings. BinaryReader checks
// every read against the end of its input and throws std::invalid_argument
// ("invalid snapshot: ..."), so a decoder built on it never reads out of
// bounds; it also carries the decode's budget of histogram cells, which
// bounds the memory a small hostile input can make the decoder allocate.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace herd::metrics {

class BinaryWriter {
 public:
  explicit BinaryWriter(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  /// Zigzag: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
  void svarint(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void f64(double v) {
    std::uint64_t b;
    std::memcpy(&b, &v, 8);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((b >> (8 * i)) & 0xff));
  }
  void bytes(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

class BinaryReader {
 public:
  /// `cell_budget`: how many histogram cells (dense bucket slots, 8 bytes each)
  /// decoding `in` may allocate in all (take_cells).
  BinaryReader(std::string_view in, std::uint64_t cell_budget)
      : p_(reinterpret_cast<const unsigned char*>(in.data())), end_(p_ + in.size()), cells_(cell_budget) {}

  [[noreturn]] static void fail(const std::string& why);

  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }
  std::uint8_t u8() {
    need(1);
    return *p_++;
  }
  /// At most 10 bytes; a value above 2^64 - 1 is an error. One byte (below
  /// 128: most bucket counts) without the loop.
  std::uint64_t varint() {
    if (p_ != end_ && *p_ < 0x80) [[likely]]
      return *p_++;
    return varint_long();
  }
  std::int64_t svarint() {
    std::uint64_t z = varint();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  double f64() {
    need(8);
    std::uint64_t b = 0;
    for (int i = 0; i < 8; ++i) b |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    double v;
    std::memcpy(&v, &b, 8);
    return v;
  }
  std::string_view bytes() {
    std::uint64_t n = varint();
    if (n > left()) fail("string runs past the end");
    std::string_view s(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
    return s;
  }
  /// A count of items that take at least `min_item_bytes` each: checked
  /// against what is left, so a hostile count cannot make the caller reserve
  /// more than the input could hold.
  std::size_t count(std::size_t min_item_bytes, const char* what) {
    std::uint64_t n = varint();
    if (n > left() / min_item_bytes) fail(std::string(what) + " count exceeds the input");
    return static_cast<std::size_t>(n);
  }
  /// Charges `n` histogram cells against the budget.
  void take_cells(std::uint64_t n) {
    if (n > cells_) fail("histograms span more buckets than the input size allows");
    cells_ -= n;
  }

 private:
  std::uint64_t varint_long() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      std::uint8_t b = *p_++;
      if (shift == 63 && b > 1) fail("varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  void need(std::size_t n) {
    if (left() < n) fail("truncated");
  }
  const unsigned char* p_;
  const unsigned char* end_;
  std::uint64_t cells_;
};

}  // namespace herd::metrics
