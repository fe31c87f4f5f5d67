#include "exec/run_limits.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "exec/plan.h"
#include "util/duration.h"

namespace herd::exec {

namespace {

std::string bytes_text(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (b >= 1024 && u < 6) {
    b /= 1024;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

}  // namespace

std::int64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  return -1;
}

std::int64_t max_vus_for_memory(std::int64_t available_bytes) {
  if (available_bytes < 0) return kMaxVusPerInstance;
  return std::clamp<std::int64_t>(available_bytes / kMinBytesPerVu, 1, kMaxVusPerInstance);
}

void check_vu_counts(const Options& o, std::int64_t available_bytes) {
  const std::int64_t limit = max_vus_for_memory(available_bytes);
  auto check = [&](const std::string& option, std::int64_t n) {
    if (n <= limit) return;
    std::ostringstream msg;
    msg << option << ": " << n << " VUs is more than this machine can hold: at least "
        << bytes_text(static_cast<double>(n) * kMinBytesPerVu) << " of memory ("
        << bytes_text(static_cast<double>(kMinBytesPerVu)) << " per VU), ";
    if (available_bytes >= 0) msg << bytes_text(static_cast<double>(available_bytes)) << " available; ";
    msg << "the most is " << limit << " VUs per instance (use --execution-segment or more runners for more)";
    throw OptionsError(msg.str());
  };
  // The scenario that --vus/--stages (or options.vus/stages) make is named by those options.
  const bool from_shortcuts = o.scenarios.size() == 1 && o.scenarios[0].name == "default" && (o.vus || o.stages);
  for (const ScenarioConfig& s : o.scenarios) {
    const std::string p = from_shortcuts ? "" : "scenarios." + s.name + ".";
    check(p + "vus", s.vus);
    check(p + "startVUs", s.start_vus);
    if (s.executor == "ramping-vus")
      for (std::size_t i = 0; i < s.stages.size(); i++)
        check(p + "stages[" + std::to_string(i) + "].target", s.stages[i].target);
    check(p + "preAllocatedVUs", s.pre_allocated_vus);
    check(p + "maxVUs", s.max_vus);
  }
  std::int64_t peak = execution_requirements(o.scenarios).max_vus;
  for (const ScenarioConfig& s : o.scenarios) peak = std::max(peak, scenario_max_vus(s));
  check("the scenarios together (peak of VUs needed at once)", peak);
}

void check_durations(const Options& o) {
  const long double max = static_cast<long double>(util::kMaxWait.count());
  auto check = [&](const std::string& option, long double us) {
    if (us <= max) return;
    throw OptionsError(option + ": " +
                       util::format_duration(
                           std::chrono::microseconds(static_cast<std::int64_t>(std::min<long double>(us, 9.2e18L)))) +
                       " is longer than the longest supported duration, " + util::format_duration(util::kMaxWait) +
                       " (100 years)");
  };
  auto us = [](microseconds d) { return static_cast<long double>(d.count()); };
  check("setupTimeout", us(o.setup_timeout));
  check("teardownTimeout", us(o.teardown_timeout));
  check("minIterationDuration", us(o.min_iteration_duration));
  const bool from_shortcuts =
      o.scenarios.size() == 1 && o.scenarios[0].name == "default" && (o.vus || o.stages || o.duration || o.iterations);
  for (const ScenarioConfig& s : o.scenarios) {
    const std::string p = from_shortcuts ? "" : "scenarios." + s.name + ".";
    check(p + "startTime", us(s.start_time));
    check(p + "duration", us(s.duration));
    check(p + "maxDuration", us(s.max_duration));
    check(p + "gracefulStop", us(s.graceful_stop));
    check(p + "gracefulRampDown", us(s.graceful_ramp_down));
    check(p + "timeUnit", us(s.time_unit));
    long double stages = 0;
    for (std::size_t i = 0; i < s.stages.size(); i++) {
      check(p + "stages[" + std::to_string(i) + "].duration", us(s.stages[i].duration));
      stages += us(s.stages[i].duration);
    }
    check(p + "stages (added up)", stages);
    long double longest = std::max({us(s.duration), us(s.max_duration), stages});
    check(p + "startTime + duration + gracefulStop + gracefulRampDown",
          us(s.start_time) + longest + us(s.graceful_stop) + us(s.graceful_ramp_down));
  }
}

}  // namespace herd::exec
