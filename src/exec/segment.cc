#include "exec/segment.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace herd::exec {

namespace {

using i128 = __int128;
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();

i128 abs128(i128 v) {
  return v < 0 ? -v : v;
}

i128 gcd128(i128 a, i128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool fits(i128 v) {
  return v >= -static_cast<i128>(kI64Max) && v <= static_cast<i128>(kI64Max);
}

std::string i128_to_string(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  if (neg) v = -v;
  std::string s;
  while (v > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  if (neg) s.push_back('-');
  return {s.rbegin(), s.rend()};
}

// Normalises n/d, throwing OptionsError if it does not fit int64.
std::pair<std::int64_t, std::int64_t> normalize(i128 n, i128 d, const char* op) {
  if (d == 0) throw OptionsError(std::string("rational arithmetic: division by zero in ") + op);
  if (d < 0) {
    n = -n;
    d = -d;
  }
  i128 g = gcd128(n, d);
  if (g > 1) {
    n /= g;
    d /= g;
  }
  if (!fits(n) || !fits(d)) {
    throw OptionsError(std::string("rational arithmetic overflow in ") + op + " (" + i128_to_string(n) + "/" +
                       i128_to_string(d) + " does not fit in 64 bits)");
  }
  return {static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)};
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Quoted for error messages; very long inputs are shortened.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 120;
  if (s.size() > kMax) return "\"" + std::string(s.substr(0, kMax)) + "...\"";
  return "\"" + std::string(s) + "\"";
}

bool all_digits(std::string_view d) {
  return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view strip_leading_zeros(std::string_view d) {
  while (!d.empty() && d.front() == '0') d.remove_prefix(1);
  return d;
}

// Digits to an int64; false on overflow.
bool digits_value(std::string_view d, std::int64_t& v) {
  v = 0;
  for (char c : d) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) return false;
  }
  return true;
}

std::int64_t pow10(int e) {
  std::int64_t v = 1;
  for (int i = 0; i < e; ++i) v *= 10;
  return v;
}

[[noreturn]] void fail(std::string_view flag, std::string_view text, const std::string& reason) {
  throw OptionsError(std::string(flag) + " " + quote(text) + ": " + reason);
}

// Parses one value for a segment or sequence; errors name flag and full text.
Rational parse_value(std::string_view part, std::string_view flag, std::string_view text) {
  try {
    return parse_rational(part);
  } catch (const OptionsError& e) {
    fail(flag, text, e.what());
  }
}

}  // namespace

// ---- Rational ------------------------------------------------------------------------------------

Rational::Rational(std::int64_t num, std::int64_t den) {
  if (den == 0) throw OptionsError("rational: zero denominator");
  std::tie(num_, den_) = normalize(num, den, "construction");
}

Rational operator+(const Rational& a, const Rational& b) {
  return Rational::raw(normalize(static_cast<i128>(a.num_) * b.den_ + static_cast<i128>(b.num_) * a.den_,
                                 static_cast<i128>(a.den_) * b.den_, "addition"));
}

Rational operator-(const Rational& a, const Rational& b) {
  return Rational::raw(normalize(static_cast<i128>(a.num_) * b.den_ - static_cast<i128>(b.num_) * a.den_,
                                 static_cast<i128>(a.den_) * b.den_, "subtraction"));
}

Rational operator*(const Rational& a, const Rational& b) {
  return Rational::raw(
      normalize(static_cast<i128>(a.num_) * b.num_, static_cast<i128>(a.den_) * b.den_, "multiplication"));
}

Rational operator/(const Rational& a, const Rational& b) {
  return Rational::raw(normalize(static_cast<i128>(a.num_) * b.den_, static_cast<i128>(a.den_) * b.num_, "division"));
}

std::strong_ordering operator<=>(const Rational& a, const Rational& b) {
  return static_cast<i128>(a.num_) * b.den_ <=> static_cast<i128>(b.num_) * a.den_;
}

std::string Rational::to_string() const {
  if (den_ == 1) return std::to_string(num_);
  return std::to_string(num_) + "/" + std::to_string(den_);
}

