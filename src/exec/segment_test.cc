#include "exec/segment.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace herd::exec {
namespace {

using R = Rational;

// The OptionsError message of `fn`, or "<no error>".
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const OptionsError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string seg_error(const std::string& text) {
  return error_of([&] { parse_execution_segment(text); });
}
std::string seq_error(const std::string& text) {
  return error_of([&] { parse_execution_segment_sequence(text); });
}

#define EXPECT_CONTAINS(haystack, needle)                                                             \
  do {                                                                                                \
    const std::string h_ = (haystack);                                                                \
    EXPECT_NE(h_.find(needle), std::string::npos) << "\"" << h_ << "\" lacks \"" << (needle) << "\""; \
  } while (0)

// Shares of `value` for every segment of `sequence` (given in any accepted form).
std::vector<std::int64_t> shares(const std::string& sequence, std::int64_t value) {
  ExecutionSegmentSequence seq = parse_execution_segment_sequence(sequence);
  std::vector<std::int64_t> out;
  for (const ExecutionSegment& s : seq.filled({}).segments()) out.push_back(ExecutionTuple(s, seq).scale(value));
  return out;
}

// ---- Rational ------------------------------------------------------------------------------------

TEST(Rational, NormalisesAndCompares) {
  EXPECT_EQ(R(2, 4), R(1, 2));
  EXPECT_EQ(R(2, 4).num(), 1);
  EXPECT_EQ(R(2, 4).den(), 2);
  EXPECT_EQ(R(3, -6), R(-1, 2));
  EXPECT_EQ(R(-3, -6), R(1, 2));
  EXPECT_EQ(R(0, 7), R(0));
  EXPECT_EQ(R(0, 7).den(), 1);
  EXPECT_LT(R(1, 3), R(1, 2));
  EXPECT_GT(R(-1, 3), R(-1, 2));
  EXPECT_EQ(R(1, 4).to_string(), "1/4");
  EXPECT_EQ(R(6, 3).to_string(), "2");
  EXPECT_EQ(R(-1, 2).to_string(), "-1/2");
  EXPECT_EQ(Rational().to_string(), "0");
}

TEST(Rational, Arithmetic) {
  EXPECT_EQ(R(1, 4) + R(1, 4), R(1, 2));
  EXPECT_EQ(R(1, 3) + R(1, 6), R(1, 2));
  EXPECT_EQ(R(1, 2) - R(3, 4), R(-1, 4));
  EXPECT_EQ(R(2, 3) * R(3, 4), R(1, 2));
  EXPECT_EQ(R(1, 2) / R(1, 4), R(2));
  // Big but representable after reduction.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(R(big, 3) * R(3, big), R(1));
  EXPECT_EQ(R(big) - R(big), R(0));
}

TEST(Rational, OverflowAndZeroThrow) {
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  EXPECT_THROW(R(1, 0), OptionsError);
  EXPECT_THROW(R(std::numeric_limits<std::int64_t>::min()), OptionsError);
  EXPECT_THROW(R(big) + R(1), OptionsError);
  EXPECT_THROW(R(big) * R(2), OptionsError);
  EXPECT_THROW(R(1, big) * R(1, big - 1), OptionsError);
  EXPECT_THROW(R(1) / R(0), OptionsError);
  EXPECT_CONTAINS(error_of([&] { (void)(R(big) + R(big)); }), "overflow in addition");
}

TEST(Rational, ParsesEveryForm) {
  EXPECT_EQ(parse_rational("1/4"), R(1, 4));
  EXPECT_EQ(parse_rational("2/8"), R(1, 4));
  EXPECT_EQ(parse_rational("0.25"), R(1, 4));
  EXPECT_EQ(parse_rational(".25"), R(1, 4));
  EXPECT_EQ(parse_rational("25%"), R(1, 4));
  EXPECT_EQ(parse_rational("12.5%"), R(1, 8));
  EXPECT_EQ(parse_rational("100%"), R(1));
  EXPECT_EQ(parse_rational("0%"), R(0));
  EXPECT_EQ(parse_rational("2.5e-1"), R(1, 4));
  EXPECT_EQ(parse_rational("25E-2"), R(1, 4));
  EXPECT_EQ(parse_rational("1e0"), R(1));
  EXPECT_EQ(parse_rational("0.01e+2"), R(1));
  EXPECT_EQ(parse_rational("1"), R(1));
  EXPECT_EQ(parse_rational("1."), R(1));
  EXPECT_EQ(parse_rational("0"), R(0));
  EXPECT_EQ(parse_rational("000"), R(0));
  EXPECT_EQ(parse_rational("0e999"), R(0));
  EXPECT_EQ(parse_rational("1/3"), R(1, 3));
  EXPECT_EQ(parse_rational("0001/0003"), R(1, 3));
  EXPECT_EQ(parse_rational("+1/2"), R(1, 2));
  EXPECT_EQ(parse_rational("-1/4"), R(-1, 4));
  EXPECT_EQ(parse_rational(" 0.5 "), R(1, 2));
  EXPECT_EQ(parse_rational("0.50000000000000000000000000000"), R(1, 2));
  EXPECT_EQ(parse_rational("1/8%"), R(1, 800));
  EXPECT_EQ(parse_rational("100000000000000000000e-20"), R(1));
}

TEST(Rational, ParseErrors) {
  for (const char* bad : {"",    " ",    "abc",   "1/", "/2", "1/0", "1.2.3", "1e",  "1e+", "%",   "%%",  "1/2/3",
                          "0x1", "1 /2", "1/2.5", ".",  "-",  "+-1", "e5",    "1,5", "∞",   "nan", "inf", "1%%"}) {
    SCOPED_TRACE(bad);
    EXPECT_CONTAINS(error_of([&] { parse_rational(bad); }), "invalid number");
  }
  for (const char* big : {"1/1000000000000000000000", "1e30", "0.0000000000000000000001", "99999999999999999999",
                          "1e9999999", "99999999999999999999%"}) {
    SCOPED_TRACE(big);
    EXPECT_CONTAINS(error_of([&] { parse_rational(big); }), "out of range");
  }
  EXPECT_EQ(parse_rational("9223372036854775807"), R(std::numeric_limits<std::int64_t>::max()));
}

// ---- parsing segments and sequences -------------------------------------------------------------

TEST(ExecutionSegment, ParsesEveryForm) {
  const ExecutionSegment q{R(1, 4), R(1, 2)};
  EXPECT_EQ(parse_execution_segment("1/4:1/2"), q);
  EXPECT_EQ(parse_execution_segment("0.25:0.5"), q);
  EXPECT_EQ(parse_execution_segment("25%:50%"), q);
  EXPECT_EQ(parse_execution_segment("0.25:50%"), q);
  EXPECT_EQ(parse_execution_segment(" 1/4 : 2/4 "), q);
  EXPECT_EQ(parse_execution_segment("1/2"), (ExecutionSegment{R(0), R(1, 2)}));
  EXPECT_EQ(parse_execution_segment("50%"), (ExecutionSegment{R(0), R(1, 2)}));
  EXPECT_TRUE(parse_execution_segment("").is_full());
  EXPECT_TRUE(parse_execution_segment("0:1").is_full());
  EXPECT_TRUE(parse_execution_segment("1").is_full());
  EXPECT_TRUE(parse_execution_segment("0%:100%").is_full());
  EXPECT_EQ(parse_execution_segment("1/4:1/2").to_string(), "1/4:1/2");
  EXPECT_EQ(parse_execution_segment("1/4:1/2").length(), R(1, 4));
}

TEST(ExecutionSegment, Errors) {
  EXPECT_EQ(seg_error("1/2:1/4"), "--execution-segment \"1/2:1/4\": start must be below end");
  EXPECT_EQ(seg_error("1/2:1/2"), "--execution-segment \"1/2:1/2\": start must be below end");
  EXPECT_EQ(seg_error("0"), "--execution-segment \"0\": start must be below end");
  EXPECT_EQ(seg_error("-1/4:1/2"), "--execution-segment \"-1/4:1/2\": start must be at least 0 (got -1/4)");
  EXPECT_EQ(seg_error("0:3/2"), "--execution-segment \"0:3/2\": end must be at most 1 (got 3/2)");
  EXPECT_EQ(seg_error("150%"), "--execution-segment \"150%\": end must be at most 1 (got 3/2)");
  EXPECT_EQ(seg_error("abc"), "--execution-segment \"abc\": invalid number \"abc\" (expected e.g. 1/4, 0.25 or 25%)");
  EXPECT_CONTAINS(seg_error("1/4:"), "--execution-segment \"1/4:\": invalid number \"\"");
  EXPECT_CONTAINS(seg_error(":1/2"), "--execution-segment \":1/2\": invalid number \"\"");
  EXPECT_CONTAINS(seg_error("1/4:1/2:3/4"), "invalid number \"1/2:3/4\"");
  EXPECT_CONTAINS(seg_error("1/4-1/2"), "invalid number");
  EXPECT_CONTAINS(seg_error("0:1e40"), "out of range");
  EXPECT_EQ(error_of([] { parse_execution_segment("2:3", "options.executionSegment"); }),
            "options.executionSegment \"2:3\": end must be at most 1 (got 3)");
  // Very long input is shortened in the message.
  const std::string msg = seg_error(std::string(1000, 'x'));
  EXPECT_LT(msg.size(), 400u);
}

TEST(ExecutionSegmentSequence, ParsesEveryForm) {
  const std::vector<R> quarters{R(0), R(1, 4), R(1, 2), R(1)};
  EXPECT_EQ(parse_execution_segment_sequence("0,1/4,1/2,1").points, quarters);
  EXPECT_EQ(parse_execution_segment_sequence("0,0.25,0.5,1").points, quarters);
  EXPECT_EQ(parse_execution_segment_sequence("0%,25%,50%,100%").points, quarters);
  EXPECT_EQ(parse_execution_segment_sequence("0, 25%, .5, 1").points, quarters);
  EXPECT_TRUE(parse_execution_segment_sequence("").empty());
  EXPECT_TRUE(parse_execution_segment_sequence("  ").empty());
  ExecutionSegmentSequence partial = parse_execution_segment_sequence("1/4,1/2");
  EXPECT_EQ(partial.size(), 1u);
  EXPECT_FALSE(partial.is_full());
  EXPECT_EQ(partial.to_string(), "1/4,1/2");
  EXPECT_EQ(partial.filled({}).to_string(), "0,1/4,1/2,1");
  ExecutionSegmentSequence seq = parse_execution_segment_sequence("0,1/3,2/3,1");
  EXPECT_TRUE(seq.is_full());
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq.segment(1), (ExecutionSegment{R(1, 3), R(2, 3)}));
  EXPECT_EQ(seq.lcd(), 3);
  EXPECT_EQ(parse_execution_segment_sequence("0,0.3,0.5,0.6,0.7,0.8,0.9,1").lcd(), 10);
  EXPECT_EQ(parse_execution_segment_sequence("0,1/4,1/2,1").lcd(), 4);
  EXPECT_EQ(parse_execution_segment_sequence("0,1/6,1/2,1").lcd(), 6);
}

