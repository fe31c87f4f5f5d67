// herd archive / herd run test.tar / herd inspect (issue #3).
#include <filesystem>

#include "harness.h"

namespace herd::it {
namespace {

class ArchiveTest : public HerdTest {};

const char* kScript = R"JS(
import http from 'k6/http';
import { check } from 'k6';
import { greet } from './lib/greet.js';
import exec from 'k6/execution';
const users = JSON.parse(open('./data/users.json'));
export const options = { vus: 2, iterations: 6, thresholds: { checks: ['rate==1'] } };
export default function () {
  const u = users[exec.scenario.iterationInTest % users.length];
  const res = http.post(`${__ENV.BASE_URL}/counter/${__ENV.TAG}-${u}/inc`);
  check(res, { 'greets': () => greet(u) === `hi ${u}` && res.status === 200 });
}
)JS";

TEST_F(ArchiveTest, RunningAnArchiveGivesTheSameResultAsTheScript) {
  dir_.write("lib/greet.js", "export function greet(u) { return `hi ${u}`; }\n");
  dir_.write("data/users.json", R"(["ann","bob","cy"])");
  ProcResult direct;
  json exp1 = run_export(kScript, &direct, {"-e", "TAG=direct"});
  ASSERT_EQ(direct.exit_code, 0) << direct;

  RunSpec arch;
  arch.args = {"archive", "-e", "TAG=archived", "script.js", "-O", "test.tar"};
  ProcResult a = run_spec(arch);
  ASSERT_EQ(a.exit_code, 0) << a;
  ASSERT_TRUE(dir_.exists("test.tar"));
  // Move the sources away: the archive must be self-contained.
  std::filesystem::rename(dir_.path() + "/lib", dir_.path() + "/lib.gone");
  std::filesystem::rename(dir_.path() + "/data", dir_.path() + "/data.gone");

  RunSpec run;
  run.args = {"run", "--summary-export", "export2.json", "test.tar"};
  ProcResult r = run_spec(run);
  ASSERT_EQ(r.exit_code, 0) << r;
  json exp2 = json::parse(dir_.read("export2.json"));
  EXPECT_EQ(metric_value(exp2, "iterations", "count"), metric_value(exp1, "iterations", "count"));
  EXPECT_EQ(metric_value(exp2, "checks", "passes"), metric_value(exp1, "checks", "passes"));
  long direct_total = 0, archived_total = 0;
  for (const char* u : {"ann", "bob", "cy"}) {
    direct_total += counter(std::string("direct-") + u);
    archived_total += counter(std::string("archived-") + u);
    EXPECT_EQ(counter(std::string("archived-") + u), counter(std::string("direct-") + u)) << u;
  }
  EXPECT_EQ(direct_total, 6);
  EXPECT_EQ(archived_total, 6) << "the archive carries the -e values";

  RunSpec insp;
  insp.args = {"inspect", "--execution-requirements", "test.tar"};
  ProcResult i = run_spec(insp);
  ASSERT_EQ(i.exit_code, 0) << i;
  json o = json::parse(i.out);
  EXPECT_EQ(o["maxVUs"], 2) << i.out;
  EXPECT_TRUE(o.contains("totalDuration"));
}

TEST_F(ArchiveTest, DamagedArchiveIsAClearError) {
  dir_.write("lib/greet.js", "export function greet(u) { return `hi ${u}`; }\n");
  dir_.write("data/users.json", R"(["ann"])");
  dir_.write("script.js", kScript);
  RunSpec arch;
  arch.args = {"archive", "script.js", "-O", "test.tar"};
  ASSERT_EQ(run_spec(arch).exit_code, 0);
  std::string bytes = dir_.read("test.tar");
  dir_.write("cut.tar", bytes.substr(0, 1500));  // a valid header, then truncated
  RunSpec run;
  run.args = {"run", "cut.tar"};
  ProcResult r = run_spec(run);
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("cut.tar"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

}  // namespace
}  // namespace herd::it
