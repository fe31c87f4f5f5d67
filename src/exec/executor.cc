#include "exec/executor.h"

#include <algorithm>

#include "exec/plan.h"

namespace herd::exec {

namespace {

/// The first offset t >= from at which pred(ramping_vus_at(s, t)) holds;
/// ramping_vus_at is monotone within a stage, so each stage is bisected.
template <typename Pred>
std::optional<microseconds> first_offset(const ScenarioConfig& s, microseconds from, Pred pred) {
  if (pred(ramping_vus_at(s, from))) return from;
  microseconds t0{0};
  for (const auto& st : s.stages) {
    microseconds t1 = t0 + st.duration;
    if (t1 > from) {
      microseconds lo = std::max(t0, from), hi = t1;
      if (pred(ramping_vus_at(s, hi))) {
        while (hi - lo > microseconds(1)) {
          microseconds mid = lo + (hi - lo) / 2;
          if (pred(ramping_vus_at(s, mid)))
            hi = mid;
          else
            lo = mid;
        }
        return hi;
      }
    }
    t0 = t1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<microseconds> ramping_next_activation(const ScenarioConfig& s, std::int64_t k, microseconds from) {
  return first_offset(s, from, [k](std::int64_t v) { return v > k; });
}

std::optional<microseconds> ramping_next_deactivation(const ScenarioConfig& s, std::int64_t k, microseconds from) {
  return first_offset(s, from, [k](std::int64_t v) { return v <= k; });
}

std::int64_t segment_ramping_vus_at(const ScenarioConfig& global, const ExecutionTuple& tuple, microseconds t) {
  return tuple.scale(std::max<std::int64_t>(0, ramping_vus_at(global, t)));
}

ClosedModelExecutor::ClosedModelExecutor(const ScenarioConfig& cfg, SteadyTime start)
    : ClosedModelExecutor(cfg, start, cfg, ExecutionTuple()) {}

ClosedModelExecutor::ClosedModelExecutor(const ScenarioConfig& cfg, SteadyTime start, const ScenarioConfig& global,
                                         const ExecutionTuple& tuple)
    : cfg_(cfg), ramp_(global), tuple_(tuple), start_(start) {
  microseconds dur = scenario_duration(cfg_);
  if (cfg_.executor == "externally-controlled") {
    active_ = cfg_.vus;
    if (dur.count() <= 0) dur = std::chrono::hours(24 * 365);  // until stopped through the API
  }
  end_ = start_ + dur;
  hard_stop_ = end_ + cfg_.graceful_stop;
}

NextStep ClosedModelExecutor::next(std::int64_t k, std::int64_t vu_iterations, SteadyTime now) {
  NextStep s;
  if (now >= end_) return s;  // kStop
  const std::string& ex = cfg_.executor;
  if (ex == "shared-iterations") {
    std::int64_t i = shared_next_.fetch_add(1);
    if (i >= cfg_.iterations) return s;
    s.kind = NextStep::kRun;
    s.iteration = i;
    return s;
  }
  if (ex == "per-vu-iterations") {
    if (vu_iterations >= cfg_.iterations) return s;
  } else if (ex == "externally-controlled") {
    if (k >= active_.load()) {
      s.kind = NextStep::kWait;
      s.wake_at = end_;
      return s;
    }
  } else if (ex == "ramping-vus") {
    auto off = std::chrono::duration_cast<microseconds>(now - start_);
    const std::int64_t slot = tuple_.global_iteration(k);  // this VU's place in the global ramp
    if (slot < 0 || ramping_vus_at(ramp_, off) <= slot) {
      auto next = slot < 0 ? std::nullopt : ramping_next_activation(ramp_, slot, off);
      s.kind = NextStep::kWait;
      s.wake_at = next ? std::min(start_ + *next, end_) : end_;
      return s;
    }
    if (auto d = ramping_next_deactivation(ramp_, slot, off)) {
      SteadyTime deadline = start_ + *d + cfg_.graceful_ramp_down;
      if (deadline < hard_stop_) s.interrupt_at = deadline;
    }
  }
  s.kind = NextStep::kRun;
  s.iteration = counter_.fetch_add(1);
  return s;
}

}  // namespace herd::exec