TEST(ExecutionSegmentSequence, Errors) {
  EXPECT_EQ(seq_error("0.5"), "--execution-segment-sequence \"0.5\": needs at least 2 points, got 1");
  EXPECT_EQ(seq_error("0,1/2,1/4,1"),
            "--execution-segment-sequence \"0,1/2,1/4,1\": points must increase (1/2 is followed by 1/4)");
  EXPECT_EQ(seq_error("0,1/2,50%,1"),
            "--execution-segment-sequence \"0,1/2,50%,1\": points must increase (1/2 is followed by 1/2)");
  EXPECT_EQ(seq_error("0,3/2"),
            "--execution-segment-sequence \"0,3/2\": every point must be between 0 and 1 (got 3/2)");
  EXPECT_EQ(seq_error("-1/2,1"),
            "--execution-segment-sequence \"-1/2,1\": every point must be between 0 and 1 (got -1/2)");
  EXPECT_CONTAINS(seq_error("0,,1"), "--execution-segment-sequence \"0,,1\": invalid number \"\"");
  EXPECT_CONTAINS(seq_error("0,1,"), "invalid number \"\"");
  EXPECT_CONTAINS(seq_error(","), "invalid number \"\"");
  EXPECT_CONTAINS(seq_error("a,b"), "invalid number \"a\"");
  EXPECT_CONTAINS(seq_error("0:1/2,1"), "invalid number \"0:1/2\"");
  EXPECT_CONTAINS(seq_error("0,1e99"), "out of range");
  EXPECT_CONTAINS(error_of([] { parse_execution_segment_sequence("1,0", "K6_EXECUTION_SEGMENT_SEQUENCE"); }),
                  "K6_EXECUTION_SEGMENT_SEQUENCE \"1,0\": points must increase");
}

