#include "flags/run_flags.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace herd::flags {
namespace {

using namespace std::chrono_literals;
using Args = std::vector<std::string>;

std::string flag_error(const Args& args) {
  try {
    parse_run_flags(args);
  } catch (const FlagError& e) {
    return e.what();
  }
  return "<no error>";
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected \"" << (needle) << "\" in: " << (haystack)

TEST(RunFlags, NothingSet) {
  RunFlags f = parse_run_flags({"script.js"});
  EXPECT_EQ(f.script, "script.js");
  EXPECT_FALSE(f.overrides.vus);
  EXPECT_FALSE(f.overrides.duration);
  EXPECT_FALSE(f.overrides.iterations);
  EXPECT_FALSE(f.overrides.stages);
  EXPECT_FALSE(f.overrides.no_summary);
  EXPECT_FALSE(f.overrides.quiet);
  EXPECT_TRUE(f.overrides.outputs.empty());
  EXPECT_FALSE(f.help);
  EXPECT_FALSE(f.verbose);
  EXPECT_EQ(f.parallelism, 0);
}

TEST(RunFlags, LongFormsWithSpaceAndEquals) {
  RunFlags f = parse_run_flags({"--vus", "10", "--duration=1m30s", "--iterations", "100", "s.js"});
  EXPECT_EQ(f.overrides.vus, 10);
  EXPECT_EQ(f.overrides.duration, 90s);
  EXPECT_EQ(f.overrides.iterations, 100);
  EXPECT_EQ(f.script, "s.js");
}

TEST(RunFlags, ShortForms) {
  RunFlags f = parse_run_flags(
      {"-u", "5",       "-d", "30s",         "-i", "7",   "-q", "-p",    "-w",  "-v", "-a", "localhost:7000",
       "-O", "out.tar", "-o", "json=a.json", "-e", "A=1", "-s", "10s:3", "x.js"});
  EXPECT_EQ(f.overrides.vus, 5);
  EXPECT_EQ(f.overrides.duration, 30s);
  EXPECT_EQ(f.overrides.iterations, 7);
  EXPECT_EQ(f.overrides.quiet, true);
  EXPECT_EQ(f.overrides.paused, true);
  EXPECT_EQ(f.overrides.throw_errors, true);
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.address, "localhost:7000");
  EXPECT_EQ(f.archive_out, "out.tar");
  EXPECT_EQ(f.overrides.outputs, (std::vector<std::string>{"json=a.json"}));
  EXPECT_EQ(f.overrides.env.at("A"), "1");
  ASSERT_TRUE(f.overrides.stages);
  EXPECT_EQ(f.overrides.stages->size(), 1u);
  EXPECT_EQ(f.script, "x.js");
}

TEST(RunFlags, ShortAttachedValuesAndCombinedBools) {
  RunFlags f = parse_run_flags({"-u10", "-d=5s", "-qv", "-h"});
  EXPECT_EQ(f.overrides.vus, 10);
  EXPECT_EQ(f.overrides.duration, 5s);
  EXPECT_EQ(f.overrides.quiet, true);
  EXPECT_TRUE(f.verbose);
  EXPECT_TRUE(f.help);
  RunFlags g = parse_run_flags({"-qu", "3"});  // bool then a value flag taking the next arg
  EXPECT_EQ(g.overrides.quiet, true);
  EXPECT_EQ(g.overrides.vus, 3);
}

TEST(RunFlags, RepeatableFlags) {
  RunFlags f = parse_run_flags({"-s", "10s:5", "--stage", "20s:10,5s:0", "-e", "A=1", "--env=B=x=y", "--tag", "t1=v1",
                                "--tag=t2=v2", "-o", "json=a.json", "--out", "csv=b.csv"});
  ASSERT_TRUE(f.overrides.stages);
  ASSERT_EQ(f.overrides.stages->size(), 3u);
  EXPECT_EQ((*f.overrides.stages)[0].duration, 10s);
  EXPECT_EQ((*f.overrides.stages)[1].target, 10);
  EXPECT_EQ((*f.overrides.stages)[2].duration, 5s);
  EXPECT_EQ((*f.overrides.stages)[2].target, 0);
  EXPECT_EQ(f.overrides.env, (std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}}));
  EXPECT_EQ(f.overrides.tags, (std::map<std::string, std::string>{{"t1", "v1"}, {"t2", "v2"}}));
  EXPECT_EQ(f.overrides.outputs, (std::vector<std::string>{"json=a.json", "csv=b.csv"}));
}

