// Generator health (issue #15): the per-second bookkeeping, the thresholds,
// the wire form and the summary block.

#include "metrics/generator_health.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "metrics/sink.h"
#include "metrics/summary.h"

namespace herd::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = HealthMonitor::Clock;

TEST(GeneratorHealth, CpuIsAShareOfTheCoresItMayUse) {
  HealthMonitor m(2, "", 0);
  auto t = Clock::now();
  m.close_second(1.9, 1.0, t);  // 95 % of 2 cores: saturated
  m.close_second(1.0, 1.0, t);  // 50 %
  m.close_second(0.9, 0.5, t);  // a half second at 90 %: saturated
  auto h = m.health();
  EXPECT_EQ(h.cores, 2);
  EXPECT_DOUBLE_EQ(h.seconds, 2.5);
  EXPECT_NEAR(h.cpu_last, 0.9, 1e-9);
  EXPECT_NEAR(h.cpu_max, 0.95, 1e-9);
  EXPECT_NEAR(h.cpu_avg, 3.8 / 5.0, 1e-9);
  EXPECT_DOUBLE_EQ(h.cpu_saturated_s, 1.5);
  EXPECT_DOUBLE_EQ(h.lag_saturated_s, 0);
  EXPECT_DOUBLE_EQ(h.unhealthy_s, 1.5);
}

TEST(GeneratorHealth, LagIsTheLargestProbeOfEachSecond) {
  HealthMonitor m(1, "1/2:1", 2);
  auto t = Clock::now();
  m.probe_fired(0, 2ms);
  m.probe_fired(1, 80ms);
  m.probe_fired(0, 3ms);
  m.close_second(0.1, 1.0, t);  // lagging (80 ms), not busy
  m.close_second(0.1, 1.0, t);  // nothing fired: no lag
  auto h = m.health();
  EXPECT_EQ(h.segment, "1/2:1");
  EXPECT_DOUBLE_EQ(h.lag_saturated_s, 1);
  EXPECT_DOUBLE_EQ(h.unhealthy_s, 1);
  EXPECT_DOUBLE_EQ(h.lag_last_ms, 0);
  EXPECT_NEAR(h.lag_max_ms, 80, 1);
  EXPECT_GT(h.lag_p99_ms, 50);
  EXPECT_DOUBLE_EQ(h.cpu_saturated_s, 0);
}

TEST(GeneratorHealth, AnOverdueProbeCountsAsLagBeforeItFires) {
  // A VU busy in JS never yields: its loop's timer cannot fire, yet the second is lagging.
  HealthMonitor m(1, "", 1);
  auto t = Clock::now();
  m.probe_armed(0, t - 700ms);
  m.close_second(1.0, 1.0, t);
  auto h = m.health();
  EXPECT_NEAR(h.lag_last_ms, 700, 1);
  EXPECT_DOUBLE_EQ(h.lag_saturated_s, 1);
  EXPECT_DOUBLE_EQ(h.unhealthy_s, 1);  // busy and lagging: counted once
  m.probe_fired(0, 750ms);             // fired at last: its lag is the next second's
  m.close_second(0.1, 1.0, t + 1s);
  EXPECT_DOUBLE_EQ(m.health().unhealthy_s, 2);
  EXPECT_NEAR(m.health().lag_last_ms, 750, 1);
  m.close_second(0.1, 1.0, t + 2s);  // disarmed: no lag any more
  EXPECT_DOUBLE_EQ(m.health().unhealthy_s, 2);
  EXPECT_DOUBLE_EQ(m.health().lag_last_ms, 0);
}

TEST(GeneratorHealth, SaturatedThresholds) {
  GeneratorHealth h;
  h.seconds = 3;
  h.unhealthy_s = 1;  // below the 2 s floor, though a third of the test
  EXPECT_FALSE(generator_saturated(h));
  h.unhealthy_s = 2;
  EXPECT_TRUE(generator_saturated(h));
  h.seconds = 100;
  h.unhealthy_s = 9.5;  // < 10 % and < 5 s? no: >= 5 s
  EXPECT_TRUE(generator_saturated(h));
  h.seconds = 100;
  h.unhealthy_s = 4.9;  // < 5 s and < 10 %
  EXPECT_FALSE(generator_saturated(h));
  h.seconds = 30;
  h.unhealthy_s = 3;  // 10 %
  EXPECT_TRUE(generator_saturated(h));
}