// ---- tuples ------------------------------------------------------------------------------------

TEST(ExecutionTuple, DefaultIsUnsegmented) {
  ExecutionTuple t;
  EXPECT_TRUE(t.segment().is_full());
  EXPECT_EQ(t.sequence().to_string(), "0,1");
  EXPECT_EQ(t.index(), 0u);
  EXPECT_EQ(t.lcd(), 1);
  for (std::int64_t v : {0, 1, 7, 10000}) EXPECT_EQ(t.scale(v), v);
  EXPECT_TRUE(t.owns_global_iteration(0));
  EXPECT_TRUE(t.owns_global_iteration(12345));
  EXPECT_EQ(t.next_global_iteration(-1), 0);
  EXPECT_EQ(t.next_global_iteration(41), 42);
  EXPECT_EQ(t.global_iteration(9), 9);
  EXPECT_EQ(t.striped_offsets().start, 0);
  EXPECT_EQ(t.striped_offsets().offsets, std::vector<std::int64_t>{1});
  EXPECT_EQ(t.scale_rate(7), R(7));
  EXPECT_THROW(t.scale(-1), std::invalid_argument);
  EXPECT_EQ(make_execution_tuple("", "").scale(5), 5);
  EXPECT_EQ(make_execution_tuple("0:1", "0,1").scale(5), 5);
}

