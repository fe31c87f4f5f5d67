// The closed-model executors' schedules, driven with an injected clock: every
// call says what time it is, so nothing sleeps and every timing is exact.
#include "exec/executor.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "exec/plan.h"

namespace herd::exec {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime T0 = SteadyTime() + std::chrono::hours(1);

ScenarioConfig scenario(const std::string& executor) {
  ScenarioConfig s;
  s.name = "s";
  s.executor = executor;
  return s;
}

TEST(ClosedModelExecutor, SharedIterationsHandsOutEachIterationOnce) {
  ScenarioConfig s = scenario("shared-iterations");
  s.vus = 3;
  s.iterations = 7;
  s.max_duration = seconds(10);
  ClosedModelExecutor ex(s, T0);
  std::vector<std::int64_t> got;
  for (int round = 0; round < 5; round++)
    for (int k = 0; k < 3; k++) {
      NextStep n = ex.next(k, round, T0 + milliseconds(100 * round));
      if (n.kind == NextStep::kRun)
        got.push_back(n.iteration);
      else
        EXPECT_EQ(n.kind, NextStep::kStop);
    }
  EXPECT_EQ(got, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ex.end(), T0 + seconds(10));
  EXPECT_EQ(ex.hard_stop(), T0 + seconds(10) + seconds(30));
}

TEST(ClosedModelExecutor, SharedIterationsStopAtMaxDuration) {
  ScenarioConfig s = scenario("shared-iterations");
  s.vus = 1;
  s.iterations = 1000;
  s.max_duration = seconds(2);
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(0, 0, T0 + milliseconds(1999)).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(0, 1, T0 + seconds(2)).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, PerVuIterationsCountsPerVu) {
  ScenarioConfig s = scenario("per-vu-iterations");
  s.vus = 2;
  s.iterations = 3;
  ClosedModelExecutor ex(s, T0);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(ex.next(0, i, T0).kind, NextStep::kRun);
    EXPECT_EQ(ex.next(1, i, T0).kind, NextStep::kRun);
  }
  EXPECT_EQ(ex.next(0, 3, T0).kind, NextStep::kStop);
  EXPECT_EQ(ex.next(1, 3, T0).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, ConstantVusRunUntilTheDurationEnds) {
  ScenarioConfig s = scenario("constant-vus");
  s.vus = 5;
  s.duration = seconds(30);
  s.graceful_stop = seconds(5);
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(4, 1000, T0 + seconds(29)).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(4, 1001, T0 + seconds(30)).kind, NextStep::kStop);
  EXPECT_EQ(ex.hard_stop(), T0 + seconds(35));
}

TEST(ClosedModelExecutor, RampingVusWaitsForItsTurnAndGetsARampDownDeadline) {
  ScenarioConfig s = scenario("ramping-vus");
  s.start_vus = 0;
  s.stages = {{seconds(4), 4}, {seconds(4), 4}, {seconds(4), 0}};
  s.graceful_ramp_down = seconds(2);
  s.graceful_stop = seconds(30);
  ClosedModelExecutor ex(s, T0);
  // VU 2 (the third) is needed once the target exceeds 2: at 3 s.
  NextStep w = ex.next(2, 0, T0 + seconds(1));
  ASSERT_EQ(w.kind, NextStep::kWait);
  EXPECT_EQ(w.wake_at, T0 + seconds(3));
  NextStep r = ex.next(2, 0, w.wake_at);
  ASSERT_EQ(r.kind, NextStep::kRun);
  // The ramp down (8 s -> 12 s, 4 -> 0) drops VU 2 once the line reaches 2
  // (k6 rounds toward the stage's start): at 10 s. The iteration then has
  // gracefulRampDown (2 s) to finish.
  ASSERT_TRUE(r.interrupt_at.has_value());
  EXPECT_EQ(*r.interrupt_at, T0 + seconds(10) + seconds(2));
  EXPECT_EQ(ex.next(2, 1, T0 + seconds(10) - std::chrono::microseconds(1)).kind, NextStep::kRun);
  // After the drop it waits again (until the end: the ramp never comes back).
  NextStep after = ex.next(2, 1, T0 + seconds(10) + milliseconds(1));
  ASSERT_EQ(after.kind, NextStep::kWait);
  EXPECT_EQ(after.wake_at, ex.end());
  EXPECT_EQ(ex.next(0, 5, T0 + seconds(12)).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, ExternallyControlledFollowsTheActiveCount) {
  ScenarioConfig s = scenario("externally-controlled");
  s.vus = 2;
  s.max_vus = 5;
  s.duration = seconds(0);  // until stopped
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(1, 0, T0).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(3, 0, T0).kind, NextStep::kWait);
  ex.set_active_vus(4);
  EXPECT_EQ(ex.next(3, 0, T0 + seconds(1)).kind, NextStep::kRun);
  ex.set_active_vus(1);
  EXPECT_EQ(ex.next(1, 9, T0 + seconds(2)).kind, NextStep::kWait);
  EXPECT_GT(ex.end(), T0 + std::chrono::hours(24 * 300)) << "no duration: runs until stopped";
}

