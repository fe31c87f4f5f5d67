// `herd run testrun.yaml`: a TestRun manifest (k6-operator's, apiVersion changed
// or not) on the local backend, with the real binary and target.
#include <sstream>

#include "harness.h"

namespace herd::it {
namespace {

class TestRunTest : public HerdTest {};

TEST_F(TestRunTest, ManifestRunsItsParallelismWithRunnerEnvAndArguments) {
  dir_.write("test.js", R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: 40 } } };
export default function () {
  const r = http.post(`${__ENV.TARGET}/counter/manifest-${__ENV.GREETING}/inc`);
  check(r, { ok: (x) => x.status === 200 });
}
)JS");
  dir_.write("testrun.yaml", R"(apiVersion: k6.io/v1alpha1
kind: TestRun
metadata:
  name: sample
spec:
  parallelism: 2
  script:
    configMap:
      name: my-test
      file: test.js
  arguments: -e GREETING=hi --summary-export export.json
  runner:
    image: grafana/k6:latest
    env:
      - name: TARGET
        value: )" + base_url() + "\n");
  RunSpec spec;
  spec.args = {"run", "testrun.yaml"};
  ProcResult r = run_spec(spec);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("manifest-hi"), 40);
  EXPECT_NE(r.err.find("spec.runner.image is ignored on the local backend"), std::string::npos) << r;
  ASSERT_TRUE(dir_.exists("export.json")) << r;
  json exp = json::parse(dir_.read("export.json"));
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 40);
  EXPECT_EQ(count_occurrences(r.out, "http_reqs"), 1) << "one summary\n" << r;
}

TEST_F(TestRunTest, BadManifestNamesTheField) {
  dir_.write("bad.yaml",
             "apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  parallelism: -2\n  script:\n"
             "    localFile: test.js\n");
  RunSpec spec;
  spec.args = {"run", "bad.yaml"};
  ProcResult r = run_spec(spec);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("spec.parallelism"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

// --out json=FILE or K6_OUT=json=FILE: each runner writes a part, the
// coordinator joins them. With K6_OUT the runners used to inherit the variable
// and all write FILE itself (one runner's points survived).
TEST_F(TestRunTest, DistributedOutJsonHoldsEveryRunnersPoints) {
  const char* script = R"JS(
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 3, iterations: 9 } } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS";
  for (bool from_env : {false, true}) {
    SCOPED_TRACE(from_env ? "K6_OUT" : "--out");
    std::vector<std::string> args = {"--parallelism", "3", "--no-summary"};
    std::map<std::string, std::string> env;
    if (from_env) {
      env["K6_OUT"] = "json=points.json";
    } else {
      args.insert(args.end(), {"--out", "json=points.json"});
    }
    std::remove((dir_.path() + "/points.json").c_str());
    ProcResult r = run_script(script, args, env);
    ASSERT_EQ(r.exit_code, 0) << r;
    ASSERT_TRUE(dir_.exists("points.json")) << r;
    std::string text = dir_.read("points.json");
    int iteration_points = 0, iteration_metric_lines = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line);
      if (j["metric"] != "iterations") continue;
      if (j["type"] == "Point") iteration_points++;
      if (j["type"] == "Metric") iteration_metric_lines++;
    }
    EXPECT_EQ(iteration_points, 9);
    EXPECT_EQ(iteration_metric_lines, 1) << "each metric is announced once";
    EXPECT_FALSE(dir_.exists("points.json.runner0")) << "the parts are removed";
  }
}

}  // namespace
}  // namespace herd::it