TEST(ExecutionTuple, ImpliedSequence) {
  ExecutionTuple mid = make_execution_tuple("1/4:1/2", "");
  EXPECT_EQ(mid.sequence().to_string(), "0,1/4,1/2,1");
  EXPECT_EQ(mid.index(), 1u);
  ExecutionTuple first = make_execution_tuple("1/2", "");
  EXPECT_EQ(first.sequence().to_string(), "0,1/2,1");
  EXPECT_EQ(first.index(), 0u);
  ExecutionTuple last = make_execution_tuple("2/3:1", "");
  EXPECT_EQ(last.sequence().to_string(), "0,2/3,1");
  EXPECT_EQ(last.index(), 1u);
  // A partial sequence is filled with 0 and 1.
  ExecutionTuple partial = make_execution_tuple("0:1/4", "1/4,1/2");
  EXPECT_EQ(partial.sequence().to_string(), "0,1/4,1/2,1");
  EXPECT_EQ(partial.index(), 0u);
}

TEST(ExecutionTuple, SegmentMustBeInSequence) {
  EXPECT_EQ(error_of([] { make_execution_tuple("1/3:1/2", "0,1/2,1"); }),
            "--execution-segment \"1/3:1/2\": not one of the segments of --execution-segment-sequence \"0,1/2,1\"");
  // Spanning two segments is not allowed either.
  EXPECT_CONTAINS(error_of([] { make_execution_tuple("0:1/2", "0,1/4,1/2,1"); }), "not one of the segments");
  // No segment means the full one, which is not part of a split sequence (as in k6).
  EXPECT_CONTAINS(error_of([] { make_execution_tuple("", "0,1/2,1"); }),
                  "--execution-segment \"0:1\": not one of the segments");
  EXPECT_CONTAINS(error_of([] {
                    make_execution_tuple("1/4:1/2", "0,1/2,1", "options.executionSegment",
                                         "options.executionSegmentSequence");
                  }),
                  "options.executionSegment \"1/4:1/2\": not one of the segments of options.executionSegmentSequence");
  // Parse errors come first, with their flag.
  EXPECT_CONTAINS(error_of([] { make_execution_tuple("1/2:1/4", "0,1/2,1"); }), "--execution-segment \"1/2:1/4\"");
  EXPECT_CONTAINS(error_of([] { make_execution_tuple("0:1/2", "0,x,1"); }), "--execution-segment-sequence \"0,x,1\"");
  EXPECT_NO_THROW(make_execution_tuple("25%:50%", "0,0.25,0.5,1"));
}

TEST(ExecutionTuple, TooFineGrained) {
  EXPECT_NO_THROW(make_execution_tuple("0:1/999983", ""));
  EXPECT_CONTAINS(error_of([] { make_execution_tuple("0:1/1000003", ""); }),
                  "--execution-segment \"0:1/1000003\": too fine-grained: the least common denominator of the "
                  "segment lengths is 1000003 (at most 1000000 supported)");
  EXPECT_CONTAINS(
      error_of([] { make_execution_tuple("0:1/1009", "0,1/1009,1/1000,1"); }),
      "--execution-segment-sequence \"0,1/1009,1/1000,1\": too fine-grained: the least common denominator of "
      "the segment lengths is 1009000");
  // The LCD itself overflows int64.
  EXPECT_CONTAINS(
      error_of([] { make_execution_tuple("0:1/1000000007", "0,1/1000000007,2/1000000009,3/1000000021,1"); }),
      "too fine-grained: the least common denominator of the segment lengths overflows 64 bits");
  ExecutionSegmentSequence huge = parse_execution_segment_sequence("0,1/1000000007,1");
  EXPECT_THROW(striping_slots(huge), OptionsError);
  EXPECT_THROW(striping_slots(parse_execution_segment_sequence("1/2,1")), std::invalid_argument);
}