// A random execution-segment sequence over [0, 1]: 1 to 6 segments, cut at
// multiples of 1/den for a small random den (unequal segments included).
ExecutionSegmentSequence random_sequence(std::mt19937_64& rng) {
  static const std::int64_t kDens[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12};
  std::int64_t den = kDens[rng() % std::size(kDens)];
  std::set<std::int64_t> cuts{0, den};
  std::int64_t extra = static_cast<std::int64_t>(rng() % 6);
  for (std::int64_t i = 0; i < extra && den > 1; i++) cuts.insert(1 + static_cast<std::int64_t>(rng() % (den - 1)));
  ExecutionSegmentSequence seq;
  for (std::int64_t c : cuts) seq.points.push_back(Rational(c, den));
  return seq;
}

ScenarioConfig random_ramp(std::mt19937_64& rng) {
  ScenarioConfig s = scenario("ramping-vus");
  s.start_vus = static_cast<std::int64_t>(rng() % 8);
  std::size_t n = 1 + rng() % 5;
  for (std::size_t i = 0; i < n; i++) {
    // Durations from 0 (a jump) to 10 s, in odd microsecond counts too.
    microseconds d(rng() % 4 == 0 ? 0 : static_cast<std::int64_t>(rng() % 10'000'000));
    s.stages.push_back({d, static_cast<std::int64_t>(rng() % 40)});
  }
  s.graceful_ramp_down = seconds(1);
  return s;
}

// The distributed-load property: at every instant the VUs the segments run add
// up to what one unsplit instance runs, through the executor's own decisions.
TEST(ClosedModelExecutor, RampingVusSegmentsAddUpToTheUnsplitRampAtEveryInstant) {
  std::mt19937_64 rng(20261206);
  for (int round = 0; round < 150; round++) {
    ScenarioConfig global = random_ramp(rng);
    ExecutionSegmentSequence seq = random_sequence(rng);
    microseconds total = scenario_duration(global);
    if (total.count() <= 0) continue;
    std::vector<ExecutionTuple> tuples;
    std::vector<ScenarioConfig> cfgs;
    std::vector<std::unique_ptr<ClosedModelExecutor>> exs;
    for (const ExecutionSegment& seg : seq.segments()) {
      tuples.emplace_back(seg, seq);
      cfgs.push_back(segment_scenario(global, tuples.back()));
      exs.push_back(std::make_unique<ClosedModelExecutor>(cfgs.back(), T0, global, tuples.back()));
    }
    SCOPED_TRACE("round " + std::to_string(round) + ", sequence " + seq.to_string());
    std::vector<microseconds> instants;
    microseconds edge{0};
    for (const Stage& st : global.stages) {
      instants.push_back(edge);  // stage boundaries, and just before them
      if (edge.count() > 0) instants.push_back(edge - microseconds(1));
      edge += st.duration;
    }
    for (int i = 0; i < 40; i++) instants.push_back(microseconds(static_cast<std::int64_t>(rng() % total.count())));
    for (microseconds t : instants) {
      if (t >= total) continue;
      std::int64_t want = ramping_vus_at(global, t);
      std::int64_t sum = 0;
      for (std::size_t j = 0; j < exs.size(); j++) {
        std::int64_t allocated = scenario_max_vus(cfgs[j]);
        std::int64_t running = 0;
        for (std::int64_t k = 0; k < allocated + 2; k++) {
          if (exs[j]->next(k, 0, T0 + t).kind == NextStep::kRun) running++;
        }
        EXPECT_LE(running, allocated) << "segment " << j << " needs more VUs than it was given";
        EXPECT_EQ(running, segment_ramping_vus_at(global, tuples[j], t));
        sum += running;
      }
      EXPECT_EQ(sum, want) << "at t=" << t.count() << "us";
    }
  }
}