TEST(GeneratorHealth, DescribeNamesTheGenerator) {
  GeneratorHealth h;
  h.seconds = 5;
  h.unhealthy_s = 4;
  h.cpu_saturated_s = 4;
  h.cpu_max = 1;
  h.lag_saturated_s = 3;
  h.lag_p99_ms = 310;
  h.lag_max_ms = 400;
  EXPECT_EQ(describe_saturation(h),
            "this process: saturated for 4 of 5 s (CPU >= 90 % for 4 s, max 100 % of 1 core; event-loop lag >= 50 ms "
            "for 3 s, p99 310 ms, max 400 ms): its latencies include its own delay");
  h.name = "runner 2 (segment 1/2:1)";
  EXPECT_EQ(describe_saturation(h).rfind("runner 2 (segment 1/2:1): saturated for 4 of 5 s", 0), 0u);
}

TEST(GeneratorHealth, WireFormIsTolerant) {
  GeneratorHealth h;
  h.segment = "0:1/2";
  h.cores = 3;
  h.seconds = 4;
  h.cpu_avg = 0.5;
  h.lag_p99_ms = 12.5;
  h.unhealthy_s = 1;
  auto back = GeneratorHealth::from_json(nlohmann::json::parse(h.to_json().dump()));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  // Missing fields are 0; unknown ones are ignored.
  auto sparse = GeneratorHealth::from_json(nlohmann::json{{"cpuAvg", 0.25}, {"future", true}});
  ASSERT_TRUE(sparse);
  EXPECT_DOUBLE_EQ(sparse->cpu_avg, 0.25);
  EXPECT_EQ(sparse->cores, 1);
  for (const char* bad :
       {R"([])", R"({"cores":0})", R"({"cores":"2"})", R"({"cpuAvg":-1})", R"({"seconds":"x"})", R"({"segment":3})"})
    EXPECT_FALSE(GeneratorHealth::from_json(nlohmann::json::parse(bad))) << bad;
}

TEST(GeneratorHealth, TravelsInTheSnapshotAndMergesPerGenerator) {
  Snapshot a;
  a.time_us = 1;
  GeneratorHealth g;
  g.segment = "0:1/2";
  g.unhealthy_s = 3;
  a.generators.push_back(g);
  auto j = a.to_json();
  ASSERT_TRUE(j.contains("generators"));
  Snapshot back = Snapshot::from_json(j);
  ASSERT_EQ(back.generators.size(), 1u);
  EXPECT_EQ(back.generators[0], g);
  // An older runner sends none; an entry that is not valid is skipped, not an error.
  Snapshot old;
  EXPECT_FALSE(old.to_json().contains("generators"));
  auto jb = j;
  jb["generators"].push_back("nonsense");
  EXPECT_EQ(Snapshot::from_json(jb).generators.size(), 1u);
  Snapshot merged;
  merged.merge(back);
  merged.merge(old);
  merged.merge(back);
  EXPECT_EQ(merged.generators.size(), 2u);
}

TEST(GeneratorHealth, SummaryBlockBeforeOutputs) {
  GeneratorHealth ok;
  ok.name = "runner 1";
  ok.seconds = 10;
  GeneratorHealth bad = ok;
  bad.name = "runner 2 (segment 1/2:1)";
  bad.unhealthy_s = 6;
  SummaryOptions so;
  so.blocks.push_back(generator_health_block({ok}));
  so.notes.push_back("--out x: sent 3");
  nlohmann::json data = {{"metrics", nlohmann::json::object()}, {"root_group", nlohmann::json::object()}};
  std::string quiet = render_text_summary(data, so);
  EXPECT_EQ(quiet.find("GENERATOR HEALTH"), std::string::npos);
  so.blocks[0] = generator_health_block({ok, bad});
  ASSERT_EQ(so.blocks[0].lines.size(), 1u);
  std::string text = render_text_summary(data, so);
  auto at = text.find("    GENERATOR HEALTH\n    runner 2 (segment 1/2:1): saturated for 6 of 10 s");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_LT(at, text.find("OUTPUTS"));
  EXPECT_EQ(text.find("runner 1:"), std::string::npos);
}

TEST(GeneratorHealth, MonitorMeasuresThisProcess) {
  EXPECT_GE(affinity_cpus(), 1);
  HealthMonitor idle(1, "", 0);
  idle.start(100ms);
  std::this_thread::sleep_for(350ms);
  idle.stop();
  auto hi = idle.health();
  EXPECT_GE(hi.seconds, 0.25);
  EXPECT_LT(hi.cpu_avg, 0.5);  // sleeping

  HealthMonitor busy(1, "", 0);
  busy.start(100ms);
  double until = process_cpu_seconds() + 0.3;
  volatile std::uint64_t spin = 0;
  while (process_cpu_seconds() < until) spin = spin + 1;
  busy.stop();
  auto hb = busy.health();
  EXPECT_GT(hb.cpu_max, 0.3);  // at least one period mostly on the CPU (even on a loaded machine)
  EXPECT_GT(hb.cpu_avg, hi.cpu_avg);
  busy.stop();  // idempotent
}

}  // namespace
}  // namespace herd::metrics
