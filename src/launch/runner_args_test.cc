#include "launch/runner_args.h"

#include <gtest/gtest.h>

namespace herd::launch {
namespace {

TEST(Launch, SegmentsOfEqualRunners) {
  EXPECT_EQ(segment_sequence(4), "0,1/4,1/2,3/4,1");
  EXPECT_EQ(segment_of(0, 3), "0:1/3");
  EXPECT_EQ(segment_of(2, 3), "2/3:1");
}

TEST(Launch, PassthroughDropsWhatTheCoordinatorOwns) {
  EXPECT_EQ(runner_passthrough_args({"--vus", "10", "-q", "--out", "json=x", "--parallelism=4", "-qv", "--address",
                                     "1.2.3.4:5", "-e", "A=1", "s.js"}),
            (std::vector<std::string>{"--vus", "10", "-v", "-e", "A=1"}));
  EXPECT_EQ(runner_passthrough_args({"-qe", "K=V", "s.js"}), (std::vector<std::string>{"-e", "K=V"}));
  EXPECT_EQ(runner_passthrough_args({"--", "s.js"}), (std::vector<std::string>{}));
  EXPECT_EQ(runner_passthrough_args({"--unknown-flag", "-Z"}), (std::vector<std::string>{"--unknown-flag", "-Z"}));
}

TEST(Launch, RunnerCommandLine) {
  auto a = local_runner_args(1, 4, "t.js", {"-u", "3"});
  std::string joined;
  for (auto& s : a) joined += s + " ";
  EXPECT_EQ(joined,
            "run --paused --address 127.0.0.1:0 --linger --no-setup --no-teardown --no-thresholds "
            "--execution-segment 1/4:1/2 --execution-segment-sequence 0,1/4,1/2,3/4,1 -q --no-summary -u 3 -- t.js ");
}

TEST(Launch, SplitArgumentsLikeAShell) {
  EXPECT_EQ(split_arguments(R"(  a 'b c'  "d \"e\"" f\ g )"), (std::vector<std::string>{"a", "b c", "d \"e\"", "f g"}));
  EXPECT_TRUE(split_arguments("   ").empty());
  EXPECT_EQ(split_arguments("''"), (std::vector<std::string>{""}));
  EXPECT_THROW(split_arguments("--tag 'open"), std::invalid_argument);
}

}  // namespace
}  // namespace herd::launch
