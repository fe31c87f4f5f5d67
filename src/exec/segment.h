#pragma once
// Execution segments, with k6's semantics: one test split over several
// instances, each running a slice ("segment") of every scenario.
//
//   --execution-segment "1/4:1/2"  this instance's slice of the [0, 1] range
//   --execution-segment-sequence "0,1/4,1/2,1"  how the whole range is cut
//
// Accepted number forms (each end of a segment, each point of a sequence):
// fractions "1/4", decimals "0.25" / ".25" / "2.5e-1", percentages "25%"
// (also "12.5%"). A lone value "1/2" means "0:1/2"; "" and "0:1" are the
// full range. A sequence may leave out 0 and 1 (k6 fills the gaps); with no
// sequence the implied one is "0,start,end,1" minus duplicates. A segment
// must be one of the sequence's consecutive pairs.
//
// ---- Sharing integer quantities (ExecutionTuple::scale) ------------------
// Let L be the least common denominator (LCD) of the lengths of the segments
// of the (filled) sequence, and n_j = length_j * L: segment j owns n_j of
// every L consecutive "global indexes". Which residues mod L segment j owns
// is decided once, by k6's striping rule (so that a herd instance and a k6
// instance given the same segment own the same VUs and iterations):
//   * rank segments by n_j, biggest first, ties by position in the sequence;
//   * segment j's c-th slot (c = 0..n_j-1) is released at the first index i
//     with i * n_j >= c * L;
//   * for i = 0..L-1, slot i goes to the best-ranked segment with a released
//     slot. One always exists (the releases up to i add up to more than i),
//     so segment j gets exactly n_j slots per cycle (checked; a failure would
//     throw std::logic_error).
//
// scale(v) = how many of the global indexes 0..v-1 this segment owns
//          = (v / L) * n_j + |{owned residues < v mod L}|.
// Ownership partitions the integers, so the shares of all segments add up to
// v exactly for every v; scale is monotone (scale(maxVUs) >=
// scale(preAllocatedVUs) stays true) and never runs ahead of the exact share
// (scale(v) < v * length + 1); a small segment may lag it by more than 1.
// Examples:
// 1 VU over "0,1/4,1/2,3/4,1" -> [1,0,0,0]; 10 VUs over "0,1/3,2/3,1" ->
// [4,3,3]; over "0,1/4,1/2,1" the residues are {1}, {3}, {0,2}, so 1 VU goes
// to the biggest segment 1/2:1.
//
// ---- Arrival rates -------------------------------------------------------
// Arrival-rate executors keep the GLOBAL schedule (rate, timeUnit, stages,
// unchanged by segment_scenario) and start only the global iterations this
// instance owns: start, start+offsets[0], start+offsets[0]+offsets[1], ...
// (striped_offsets(), cyclic, summing to L per cycle), i.e. the iterations n
// with owns_global_iteration(n). All instances together start every global
// iteration exactly once, interleaved (no bursts), and nothing is rounded:
// THE ENGINE SHOULD USE THIS. The per-instance rate, if needed for display,
// is the exact rational scale_rate(rate) = rate * length (per timeUnit).
// The alternative (rate' = rate*num per timeUnit*den) is exact too but makes
// every instance's schedule independent and bursty; it is not provided.
//
// Limits: every rational has int64 numerator and denominator; arithmetic is
// overflow-checked and throws OptionsError. L must be <= kMaxSegmentLcd.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exec/options.h"

namespace herd::exec {

/// Biggest supported LCD of a sequence's segment lengths (striping tables are
/// built per LCD slot). 0.000001 resolution ("0.0001%") is still accepted.
inline constexpr std::int64_t kMaxSegmentLcd = 1'000'000;

/// An exact rational: normalised (gcd 1, denominator > 0). Arithmetic that
/// would overflow int64 throws OptionsError.
class Rational {
 public:
  constexpr Rational() = default;
  Rational(std::int64_t num, std::int64_t den = 1);  ///< throws OptionsError if den == 0 or overflow

  std::int64_t num() const { return num_; }
  std::int64_t den() const { return den_; }

  friend Rational operator+(const Rational& a, const Rational& b);
  friend Rational operator-(const Rational& a, const Rational& b);
  friend Rational operator*(const Rational& a, const Rational& b);
  friend Rational operator/(const Rational& a, const Rational& b);  ///< throws on division by zero
  friend bool operator==(const Rational& a, const Rational& b) = default;
  friend std::strong_ordering operator<=>(const Rational& a, const Rational& b);

  /// "1/4", "3", "0", "-1/2".
  std::string to_string() const;

 private:
  static Rational raw(std::pair<std::int64_t, std::int64_t> normalized) {
    Rational r;
    r.num_ = normalized.first;
    r.den_ = normalized.second;
    return r;
  }
  std::int64_t num_ = 0;
  std::int64_t den_ = 1;
};

/// Parses one number: "1/4", "0.25", ".25", "2.5e-1", "25%", "12.5%", with an
/// optional sign (range checks are the caller's). Throws OptionsError (message
/// without a flag name) for malformed or out-of-range text.
Rational parse_rational(std::string_view text);

/// [start, end) within [0, 1], start < end.
struct ExecutionSegment {
  Rational start{0};
  Rational end{1};

  Rational length() const { return end - start; }
  bool is_full() const { return start == Rational(0) && end == Rational(1); }
  std::string to_string() const;  ///< "1/4:1/2"
  friend bool operator==(const ExecutionSegment&, const ExecutionSegment&) = default;
};

/// Parses --execution-segment. Errors (OptionsError) read
/// `<flag> "<text>": <reason>`, e.g. `--execution-segment "1/2:1/4": start must be below end`.
ExecutionSegment parse_execution_segment(std::string_view text, std::string_view flag = "--execution-segment");

/// Cut points, strictly increasing, within [0, 1]. Empty = none given.
/// Need not start at 0 or end at 1 (see filled()).
struct ExecutionSegmentSequence {
  std::vector<Rational> points;