TEST(RunFlags, AllLongFlags) {
  RunFlags f = parse_run_flags({"--summary-export",
                                "sum.json",
                                "--no-summary",
                                "--summary-mode",
                                "full",
                                "--no-thresholds",
                                "--summary-trend-stats",
                                "avg,p(99),max",
                                "--summary-time-unit",
                                "ms",
                                "--paused",
                                "--address",
                                "0.0.0.0:1",
                                "--no-setup",
                                "--no-teardown",
                                "--execution-segment",
                                "0:1/2",
                                "--execution-segment-sequence",
                                "0,1/2,1",
                                "--insecure-skip-tls-verify",
                                "--include-system-env-vars=false",
                                "--user-agent",
                                "UA/1",
                                "--throw",
                                "--max-redirects",
                                "3",
                                "--discard-response-bodies",
                                "--min-iteration-duration",
                                "1500ms",
                                "--workers",
                                "4",
                                "--parallelism",
                                "2",
                                "--report",
                                "r.html",
                                "--archive-out",
                                "a.tar",
                                "--execution-requirements",
                                "--console-output",
                                "c.log",
                                "--log-output",
                                "stdout",
                                "--verbose",
                                "--help",
                                "--quiet",
                                "-"});
  const auto& o = f.overrides;
  EXPECT_EQ(o.summary_export, "sum.json");
  EXPECT_EQ(o.no_summary, true);
  EXPECT_EQ(o.summary_mode, "full");
  EXPECT_EQ(o.no_thresholds, true);
  EXPECT_EQ(o.summary_trend_stats, (std::vector<std::string>{"avg", "p(99)", "max"}));
  EXPECT_EQ(o.summary_time_unit, "ms");
  EXPECT_EQ(o.paused, true);
  EXPECT_EQ(f.address, "0.0.0.0:1");
  EXPECT_TRUE(f.no_setup);
  EXPECT_TRUE(f.no_teardown);
  EXPECT_EQ(o.execution_segment, "0:1/2");
  EXPECT_EQ(o.execution_segment_sequence, "0,1/2,1");
  EXPECT_EQ(o.insecure_skip_tls_verify, true);
  EXPECT_EQ(o.include_system_env_vars, false);
  EXPECT_EQ(o.user_agent, "UA/1");
  EXPECT_EQ(o.throw_errors, true);
  EXPECT_EQ(o.max_redirects, 3);
  EXPECT_EQ(o.discard_response_bodies, true);
  EXPECT_EQ(o.min_iteration_duration, std::chrono::milliseconds(1500));
  EXPECT_EQ(o.workers, 4);
  EXPECT_EQ(f.parallelism, 2);
  EXPECT_EQ(o.report, "r.html");
  EXPECT_EQ(f.archive_out, "a.tar");
  EXPECT_TRUE(f.execution_requirements);
  EXPECT_EQ(f.console_output, "c.log");
  EXPECT_EQ(f.log_output, "stdout");
  EXPECT_TRUE(f.verbose);
  EXPECT_TRUE(f.help);
  EXPECT_EQ(o.quiet, true);
  EXPECT_EQ(f.script, "-");
}

TEST(RunFlags, BoolFlagExplicitValues) {
  RunFlags f = parse_run_flags({"--no-summary=false", "--quiet=1", "-w=false"});
  EXPECT_EQ(f.overrides.no_summary, false);
  EXPECT_EQ(f.overrides.quiet, true);
  EXPECT_EQ(f.overrides.throw_errors, false);
  // A bool flag does not consume the next argument.
  RunFlags g = parse_run_flags({"--quiet", "script.js"});
  EXPECT_EQ(g.overrides.quiet, true);
  EXPECT_EQ(g.script, "script.js");
}

TEST(RunFlags, FlagsAfterScriptAndDoubleDash) {
  RunFlags f = parse_run_flags({"script.js", "--vus", "2"});
  EXPECT_EQ(f.script, "script.js");
  EXPECT_EQ(f.overrides.vus, 2);
  RunFlags g = parse_run_flags({"-u", "1", "--", "-weird-name.js"});
  EXPECT_EQ(g.script, "-weird-name.js");
}

