#include "launch/runner_args.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "flags/run_flags.h"

namespace herd::launch {
namespace {

TEST(Segments, SequenceAndSegments) {
  EXPECT_EQ(segment_sequence(1), "0,1");
  EXPECT_EQ(segment_of(0, 1), "0:1");
  EXPECT_EQ(segment_sequence(4), "0,1/4,1/2,3/4,1");
  EXPECT_EQ(segment_of(1, 4), "1/4:1/2");
  EXPECT_EQ(segment_of(3, 4), "3/4:1");
  EXPECT_EQ(segment_sequence(3), "0,1/3,2/3,1");
}

TEST(Passthrough, DropsCoordinatorFlagsAndScript) {
  std::vector<std::string> in{"-u",
                              "10",
                              "--summary-export",
                              "x.json",
                              "-qv",
                              "--out=json=a",
                              "-o",
                              "json=b",
                              "script.js",
                              "--parallelism",
                              "4",
                              "-e",
                              "A=1",
                              "--no-setup",
                              "--tag",
                              "a=b",
                              "--address",
                              "1.2.3.4:5",
                              "-d=5s",
                              "--linger",
                              "--no-summary",
                              "--execution-segment=1/2",
                              "-qu3",
                              "--no-thresholds",
                              "--report",
                              "r.html",
                              "--report=s.html",
                              "-i",
                              "7"};
  std::vector<std::string> want{"-u", "10", "-v", "-e", "A=1", "--tag", "a=b", "-d=5s", "-u3", "-i", "7"};
  EXPECT_EQ(runner_passthrough_args(in), want);
}

TEST(Passthrough, ShortClusterValueInNextArg) {
  EXPECT_EQ(runner_passthrough_args({"-qe", "K=V", "s.js"}), (std::vector<std::string>{"-e", "K=V"}));
  EXPECT_EQ(runner_passthrough_args({"-qo", "json=x", "s.js"}), (std::vector<std::string>{}));
  EXPECT_EQ(runner_passthrough_args({"--", "s.js"}), (std::vector<std::string>{}));
}

TEST(Passthrough, ValueFlagsOfIssue11KeepTheirValues) {
  EXPECT_EQ(runner_passthrough_args({"-c", "k6.json", "--rps", "5", "--log-format", "json", "--system-tags", "url",
                                     "--http-debug=full", "--no-color", "s.js"}),
            (std::vector<std::string>{"-c", "k6.json", "--rps", "5", "--log-format", "json", "--system-tags", "url",
                                      "--http-debug=full", "--no-color"}));
}

// The coordinator and the operator split the user's arguments with the CLI's
// own flag table (flags::run_flag_shapes), not a copy: every flag of that
// table, the ones added after this test was written included, keeps its value
// (or is owned).
TEST(Passthrough, FollowsTheCliFlagTable) {
  auto owned = coordinator_owned_flags();
  auto shapes = flags::run_flag_shapes();
  for (std::string_view o : owned) {
    bool found = false;
    for (auto& f : shapes) found = found || f.name == o;
    EXPECT_TRUE(found) << "owned flag --" << o << " is not a run flag";
  }
  for (auto& f : shapes) {
    std::string name = "--" + std::string(f.name);
    bool is_owned = std::find(owned.begin(), owned.end(), f.name) != owned.end();
    std::vector<std::string> in{name};
    if (f.takes_value) in.push_back("x");
    in.push_back("s.js");
    std::vector<std::string> want;
    if (!is_owned) want = std::vector<std::string>(in.begin(), in.end() - 1);
    EXPECT_EQ(runner_passthrough_args(in), want) << name;
    if (f.shorthand && f.takes_value) {  // "-X value": the value is never taken for the script
      std::vector<std::string> s_in{std::string("-") + f.shorthand, "v", "s.js"};
      std::vector<std::string> s_want;
      if (!is_owned) s_want = {s_in[0], "v"};
      EXPECT_EQ(runner_passthrough_args(s_in), s_want) << s_in[0];
    }
  }
}

TEST(Outputs, EveryFormOfOutIsFound) {
  std::vector<std::string> in{"-o",
                              "experimental-prometheus-rw",
                              "--tag",
                              "out=json",  // a value, not an --out
                              "--out=json=a.json",
                              "-o=influxdb=http://127.0.0.1:8086/k6",
                              "-ocsv=b.csv",
                              "-qo",
                              "experimental-prometheus-rw=x",
                              "--out",
                              "json=c.json",
                              "-u",
                              "-o",  // a value of -u
                              "--",
                              "-o",
                              "after-dashdash"};
  EXPECT_EQ(output_values(in),
            (std::vector<std::string>{"experimental-prometheus-rw", "json=a.json", "influxdb=http://127.0.0.1:8086/k6",
                                      "csv=b.csv", "experimental-prometheus-rw=x", "json=c.json"}));
  EXPECT_TRUE(output_values({"--out"}).empty());  // no value: nothing
  EXPECT_TRUE(output_values({"-qv", "script.js"}).empty());
}

TEST(Outputs, OnlyPrometheusRemoteWriteIsMerged) {
  EXPECT_TRUE(is_merged_output("experimental-prometheus-rw"));
  EXPECT_TRUE(is_merged_output("experimental-prometheus-rw=anything"));
  EXPECT_FALSE(is_merged_output("influxdb=http://127.0.0.1:8086/k6"));
  EXPECT_FALSE(is_merged_output("json=a.json"));
  EXPECT_FALSE(is_merged_output("csv"));
  EXPECT_FALSE(is_merged_output("experimental-prometheus-rw-x"));
  EXPECT_FALSE(is_merged_output(""));
}

TEST(LocalArgs, RunnerCommandLine) {
  auto a = local_runner_args(1, 4, "t.js", {"-u", "3"});
  std::string joined;
  for (auto& s : a) joined += s + " ";
  EXPECT_EQ(joined,
            "run --paused --address 127.0.0.1:0 --linger --no-setup --no-teardown --no-thresholds "
            "--execution-segment 1/4:1/2 --execution-segment-sequence 0,1/4,1/2,3/4,1 -q --no-summary -u 3 -- t.js ");
}

TEST(Passthrough, UnknownFlagsPassThrough) {
  EXPECT_EQ(runner_passthrough_args({"--unknown-flag", "-Z"}), (std::vector<std::string>{"--unknown-flag", "-Z"}));
}

TEST(Launch, SplitArgumentsLikeAShell) {
  EXPECT_EQ(split_arguments(R"(  a 'b c'  "d \"e\"" f\ g )"), (std::vector<std::string>{"a", "b c", "d \"e\"", "f g"}));
  EXPECT_TRUE(split_arguments("   ").empty());
  EXPECT_EQ(split_arguments("''"), (std::vector<std::string>{""}));
  EXPECT_THROW(split_arguments("--tag 'open"), std::invalid_argument);
}

}  // namespace
}  // namespace herd::launch
