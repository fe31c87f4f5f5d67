#pragma once
// Up-front checks of what a run asks for. VU counts against memory: a run asked for more VUs than
// the machine can hold is refused with a clear error naming the option,
// before any VU (or the VU table) is allocated. Without it, `-u 99999999999`
// grows memory until the kernel kills the process. Durations against the
// longest one herd schedules (no overflowing clock arithmetic, no UB).

#include <cstdint>

#include "exec/options.h"

namespace herd::exec {

/// The least memory one VU takes (a QuickJS runtime with the k6 modules, its
/// fiber stack and state): bench/memory.sh measures 88-98 KB per VU.
inline constexpr std::int64_t kMinBytesPerVu = 90 * 1024;

/// Upper bound on VUs in one instance whatever the memory (also when
/// /proc/meminfo cannot be read).
inline constexpr std::int64_t kMaxVusPerInstance = 10'000'000;

/// /proc/meminfo's MemAvailable in bytes, or -1 if it cannot be read.
std::int64_t available_memory_bytes();

/// The most VUs `available_bytes` (-1 = unknown) can hold.
std::int64_t max_vus_for_memory(std::int64_t available_bytes);

/// Throws OptionsError naming the first option whose VU count exceeds
/// max_vus_for_memory(available_bytes): per scenario vus, startVUs,
/// stages[i].target, preAllocatedVUs, maxVUs (named without the
/// "scenarios.NAME." prefix when the scenario comes from vus/stages), then
/// the peak the scenarios need at once. `o.scenarios` as run by this instance
/// (after its execution segment).
void check_vu_counts(const Options& o, std::int64_t available_bytes);

/// Throws OptionsError naming the first duration option beyond
/// util::kMaxWait (100 years), alone or added up over a scenario (startTime +
/// duration or stages + gracefulStop + gracefulRampDown): setupTimeout,
/// teardownTimeout, minIterationDuration, and per scenario startTime,
/// duration, maxDuration, stages[i].duration, gracefulStop,
/// gracefulRampDown, timeUnit (shortcut names as for check_vu_counts).
void check_durations(const Options& o);

}  // namespace herd::exec