  bool empty() const { return points.empty(); }
  /// Number of segments (points - 1; 0 when empty).
  std::size_t size() const { return points.size() < 2 ? 0 : points.size() - 1; }
  ExecutionSegment segment(std::size_t i) const { return {points.at(i), points.at(i + 1)}; }
  std::vector<ExecutionSegment> segments() const;
  bool is_full() const;  ///< starts at 0 and ends at 1
  /// k6's gap filling: 0 and 1 added if missing; an empty sequence becomes
  /// "0,start,end,1" minus duplicates for `segment`.
  ExecutionSegmentSequence filled(const ExecutionSegment& segment) const;
  /// LCD of the segment lengths' denominators (1 for an empty sequence).
  /// Throws OptionsError on int64 overflow.
  std::int64_t lcd() const;
  std::string to_string() const;  ///< "0,1/4,1/2,1"
  friend bool operator==(const ExecutionSegmentSequence&, const ExecutionSegmentSequence&) = default;
};

/// Parses --execution-segment-sequence ("" = empty). Needs >= 2 points,
/// strictly increasing, each within [0, 1]. Errors name `flag`.
ExecutionSegmentSequence parse_execution_segment_sequence(std::string_view text,
                                                          std::string_view flag = "--execution-segment-sequence");

/// Cyclic description of the global indexes a segment owns: start,
/// start + offsets[0], start + offsets[0] + offsets[1], ... (offsets repeat;
/// they sum to lcd, and offsets.size() = the segment's slots per cycle).
struct StripedOffsets {
  std::int64_t start = 0;
  std::vector<std::int64_t> offsets;
  std::int64_t lcd = 1;
};

/// A segment within its (filled) sequence, with its striping precomputed.
/// Default-constructed: the full, unsegmented run (scale(v) == v).
class ExecutionTuple {
 public:
  ExecutionTuple();
  /// Throws OptionsError if the segment is not one of the consecutive pairs
  /// of the (filled) sequence, or the sequence's LCD exceeds kMaxSegmentLcd.
  explicit ExecutionTuple(const ExecutionSegment& segment, const ExecutionSegmentSequence& sequence = {},
                          std::string_view segment_flag = "--execution-segment",
                          std::string_view sequence_flag = "--execution-segment-sequence");

  const ExecutionSegment& segment() const { return segment_; }
  const ExecutionSegmentSequence& sequence() const { return sequence_; }  ///< filled
  std::size_t index() const { return index_; }                            ///< of segment() in sequence()
  std::int64_t lcd() const { return lcd_; }
  /// The owned residues mod lcd(), ascending.
  const std::vector<std::int64_t>& slots() const { return slots_; }

  /// This segment's share of `value` (>= 0; throws std::invalid_argument if
  /// negative): the number of owned global indexes in [0, value).
  std::int64_t scale(std::int64_t value) const;
  /// rate * length, exact (throws OptionsError on overflow).
  Rational scale_rate(std::int64_t rate) const;

  StripedOffsets striped_offsets() const;
  /// Whether global index/iteration `n` (>= 0) belongs to this segment.
  bool owns_global_iteration(std::int64_t n) const;
  /// The smallest owned n > after (pass -1 for the first); -1 if it would
  /// overflow int64.
  std::int64_t next_global_iteration(std::int64_t after) const;
  /// The global index of this segment's `local`-th (0-based) owned index; -1 on overflow.
  std::int64_t global_iteration(std::int64_t local) const;

 private:
  ExecutionSegment segment_;
  ExecutionSegmentSequence sequence_;
  std::size_t index_ = 0;
  std::int64_t lcd_ = 1;
  std::vector<std::int64_t> slots_;
};

/// Parses both option strings and builds the tuple; errors name the flags.
ExecutionTuple make_execution_tuple(std::string_view segment_text, std::string_view sequence_text,
                                    std::string_view segment_flag = "--execution-segment",
                                    std::string_view sequence_flag = "--execution-segment-sequence");

/// For every segment of a full sequence (as from filled()), its owned residues
/// mod lcd (the striping rule above). Exposed for tests and `herd inspect`.
std::vector<std::vector<std::int64_t>> striping_slots(const ExecutionSegmentSequence& full_sequence);

/// The scenario as this instance runs it (all via tuple.scale, so the
/// instances' values add up exactly to the original):
///   shared-iterations      vus, iterations
///   per-vu-iterations      vus (iterations per VU unchanged)
///   constant-vus           vus
///   ramping-vus            start_vus, every stage target (this instance's
///                          peak VUs). The engine follows the GLOBAL ramp:
///                          its share at time t is
///                          tuple.scale(ramping_vus_at(original, t)), see
///                          ClosedModelExecutor (executor.h)
///   constant-/ramping-arrival-rate  pre_allocated_vus, max_vus (0 stays 0 =
///                          "same as preAllocatedVUs"); rate, start_rate, stage
///                          targets and time_unit stay GLOBAL: the engine keeps
///                          the global schedule and starts only the iterations
///                          n with tuple.owns_global_iteration(n) (see above)
///   externally-controlled  vus, max_vus
/// Scaled values may be 0 (the instance then runs nothing for that scenario)
/// and, for shared-iterations, vus may exceed iterations: the engine should
/// cap active VUs at the iteration count.
ScenarioConfig segment_scenario(const ScenarioConfig& scenario, const ExecutionTuple& tuple);

}  // namespace herd::exec