TEST(RunFlags, MalformedValues) {
  EXPECT_EQ(flag_error({"-u", "abc"}).rfind("invalid argument \"abc\" for \"-u, --vus\" flag", 0), 0u)
      << flag_error({"-u", "abc"});
  EXPECT_CONTAINS(flag_error({"--vus=1.5"}), "invalid argument \"1.5\" for \"-u, --vus\" flag");
  EXPECT_CONTAINS(flag_error({"-d", "forever"}), "invalid argument \"forever\" for \"-d, --duration\" flag");
  EXPECT_CONTAINS(flag_error({"-i", ""}), "invalid argument \"\" for \"-i, --iterations\" flag");
  EXPECT_CONTAINS(flag_error({"-s", "30s"}), "invalid argument \"30s\" for \"-s, --stage\" flag");
  EXPECT_CONTAINS(flag_error({"--stage", "30s:x"}), "invalid target");
  EXPECT_CONTAINS(flag_error({"--tag", "novalue"}),
                  "invalid argument \"novalue\" for \"--tag\" flag: expected KEY=VALUE");
  EXPECT_CONTAINS(flag_error({"-e", "=x"}), "for \"-e, --env\" flag");
  EXPECT_CONTAINS(flag_error({"-e", "1BAD=x"}), "invalid environment variable name");
  EXPECT_CONTAINS(flag_error({"--max-redirects", "lots"}), "invalid argument \"lots\" for \"--max-redirects\" flag");
  EXPECT_CONTAINS(flag_error({"--quiet=maybe"}), "invalid argument \"maybe\" for \"-q, --quiet\" flag");
  EXPECT_CONTAINS(flag_error({"--parallelism", "-1"}), "for \"--parallelism\" flag: must not be negative");
  EXPECT_CONTAINS(flag_error({"--parallelism", "99999999999"}), "value out of range");
  EXPECT_CONTAINS(flag_error({"--workers", "99999999999999999999"}), "value out of range");
}

TEST(RunFlags, UnknownFlagsAndMissingValues) {
  EXPECT_EQ(flag_error({"--bogus"}), "unknown flag: --bogus");
  EXPECT_EQ(flag_error({"--bogus=1"}), "unknown flag: --bogus");
  EXPECT_EQ(flag_error({"-x"}), "unknown shorthand flag: 'x' in -x");
  EXPECT_EQ(flag_error({"-qx"}), "unknown shorthand flag: 'x' in -qx");
  EXPECT_EQ(flag_error({"--vus"}), "flag needs an argument: --vus");
  EXPECT_EQ(flag_error({"-u"}), "flag needs an argument: 'u' in -u");
  EXPECT_EQ(flag_error({"a.js", "b.js"}), "accepts 1 arg(s), received 2");
}

TEST(RunFlags, NegativeNumbersAreParsedAsValues) {
  RunFlags f = parse_run_flags({"-u", "-1"});
  EXPECT_EQ(f.overrides.vus, -1);  // range checks happen in resolve_options
}

TEST(RunUsage, ListsEveryFlag) {
  std::string u = run_usage();
  for (const char* flag : {"-u, --vus",
                           "-d, --duration",
                           "-i, --iterations",
                           "-s, --stage",
                           "-e, --env",
                           "--tag",
                           "--summary-export",
                           "-o, --out",
                           "--no-summary",
                           "--summary-mode",
                           "-q, --quiet",
                           "--no-thresholds",
                           "--summary-trend-stats",
                           "--summary-time-unit",
                           "-p, --paused",
                           "-a, --address",
                           "--no-setup",
                           "--no-teardown",
                           "--execution-segment",
                           "--execution-segment-sequence",
                           "--insecure-skip-tls-verify",
                           "--include-system-env-vars",
                           "--user-agent",
                           "-w, --throw",
                           "--max-redirects",
                           "--discard-response-bodies",
                           "--min-iteration-duration",
                           "--workers",
                           "--parallelism",
                           "--report",
                           "-O, --archive-out",
                           "--execution-requirements",
                           "--result-file",
                           "--console-output",
                           "--log-output",
                           "-v, --verbose",
                           "-h, --help"}) {
    EXPECT_CONTAINS(u, flag);
  }
  EXPECT_CONTAINS(u, "Usage:\n  herd run");
}

TEST(RunFlags, ConfigFileIsReadAndParsed) {
  std::string path = ::testing::TempDir() + "/herd_run_flags_config.json";
  { std::ofstream(path) << R"({"vus": 4, "duration": "10s"})"; }
  RunFlags f = parse_run_flags({"-c", path, "script.js"});
  EXPECT_EQ(f.overrides.config_file, path);
  EXPECT_EQ(f.overrides.config_options["vus"], 4);
  f = parse_run_flags({"--config=" + path, "script.js"});
  EXPECT_EQ(f.overrides.config_options["duration"], "10s");
  { std::ofstream(path) << "{not json"; }
  EXPECT_CONTAINS(flag_error({"--config", path, "s.js"}),
                  "for \"-c, --config\" flag: config file \"" + path + "\": invalid JSON");
  std::remove(path.c_str());
  EXPECT_CONTAINS(flag_error({"-c", path, "s.js"}), "cannot read: No such file or directory");
}

}  // namespace
}  // namespace herd::flags
