#include "export/native_histogram.h"

#include <cmath>
#include <map>

namespace herd::exporter {

namespace {

constexpr int kPerOctave = 1 << kNativeSchema;  // 256 buckets per power of two
// herd's buckets are 1.5 to 3 schema-8 buckets wide: most neighbours leave a gap of 1 or 2.
constexpr std::int32_t kMaxZerosInSpan = 2;

// Lays out sorted (index, count) pairs as spans and deltas.
void layout(const std::map<std::int32_t, std::uint64_t>& buckets, std::vector<NativeSpan>& spans,
            std::vector<std::int64_t>& deltas) {
  std::int64_t prev_count = 0;
  std::int32_t next = 0;  // index after the last bucket laid out
  bool first = true;
  for (const auto& [idx, count] : buckets) {
    if (!first && idx != next && idx - next <= kMaxZerosInSpan) {
      // A short gap costs less as empty buckets inside the span than as a new span.
      for (; next < idx; ++next) {
        ++spans.back().length;
        deltas.push_back(-prev_count);
        prev_count = 0;
      }
    }
    if (first || idx != next) {
      spans.push_back({first ? idx : idx - next, 0});
      first = false;
    }
    ++spans.back().length;
    deltas.push_back(static_cast<std::int64_t>(count) - prev_count);
    prev_count = static_cast<std::int64_t>(count);
    next = idx + 1;
  }
}

// Upper bound of schema-8 bucket i: 2^(i/256).
double upper_bound(std::int64_t i) {
  return std::exp2(static_cast<double>(i) / kPerOctave);
}

}  // namespace

std::int32_t native_index(double x) {
  int e = 0;
  double f = std::frexp(x, &e);  // x = f * 2^e, f in [0.5, 1)
  // log2(x) = e + log2(f); the bucket is ceil(log2(x) * 256).
  double frac = std::ceil(std::log2(f) * kPerOctave);
  return static_cast<std::int32_t>(e * kPerOctave + static_cast<std::int32_t>(frac));
}

NativeHistogram to_native(const metrics::Histogram& h, double scale) {
  NativeHistogram n;
  n.count = h.count();
  n.sum = h.sum() * scale;
  n.zero_count = h.zero_count();
  std::map<std::int32_t, std::uint64_t> pos, neg;
  for (const auto& b : h.buckets()) {
    double mid = b.mid * scale;
    if (mid > 0)
      pos[native_index(mid)] += b.count;
    else if (mid < 0)
      neg[native_index(-mid)] += b.count;
    else
      n.zero_count += b.count;  // underflow after scaling
  }
  layout(pos, n.positive_spans, n.positive_deltas);
  layout(neg, n.negative_spans, n.negative_deltas);
  return n;
}

double native_quantile(const NativeHistogram& h, double q) {
  if (h.count == 0 || std::isnan(q)) return NAN;
  struct B {
    double lo, hi;
    std::uint64_t count;
  };
  std::vector<B> all;
  auto expand = [](const std::vector<NativeSpan>& spans, const std::vector<std::int64_t>& deltas, bool negative,
                   std::vector<B>& out) {
    std::int64_t idx = 0, count = 0;
    std::size_t d = 0;
    for (std::size_t s = 0; s < spans.size(); ++s) {
      idx += spans[s].offset;
      for (std::uint32_t k = 0; k < spans[s].length; ++k, ++idx) {
        count += deltas[d++];
        double lo = upper_bound(idx - 1), hi = upper_bound(idx);
        if (negative)
          out.push_back({-hi, -lo, static_cast<std::uint64_t>(count)});
        else
          out.push_back({lo, hi, static_cast<std::uint64_t>(count)});
      }
    }
  };
  std::vector<B> neg;
  expand(h.negative_spans, h.negative_deltas, true, neg);
  all.insert(all.end(), neg.rbegin(), neg.rend());
  if (h.zero_count) all.push_back({-h.zero_threshold, h.zero_threshold, h.zero_count});
  expand(h.positive_spans, h.positive_deltas, false, all);
  double rank = q * static_cast<double>(h.count);
  double seen = 0;
  for (const auto& b : all) {
    if (b.count == 0) continue;
    if (seen + static_cast<double>(b.count) >= rank) {
      double frac = (rank - seen) / static_cast<double>(b.count);
      return b.lo + (b.hi - b.lo) * frac;
    }
    seen += static_cast<double>(b.count);
  }
  return all.empty() ? NAN : all.back().hi;
}

}  // namespace herd::exporter
