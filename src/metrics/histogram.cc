#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/binary_wire.h"

namespace herd::metrics {

namespace {

// A positive finite value v = m * 2^e with m in [0.5, 1) lands in bucket
// e * kSubBuckets + floor((m - 0.5) * 2 * kSubBuckets). Each power of two is
// split into kSubBuckets equal-width sub-buckets, so a bucket's width is at
// most 1/kSubBuckets of its lower bound.
constexpr int kSub = Histogram::kSubBuckets;
// frexp exponents of finite positive doubles lie in [-1073, 1024].
constexpr std::int64_t kMinIndex = -1073LL * kSub;
constexpr std::int64_t kMaxIndex = 1024LL * kSub + (kSub - 1);
// Zero runs at least this long split the serialised window into separate runs.
constexpr std::size_t kRunGap = 8;

// The same index as the frexp form below, read off the bits of a normal
// double: its biased exponent b gives e = b - 1022, and as m - 0.5 is the
// fraction f / 2, the sub-bucket floor(f * kSub) is f's top log2(kSub) bits.
// Subnormals (b == 0) take the frexp form (issue #17: frexp is a call per sample).
static_assert(std::has_single_bit(static_cast<unsigned>(kSub)));
constexpr int kSubBits = std::countr_zero(static_cast<unsigned>(kSub));
std::int32_t bucket_index(double magnitude) {
  auto bits = std::bit_cast<std::uint64_t>(magnitude);
  auto biased = static_cast<std::int32_t>((bits >> 52) & 0x7ff);
  if (biased != 0) [[likely]]
    return (biased - 1022) * kSub + static_cast<std::int32_t>((bits >> (52 - kSubBits)) & (kSub - 1));
  int e = 0;
  double m = std::frexp(magnitude, &e);  // m in [0.5, 1)
  int sub = static_cast<int>((m - 0.5) * 2.0 * kSub);
  if (sub >= kSub) sub = kSub - 1;
  if (sub < 0) sub = 0;
  return static_cast<std::int32_t>(e * kSub + sub);
}

// Midpoint of a bucket (by magnitude).
double bucket_mid(std::int32_t idx) {
  std::int32_t e = idx >= 0 ? idx / kSub : -((-idx + kSub - 1) / kSub);
  std::int32_t sub = idx - e * kSub;
  double m = 0.5 + (static_cast<double>(sub) + 0.5) / (2.0 * kSub);
  return std::ldexp(m, e);
}

// Lower bound of a bucket (by magnitude); the upper bound is bucket_lower(idx + 1).
double bucket_lower(std::int32_t idx) {
  std::int32_t e = idx >= 0 ? idx / kSub : -((-idx + kSub - 1) / kSub);
  std::int32_t sub = idx - e * kSub;
  return std::ldexp(0.5 + static_cast<double>(sub) / (2.0 * kSub), e);
}

// Adds `count` at index `idx` into a dense window, growing it as needed.
void window_add(std::vector<std::uint64_t>& w, std::int32_t& base, std::int32_t idx, std::uint64_t count) {
  auto off = static_cast<std::uint64_t>(static_cast<std::int64_t>(idx) - base);  // huge when idx < base
  if (off < w.size()) [[likely]] {
    w[off] += count;
    return;
  }
  if (w.empty()) {
    w.assign(1, count);
    base = idx;
    return;
  }
  if (idx < base) {
    w.insert(w.begin(), static_cast<std::size_t>(base - idx), 0);
    base = idx;
  } else if (idx >= base + static_cast<std::int64_t>(w.size())) {
    w.resize(static_cast<std::size_t>(idx - base) + 1, 0);
  }
  w[static_cast<std::size_t>(idx - base)] += count;
}

void window_merge(std::vector<std::uint64_t>& w, std::int32_t& base, const std::vector<std::uint64_t>& o,
                  std::int32_t obase) {
  if (o.empty()) return;
  if (w.empty()) {
    w = o;
    base = obase;
    return;
  }
  std::int32_t lo = std::min(base, obase);
  std::int64_t hi =
      std::max<std::int64_t>(base + static_cast<std::int64_t>(w.size()), obase + static_cast<std::int64_t>(o.size()));
  if (lo < base) {
    w.insert(w.begin(), static_cast<std::size_t>(base - lo), 0);
    base = lo;
  }
  if (hi > base + static_cast<std::int64_t>(w.size())) w.resize(static_cast<std::size_t>(hi - base), 0);
  std::size_t off = static_cast<std::size_t>(obase - base);
  for (std::size_t i = 0; i < o.size(); ++i) w[off + i] += o[i];
}

void trim(std::vector<std::uint64_t>& w, std::int32_t& base) {
  std::size_t first = 0;
  while (first < w.size() && w[first] == 0) ++first;
  if (first == w.size()) {
    w.clear();
    base = 0;
    return;
  }
  std::size_t last = w.size();
  while (w[last - 1] == 0) --last;
  w.erase(w.begin() + static_cast<std::ptrdiff_t>(last), w.end());
  w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(first));
  base += static_cast<std::int32_t>(first);
}

nlohmann::json window_to_json(const std::vector<std::uint64_t>& w, std::int32_t base) {
  nlohmann::json runs = nlohmann::json::array();
  std::size_t i = 0;
  while (i < w.size()) {
    while (i < w.size() && w[i] == 0) ++i;
    if (i == w.size()) break;
    std::size_t start = i, end = i, zeros = 0;
    for (std::size_t k = i; k < w.size(); ++k) {
      if (w[k] == 0) {
        if (++zeros >= kRunGap) break;
      } else {
        zeros = 0;
        end = k;
      }
    }
    nlohmann::json counts = nlohmann::json::array();
    for (std::size_t k = start; k <= end; ++k) counts.push_back(w[k]);
    runs.push_back(
        nlohmann::json::array({static_cast<std::int64_t>(base) + static_cast<std::int64_t>(start), std::move(counts)}));
    i = end + 1;
  }
  return runs;
}

[[noreturn]] void bad(const std::string& why) {
  throw std::invalid_argument("invalid histogram: " + why);
}

std::uint64_t checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) bad("bucket counts overflow");
  return r;
}