// ---- known distributions ------------------------------------------------------------------------

TEST(ExecutionTuple, OneVuOverFourQuarters) {
  const std::string q = "0,1/4,1/2,3/4,1";
  EXPECT_EQ(shares(q, 0), (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(shares(q, 1), (std::vector<std::int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(shares(q, 2), (std::vector<std::int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(shares(q, 3), (std::vector<std::int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(shares(q, 4), (std::vector<std::int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(shares(q, 5), (std::vector<std::int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(shares("0,25%,50%,75%,100%", 1), (std::vector<std::int64_t>{1, 0, 0, 0}));
  // Striping: segment i owns global indexes i, i+4, i+8, ...
  ExecutionSegmentSequence seq = parse_execution_segment_sequence(q);
  for (std::size_t i = 0; i < 4; ++i) {
    ExecutionTuple t(seq.segment(i), seq);
    EXPECT_EQ(t.striped_offsets().start, static_cast<std::int64_t>(i));
    EXPECT_EQ(t.striped_offsets().offsets, std::vector<std::int64_t>{4});
    EXPECT_EQ(t.striped_offsets().lcd, 4);
  }
}

TEST(ExecutionTuple, TenVusOverThirds) {
  EXPECT_EQ(shares("0,1/3,2/3,1", 10), (std::vector<std::int64_t>{4, 3, 3}));
  EXPECT_EQ(shares("0,1/3,2/3,1", 11), (std::vector<std::int64_t>{4, 4, 3}));
  EXPECT_EQ(shares("0,1/3,2/3,1", 1), (std::vector<std::int64_t>{1, 0, 0}));
}

TEST(ExecutionTuple, BiggestSegmentFirst) {
  // Lengths 1/4, 1/4, 1/2 (LCD 4): the half gets slots 0 and 2, the quarters 1 and 3.
  const std::string s = "0,1/4,1/2,1";
  std::vector<std::vector<std::int64_t>> slots = striping_slots(parse_execution_segment_sequence(s));
  EXPECT_EQ(slots, (std::vector<std::vector<std::int64_t>>{{1}, {3}, {0, 2}}));
  EXPECT_EQ(shares(s, 1), (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(shares(s, 2), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_EQ(shares(s, 3), (std::vector<std::int64_t>{1, 0, 2}));
  EXPECT_EQ(shares(s, 10), (std::vector<std::int64_t>{3, 2, 5}));
  ExecutionTuple half = make_execution_tuple("1/2:1", s);
  EXPECT_EQ(half.striped_offsets().start, 0);
  EXPECT_EQ(half.striped_offsets().offsets, (std::vector<std::int64_t>{2, 2}));
  ExecutionTuple q2 = make_execution_tuple("1/4:1/2", s);
  EXPECT_EQ(q2.striped_offsets().start, 3);
  EXPECT_EQ(q2.striped_offsets().offsets, std::vector<std::int64_t>{4});
  // Two instances, 1/3 and 2/3 (k6's rule): the big one takes 0; its second
  // slot is released at 3/2, so 1 goes to the small one and 2 to the big one.
  ExecutionTuple big = make_execution_tuple("1/3:1", "0,1/3,1");
  EXPECT_EQ(big.slots(), (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(big.striped_offsets().offsets, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(make_execution_tuple("0:1/3", "0,1/3,1").slots(), std::vector<std::int64_t>{1});
  std::vector<std::int64_t> run;
  for (std::int64_t n = big.next_global_iteration(-1); n < 9; n = big.next_global_iteration(n)) run.push_back(n);
  EXPECT_EQ(run, (std::vector<std::int64_t>{0, 2, 3, 5, 6, 8}));
}

TEST(ExecutionTuple, UnequalSegmentsGetK6sSlots) {
  // Seven segments (3/10, 2/10 and five of 1/10): the placement k6 computes
  // (its striped offsets 0+{4,3,3}, 1+{4,6}, 2, 3, ..., 8, 9).
  ExecutionSegmentSequence seq = parse_execution_segment_sequence("0,0.3,0.5,0.6,0.7,0.8,0.9,1");
  EXPECT_EQ(striping_slots(seq), (std::vector<std::vector<std::int64_t>>{{0, 4, 7}, {1, 5}, {2}, {3}, {6}, {8}, {9}}));
  ExecutionTuple first(seq.segment(0), seq);
  EXPECT_EQ(first.striped_offsets().start, 0);
  EXPECT_EQ(first.striped_offsets().offsets, (std::vector<std::int64_t>{4, 3, 3}));
  // Swapping the first two lengths moves the bigger segment's slots with it.
  EXPECT_EQ(striping_slots(parse_execution_segment_sequence("0,0.2,0.5,0.6,0.7,0.8,0.9,1"))[0],
            (std::vector<std::int64_t>{1, 5}));
  // k6's documented three-way split 1/2, 1/4, 1/4: 0,2,4,... / 1,5,9,... / 3,7,11,...
  EXPECT_EQ(striping_slots(parse_execution_segment_sequence("0,1/2,3/4,1")),
            (std::vector<std::vector<std::int64_t>>{{0, 2}, {1}, {3}}));
}

TEST(ExecutionTuple, NextAndGlobalIteration) {
  ExecutionTuple t = make_execution_tuple("1/4:1/2", "0,1/4,1/2,1");  // owns 3 mod 4
  EXPECT_EQ(t.next_global_iteration(-1), 3);
  EXPECT_EQ(t.next_global_iteration(-100), 3);
  EXPECT_EQ(t.next_global_iteration(3), 7);
  EXPECT_EQ(t.next_global_iteration(4), 7);
  EXPECT_EQ(t.global_iteration(0), 3);
  EXPECT_EQ(t.global_iteration(2), 11);
  EXPECT_EQ(t.global_iteration(-1), -1);
  EXPECT_FALSE(t.owns_global_iteration(-1));
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(t.next_global_iteration(max), -1);
  EXPECT_EQ(t.next_global_iteration(max - 1), max);                  // max = 3 mod 4
  ExecutionTuple t0 = make_execution_tuple("0:1/4", "0,1/4,1/2,1");  // owns 1 mod 4
  EXPECT_EQ(t0.slots(), std::vector<std::int64_t>{1});
  EXPECT_EQ(t0.next_global_iteration(max - 3), max - 2);
  EXPECT_EQ(t0.next_global_iteration(max - 2), -1);
  EXPECT_EQ(t.global_iteration(max), -1);
  EXPECT_EQ(t.scale(max), max / 4);  // no overflow
}

// ---- scenarios ---------------------------------------------------------------------------------

ScenarioConfig scenario(const std::string& executor) {
  ScenarioConfig s;
  s.name = "s";
  s.executor = executor;
  s.vus = 10;
  s.iterations = 101;
  s.start_vus = 5;
  s.stages = {{std::chrono::seconds(10), 7}, {std::chrono::seconds(10), 0}};
  s.rate = 30;
  s.start_rate = 3;
  s.pre_allocated_vus = 9;
  s.max_vus = 21;
  return s;
}

TEST(SegmentScenario, ScalesPerExecutor) {
  ExecutionTuple t = make_execution_tuple("0:1/3", "0,1/3,2/3,1");  // owns 0 mod 3
  ScenarioConfig s = segment_scenario(scenario("shared-iterations"), t);
  EXPECT_EQ(s.vus, 4);
  EXPECT_EQ(s.iterations, 34);
  s = segment_scenario(scenario("per-vu-iterations"), t);
  EXPECT_EQ(s.vus, 4);
  EXPECT_EQ(s.iterations, 101);
  s = segment_scenario(scenario("constant-vus"), t);
  EXPECT_EQ(s.vus, 4);
  s = segment_scenario(scenario("ramping-vus"), t);
  EXPECT_EQ(s.start_vus, 2);
  EXPECT_EQ(s.stages[0].target, 3);
  EXPECT_EQ(s.stages[1].target, 0);
  EXPECT_EQ(s.stages[0].duration, std::chrono::seconds(10));
  for (const char* e : {"constant-arrival-rate", "ramping-arrival-rate"}) {
    s = segment_scenario(scenario(e), t);
    EXPECT_EQ(s.rate, 30) << e;  // global schedule kept
    EXPECT_EQ(s.start_rate, 3) << e;
    EXPECT_EQ(s.stages[0].target, 7) << e;
    EXPECT_EQ(s.time_unit, std::chrono::seconds(1)) << e;
    EXPECT_EQ(s.pre_allocated_vus, 3) << e;
    EXPECT_EQ(s.max_vus, 7) << e;
  }
  s = segment_scenario(scenario("externally-controlled"), t);
  EXPECT_EQ(s.vus, 4);
  EXPECT_EQ(s.max_vus, 7);
  EXPECT_CONTAINS(error_of([&] { segment_scenario(scenario("bogus"), t); }), "unknown executor \"bogus\"");
  // The unsegmented tuple changes nothing.
  ScenarioConfig whole = segment_scenario(scenario("shared-iterations"), ExecutionTuple());
  EXPECT_EQ(whole.vus, 10);
  EXPECT_EQ(whole.iterations, 101);
}

TEST(SegmentScenario, ScaleRateIsExact) {
  ExecutionTuple t = make_execution_tuple("1/3:2/3", "0,1/3,2/3,1");
  EXPECT_EQ(t.scale_rate(10), R(10, 3));
  EXPECT_EQ(t.scale_rate(0), R(0));
  EXPECT_EQ(t.scale_rate(std::numeric_limits<std::int64_t>::max()), R(std::numeric_limits<std::int64_t>::max(), 3));
  ExecutionTuple two_thirds = make_execution_tuple("1/3:1", "0,1/3,1");
  EXPECT_THROW(two_thirds.scale_rate(std::numeric_limits<std::int64_t>::max()), OptionsError);
}

// ---- property test -----------------------------------------------------------------------------

std::uint64_t property_seed() {
  if (const char* s = std::getenv("HERD_SEGMENT_SEED")) return std::strtoull(s, nullptr, 10);
  return 20240611;
}

// 2..10 random distinct points p/q in [0, 1], q <= max_den (12 keeps the LCD
// <= 27720). Sometimes with, sometimes without 0 and 1.
ExecutionSegmentSequence random_sequence(std::mt19937_64& rng, int max_den) {
  std::uniform_int_distribution<int> count(2, 10), den(1, max_den);
  std::set<R> pts;
  const int want = count(rng);
  while (static_cast<int>(pts.size()) < want) {
    const int q = den(rng);
    pts.insert(R(std::uniform_int_distribution<int>(0, q)(rng), q));
  }
  ExecutionSegmentSequence seq;
  seq.points.assign(pts.begin(), pts.end());
  return seq;
}

TEST(SegmentProperty, SharesAddUpAndIterationsPartition) {
  const std::uint64_t seed = property_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with HERD_SEGMENT_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> value(0, 10'000);
  const char* executors[] = {"shared-iterations",     "per-vu-iterations",    "constant-vus",         "ramping-vus",
                             "constant-arrival-rate", "ramping-arrival-rate", "externally-controlled"};
  std::int64_t iterations_checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    ExecutionSegmentSequence given = random_sequence(rng, trial % 10 == 0 ? 12 : 10);
    // Round trip through the text form.
    ASSERT_EQ(parse_execution_segment_sequence(given.to_string()), given);
    const ExecutionSegmentSequence full = given.filled({});
    SCOPED_TRACE("sequence " + given.to_string());
    std::vector<ExecutionTuple> tuples;
    for (const ExecutionSegment& s : full.segments()) {
      tuples.emplace_back(s, given);
      ASSERT_EQ(tuples.back().sequence(), full);
      ASSERT_EQ(tuples.back().segment(), s);
    }
    const std::int64_t lcd = full.lcd();

    // Every segment owns exactly length * L residues, and its offsets describe them.
    for (const ExecutionTuple& t : tuples) {
      ASSERT_EQ(R(static_cast<std::int64_t>(t.slots().size()), lcd), t.segment().length());
      StripedOffsets so = t.striped_offsets();
      std::int64_t at = so.start, sum = 0;
      for (std::size_t i = 0; i < so.offsets.size(); ++i) {
        ASSERT_EQ(at % lcd, t.slots()[i]);
        at += so.offsets[i];
        sum += so.offsets[i];
      }
      ASSERT_EQ(sum, lcd);
    }

    // Scaled scenario values add up to the original, for every executor.
    ScenarioConfig s;
    s.name = "p";
    s.vus = value(rng);
    s.iterations = value(rng);
    s.start_vus = value(rng);
    s.rate = value(rng);
    s.start_rate = value(rng);
    s.pre_allocated_vus = value(rng);
    s.max_vus = std::max(s.pre_allocated_vus, value(rng));
    for (int i = std::uniform_int_distribution<int>(0, 4)(rng); i > 0; --i) {
      s.stages.push_back({std::chrono::seconds(1), value(rng)});
    }
    for (const char* e : executors) {
      s.executor = e;
      ScenarioConfig sum = s;
      sum.vus = sum.iterations = sum.start_vus = sum.pre_allocated_vus = sum.max_vus = 0;
      for (Stage& st : sum.stages) st.target = 0;
      for (const ExecutionTuple& t : tuples) {
        ScenarioConfig part = segment_scenario(s, t);
        if (std::string(e).find("arrival-rate") != std::string::npos) {
          ASSERT_GE(part.max_vus, part.pre_allocated_vus) << e;
        }
        if (std::string(e) != "per-vu-iterations") sum.iterations += part.iterations;
        sum.vus += part.vus;
        sum.start_vus += part.start_vus;
        sum.pre_allocated_vus += part.pre_allocated_vus;
        sum.max_vus += part.max_vus;
        for (std::size_t i = 0; i < sum.stages.size(); ++i) sum.stages[i].target += part.stages[i].target;
        if (std::string(e).find("arrival-rate") != std::string::npos) {
          ASSERT_EQ(part.rate, s.rate);
          ASSERT_EQ(part.start_rate, s.start_rate);
          for (std::size_t i = 0; i < s.stages.size(); ++i) ASSERT_EQ(part.stages[i].target, s.stages[i].target);
        }
      }
      const std::string ex = e;
      const bool arrival = ex.find("arrival-rate") != std::string::npos;
      if (ex == "shared-iterations") {
        EXPECT_EQ(sum.iterations, s.iterations) << e;
      }
      if (ex == "per-vu-iterations") {
        for (const ExecutionTuple& t : tuples) EXPECT_EQ(segment_scenario(s, t).iterations, s.iterations);
      }
      if (ex == "shared-iterations" || ex == "per-vu-iterations" || ex == "constant-vus" ||
          ex == "externally-controlled") {
        EXPECT_EQ(sum.vus, s.vus) << e;
      }
      if (ex == "ramping-vus") {
        EXPECT_EQ(sum.start_vus, s.start_vus) << e;
        for (std::size_t i = 0; i < s.stages.size(); ++i) EXPECT_EQ(sum.stages[i].target, s.stages[i].target) << e;
      }
      if (arrival) {
        EXPECT_EQ(sum.pre_allocated_vus, s.pre_allocated_vus) << e;
      }
      if (arrival || ex == "externally-controlled") {
        EXPECT_EQ(sum.max_vus, s.max_vus) << e;
      }
    }

    // Exact rational rates add up too.
    R rate_sum;
    for (const ExecutionTuple& t : tuples) rate_sum = rate_sum + t.scale_rate(s.rate);
    EXPECT_EQ(rate_sum, R(s.rate));

    // Global iterations 0..N-1: each owned by exactly one segment, walking
    // next_global_iteration visits exactly the owned ones, in order.
    const std::int64_t n = trial % 10 == 0 ? 10'000 : std::uniform_int_distribution<std::int64_t>(0, 3'000)(rng);
    std::vector<int> owners(static_cast<std::size_t>(n), 0);
    for (const ExecutionTuple& t : tuples) {
      std::int64_t local = 0;
      std::int64_t prev = -1;
      for (std::int64_t g = t.next_global_iteration(-1); g < n; g = t.next_global_iteration(g)) {
        ASSERT_GT(g, prev);
        ASSERT_TRUE(t.owns_global_iteration(g));
        ASSERT_EQ(t.global_iteration(local), g);
        ASSERT_EQ(t.scale(g), local);  // owned indexes before g
        ++owners[static_cast<std::size_t>(g)];
        prev = g;
        ++local;
      }
      ASSERT_EQ(local, t.scale(n));
    }
    for (std::int64_t g = 0; g < n; ++g) {
      ASSERT_EQ(owners[static_cast<std::size_t>(g)], 1) << "global iteration " << g;
      int owning = 0;
      for (const ExecutionTuple& t : tuples) owning += t.owns_global_iteration(g) ? 1 : 0;
      ASSERT_EQ(owning, 1) << "global iteration " << g;
    }
    iterations_checked += n;

    // No segment runs ahead: a share never reaches the exact v * n / L + 1
    // (a slot is never taken before its release), and shares never shrink
    // (periodic in L, so one cycle suffices; long cycles are sampled).
    for (const ExecutionTuple& t : tuples) {
      const std::int64_t per_cycle = static_cast<std::int64_t>(t.slots().size());
      const std::int64_t step = lcd > 2000 ? lcd / 2000 + 1 : 1;
      std::int64_t prev = 0;
      for (std::int64_t v = 0; v <= lcd; v += step) {
        const std::int64_t diff = t.scale(v) * lcd - v * per_cycle;  // (share - exact) * L
        ASSERT_LT(diff, lcd) << "v " << v << " segment " << t.segment().to_string();
        ASSERT_GE(t.scale(v), prev) << "v " << v << " segment " << t.segment().to_string();
        prev = t.scale(v);
      }
    }
  }
  EXPECT_GT(iterations_checked, 100'000);
}

}  // namespace
}  // namespace herd::exec
