// libFuzzer target: execution segment / sequence parsing and tuple building.
// Input: "SEGMENT\nSEQUENCE" (no newline: the whole input is tried as both).
// Parsers may reject input (OptionsError) but must never crash, hang or throw
// anything else; every accepted value must round-trip through to_string(), and
// for small sequences the shares of all segments must add up exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "exec/options.h"
#include "exec/segment.h"

using namespace herd::exec;

namespace {

void check_segment(std::string_view text) {
  ExecutionSegment seg;
  try {
    seg = parse_execution_segment(text);
  } catch (const OptionsError&) {
    return;
  }
  if (!(Rational(0) <= seg.start && seg.start < seg.end && seg.end <= Rational(1))) std::abort();
  if (!(parse_execution_segment(seg.to_string()) == seg)) std::abort();
}

void check_sequence(std::string_view text) {
  ExecutionSegmentSequence seq;
  try {
    seq = parse_execution_segment_sequence(text);
  } catch (const OptionsError&) {
    return;
  }
  if (!(parse_execution_segment_sequence(seq.to_string()) == seq)) std::abort();
}

// Shares of every segment of the sequence add up; ownership partitions.
void check_tuples(std::string_view seg_text, std::string_view seq_text) {
  ExecutionTuple tuple;
  try {
    tuple = make_execution_tuple(seg_text, seq_text);
  } catch (const OptionsError&) {
    return;
  }
  const ExecutionSegmentSequence& full = tuple.sequence();
  if (!full.is_full() || full.segment(tuple.index()) != tuple.segment()) std::abort();
  if (tuple.lcd() > 5000 || full.size() > 64) return;  // keep runs fast
  std::vector<ExecutionTuple> all;
  for (const ExecutionSegment& s : full.segments()) all.emplace_back(s, full);
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{7}, tuple.lcd() + 3, std::int64_t{10007}}) {
    std::int64_t sum = 0;
    for (const ExecutionTuple& t : all) sum += t.scale(v);
    if (sum != v) std::abort();
  }
  for (std::int64_t n = 0; n < 2 * tuple.lcd() + 2; ++n) {
    int owners = 0;
    for (const ExecutionTuple& t : all) owners += t.owns_global_iteration(n) ? 1 : 0;
    if (owners != 1) std::abort();
  }
  const std::int64_t first = tuple.next_global_iteration(-1);
  if (first < 0 || !tuple.owns_global_iteration(first) || tuple.global_iteration(0) != first) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse_rational(text);
  } catch (const OptionsError&) {
  }
  const std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) {
    check_segment(text);
    check_sequence(text);
    check_tuples(text, "");
    check_tuples("", text);
  } else {
    std::string_view seg = text.substr(0, nl), seq = text.substr(nl + 1);
    check_segment(seg);
    check_sequence(seq);
    check_tuples(seg, seq);
  }
  return 0;
}
