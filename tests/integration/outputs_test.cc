// End-to-end tests of output errors (issue #12): files that cannot be written
// are refused before the test starts (exit 104); write errors after the test
// (a full disk, a handleSummary() path in a missing folder) are printed and
// exit 1, never 0; a handleSummary() that returns no object gets the default
// summary.
#include "harness.h"

namespace herd::it {
namespace {

using OutputsTest = HerdTest;

const char* const kOneRequest = R"JS(
import http from 'k6/http';
export const options = { iterations: 3 };
export default function () { http.get(__ENV.BASE_URL + '/'); }
)JS";

// --summary-export is written after the test: an unwritable path used to be
// found only then (exit 0, the run lost). Now nothing is sent.
TEST_F(OutputsTest, UnwritableSummaryExportIsRefusedBeforeTheTest) {
  struct Case {
    std::string path, reason;
  };
  for (const Case& c :
       {Case{"missing-dir/export.json", "No such file or directory"}, Case{dir_.path(), "is a directory"},
        Case{"/proc/herd-no-such-dir/export.json", "No such file or directory"}}) {
    ProcResult r = run_script(kOneRequest, {"--summary-export", c.path});
    EXPECT_EQ(r.exit_code, 104) << c.path << "\n" << r;
    EXPECT_NE(r.err.find("--summary-export " + c.path + ": cannot write: " + c.reason), std::string::npos) << r;
  }
  EXPECT_EQ(served(), 0u);
  EXPECT_FALSE(dir_.exists("missing-dir"));
  // The check leaves no file behind where it could write.
  ProcResult ok = run_script(kOneRequest, {"--summary-export", "export.json"});
  EXPECT_EQ(ok.exit_code, 0) << ok;
  EXPECT_TRUE(dir_.exists("export.json"));
}

TEST_F(OutputsTest, UnwritableSummaryExportFromTheEnvironmentIsRefused) {
  ProcResult r = run_script(kOneRequest, {}, {{"K6_SUMMARY_EXPORT", "missing-dir/e.json"}});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("--summary-export missing-dir/e.json: cannot write"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(OutputsTest, UnwritableOutIsRefusedBeforeTheTest) {
  for (const std::string& spec :
       std::vector<std::string>{"json=missing-dir/out.json", "json=missing-dir/out.json.gz", "csv=missing-dir/out.csv",
                                "csv=" + dir_.path(), "json=" + dir_.path()}) {
    ProcResult r = run_script(kOneRequest, {"--out", spec});
    EXPECT_EQ(r.exit_code, 104) << spec << "\n" << r;
    EXPECT_NE(r.err.find("--out " + spec + ": cannot open"), std::string::npos) << r;
  }
  EXPECT_EQ(served(), 0u);
}

// Local distributed mode: the coordinator writes these after the test.
TEST_F(OutputsTest, UnwritableFilesAreRefusedBeforeADistributedTest) {
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--summary-export", "missing-dir/e.json"},
                                                std::vector<std::string>{"--result-file", "missing-dir/r.json"}}) {
    std::vector<std::string> args = {"--parallelism", "2"};
    args.insert(args.end(), flags.begin(), flags.end());
    ProcResult r = run_script(kOneRequest, args);
    EXPECT_EQ(r.exit_code, 104) << r;
    EXPECT_NE(r.err.find(flags[0] + " " + flags[1] + ": cannot write: No such file or directory"), std::string::npos)
        << r;
  }
  EXPECT_EQ(served(), 0u);
}

// /dev/full opens fine and fails every write with ENOSPC: a disk that fills
// during the test. The error is printed and the exit code is 1, not 0.
TEST_F(OutputsTest, WriteErrorsAfterTheStartFailTheRun) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--out", "json=/dev/full"}, std::vector<std::string>{"--out", "csv=/dev/full"},
        std::vector<std::string>{"--summary-export", "/dev/full"}}) {
    ProcResult r = run_script(kOneRequest, flags);
    EXPECT_EQ(r.exit_code, 1) << flags[0] << " " << flags[1] << "\n" << r;
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r;
    std::string named = flags[0] == "--out" ? "--out " + flags[1] : "--summary-export /dev/full";
    EXPECT_NE(r.err.find(named), std::string::npos) << r;
    EXPECT_NE(r.out.find("http_reqs"), std::string::npos) << r;  // the summary is still printed
  }
}

// A failed threshold keeps its exit code (99) when an output fails too.
TEST_F(OutputsTest, ThresholdExitCodeWinsOverAnOutputError) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1, thresholds: { http_reqs: ['count>5'] } };
export default function () { http.get(__ENV.BASE_URL + '/'); }
)JS",
                            {"--out", "json=/dev/full"});
  EXPECT_EQ(r.exit_code, 99) << r;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r;
}

