// Generator health (issue #15): a load generator that is saturated (its VU
// keeps the CPU busy in JS, so its event loop turns late) is named in the
// end-of-test summary's GENERATOR HEALTH block; a healthy run shows none.
// docs/generator-health.md.
#include "harness.h"

namespace herd::it {
namespace {

// Two VUs, one per runner with --parallelism 2 (VU idInTest 1 on segment
// 0:1/2, 2 on 1/2:1). `busy_vu`'s iterations spin 300 ms in JS without
// yielding (0: nobody spins); the others sleep.
std::string script(int busy_vu) {
  return R"JS(
import exec from 'k6/execution';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '4s' };
export default function () {
  if (exec.vu.idInTest === )JS" +
         std::to_string(busy_vu) + R"JS() {
    const end = Date.now() + 300;
    while (Date.now() < end) {}
  } else {
    sleep(0.3);
  }
}
)JS";
}

class GeneratorHealthTest : public HerdTest {};

TEST_F(GeneratorHealthTest, BusyRunnerIsNamedInTheSummary) {
  ProcResult r = run_script(script(2), {"--parallelism", "2"}, {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r;
  auto at = r.out.find("    GENERATOR HEALTH\n    runner 2 (segment 1/2:1): saturated for ");
  ASSERT_NE(at, std::string::npos) << r;
  EXPECT_EQ(r.out.find("runner 1 (segment 0:1/2): saturated"), std::string::npos) << r;
  // Also on stderr, for runs whose summary goes elsewhere.
  EXPECT_NE(r.err.find("generator health: runner 2 (segment 1/2:1): saturated"), std::string::npos) << r;
  std::cerr << r.out.substr(at, r.out.find('\n', at + 25) - at) << "\n";
}

TEST_F(GeneratorHealthTest, HealthyRunnersShowNoWarning) {
  ProcResult r = run_script(script(0), {"--parallelism", "2"}, {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("iterations"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("GENERATOR HEALTH"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("generator health"), std::string::npos) << r;
}

TEST_F(GeneratorHealthTest, SingleProcessNamesItself) {
  ProcResult busy = run_script(script(1), {"--vus", "1"}, {}, 60s);
  ASSERT_EQ(busy.exit_code, 0) << busy;
  EXPECT_NE(busy.out.find("    GENERATOR HEALTH\n    this process: saturated for "), std::string::npos) << busy;
  ProcResult calm = run_script(script(0), {"--vus", "1"}, {}, 60s);
  ASSERT_EQ(calm.exit_code, 0) << calm;
  EXPECT_EQ(calm.out.find("GENERATOR HEALTH"), std::string::npos) << calm;
}

// A summary handled by handleSummary: the warning still reaches stderr.
TEST_F(GeneratorHealthTest, WarningIsLoggedWhenTheTextSummaryIsNotPrinted) {
  std::string s = script(1) + "export function handleSummary(data) { return { 'out.json': JSON.stringify(data) }; }\n";
  ProcResult r = run_script(s, {"--vus", "1"}, {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("this process: saturated for"), std::string::npos) << r;
  json data = json::parse(dir_.read("out.json"));
  EXPECT_FALSE(data["metrics"].contains("herd_generator_cpu_ratio"));  // k6's data shape is unchanged
}

}  // namespace
}  // namespace herd::it