// The example from the issue: a 10-VU ramp split in 4 loses no VU-time.
TEST(ClosedModelExecutor, RampingVusQuartersKeepTheRampsVuSeconds) {
  ScenarioConfig global = scenario("ramping-vus");
  global.start_vus = 0;
  global.stages = {{seconds(5), 10}, {seconds(5), 0}};
  ExecutionSegmentSequence seq = parse_execution_segment_sequence("0,1/4,1/2,3/4,1");
  std::int64_t unsplit = 0, split = 0;
  for (std::int64_t ms = 0; ms < 10'000; ms += 10) {
    unsplit += ramping_vus_at(global, milliseconds(ms));
    for (const ExecutionSegment& seg : seq.segments())
      split += segment_ramping_vus_at(global, ExecutionTuple(seg, seq), milliseconds(ms));
  }
  EXPECT_EQ(split, unsplit);
  EXPECT_GT(unsplit, 0);
}

// ramping-arrival-rate keeps the global schedule: each segment starts the
// global iterations it owns (tuple.global_iteration of its local counter, as
// the engine does), so together they start every global iteration once, at
// the unsplit instant.
TEST(ArrivalSchedule, SegmentsStartTheUnsplitScheduleBetweenThem) {
  std::mt19937_64 rng(611);
  for (int round = 0; round < 60; round++) {
    ScenarioConfig global = scenario("ramping-arrival-rate");
    global.start_rate = static_cast<std::int64_t>(rng() % 50);
    global.time_unit = seconds(1);
    for (std::size_t i = 0, n = 1 + rng() % 4; i < n; i++)
      global.stages.push_back(
          {milliseconds(static_cast<std::int64_t>(rng() % 3000)), static_cast<std::int64_t>(rng() % 200)});
    std::vector<microseconds> unsplit;
    for (std::int64_t i = 0;; i++) {
      auto at = arrival_offset(global, i);
      if (!at) break;
      unsplit.push_back(*at);
    }
    ExecutionSegmentSequence seq = random_sequence(rng);
    SCOPED_TRACE("round " + std::to_string(round) + ", sequence " + seq.to_string());
    std::vector<int> started(unsplit.size(), 0);
    for (const ExecutionSegment& seg : seq.segments()) {
      ExecutionTuple tuple(seg, seq);
      ScenarioConfig mine = segment_scenario(global, tuple);
      for (std::int64_t local = 0;; local++) {
        std::int64_t g = tuple.global_iteration(local);
        auto at = arrival_offset(mine, g);
        if (!at) break;
        ASSERT_LT(static_cast<std::size_t>(g), unsplit.size());
        EXPECT_EQ(*at, unsplit[static_cast<std::size_t>(g)]);
        started[static_cast<std::size_t>(g)]++;
      }
    }
    for (std::size_t g = 0; g < started.size(); g++) ASSERT_EQ(started[g], 1) << "global iteration " << g;
  }
}

}  // namespace
}  // namespace herd::exec