// Parses runs into a window; returns the total count.
std::uint64_t window_from_json(const nlohmann::json& runs, const char* field, std::vector<std::uint64_t>& w,
                               std::int32_t& base) {
  if (!runs.is_array()) bad(std::string("\"") + field + "\" must be an array");
  std::uint64_t total = 0;
  std::int64_t next_free = kMinIndex;  // runs must be ascending and disjoint
  std::int64_t first = 0, last = -1;
  bool any = false;
  // First pass: validate and find the extent.
  for (const auto& run : runs) {
    if (!run.is_array() || run.size() != 2) bad(std::string("\"") + field + "\" runs must be [index, [counts]]");
    const auto& idx = run[0];
    const auto& counts = run[1];
    if (!idx.is_number_integer()) bad("run index must be an integer");
    std::int64_t start = idx.is_number_unsigned() ? (idx.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxIndex)
                                                         ? kMaxIndex + 1
                                                         : static_cast<std::int64_t>(idx.get<std::uint64_t>()))
                                                  : idx.get<std::int64_t>();
    if (!counts.is_array() || counts.empty()) bad("run counts must be a non-empty array");
    if (start < kMinIndex || start > kMaxIndex) bad("run index out of range");
    if (static_cast<std::int64_t>(counts.size()) > kMaxIndex - start + 1) bad("run extends past the index range");
    if (any && start < next_free) bad("runs must be ascending and must not overlap");
    for (const auto& c : counts) {
      if (!c.is_number_unsigned() && !(c.is_number_integer() && c.get<std::int64_t>() >= 0))
        bad("bucket counts must be non-negative integers");
      total = checked_add(total, c.get<std::uint64_t>());
    }
    if (!any) first = start;
    any = true;
    last = start + static_cast<std::int64_t>(counts.size()) - 1;
    next_free = last + 1;
  }
  w.clear();
  base = 0;
  if (!any) return 0;
  w.assign(static_cast<std::size_t>(last - first + 1), 0);
  base = static_cast<std::int32_t>(first);
  for (const auto& run : runs) {
    std::int64_t start = run[0].is_number_unsigned() ? static_cast<std::int64_t>(run[0].get<std::uint64_t>())
                                                     : run[0].get<std::int64_t>();
    std::size_t off = static_cast<std::size_t>(start - first);
    for (const auto& c : run[1]) w[off++] = c.get<std::uint64_t>();
  }
  trim(w, base);
  return total;
}

double finite_number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) bad(std::string("\"") + key + "\" must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v)) bad(std::string("\"") + key + "\" must be finite");
  return v;
}

}  // namespace

