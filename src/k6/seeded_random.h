#pragma once
// k6's randomSeed(int): makes this VU's Math.random a deterministic sequence
// of that seed (the same seed gives the same numbers, in every VU and run).

#include <cstdint>

#include <quickjs.h>

namespace herd::k6 {

/// Replaces Math.random in `ctx` with a generator seeded by `seed`
/// (splitmix64; doubles in [0, 1) with 53 random bits). Calling it again
/// restarts the sequence. Returns false (with a pending exception) on failure.
bool install_seeded_random(JSContext* ctx, std::int64_t seed);

/// The i-th (0-based) value the generator seeded with `seed` yields (for tests).
double seeded_random_value(std::int64_t seed, int i);

}  // namespace herd::k6