// handleSummary() paths are known only after the test: a missing folder is an
// error (exit 1) and the result's other outputs are still written.
TEST_F(OutputsTest, HandleSummaryPathThatCannotBeWritten) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.get(__ENV.BASE_URL + '/'); }
export function handleSummary(data) {
  return {
    '/nonexistent-herd-dir/x.json': JSON.stringify(data),
    'stdout': 'CUSTOM-STDOUT\n',
    'ok.txt': 'written',
    '/dev/full': 'no room',
  };
}
)JS");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("handleSummary(): cannot write \"/nonexistent-herd-dir/x.json\": No such file or directory"),
            std::string::npos)
      << r;
  EXPECT_NE(r.err.find("handleSummary(): cannot write \"/dev/full\": No space left on device"), std::string::npos) << r;
  EXPECT_NE(r.out.find("CUSTOM-STDOUT"), std::string::npos) << r;
  EXPECT_EQ(dir_.read("ok.txt"), "written");
}

// handleSummary()'s "stdout" key on a stdout that fails every write
// (/dev/full): an error naming it on stderr and exit 1, like the other outputs.
TEST_F(OutputsTest, HandleSummaryStdoutThatCannotBeWritten) {
  dir_.write("script.js", R"JS(
export const options = { iterations: 1 };
export default function () {}
export function handleSummary(data) { return { stdout: 'CUSTOM-STDOUT\n', 'ok.txt': 'written' }; }
)JS");
  RunSpec spec;
  spec.args = {"-c", "exec \"$0\" run script.js >/dev/full", herd_binary()};
  spec.cwd = dir_.path();
  spec.timeout = 30s;
  ProcResult r = run_process("/bin/sh", spec);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("handleSummary(): cannot write \"stdout\": No space left on device"), std::string::npos) << r;
  EXPECT_EQ(dir_.read("ok.txt"), "written");
  // The same script with a working stdout: exit 0.
  spec.args = {"-c", "exec \"$0\" run script.js", herd_binary()};
  r = run_process("/bin/sh", spec);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("CUSTOM-STDOUT"), std::string::npos) << r;
}

// k6 wants an object of {path: content}; anything else gets a warning naming
// what came back and the default summary instead of silence.
TEST_F(OutputsTest, HandleSummaryReturningNoObjectPrintsTheDefaultSummary) {
  struct Case {
    std::string value, kind;
  };
  for (const Case& c : {Case{"'text'", "a string"}, Case{"42", "a number"}, Case{"null", "null"},
                        Case{"[1, 2]", "an array"}, Case{"true", "a boolean"}}) {
    ProcResult r = run_script(std::string(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.get(__ENV.BASE_URL + '/'); }
export function handleSummary(data) { return )JS") +
                              c.value + "; }\n");
    EXPECT_EQ(r.exit_code, 0) << c.value << "\n" << r;
    EXPECT_NE(r.err.find("handleSummary() returned " + c.kind + ", not an object"), std::string::npos) << r;
    EXPECT_NE(r.out.find("http_reqs"), std::string::npos) << c.value << "\n" << r;
  }
}

// The JSON output is written by its own thread: every sample of many VUs
// arrives, each line whole, the Metric line before its Points.
TEST_F(OutputsTest, JsonOutputFromManyVusIsComplete) {
  ProcResult r = run_script(R"JS(
import { Counter } from 'k6/metrics';
const c = new Counter('many');
export const options = { vus: 8, iterations: 4000 };
export default function () { for (let i = 0; i < 5; i++) c.add(1, { i: String(i) }); }
)JS",
                            {"--out", "json=out.json", "--out", "csv=out.csv"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::stringstream ss(dir_.read("out.json"));
  std::string line;
  long points = 0;
  bool announced = false;
  while (std::getline(ss, line)) {
    json j = json::parse(line);  // throws on a torn line
    if (j["metric"] != "many") continue;
    if (j["type"] == "Metric") {
      EXPECT_FALSE(announced);
      announced = true;
    } else {
      EXPECT_TRUE(announced);
      points++;
    }
  }
  EXPECT_EQ(points, 20000);
  std::stringstream csv(dir_.read("out.csv"));
  long rows = 0;
  while (std::getline(csv, line))
    if (line.rfind("many,", 0) == 0) rows++;
  EXPECT_EQ(rows, 20000);
}

}  // namespace
}  // namespace herd::it
