#include "exec/run_limits.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "util/duration.h"

namespace herd::exec {
namespace {

Options resolve(const nlohmann::json& script) {
  return resolve_options(script, {}, CliOverrides{});
}

std::string vu_error(const nlohmann::json& script, std::int64_t available) {
  try {
    check_vu_counts(resolve(script), available);
  } catch (const OptionsError& e) {
    return e.what();
  }
  return "";
}

TEST(RunLimits, MaxVusFollowsAvailableMemoryWithinAHardCap) {
  EXPECT_EQ(max_vus_for_memory(1024LL * 1024 * 1024), 1024LL * 1024 * 1024 / kMinBytesPerVu);
  EXPECT_EQ(max_vus_for_memory(-1), kMaxVusPerInstance);
  EXPECT_EQ(max_vus_for_memory(1LL << 62), kMaxVusPerInstance);
  EXPECT_EQ(max_vus_for_memory(0), 1);
  EXPECT_GT(available_memory_bytes(), 0) << "/proc/meminfo is readable here";
}

TEST(RunLimits, VuCountsNameTheOption) {
  const std::int64_t gib = 1024LL * 1024 * 1024;  // ~11,650 VUs
  EXPECT_EQ(vu_error({{"vus", 10000}, {"duration", "1s"}}, gib), "");
  EXPECT_NE(vu_error({{"vus", 20000}, {"duration", "1s"}}, gib).find("vus: 20000 VUs is more than"), std::string::npos);
  EXPECT_NE(vu_error({{"stages", {{{"duration", "1s"}, {"target", 20000}}}}}, gib).find("stages[0].target: 20000"),
            std::string::npos);
  nlohmann::json sc = {{"scenarios",
                        {{"a",
                          {{"executor", "ramping-arrival-rate"},
                           {"stages", {{{"duration", "1s"}, {"target", 5}}}},
                           {"preAllocatedVUs", 1},
                           {"maxVUs", 30000}}}}}};
  EXPECT_NE(vu_error(sc, gib).find("scenarios.a.maxVUs: 30000"), std::string::npos) << vu_error(sc, gib);
  // Two scenarios at once, each within the limit, together over it.
  nlohmann::json two = {{"scenarios",
                         {{"a", {{"executor", "constant-vus"}, {"vus", 8000}, {"duration", "1s"}}},
                          {"b", {{"executor", "constant-vus"}, {"vus", 8000}, {"duration", "1s"}}}}}};
  EXPECT_NE(vu_error(two, gib).find("the scenarios together"), std::string::npos) << vu_error(two, gib);
}

TEST(RunLimits, DurationsBeyondTheMaximumNameTheOption) {
  auto err = [](const nlohmann::json& script) -> std::string {
    try {
      check_durations(resolve(script));
    } catch (const OptionsError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(err({{"vus", 1}, {"duration", "800000h"}}), "");  // 91 years
  EXPECT_NE(err({{"vus", 1}, {"duration", "3000000h"}}).find("duration: 3000000h0m0s is longer"), std::string::npos);
  EXPECT_NE(err({{"iterations", 1}, {"teardownTimeout", "900000h"}}).find("teardownTimeout"), std::string::npos);
  nlohmann::json sum = {
      {"scenarios",
       {{"s",
         {{"executor", "constant-vus"}, {"duration", "500000h"}, {"startTime", "500000h"}, {"gracefulStop", "1s"}}}}}};
  EXPECT_NE(err(sum).find("scenarios.s.startTime + duration"), std::string::npos) << err(sum);
}

TEST(RunLimits, ClampWaitSecondsIsDefinedForEveryDouble) {
  using util::clamp_wait_seconds;
  EXPECT_EQ(clamp_wait_seconds(1.5).count(), 1'500'000);
  EXPECT_EQ(clamp_wait_seconds(-1).count(), 0);
  EXPECT_EQ(clamp_wait_seconds(std::nan("")).count(), 0);
  EXPECT_EQ(clamp_wait_seconds(1e300), util::kMaxWait);
  EXPECT_EQ(clamp_wait_seconds(std::numeric_limits<double>::infinity()), util::kMaxWait);
  EXPECT_EQ(clamp_wait_seconds(-std::numeric_limits<double>::infinity()).count(), 0);
}

}  // namespace
}  // namespace herd::exec