void Histogram::record(double value, std::uint64_t count) {
  if (count == 0 || !std::isfinite(value)) return;
  if (value > 0) {
    window_add(pos_, pos_base_, bucket_index(value), count);
  } else if (value < 0) {
    window_add(neg_, neg_base_, bucket_index(-value), count);
  } else {
    zero_ += count;
    value = 0;  // normalise -0
  }
  count_ += count;
  sum_ += count == 1 ? value : value * static_cast<double>(count);
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  window_merge(pos_, pos_base_, other.pos_, other.pos_base_);
  window_merge(neg_, neg_base_, other.neg_, other.neg_base_);
  zero_ += other.zero_;
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::clear() {
  *this = Histogram();
}

double Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also NaN
  if (p >= 100) return max_;
  // k6: rank r = p/100 * (n-1); interpolate between sorted[floor(r)] and sorted[ceil(r)].
  double r = p / 100.0 * static_cast<double>(count_ - 1);
  std::uint64_t lo_rank = static_cast<std::uint64_t>(std::floor(r));
  std::uint64_t hi_rank = static_cast<std::uint64_t>(std::ceil(r));
  if (hi_rank >= count_) hi_rank = count_ - 1;
  double frac = r - std::floor(r);

  // Value of the sample at 0-based rank k, approximated by its bucket midpoint.
  auto value_at = [&](std::uint64_t k) -> double {
    if (k == 0) return min_;
    if (k == count_ - 1) return max_;
    std::uint64_t seen = 0;
    for (std::size_t i = neg_.size(); i-- > 0;) {
      seen += neg_[i];
      if (k < seen) return -bucket_mid(neg_base_ + static_cast<std::int32_t>(i));
    }
    seen += zero_;
    if (k < seen) return 0;
    for (std::size_t i = 0; i < pos_.size(); ++i) {
      seen += pos_[i];
      if (k < seen) return bucket_mid(pos_base_ + static_cast<std::int32_t>(i));
    }
    return max_;
  };
  double a = std::clamp(value_at(lo_rank), min_, max_);
  double b = hi_rank == lo_rank ? a : std::clamp(value_at(hi_rank), min_, max_);
  return std::clamp(a + (b - a) * frac, min_, max_);
}

nlohmann::json Histogram::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["v"] = 1;
  j["count"] = count_;
  j["sum"] = sum_;
  j["min"] = min();
  j["max"] = max();
  j["zero"] = zero_;
  j["pos"] = window_to_json(pos_, pos_base_);
  j["neg"] = window_to_json(neg_, neg_base_);
  return j;
}

Histogram Histogram::from_json(const nlohmann::json& j) {
  if (!j.is_object()) bad("expected an object");
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1)
    bad("unsupported or missing version \"v\"");
  auto cnt = j.find("count");
  if (cnt == j.end() || !cnt->is_number_unsigned()) bad("\"count\" must be a non-negative integer");
  auto zero = j.find("zero");
  if (zero == j.end() || !zero->is_number_unsigned()) bad("\"zero\" must be a non-negative integer");
  auto pos = j.find("pos");
  auto neg = j.find("neg");
  if (pos == j.end() || neg == j.end()) bad("missing \"pos\" or \"neg\"");

  Histogram h;
  h.count_ = cnt->get<std::uint64_t>();
  h.zero_ = zero->get<std::uint64_t>();
  h.sum_ = finite_number(j, "sum");
  double mn = finite_number(j, "min");
  double mx = finite_number(j, "max");
  std::uint64_t total = window_from_json(*pos, "pos", h.pos_, h.pos_base_);
  total = checked_add(total, window_from_json(*neg, "neg", h.neg_, h.neg_base_));
  h.check_decoded(checked_add(total, h.zero_), mn, mx);
  return h;
}

void Histogram::check_decoded(std::uint64_t total, double mn, double mx) {
  if (total != count_) bad("bucket counts do not add up to \"count\"");
  if (count_ == 0) {
    if (sum_ != 0) bad("empty histogram with a non-zero sum");
    return;
  }
  if (mn > mx) bad("\"min\" greater than \"max\"");
  // min and max must lie in the lowest and highest non-empty buckets.
  auto lowest_ok = [&](double x) {
    if (!neg_.empty()) return x < 0 && bucket_index(-x) == neg_base_ + static_cast<std::int32_t>(neg_.size()) - 1;
    if (zero_) return x == 0;
    return x > 0 && bucket_index(x) == pos_base_;
  };
  auto highest_ok = [&](double x) {
    if (!pos_.empty()) return x > 0 && bucket_index(x) == pos_base_ + static_cast<std::int32_t>(pos_.size()) - 1;
    if (zero_) return x == 0;
    return x < 0 && bucket_index(-x) == neg_base_;
  };
  if (!lowest_ok(mn)) bad("\"min\" does not match the lowest bucket");
  if (!highest_ok(mx)) bad("\"max\" does not match the highest bucket");
  min_ = mn;
  max_ = mx;
}

