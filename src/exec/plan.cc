#include "exec/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace herd::exec {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// Saturating addition, so absurd (but parseable) durations cannot overflow.
microseconds sat_add(microseconds a, microseconds b) {
  __int128 r = static_cast<__int128>(a.count()) + b.count();
  if (r > kMax) return microseconds(kMax);
  if (r < kMin) return microseconds(kMin);
  return microseconds(static_cast<std::int64_t>(r));
}

microseconds stages_total(const std::vector<Stage>& stages) {
  microseconds total{0};
  for (const Stage& st : stages) total = sat_add(total, st.duration);
  return total;
}

bool unbounded(const ScenarioConfig& s) {
  return s.executor == "externally-controlled" && s.duration.count() == 0;
}

}  // namespace

std::int64_t scenario_max_vus(const ScenarioConfig& s) {
  const std::string& ex = s.executor;
  if (ex == "ramping-vus") {
    std::int64_t m = s.start_vus;
    for (const Stage& st : s.stages) m = std::max(m, st.target);
    return m;
  }
  if (ex == "constant-arrival-rate" || ex == "ramping-arrival-rate") {
    return s.max_vus > 0 ? s.max_vus : s.pre_allocated_vus;
  }
  if (ex == "externally-controlled") return s.max_vus > 0 ? s.max_vus : s.vus;
  return s.vus;  // shared-iterations, per-vu-iterations, constant-vus
}

microseconds scenario_duration(const ScenarioConfig& s) {
  const std::string& ex = s.executor;
  if (ex == "shared-iterations" || ex == "per-vu-iterations") return s.max_duration;
  if (ex == "ramping-vus" || ex == "ramping-arrival-rate") return stages_total(s.stages);
  return s.duration;  // constant-vus, constant-arrival-rate, externally-controlled
}

microseconds scenario_duration_with_grace(const ScenarioConfig& s) {
  // externally-controlled has no gracefulStop. For ramping-vus, k6 ends the
  // executor at sum(stages) + gracefulStop; gracefulRampDown only applies to
  // VUs removed during the ramp and never extends the scenario past that.
  if (s.executor == "externally-controlled") return scenario_duration(s);
  return sat_add(scenario_duration(s), s.graceful_stop);
}

std::int64_t ramping_vus_at(const ScenarioConfig& s, microseconds t) {
  std::int64_t from = s.start_vus;
  if (t.count() < 0) return from;
  microseconds stage_start{0};
  for (const Stage& st : s.stages) {
    microseconds end = sat_add(stage_start, st.duration);
    if (t < end && st.duration.count() > 0) {
      __int128 diff = static_cast<__int128>(st.target) - from;
      __int128 elapsed = (t - stage_start).count();
      // Rounded toward the stage's start value, as k6 does: a ramp up adds VU
      // number n once the line reaches n, a ramp down drops one only once
      // the line has fallen a whole VU below it.
      return static_cast<std::int64_t>(from + diff * elapsed / st.duration.count());
    }
    from = st.target;
    stage_start = end;
  }
  return from;
}

double ramping_rate_at(const ScenarioConfig& s, microseconds t) {
  double from = static_cast<double>(s.start_rate);
  if (t.count() < 0) return from;
  microseconds stage_start{0};
  for (const Stage& st : s.stages) {
    microseconds end = sat_add(stage_start, st.duration);
    if (t < end && st.duration.count() > 0) {
      double frac = static_cast<double>((t - stage_start).count()) / static_cast<double>(st.duration.count());
      return from + (static_cast<double>(st.target) - from) * frac;
    }
    from = static_cast<double>(st.target);
    stage_start = end;
  }
  return from;
}

ExecutionRequirements execution_requirements(const std::vector<ScenarioConfig>& scenarios) {
  ExecutionRequirements req;
  // Each scenario holds its VUs over [start, start + duration + grace). Windows
  // are half-open: one that ends exactly when another starts hands its VUs over.
  std::vector<std::pair<microseconds, std::int64_t>> events;  // (time, +vus / -vus)
  for (const ScenarioConfig& s : scenarios) {
    const std::int64_t vus = scenario_max_vus(s);
    events.emplace_back(s.start_time, vus);
    if (unbounded(s)) {
      req.unbounded = true;
      req.total_duration = std::max(req.total_duration, s.start_time);
      continue;  // holds its VUs until the end
    }
    microseconds end = sat_add(s.start_time, scenario_duration_with_grace(s));
    req.total_duration = std::max(req.total_duration, end);
    if (end > s.start_time) {
      events.emplace_back(end, -vus);
    } else {
      events.pop_back();  // empty window: never active
    }
  }
  // Ends (negative deltas) sort before starts at the same instant.
  std::sort(events.begin(), events.end());
  __int128 current = 0, peak = 0;
  for (const auto& [time, delta] : events) {
    (void)time;
    current += delta;
    peak = std::max(peak, current);
  }
  req.max_vus = peak > kMax ? kMax : static_cast<std::int64_t>(peak);
  return req;
}

}  // namespace herd::exec

namespace herd::exec {

std::optional<microseconds> arrival_offset(const ScenarioConfig& s, std::int64_t i) {
  if (i < 0) return std::nullopt;
  const double unit = static_cast<double>(s.time_unit.count());  // microseconds
  if (s.executor == "constant-arrival-rate") {
    if (s.rate <= 0 || unit <= 0) return std::nullopt;
    __int128 us = static_cast<__int128>(i) * s.time_unit.count() / s.rate;
    if (us >= s.duration.count()) return std::nullopt;
    return microseconds(static_cast<std::int64_t>(us));
  }
  if (s.executor != "ramping-arrival-rate" || unit <= 0) return std::nullopt;
  // Walk the stages, integrating the rate (iterations per microsecond).
  double need = static_cast<double>(i);  // iterations still to pass before #i is due
  double r0 = static_cast<double>(s.start_rate) / unit;
  double t0 = 0;
  for (const Stage& st : s.stages) {
    double d = static_cast<double>(st.duration.count());
    double r1 = static_cast<double>(st.target) / unit;
    if (d <= 0) {
      r0 = r1;
      continue;
    }
    double area = (r0 + r1) / 2 * d;  // iterations started within this stage
    if (need < area || (need == 0 && area == 0 && r0 > 0)) {
      // Solve r0*x + (r1-r0)/(2d)*x^2 = need for x in [0, d].
      double a = (r1 - r0) / (2 * d);
      double x;
      if (std::abs(a) < 1e-18) {
        x = need / r0;
      } else {
        double disc = r0 * r0 + 4 * a * need;
        x = (-r0 + std::sqrt(std::max(0.0, disc))) / (2 * a);
      }
      x = std::clamp(x, 0.0, d);
      return microseconds(static_cast<std::int64_t>(std::ceil(t0 + x - 1e-6)));
    }
    need -= area;
    t0 += d;
    r0 = r1;
  }
  return std::nullopt;
}

}  // namespace herd::exec
