// Scenario parsing and validation (split from options_test.cc).
#include "exec/options_test_util.h"

namespace herd::exec {
namespace {

using namespace herd::exec::testing;  // NOLINT(google-build-using-namespace)
using namespace std::chrono_literals;

TEST(Scenarios, EveryExecutorWithDefaults) {
  json sc = {
      {"si", {{"executor", "shared-iterations"}}},
      {"pvi", {{"executor", "per-vu-iterations"}, {"vus", 2}, {"iterations", 3}, {"maxDuration", "1m"}}},
      {"cv", {{"executor", "constant-vus"}, {"vus", 4}, {"duration", "30s"}}},
      {"rv", {{"executor", "ramping-vus"}, {"stages", {{{"duration", "10s"}, {"target", 10}}}}}},
      {"car", {{"executor", "constant-arrival-rate"}, {"rate", 50}, {"duration", "1m"}, {"preAllocatedVUs", 5}}},
      {"rar",
       {{"executor", "ramping-arrival-rate"},
        {"stages", {{{"duration", "1m"}, {"target", 100}}}},
        {"preAllocatedVUs", 10},
        {"maxVUs", 20},
        {"startRate", 5},
        {"timeUnit", "1m"}}},
      {"ec", {{"executor", "externally-controlled"}, {"vus", 2}, {"maxVUs", 10}, {"duration", "5m"}}},
  };
  Options o = resolve({{"scenarios", sc}});
  ASSERT_EQ(o.scenarios.size(), 7u);
  std::map<std::string, ScenarioConfig> by;
  for (const auto& s : o.scenarios) by[s.name] = s;
  EXPECT_EQ(by["si"].vus, 1);
  EXPECT_EQ(by["si"].iterations, 1);
  EXPECT_EQ(by["si"].max_duration, 10min);
  EXPECT_EQ(by["si"].graceful_stop, 30s);
  EXPECT_EQ(by["si"].start_time, 0s);
  EXPECT_EQ(by["si"].exec, "default");
  EXPECT_EQ(by["pvi"].iterations, 3);
  EXPECT_EQ(by["pvi"].max_duration, 1min);
  EXPECT_EQ(by["cv"].duration, 30s);
  EXPECT_EQ(by["rv"].start_vus, 1);
  EXPECT_EQ(by["rv"].graceful_ramp_down, 30s);
  EXPECT_EQ(by["car"].rate, 50);
  EXPECT_EQ(by["car"].time_unit, 1s);
  EXPECT_EQ(by["car"].pre_allocated_vus, 5);
  EXPECT_EQ(by["car"].max_vus, 5);  // defaults to preAllocatedVUs
  EXPECT_EQ(by["rar"].start_rate, 5);
  EXPECT_EQ(by["rar"].time_unit, 1min);
  EXPECT_EQ(by["rar"].max_vus, 20);
  EXPECT_EQ(by["ec"].vus, 2);
  EXPECT_EQ(by["ec"].max_vus, 10);
  EXPECT_EQ(by["ec"].duration, 5min);
  EXPECT_FALSE(o.vus.has_value());
}

TEST(Scenarios, CommonFields) {
  json sc = {{"s1",
              {{"executor", "constant-vus"},
               {"duration", 5000},
               {"startTime", "10s"},
               {"gracefulStop", 1500},
               {"exec", "other"},
               {"env", {{"K", "V"}}},
               {"tags", {{"t", "u"}}}}}};
  Options o = resolve({{"scenarios", sc}});
  const auto& s = o.scenarios[0];
  EXPECT_EQ(s.duration, 5s);
  EXPECT_EQ(s.start_time, 10s);
  EXPECT_EQ(s.graceful_stop, 1500ms);
  EXPECT_EQ(s.exec, "other");
  EXPECT_EQ(s.env.at("K"), "V");
  EXPECT_EQ(s.tags.at("t"), "u");
}

TEST(Scenarios, OrderedByStartTimeThenName) {
  json sc = {{"b", {{"executor", "shared-iterations"}}},
             {"a", {{"executor", "shared-iterations"}, {"startTime", "5s"}}},
             {"c", {{"executor", "shared-iterations"}}}};
  Options o = resolve({{"scenarios", sc}});
  ASSERT_EQ(o.scenarios.size(), 3u);
  EXPECT_EQ(o.scenarios[0].name, "b");
  EXPECT_EQ(o.scenarios[1].name, "c");
  EXPECT_EQ(o.scenarios[2].name, "a");
}

std::string scenario_error(const json& scenario, const std::string& name = "s") {
  return script_error({{"scenarios", {{name, scenario}}}});
}

TEST(Scenarios, ValidationErrorsNameTheFieldPath) {
  EXPECT_CONTAINS(script_error({{"scenarios", json::array()}}), "options.scenarios: must be an object");
  EXPECT_CONTAINS(scenario_error(5), "options.scenarios.s: must be an object");
  EXPECT_CONTAINS(scenario_error(json::object()), "options.scenarios.s.executor: is required");
  EXPECT_CONTAINS(scenario_error({{"executor", "warp-speed"}}),
                  "options.scenarios.s.executor: unknown executor \"warp-speed\"");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"duration", "1s"}}),
                  "options.scenarios.s.duration: unknown field for executor \"shared-iterations\"");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}}, "bad name!"),
                  "options.scenarios.bad name!: invalid scenario name");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"exec", ""}}),
                  "options.scenarios.s.exec: must not be empty");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"startTime", "-1s"}}),
                  "options.scenarios.s.startTime: must not be negative");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"gracefulStop", "-1s"}}),
                  "options.scenarios.s.gracefulStop: must not be negative");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"startTime", "soon"}}),
                  "options.scenarios.s.startTime: invalid duration \"soon\"");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"vus", 0}}),
                  "options.scenarios.s.vus: must be greater than 0");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"vus", 10}, {"iterations", 5}}),
                  "options.scenarios.s.iterations: must be >= vus (10), got 5");
  EXPECT_CONTAINS(scenario_error({{"executor", "per-vu-iterations"}, {"iterations", 0}}),
                  "options.scenarios.s.iterations: must be greater than 0");
  EXPECT_CONTAINS(scenario_error({{"executor", "per-vu-iterations"}, {"maxDuration", "100ms"}}),
                  "options.scenarios.s.maxDuration: must be at least 1s");
  EXPECT_CONTAINS(scenario_error({{"executor", "constant-vus"}}),
                  "options.scenarios.s.duration: is required for executor \"constant-vus\"");
  EXPECT_CONTAINS(scenario_error({{"executor", "constant-vus"}, {"duration", "10s"}, {"vus", -2}}),
                  "options.scenarios.s.vus: must be greater than 0 (got -2)");
  EXPECT_CONTAINS(scenario_error({{"executor", "ramping-vus"}}),
                  "options.scenarios.s.stages: is required for executor \"ramping-vus\"");
  EXPECT_CONTAINS(scenario_error({{"executor", "ramping-vus"}, {"stages", json::array()}}),
                  "options.scenarios.s.stages: must contain at least one stage");
  EXPECT_CONTAINS(
      scenario_error(
          {{"executor", "ramping-vus"}, {"startVUs", -1}, {"stages", {{{"duration", "1s"}, {"target", 1}}}}}),
      "options.scenarios.s.startVUs: must not be negative");
  EXPECT_CONTAINS(
      scenario_error({{"executor", "ramping-vus"}, {"startVUs", 0}, {"stages", {{{"duration", "1s"}, {"target", 0}}}}}),
      "options.scenarios.s.stages: either startVUs or one of the stage targets");
  EXPECT_CONTAINS(
      scenario_error({{"executor", "ramping-vus"},
                      {"stages", {{{"duration", "1s"}, {"target", 1}}, {{"duration", "1s"}, {"target", -3}}}}}),
      "options.scenarios.s.stages[1].target: must not be negative");
  EXPECT_CONTAINS(scenario_error({{"executor", "ramping-vus"},
                                  {"gracefulRampDown", "-1s"},
                                  {"stages", {{{"duration", "1s"}, {"target", 1}}}}}),
                  "options.scenarios.s.gracefulRampDown: must not be negative");
  json car = {{"executor", "constant-arrival-rate"}, {"duration", "10s"}, {"rate", 10}, {"preAllocatedVUs", 10}};
  EXPECT_EQ(scenario_error(car), "<no error>");
  json no_rate = car;
  no_rate.erase("rate");
  EXPECT_CONTAINS(scenario_error(no_rate),
                  "options.scenarios.s.rate: is required for executor \"constant-arrival-rate\"");
  json zero_rate = car;
  zero_rate["rate"] = 0;
  EXPECT_CONTAINS(scenario_error(zero_rate), "options.scenarios.s.rate: must be greater than 0");
  json no_pre = car;
  no_pre.erase("preAllocatedVUs");
  EXPECT_CONTAINS(scenario_error(no_pre), "options.scenarios.s.preAllocatedVUs: is required");
  json neg_pre = car;
  neg_pre["preAllocatedVUs"] = -1;
  EXPECT_CONTAINS(scenario_error(neg_pre), "options.scenarios.s.preAllocatedVUs: must not be negative");
  json small_max = car;
  small_max["maxVUs"] = 5;
  EXPECT_CONTAINS(scenario_error(small_max, "spike"),
                  "options.scenarios.spike.maxVUs: must be >= preAllocatedVUs (10)");
  json bad_unit = car;
  bad_unit["timeUnit"] = "0s";
  EXPECT_CONTAINS(scenario_error(bad_unit), "options.scenarios.s.timeUnit: must be greater than 0");
  json no_dur = car;
  no_dur.erase("duration");
  EXPECT_CONTAINS(scenario_error(no_dur),
                  "options.scenarios.s.duration: is required for executor \"constant-arrival-rate\"");
  json rar = {{"executor", "ramping-arrival-rate"}, {"preAllocatedVUs", 1}};
  EXPECT_CONTAINS(scenario_error(rar), "options.scenarios.s.stages: is required for executor \"ramping-arrival-rate\"");
  rar["stages"] = {{{"duration", "1s"}, {"target", 1}}};
  rar["startRate"] = -1;
  EXPECT_CONTAINS(scenario_error(rar), "options.scenarios.s.startRate: must not be negative");
  EXPECT_CONTAINS(scenario_error({{"executor", "externally-controlled"}, {"vus", 5}, {"maxVUs", 2}}),
                  "options.scenarios.s.maxVUs: must be >= vus (5), got 2");
  EXPECT_CONTAINS(scenario_error({{"executor", "externally-controlled"}, {"vus", 0}}),
                  "options.scenarios.s.maxVUs: must be greater than 0");
  EXPECT_CONTAINS(scenario_error({{"executor", "shared-iterations"}, {"env", {{"A", 1}}}}),
                  "options.scenarios.s.env.A: must be a string");
  EXPECT_CONTAINS(scenario_error({{"executor", 7}}), "options.scenarios.s.executor: must be a string");
}

TEST(Scenarios, ExternallyControlledDefaults) {
  Options o = resolve({{"scenarios", {{"ec", {{"executor", "externally-controlled"}}}}}});
  EXPECT_EQ(o.scenarios[0].vus, 1);
  EXPECT_EQ(o.scenarios[0].max_vus, 1);
  EXPECT_EQ(o.scenarios[0].duration, 0s);
}

// ---- plain options ---------------------------------------------------------------------------

}  // namespace
}  // namespace herd::exec
