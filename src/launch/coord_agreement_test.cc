// Until src/coord calls herd::launch itself, it keeps its own copies of these
// helpers: this test (which links the coordinator, so not the operator's test
// binary) keeps the two from drifting apart.
#include <gtest/gtest.h>

#include "coord/coordinator.h"
#include "coord/testrun.h"
#include "launch/runner_args.h"

namespace herd::launch {
namespace {

TEST(LaunchAgreesWithCoord, PassthroughRunnerArgsAndSplitting) {
  const std::vector<std::vector<std::string>> inputs = {
      {"--vus", "10", "-q", "--out", "json=x", "--parallelism=4", "-qv", "--address", "1.2.3.4:5", "s.js"},
      {"-qe", "K=V", "s.js"},
      {"-qo", "json=x", "s.js"},
      {"--", "s.js"},
      {"-c", "k6.json", "--rps", "5", "--log-format", "json", "--system-tags", "url", "--http-debug=full"},
      {"--summary-export", "x.json", "--no-summary", "-p", "-l", "-a", "h:1", "-O", "a.tar", "--result-file", "r"},
      {"-q=false", "-u", "3", "-d", "5s", "--stage", "1s:2", "-i"},
  };
  for (const auto& in : inputs) EXPECT_EQ(runner_passthrough_args(in), coord::runner_passthrough_args(in));
  for (int n : {1, 2, 3, 4, 7}) {
    EXPECT_EQ(segment_sequence(n), coord::segment_sequence(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(local_runner_args(i, n, "t.js", {"-u", "2"}), coord::local_runner_args(i, n, "t.js", {"-u", "2"}));
    }
  }
  for (const char* text : {R"(  a 'b c'  "d \"e\"" f\ g )", "", "''", R"(--tag "x=y z" -e A=\'b)"}) {
    EXPECT_EQ(split_arguments(text), coord::split_arguments(text)) << text;
  }
}

}  // namespace
}  // namespace herd::launch