Rational parse_rational(std::string_view text) {
  const std::string_view original = text;
  auto invalid = [&]() -> OptionsError {
    return OptionsError("invalid number " + quote(original) + " (expected e.g. 1/4, 0.25 or 25%)");
  };
  auto out_of_range = [&]() -> OptionsError { return OptionsError("number " + quote(original) + " is out of range"); };

  text = trim(text);
  bool percent = false;
  if (!text.empty() && text.back() == '%') {
    percent = true;
    text.remove_suffix(1);
  }
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) throw invalid();

  std::int64_t num = 0;
  std::int64_t den = 1;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view n = text.substr(0, slash), d = text.substr(slash + 1);
    if (n.empty() || d.empty() || !all_digits(n) || !all_digits(d)) throw invalid();
    n = strip_leading_zeros(n);
    d = strip_leading_zeros(d);
    if (d.empty()) throw invalid();  // x/0
    if (!digits_value(n, num) || !digits_value(d, den)) throw out_of_range();
  } else {
    std::string_view mant = text, exp;
    const bool has_exp = text.find_first_of("eE") != std::string_view::npos;
    if (auto e = text.find_first_of("eE"); e != std::string_view::npos) {
      mant = text.substr(0, e);
      exp = text.substr(e + 1);
    }
    std::string_view whole = mant, frac;
    if (auto dot = mant.find('.'); dot != std::string_view::npos) {
      whole = mant.substr(0, dot);
      frac = mant.substr(dot + 1);
    }
    if ((whole.empty() && frac.empty()) || !all_digits(whole) || !all_digits(frac)) throw invalid();
    long long exponent = 0;
    if (has_exp) {
      bool exp_neg = false;
      if (!exp.empty() && (exp.front() == '+' || exp.front() == '-')) {
        exp_neg = exp.front() == '-';
        exp.remove_prefix(1);
      }
      if (exp.empty() || !all_digits(exp)) throw invalid();
      exp = strip_leading_zeros(exp);
      if (exp.size() > 6) throw out_of_range();
      std::int64_t e = 0;
      if (!digits_value(exp, e)) throw out_of_range();
      exponent = e;
      if (exp_neg) exponent = -exponent;
    }
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    std::string digits = std::string(whole) + std::string(frac);
    exponent -= static_cast<long long>(frac.size());
    std::string_view d = strip_leading_zeros(digits);
    if (d.empty()) {
      num = 0;  // zero, whatever the exponent
    } else {
      // Trailing zeros of the mantissa move into the exponent.
      while (d.size() > 1 && d.back() == '0') {
        d.remove_suffix(1);
        ++exponent;
      }
      if (!digits_value(d, num)) throw out_of_range();
      if (exponent > 0) {
        if (exponent > 18) throw out_of_range();
        if (__builtin_mul_overflow(num, pow10(static_cast<int>(exponent)), &num)) throw out_of_range();
      } else if (exponent < 0) {
        if (exponent < -18) throw out_of_range();
        den = pow10(static_cast<int>(-exponent));
      }
    }
  }
  if (negative) num = -num;
  try {
    Rational r(num, den);
    if (percent) r = r / Rational(100);
    return r;
  } catch (const OptionsError&) {
    throw out_of_range();
  }
}

// ---- ExecutionSegment / ExecutionSegmentSequence ----------------------------------------------

std::string ExecutionSegment::to_string() const {
  return start.to_string() + ":" + end.to_string();
}

ExecutionSegment parse_execution_segment(std::string_view text, std::string_view flag) {
  std::string_view t = trim(text);
  ExecutionSegment seg;
  if (t.empty()) return seg;
  if (auto colon = t.find(':'); colon != std::string_view::npos) {
    seg.start = parse_value(t.substr(0, colon), flag, text);
    seg.end = parse_value(t.substr(colon + 1), flag, text);
  } else {
    seg.end = parse_value(t, flag, text);
  }
  if (seg.start < Rational(0)) fail(flag, text, "start must be at least 0 (got " + seg.start.to_string() + ")");
  if (seg.end > Rational(1)) fail(flag, text, "end must be at most 1 (got " + seg.end.to_string() + ")");
  if (!(seg.start < seg.end)) fail(flag, text, "start must be below end");
  return seg;
}

std::vector<ExecutionSegment> ExecutionSegmentSequence::segments() const {
  std::vector<ExecutionSegment> out;
  for (std::size_t i = 0; i < size(); ++i) out.push_back(segment(i));
  return out;
}

bool ExecutionSegmentSequence::is_full() const {
  return points.size() >= 2 && points.front() == Rational(0) && points.back() == Rational(1);
}

ExecutionSegmentSequence ExecutionSegmentSequence::filled(const ExecutionSegment& seg) const {
  ExecutionSegmentSequence out;
  if (points.empty()) {
    for (const Rational& p : {Rational(0), seg.start, seg.end, Rational(1)}) {
      if (out.points.empty() || out.points.back() != p) out.points.push_back(p);
    }
    return out;
  }
  out.points = points;
  if (out.points.front() != Rational(0)) out.points.insert(out.points.begin(), Rational(0));
  if (out.points.back() != Rational(1)) out.points.push_back(Rational(1));
  return out;
}