namespace {

// Runs as in JSON (split at kRunGap or more empty buckets): the first run's
// start index, each later run's gap after the previous one, its length and
// its counts (zeros inside a run; its first and last count non-zero).
void window_to_binary(BinaryWriter& w, const std::vector<std::uint64_t>& win, std::int32_t base) {
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // [first, last]
  std::size_t i = 0;
  while (i < win.size()) {
    while (i < win.size() && win[i] == 0) ++i;
    if (i == win.size()) break;
    std::size_t end = i, zeros = 0;
    for (std::size_t k = i; k < win.size(); ++k) {
      if (win[k] != 0) {
        zeros = 0;
        end = k;
      } else if (++zeros >= kRunGap) {
        break;
      }
    }
    runs.emplace_back(i, end);
    i = end + 1;
  }
  w.varint(runs.size());
  for (std::size_t k = 0; k < runs.size(); ++k) {
    auto [first, last] = runs[k];
    if (k == 0)
      w.svarint(static_cast<std::int64_t>(base) + static_cast<std::int64_t>(first));
    else
      w.varint(first - runs[k - 1].second - 1);
    w.varint(last - first + 1);
    for (std::size_t c = first; c <= last; ++c) w.varint(win[c]);
  }
}

// Reads one sign's runs into a dense window; returns their total count.
std::uint64_t window_from_binary(BinaryReader& r, std::vector<std::uint64_t>& win, std::int32_t& base) {
  std::size_t n = r.count(3, "bucket run");
  win.clear();
  base = 0;
  std::uint64_t total = 0;
  std::int64_t next = 0;  // the first index after the previous run
  for (std::size_t k = 0; k < n; ++k) {
    std::int64_t start;
    if (k == 0) {
      start = r.svarint();
      if (start < kMinIndex || start > kMaxIndex) bad("bucket index out of range");
      base = static_cast<std::int32_t>(start);
    } else {
      std::uint64_t gap = r.varint();
      if (next > kMaxIndex || gap > static_cast<std::uint64_t>(kMaxIndex - next))
        bad("bucket runs must ascend in range");
      start = next + static_cast<std::int64_t>(gap);
    }
    std::uint64_t len = r.varint();
    if (len == 0 || len > static_cast<std::uint64_t>(kMaxIndex - start + 1)) bad("bucket run length out of range");
    if (len > r.left()) bad("bucket run longer than the input");
    std::size_t off = static_cast<std::size_t>(start - base);
    std::size_t size = off + static_cast<std::size_t>(len);
    r.take_cells(size - win.size());
    win.resize(size, 0);
    std::uint64_t* cell = win.data() + off;
    for (std::size_t c = 0; c < len; ++c) {
      cell[c] = r.varint();
      total = checked_add(total, cell[c]);
    }
    if (win[off] == 0 || win[size - 1] == 0) bad("a bucket run must start and end with a non-empty bucket");
    next = start + static_cast<std::int64_t>(len);
  }
  return total;
}

}  // namespace

void Histogram::write_binary(BinaryWriter& w) const {
  w.varint(count_);
  w.f64(sum_);
  w.f64(min());
  w.f64(max());
  w.varint(zero_);
  window_to_binary(w, pos_, pos_base_);
  window_to_binary(w, neg_, neg_base_);
}

Histogram Histogram::read_binary(BinaryReader& r) {
  Histogram h;
  h.count_ = r.varint();
  h.sum_ = r.f64();
  double mn = r.f64();
  double mx = r.f64();
  if (!std::isfinite(h.sum_) || !std::isfinite(mn) || !std::isfinite(mx)) bad("sum, min and max must be finite");
  h.zero_ = r.varint();
  std::uint64_t total = window_from_binary(r, h.pos_, h.pos_base_);
  total = checked_add(total, window_from_binary(r, h.neg_, h.neg_base_));
  h.check_decoded(checked_add(total, h.zero_), mn, mx);
  return h;
}

std::vector<Histogram::Bucket> Histogram::buckets() const {
  std::vector<Bucket> out;
  for (std::size_t i = neg_.size(); i-- > 0;) {
    if (neg_[i] == 0) continue;
    std::int32_t idx = neg_base_ + static_cast<std::int32_t>(i);
    out.push_back({-bucket_lower(idx + 1), -bucket_lower(idx), -bucket_mid(idx), neg_[i]});
  }
  for (std::size_t i = 0; i < pos_.size(); ++i) {
    if (pos_[i] == 0) continue;
    std::int32_t idx = pos_base_ + static_cast<std::int32_t>(i);
    out.push_back({bucket_lower(idx), bucket_lower(idx + 1), bucket_mid(idx), pos_[i]});
  }
  return out;
}

bool Histogram::operator==(const Histogram& o) const {
  if (count_ != o.count_ || zero_ != o.zero_ || sum_ != o.sum_) return false;
  if (count_ == 0) return true;
  return min_ == o.min_ && max_ == o.max_ && pos_ == o.pos_ && neg_ == o.neg_ &&
         (pos_.empty() || pos_base_ == o.pos_base_) && (neg_.empty() || neg_base_ == o.neg_base_);
}

}  // namespace herd::metrics