std::int64_t ExecutionSegmentSequence::lcd() const {
  std::int64_t l = 1;
  for (std::size_t i = 0; i < size(); ++i) {
    std::int64_t d = segment(i).length().den();
    std::int64_t g = static_cast<std::int64_t>(gcd128(l, d));
    std::int64_t next = 0;
    if (__builtin_mul_overflow(l / g, d, &next)) {
      throw OptionsError("the least common denominator of the segment lengths overflows 64 bits");
    }
    l = next;
  }
  return l;
}

std::string ExecutionSegmentSequence::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i) s += ",";
    s += points[i].to_string();
  }
  return s;
}

ExecutionSegmentSequence parse_execution_segment_sequence(std::string_view text, std::string_view flag) {
  ExecutionSegmentSequence seq;
  if (trim(text).empty()) return seq;
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    Rational p = parse_value(part, flag, text);
    if (p < Rational(0) || p > Rational(1)) {
      fail(flag, text, "every point must be between 0 and 1 (got " + p.to_string() + ")");
    }
    if (!seq.points.empty() && !(seq.points.back() < p)) {
      fail(flag, text,
           "points must increase (" + seq.points.back().to_string() + " is followed by " + p.to_string() + ")");
    }
    seq.points.push_back(p);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (seq.points.size() < 2) fail(flag, text, "needs at least 2 points, got 1");
  return seq;
}

// ---- striping --------------------------------------------------------------------------------

std::vector<std::vector<std::int64_t>> striping_slots(const ExecutionSegmentSequence& seq) {
  if (!seq.is_full()) throw std::invalid_argument("striping_slots: sequence must start at 0 and end at 1");
  const std::int64_t lcd = seq.lcd();
  if (lcd > kMaxSegmentLcd) {
    throw OptionsError("execution segment sequence " + quote(seq.to_string()) +
                       " is too fine-grained: the least common denominator of its segment lengths is " +
                       std::to_string(lcd) + " (at most " + std::to_string(kMaxSegmentLcd) + " supported)");
  }
  const std::size_t k = seq.size();
  std::vector<std::int64_t> slots_per_cycle(k);
  for (std::size_t j = 0; j < k; ++j) {
    Rational len = seq.segment(j).length();
    slots_per_cycle[j] = len.num() * (lcd / len.den());
  }
  // Rank: most slots first, ties by position in the sequence.
  std::vector<std::size_t> order(k);
  for (std::size_t j = 0; j < k; ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return slots_per_cycle[a] > slots_per_cycle[b]; });

  // k6's rule: index i goes to the best-ranked segment whose next slot is
  // released, segment j's c-th slot (0-based) being released at the first i
  // with i * n_j >= c * L. Some segment always has one: the releases up to i
  // add up to more than i. Ready segments wait in a heap by rank, the others
  // in a heap by release index.
  std::vector<std::vector<std::int64_t>> out(k);
  std::vector<std::int64_t> done(k, 0);
  auto release = [&](std::size_t j) { return (done[j] * lcd + slots_per_cycle[j] - 1) / slots_per_cycle[j]; };
  using Waiting = std::pair<std::int64_t, std::size_t>;  // (release index, rank)
  std::priority_queue<Waiting, std::vector<Waiting>, std::greater<>> waiting;
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;  // ranks
  for (std::size_t r = 0; r < k; ++r) ready.push(r);  // every first slot is released at 0
  for (std::int64_t i = 0; i < lcd; ++i) {
    while (!waiting.empty() && waiting.top().first <= i) {
      ready.push(waiting.top().second);
      waiting.pop();
    }
    if (ready.empty()) throw std::logic_error("striping_slots: no segment can take an index (cannot happen)");
    const std::size_t r = ready.top();
    ready.pop();
    const std::size_t j = order[r];
    out[j].push_back(i);
    if (++done[j] < slots_per_cycle[j]) waiting.push({release(j), r});
  }
  for (std::size_t j = 0; j < k; ++j) {
    if (static_cast<std::int64_t>(out[j].size()) != slots_per_cycle[j]) {
      throw std::logic_error("striping_slots: uneven striping (cannot happen)");
    }
  }
  return out;
}

// ---- ExecutionTuple ----------------------------------------------------------------------------

ExecutionTuple::ExecutionTuple() : sequence_{{Rational(0), Rational(1)}}, slots_{0} {}

ExecutionTuple::ExecutionTuple(const ExecutionSegment& segment, const ExecutionSegmentSequence& sequence,
                               std::string_view segment_flag, std::string_view sequence_flag)
    : segment_(segment), sequence_(sequence.filled(segment)) {
  const std::string_view blame_flag = sequence.empty() ? segment_flag : sequence_flag;
  const std::string blame_text = sequence.empty() ? segment.to_string() : sequence.to_string();
  if (!(Rational(0) <= segment.start && segment.start < segment.end && segment.end <= Rational(1))) {
    fail(segment_flag, segment.to_string(), "need 0 <= start < end <= 1");
  }
  bool found = false;
  for (std::size_t i = 0; i < sequence_.size(); ++i) {
    if (sequence_.segment(i) == segment) {
      index_ = i;
      found = true;
      break;
    }
  }
  if (!found) {
    fail(segment_flag, segment.to_string(),
         "not one of the segments of " + std::string(sequence_flag) + " " + quote(sequence.to_string()));
  }
  try {
    lcd_ = sequence_.lcd();
  } catch (const OptionsError& e) {
    fail(blame_flag, blame_text, std::string("too fine-grained: ") + e.what());
  }
  if (lcd_ > kMaxSegmentLcd) {
    fail(blame_flag, blame_text,
         "too fine-grained: the least common denominator of the segment lengths is " + std::to_string(lcd_) +
             " (at most " + std::to_string(kMaxSegmentLcd) + " supported)");
  }
  slots_ = std::move(striping_slots(sequence_).at(index_));
}

std::int64_t ExecutionTuple::scale(std::int64_t value) const {
  if (value < 0) throw std::invalid_argument("ExecutionTuple::scale: negative value " + std::to_string(value));
  const std::int64_t per_cycle = static_cast<std::int64_t>(slots_.size());
  const std::int64_t rest = value % lcd_;
  return (value / lcd_) * per_cycle + (std::lower_bound(slots_.begin(), slots_.end(), rest) - slots_.begin());
}

Rational ExecutionTuple::scale_rate(std::int64_t rate) const {
  return Rational(rate) * segment_.length();
}

StripedOffsets ExecutionTuple::striped_offsets() const {
  StripedOffsets s;
  s.lcd = lcd_;
  s.start = slots_.front();
  for (std::size_t i = 0; i + 1 < slots_.size(); ++i) s.offsets.push_back(slots_[i + 1] - slots_[i]);
  s.offsets.push_back(lcd_ - slots_.back() + slots_.front());
  return s;
}

bool ExecutionTuple::owns_global_iteration(std::int64_t n) const {
  if (n < 0) return false;
  return std::binary_search(slots_.begin(), slots_.end(), n % lcd_);
}

std::int64_t ExecutionTuple::next_global_iteration(std::int64_t after) const {
  if (after < -1) after = -1;
  if (after == kI64Max) return -1;
  const std::int64_t n = after + 1;
  const i128 cycle = static_cast<i128>(n / lcd_) * lcd_;
  auto it = std::lower_bound(slots_.begin(), slots_.end(), n % lcd_);
  const i128 result = it != slots_.end() ? cycle + *it : cycle + lcd_ + slots_.front();
  return result > kI64Max ? -1 : static_cast<std::int64_t>(result);
}

std::int64_t ExecutionTuple::global_iteration(std::int64_t local) const {
  if (local < 0) return -1;
  const std::int64_t per_cycle = static_cast<std::int64_t>(slots_.size());
  const i128 result = static_cast<i128>(local / per_cycle) * lcd_ + slots_[static_cast<std::size_t>(local % per_cycle)];
  return result > kI64Max ? -1 : static_cast<std::int64_t>(result);
}

ExecutionTuple make_execution_tuple(std::string_view segment_text, std::string_view sequence_text,
                                    std::string_view segment_flag, std::string_view sequence_flag) {
  ExecutionSegment seg = parse_execution_segment(segment_text, segment_flag);
  ExecutionSegmentSequence seq = parse_execution_segment_sequence(sequence_text, sequence_flag);
  return ExecutionTuple(seg, seq, segment_flag, sequence_flag);
}

// ---- scenarios --------------------------------------------------------------------------------

ScenarioConfig segment_scenario(const ScenarioConfig& s, const ExecutionTuple& t) {
  ScenarioConfig out = s;
  const std::string& e = s.executor;
  if (e == "shared-iterations") {
    out.vus = t.scale(s.vus);
    out.iterations = t.scale(s.iterations);
  } else if (e == "per-vu-iterations" || e == "constant-vus") {
    out.vus = t.scale(s.vus);
  } else if (e == "ramping-vus") {
    out.start_vus = t.scale(s.start_vus);
    for (Stage& st : out.stages) st.target = t.scale(st.target);
  } else if (e == "constant-arrival-rate" || e == "ramping-arrival-rate") {
    // Rates stay global: the engine starts only the owned global iterations.
    out.pre_allocated_vus = t.scale(s.pre_allocated_vus);
    out.max_vus = t.scale(s.max_vus);
  } else if (e == "externally-controlled") {
    out.vus = t.scale(s.vus);
    out.max_vus = t.scale(s.max_vus);
  } else {
    throw OptionsError("scenario " + quote(s.name) + ": unknown executor " + quote(e));
  }
  return out;
}

}  // namespace herd::exec
