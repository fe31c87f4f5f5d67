#include "exec/options.h"

#include "exec/options_test_util.h"

namespace herd::exec {
namespace {

using namespace herd::exec::testing;  // NOLINT(google-build-using-namespace)
using namespace std::chrono_literals;

// ---- defaults -----------------------------------------------------------------

TEST(ResolveOptions, NothingGivenRunsOneIterationOnOneVU) {
  Options o = resolve(nullptr);
  ASSERT_EQ(o.scenarios.size(), 1u);
  const ScenarioConfig& s = o.scenarios[0];
  EXPECT_EQ(s.name, "default");
  EXPECT_EQ(s.executor, "per-vu-iterations");
  EXPECT_EQ(s.vus, 1);
  EXPECT_EQ(s.iterations, 1);
  EXPECT_EQ(s.exec, "default");
  EXPECT_EQ(s.graceful_stop, 30s);
  EXPECT_EQ(s.max_duration, 10min);
  EXPECT_FALSE(o.vus.has_value());
  EXPECT_FALSE(o.duration.has_value());
}

TEST(ResolveOptions, PlainDefaults) {
  Options o = resolve(json::object());
  EXPECT_EQ(o.summary_mode, "compact");
  EXPECT_EQ(o.summary_trend_stats, (std::vector<std::string>{"avg", "min", "med", "max", "p(90)", "p(95)"}));
  EXPECT_EQ(o.setup_timeout, 60s);
  EXPECT_EQ(o.teardown_timeout, 60s);
  EXPECT_EQ(o.max_redirects, 10);
  EXPECT_EQ(o.batch, 20);
  EXPECT_EQ(o.batch_per_host, 6);
  EXPECT_TRUE(o.include_system_env_vars);
  EXPECT_TRUE(o.thresholds.is_object());
  // k6's default system tags.
  EXPECT_NE(std::find(o.system_tags.begin(), o.system_tags.end(), "status"), o.system_tags.end());
  EXPECT_NE(std::find(o.system_tags.begin(), o.system_tags.end(), "scenario"), o.system_tags.end());
  EXPECT_EQ(std::find(o.system_tags.begin(), o.system_tags.end(), "vu"), o.system_tags.end());
}

TEST(ResolveOptions, NonObjectScriptOptionsRejected) {
  EXPECT_CONTAINS(script_error(json::array()), "options: must be an object");
  EXPECT_CONTAINS(script_error(json(5)), "options: must be an object");
}

// ---- shortcuts ------------------------------------------------------------------

TEST(Shortcuts, LoneVusIsIgnored) {
  Options o = resolve({{"vus", 10}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].executor, "per-vu-iterations");
  EXPECT_EQ(o.scenarios[0].vus, 1);
  EXPECT_EQ(o.vus, 10);
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_CONTAINS(o.warnings[0], "options.vus=10 is ignored");
  EXPECT_TRUE(resolve({{"vus", 1}}).warnings.empty());
  EXPECT_TRUE(resolve({{"vus", 2}, {"duration", "2s"}}).warnings.empty());
}

TEST(Shortcuts, IterationsAloneIsSharedIterationsWithOneVU) {
  Options o = resolve({{"iterations", 5}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].vus, 1);
  EXPECT_EQ(o.scenarios[0].iterations, 5);
  EXPECT_EQ(o.scenarios[0].max_duration, 10min);
}

TEST(Shortcuts, IterationsWithVus) {
  Options o = resolve({{"iterations", 50}, {"vus", 10}});
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].vus, 10);
  EXPECT_EQ(o.scenarios[0].iterations, 50);
}

TEST(Shortcuts, IterationsWithDurationSetsMaxDuration) {
  Options o = resolve({{"iterations", 5}, {"duration", "45s"}});
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].max_duration, 45s);
  EXPECT_EQ(o.duration, 45s);
}

TEST(Shortcuts, DurationIsConstantVUs) {
  Options o = resolve({{"duration", "30s"}, {"vus", 7}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].executor, "constant-vus");
  EXPECT_EQ(o.scenarios[0].vus, 7);
  EXPECT_EQ(o.scenarios[0].duration, 30s);
  Options one = resolve({{"duration", 2000}});  // numbers are milliseconds
  EXPECT_EQ(one.scenarios[0].vus, 1);
  EXPECT_EQ(one.scenarios[0].duration, 2s);
}

TEST(Shortcuts, StagesAreRampingVUsStartingAtVusOrOne) {
  json stages = json::array({{{"duration", "10s"}, {"target", 5}}, {{"duration", "1m"}, {"target", 0}}});
  Options o = resolve({{"stages", stages}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  const auto& s = o.scenarios[0];
  EXPECT_EQ(s.executor, "ramping-vus");
  EXPECT_EQ(s.start_vus, 1);
  ASSERT_EQ(s.stages.size(), 2u);
  EXPECT_EQ(s.stages[0].duration, 10s);
  EXPECT_EQ(s.stages[0].target, 5);
  EXPECT_EQ(s.stages[1].duration, 1min);
  Options withVus = resolve({{"stages", stages}, {"vus", 3}});
  EXPECT_EQ(withVus.scenarios[0].start_vus, 3);
}

TEST(Shortcuts, EmptyStagesFallBackToDefault) {
  Options o = resolve({{"stages", json::array()}});
  EXPECT_EQ(o.scenarios[0].executor, "per-vu-iterations");
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_CONTAINS(o.warnings[0], "options.stages is empty");
}

TEST(Shortcuts, EmptyScenariosFallBackToDefault) {
  Options o = resolve({{"scenarios", json::object()}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].executor, "per-vu-iterations");
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_CONTAINS(o.warnings[0], "options.scenarios is empty");
  // As in k6, even an empty scenarios object conflicts with a shortcut in the same tier.
  EXPECT_CONTAINS(script_error({{"scenarios", json::object()}, {"iterations", 2}}),
                  "options.iterations: cannot be combined with options.scenarios");
}

TEST(Shortcuts, ScriptShortcutWithScenariosIsAnError) {
  json sc = {{"a", {{"executor", "constant-vus"}, {"duration", "10s"}}}};
  EXPECT_CONTAINS(script_error({{"duration", "10s"}, {"scenarios", sc}}),
                  "options.duration: cannot be combined with options.scenarios");
  EXPECT_CONTAINS(script_error({{"iterations", 3}, {"scenarios", sc}}),
                  "options.iterations: cannot be combined with options.scenarios");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "1s"}, {"target", 1}}}}, {"scenarios", sc}}),
                  "options.stages: cannot be combined with options.scenarios");
}

TEST(Shortcuts, MultipleShortcutsInOneTierConflict) {
  json stages = {{{"duration", "10s"}, {"target", 2}}};
  EXPECT_CONTAINS(script_error({{"iterations", 3}, {"stages", stages}}),
                  "options.iterations: cannot be combined with options.stages");
  EXPECT_CONTAINS(script_error({{"duration", "10s"}, {"stages", stages}}),
                  "options.duration: cannot be combined with options.stages");
  CliOverrides cli;
  cli.duration = 10s;
  cli.stages = std::vector<Stage>{{10s, 2}};
  EXPECT_CONTAINS(script_error(nullptr, {}, cli), "--duration: cannot be combined with --stage");
}

TEST(Shortcuts, VusAlongsideScenariosIsAllowedAndIgnored) {
  json sc = {{"a", {{"executor", "constant-vus"}, {"vus", 4}, {"duration", "10s"}}}};
  Options o = resolve({{"vus", 10}, {"scenarios", sc}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].name, "a");
  EXPECT_EQ(o.scenarios[0].vus, 4);
}

TEST(Shortcuts, Validation) {
  EXPECT_CONTAINS(script_error({{"iterations", 5}, {"vus", 10}}), "options.iterations: must be >= vus (10), got 5");
  EXPECT_CONTAINS(script_error({{"iterations", 0}}), "options.iterations: must be greater than 0");
  EXPECT_CONTAINS(script_error({{"duration", "0s"}}), "options.duration: must be greater than 0");
  EXPECT_CONTAINS(script_error({{"duration", "500ms"}}), "options.duration: must be at least 1s (got 500ms)");
  EXPECT_CONTAINS(script_error({{"duration", "10s"}, {"vus", 0}}), "options.vus: must be greater than 0");
  EXPECT_CONTAINS(script_error({{"vus", -1}}), "options.vus: must not be negative");
  EXPECT_CONTAINS(script_error({{"iterations", 5}, {"duration", "10ms"}}), "options.duration: must be at least 1s");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "10s"}, {"target", 0}}}}, {"vus", 0}}),
                  "options.stages: either vus or one of the stage targets must be greater than 0");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "-1s"}, {"target", 1}}}}}),
                  "options.stages[0].duration: must not be negative");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "1s"}, {"target", -1}}}}}),
                  "options.stages[0].target: must not be negative");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "1s"}}}}}), "options.stages[0].target: is required");
  EXPECT_CONTAINS(script_error({{"stages", {{{"target", 1}}}}}), "options.stages[0].duration: is required");
  EXPECT_CONTAINS(script_error({{"stages", {{{"duration", "1s"}, {"target", 1}, {"x", 1}}}}}),
                  "options.stages[0].x: unknown field");
}

TEST(Shortcuts, TypeErrors) {
  EXPECT_CONTAINS(script_error({{"vus", "ten"}}), "options.vus: must be an integer");
  EXPECT_CONTAINS(script_error({{"vus", 1.5}}), "options.vus: must be an integer");
  EXPECT_CONTAINS(script_error({{"duration", "10 parsecs"}}), "options.duration: invalid duration");
  EXPECT_CONTAINS(script_error({{"duration", true}}), "options.duration: must be a duration string");
  EXPECT_CONTAINS(script_error({{"stages", "10s:5"}}), "options.stages: must be an array");
  EXPECT_EQ(resolve({{"vus", 3.0}, {"duration", "2s"}}).scenarios[0].vus, 3);  // JS numbers may be doubles
}

// ---- precedence ----------------------------------------------------------------------

TEST(Precedence, EnvOverridesScriptAndCliOverridesEnv) {
  Options o = resolve({{"vus", 2}, {"duration", "10s"}}, {{"K6_VUS", "5"}});
  EXPECT_EQ(o.scenarios[0].vus, 5);
  EXPECT_EQ(o.scenarios[0].duration, 10s);
  CliOverrides cli;
  cli.vus = 9;
  o = resolve({{"vus", 2}, {"duration", "10s"}}, {{"K6_VUS", "5"}}, cli);
  EXPECT_EQ(o.scenarios[0].vus, 9);
  EXPECT_EQ(o.vus, 9);
}

TEST(Precedence, EnvShortcutReplacesScriptScenarios) {
  json sc = {{"a", {{"executor", "constant-vus"}, {"duration", "10s"}}}};
  Options o = resolve({{"scenarios", sc}}, {{"K6_DURATION", "20s"}});
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].name, "default");
  EXPECT_EQ(o.scenarios[0].executor, "constant-vus");
  EXPECT_EQ(o.scenarios[0].duration, 20s);
}

TEST(Precedence, CliShortcutReplacesScriptScenariosAndShortcuts) {
  json sc = {{"a", {{"executor", "constant-vus"}, {"duration", "10s"}}}};
  CliOverrides cli;
  cli.iterations = 3;
  Options o = resolve({{"scenarios", sc}}, {}, cli);
  ASSERT_EQ(o.scenarios.size(), 1u);
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].iterations, 3);
  // --iterations discards the script's duration too (k6: a tier with any execution option resets the others).
  o = resolve({{"duration", "1m"}}, {}, cli);
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].max_duration, 10min);
  EXPECT_FALSE(o.duration.has_value());
}

TEST(Precedence, CliStagesOverrideEnvDuration) {
  CliOverrides cli;
  cli.stages = std::vector<Stage>{{5s, 3}};
  Options o = resolve(nullptr, {{"K6_DURATION", "20s"}, {"K6_VUS", "2"}}, cli);
  EXPECT_EQ(o.scenarios[0].executor, "ramping-vus");
  EXPECT_EQ(o.scenarios[0].start_vus, 2);
}

TEST(Precedence, CliVusAloneKeepsScriptScenarios) {
  json sc = {{"a", {{"executor", "constant-vus"}, {"vus", 2}, {"duration", "10s"}}}};
  CliOverrides cli;
  cli.vus = 20;
  Options o = resolve({{"scenarios", sc}}, {}, cli);
  EXPECT_EQ(o.scenarios[0].name, "a");
  EXPECT_EQ(o.scenarios[0].vus, 2);
}

TEST(Precedence, PlainOptions) {
  json script = {{"userAgent", "script"}, {"maxRedirects", 3}, {"throw", false}, {"noSummary", false}};
  Options o = resolve(script, {{"K6_USER_AGENT", "env"}, {"K6_MAX_REDIRECTS", "4"}, {"K6_THROW", "true"}});
  EXPECT_EQ(o.user_agent, "env");
  EXPECT_EQ(o.max_redirects, 4);
  EXPECT_TRUE(o.throw_errors);
  CliOverrides cli;
  cli.user_agent = "cli";
  cli.max_redirects = 0;
  cli.throw_errors = false;
  cli.no_summary = true;
  o = resolve(script, {{"K6_USER_AGENT", "env"}, {"K6_MAX_REDIRECTS", "4"}, {"K6_THROW", "true"}}, cli);
  EXPECT_EQ(o.user_agent, "cli");
  EXPECT_EQ(o.max_redirects, 0);
  EXPECT_FALSE(o.throw_errors);
  EXPECT_TRUE(o.no_summary);
}

TEST(Precedence, CliTagsReplaceScriptTags) {
  Options o = resolve({{"tags", {{"a", "1"}, {"b", "2"}}}});
  EXPECT_EQ(o.tags, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  CliOverrides cli;
  cli.tags = {{"c", "3"}};
  o = resolve({{"tags", {{"a", "1"}}}}, {}, cli);
  EXPECT_EQ(o.tags, (std::map<std::string, std::string>{{"c", "3"}}));
}

TEST(Precedence, OutputsFromEnvThenCli) {
  Options o = resolve(nullptr, {{"K6_OUT", "json=a.json,csv=b.csv"}});
  EXPECT_EQ(o.outputs, (std::vector<std::string>{"json=a.json", "csv=b.csv"}));
  CliOverrides cli;
  cli.outputs = {"json=c.json"};
  o = resolve(nullptr, {{"K6_OUT", "json=a.json"}}, cli);
  EXPECT_EQ(o.outputs, (std::vector<std::string>{"json=c.json"}));
}

// ---- environment -------------------------------------------------------------------------

TEST(Environment, AllVariables) {
  Env env = {{"K6_ITERATIONS", "8"},
             {"K6_VUS", "4"},
             {"K6_NO_THRESHOLDS", "1"},
             {"K6_NO_SUMMARY", "t"},
             {"K6_SUMMARY_EXPORT", "sum.json"},
             {"K6_QUIET", "TRUE"},
             {"K6_SUMMARY_TREND_STATS", "avg,p(99.9),count"},
             {"K6_SUMMARY_MODE", "full"},
             {"K6_SUMMARY_TIME_UNIT", "ms"},
             {"K6_INSECURE_SKIP_TLS_VERIFY", "true"},
             {"K6_DISCARD_RESPONSE_BODIES", "True"},
             {"K6_EXECUTION_SEGMENT", "1/4:1/2"},
             {"K6_EXECUTION_SEGMENT_SEQUENCE", "0,1/4,1/2,1"},
             {"K6_SETUP_TIMEOUT", "2m"},
             {"K6_TEARDOWN_TIMEOUT", "5s"},
             {"K6_BATCH", "7"},
             {"K6_BATCH_PER_HOST", "2"},
             {"K6_NO_CONNECTION_REUSE", "true"},
             {"K6_NO_COOKIES_RESET", "true"},
             {"K6_SYSTEM_TAGS", "status,method"},
             {"K6_PAUSED", "true"},
             {"K6_INCLUDE_SYSTEM_ENV_VARS", "false"},
             {"UNRELATED", "x"}};
  Options o = resolve(nullptr, env);
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].iterations, 8);
  EXPECT_EQ(o.scenarios[0].vus, 4);
  EXPECT_TRUE(o.no_thresholds);
  EXPECT_TRUE(o.no_summary);
  EXPECT_EQ(o.summary_export, "sum.json");
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(o.summary_trend_stats, (std::vector<std::string>{"avg", "p(99.9)", "count"}));
  EXPECT_EQ(o.summary_mode, "full");
  EXPECT_EQ(o.summary_time_unit, "ms");
  EXPECT_TRUE(o.insecure_skip_tls_verify);
  EXPECT_TRUE(o.discard_response_bodies);
  EXPECT_EQ(o.execution_segment, "1/4:1/2");
  EXPECT_EQ(o.execution_segment_sequence, "0,1/4,1/2,1");
  EXPECT_EQ(o.setup_timeout, 2min);
  EXPECT_EQ(o.teardown_timeout, 5s);
  EXPECT_EQ(o.batch, 7);
  EXPECT_EQ(o.batch_per_host, 2);
  EXPECT_TRUE(o.no_connection_reuse);
  EXPECT_TRUE(o.no_cookies_reset);
  EXPECT_EQ(o.system_tags, (std::vector<std::string>{"status", "method"}));
  EXPECT_TRUE(o.paused);
  EXPECT_FALSE(o.include_system_env_vars);
}

TEST(Environment, StagesVariable) {
  Options o = resolve(nullptr, {{"K6_STAGES", "10s:5,20s:0"}});
  EXPECT_EQ(o.scenarios[0].executor, "ramping-vus");
  ASSERT_EQ(o.scenarios[0].stages.size(), 2u);
  EXPECT_EQ(o.scenarios[0].stages[1].duration, 20s);
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_STAGES", "10s"}}), "K6_STAGES: invalid stage \"10s\"");
}

TEST(Environment, EmptyValueIsUnset) {
  Options o = resolve({{"vus", 3}, {"duration", "5s"}}, {{"K6_VUS", ""}});
  EXPECT_EQ(o.scenarios[0].vus, 3);
}

TEST(Environment, MalformedValuesNameTheVariable) {
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_VUS", "abc"}}), "K6_VUS: invalid integer \"abc\"");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_ITERATIONS", "1.5"}}), "K6_ITERATIONS: invalid integer");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_DURATION", "forever"}}), "K6_DURATION: invalid duration");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_NO_SUMMARY", "yes"}}), "K6_NO_SUMMARY: invalid boolean \"yes\"");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_SUMMARY_MODE", "short"}}), "K6_SUMMARY_MODE: must be one of");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_SUMMARY_TREND_STATS", "avg,p(101)"}}),
                  "K6_SUMMARY_TREND_STATS[1]: invalid trend stat \"p(101)\"");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_MAX_REDIRECTS", "-1"}}), "K6_MAX_REDIRECTS: must not be negative");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_DURATION", "5s"}, {"K6_VUS", "0"}}), "K6_VUS: must be greater than 0");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_ITERATIONS", "99999999999999999999"}}), "K6_ITERATIONS");
}

// ---- CLI ---------------------------------------------------------------------------------

TEST(Cli, OverridesAndErrorsNameTheFlag) {
  CliOverrides cli;
  cli.duration = 3s;
  cli.vus = 2;
  cli.summary_mode = "legacy";
  cli.summary_trend_stats = std::vector<std::string>{"min", "max"};
  cli.summary_time_unit = "us";
  cli.workers = 4;
  cli.paused = true;
  cli.include_system_env_vars = false;
  cli.insecure_skip_tls_verify = true;
  cli.discard_response_bodies = true;
  cli.env = {{"A", "1"}};
  cli.summary_export = "x.json";
  cli.quiet = true;
  cli.no_thresholds = true;
  Options o = resolve(nullptr, {}, cli);
  EXPECT_EQ(o.scenarios[0].executor, "constant-vus");
  EXPECT_EQ(o.summary_mode, "legacy");
  EXPECT_EQ(o.summary_trend_stats, (std::vector<std::string>{"min", "max"}));
  EXPECT_EQ(o.summary_time_unit, "us");
  EXPECT_EQ(o.workers, 4);
  EXPECT_TRUE(o.paused);
  EXPECT_FALSE(o.include_system_env_vars);
  EXPECT_TRUE(o.insecure_skip_tls_verify);
  EXPECT_TRUE(o.discard_response_bodies);
  EXPECT_EQ(o.env.at("A"), "1");
  EXPECT_EQ(o.summary_export, "x.json");
  EXPECT_TRUE(o.quiet);
  EXPECT_TRUE(o.no_thresholds);

  CliOverrides bad;
  bad.summary_mode = "tiny";
  EXPECT_CONTAINS(script_error(nullptr, {}, bad), "--summary-mode: must be one of compact, full, legacy");
  bad = {};
  bad.iterations = 2;
  bad.vus = 3;
  EXPECT_CONTAINS(script_error(nullptr, {}, bad), "--iterations: must be >= vus (3), got 2");
  bad = {};
  bad.workers = -1;
  EXPECT_CONTAINS(script_error(nullptr, {}, bad), "--workers: must not be negative");
  bad = {};
  bad.summary_time_unit = "h";
  EXPECT_CONTAINS(script_error(nullptr, {}, bad), "--summary-time-unit: must be one of s, ms, us");
  bad = {};
  bad.duration = 0s;
  EXPECT_CONTAINS(script_error(nullptr, {}, bad), "--duration: must be greater than 0");
}

// ---- scenarios ------------------------------------------------------------------------------

TEST(PlainOptions, ParsedFromScript) {
  json script = {{"tags", {{"env", "staging"}}},
                 {"summaryTrendStats", {"avg", "p(99)", "p(99.99)"}},
                 {"summaryTimeUnit", "ms"},
                 {"thresholds", {{"http_req_duration", {"p(95)<500"}}}},
                 {"setupTimeout", "2m"},
                 {"teardownTimeout", 3000},
                 {"userAgent", "ua"},
                 {"insecureSkipTLSVerify", true},
                 {"discardResponseBodies", true},
                 {"maxRedirects", 0},
                 {"noConnectionReuse", true},
                 {"noCookiesReset", true},
                 {"batch", 5},
                 {"batchPerHost", 1},
                 {"throw", true},
                 {"systemTags", {"status", "method"}},
                 {"noThresholds", true},
                 {"noSummary", true},
                 {"executionSegment", "0:1/2"},
                 {"executionSegmentSequence", "0,1/2,1"}};
  Options o = resolve(script);
  EXPECT_EQ(o.tags.at("env"), "staging");
  EXPECT_EQ(o.summary_trend_stats, (std::vector<std::string>{"avg", "p(99)", "p(99.99)"}));
  EXPECT_EQ(o.summary_time_unit, "ms");
  EXPECT_EQ(o.thresholds, script["thresholds"]);
  EXPECT_EQ(o.setup_timeout, 2min);
  EXPECT_EQ(o.teardown_timeout, 3s);
  EXPECT_EQ(o.user_agent, "ua");
  EXPECT_TRUE(o.insecure_skip_tls_verify);
  EXPECT_TRUE(o.discard_response_bodies);
  EXPECT_EQ(o.max_redirects, 0);
  EXPECT_TRUE(o.no_connection_reuse);
  EXPECT_TRUE(o.no_cookies_reset);
  EXPECT_EQ(o.batch, 5);
  EXPECT_EQ(o.batch_per_host, 1);
  EXPECT_TRUE(o.throw_errors);
  EXPECT_EQ(o.system_tags, (std::vector<std::string>{"status", "method"}));
  EXPECT_TRUE(o.no_thresholds);
  EXPECT_TRUE(o.no_summary);
  EXPECT_EQ(o.execution_segment, "0:1/2");
  EXPECT_EQ(o.execution_segment_sequence, "0,1/2,1");
}

TEST(PlainOptions, UnimplementedK6OptionsAreRefusedByName) {
  EXPECT_EQ(script_error({{"vusMax", 100}}),
            "options.vusMax: not supported by herd (deprecated in k6; use a scenario's maxVUs)");
  EXPECT_EQ(resolve({{"rps", 50}}).rps, 50);
  EXPECT_CONTAINS(script_error({{"rps", -1}}), "options.rps: must not be negative");
  EXPECT_CONTAINS(script_error({{"handleSummaryTimeout", "1m"}}),
                  "options.handleSummaryTimeout: not supported by herd");
  EXPECT_EQ(resolve({{"httpDebug", "full"}}).http_debug, "full");
  EXPECT_CONTAINS(script_error({{"httpDebug", "yes"}}), "options.httpDebug: must be \"full\" or \"headers\"");
  EXPECT_CONTAINS(script_error({{"tlsAIAFetch", true}}), "options.tlsAIAFetch: not supported by herd");
  EXPECT_CONTAINS(script_error({{"systemTags", {"url", "vu"}}}),
                  "options.systemTags[1]: the system tag \"vu\" is not supported by herd");
  EXPECT_CONTAINS(script_error({{"systemTags", {"bogus"}}}), "options.systemTags[0]: unknown system tag \"bogus\"");
}

TEST(Environment, VariablesOfRefusedOptionsAreRefused) {
  EXPECT_EQ(resolve(nullptr, {{"K6_RPS", "5"}}).rps, 5);
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_RPS", "many"}}), "K6_RPS: invalid integer");
  EXPECT_EQ(resolve(nullptr, {{"K6_HTTP_DEBUG", "full"}}).http_debug, "full");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_CONFIG", "k6.json"}}), "pass the config file with -c/--config");
  EXPECT_EQ(script_error(nullptr, {{"K6_CONFIG", ""}}), "<no error>");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_HOSTS", "{}"}}), "K6_HOSTS: not supported by herd (set options.hosts");
  EXPECT_CONTAINS(script_error(nullptr, {{"K6_TLS_VERSION", "tls1.2"}}), "K6_TLS_VERSION: not supported by herd");
}

TEST(PlainOptions, CloudOnlyAndUnknownOptionsWarn) {
  Options o = resolve({{"cloud", {{"projectID", 1}}}, {"noUsageReport", true}, {"vuz", 3}});
  ASSERT_EQ(o.warnings.size(), 2u);
  EXPECT_CONTAINS(o.warnings[0], "options.cloud is only used by Grafana Cloud runs");
  EXPECT_EQ(o.warnings[1], "options.vuz: unknown option, ignored");
}

TEST(ConfigFile, RanksBelowScriptEnvAndFlags) {
  CliOverrides cli;
  cli.config_file = "k6.json";
  cli.config_options = {
      {"vus", 3},          {"duration", "20s"},     {"userAgent", "from-config"}, {"tags", {{"a", "config"}}},
      {"maxRedirects", 2}, {"out", {"json=c.json"}}};
  // Config alone.
  Options o = resolve(nullptr, {}, cli);
  EXPECT_EQ(o.scenarios[0].executor, "constant-vus");
  EXPECT_EQ(o.scenarios[0].vus, 3);
  EXPECT_EQ(o.user_agent, "from-config");
  EXPECT_EQ(o.outputs, (std::vector<std::string>{"json=c.json"}));
  // The script wins over the config file, and its iterations replace the config's duration (k6's rule).
  o = resolve({{"userAgent", "from-script"}, {"iterations", 6}}, {}, cli);
  EXPECT_EQ(o.user_agent, "from-script");
  EXPECT_EQ(o.scenarios[0].executor, "shared-iterations");
  EXPECT_EQ(o.scenarios[0].vus, 3);  // vus is independent of the execution shortcuts
  EXPECT_EQ(o.max_redirects, 2);
  // The environment wins over both; the CLI over everything.
  o = resolve({{"userAgent", "from-script"}}, {{"K6_USER_AGENT", "from-env"}, {"K6_MAX_REDIRECTS", "4"}}, cli);
  EXPECT_EQ(o.user_agent, "from-env");
  EXPECT_EQ(o.max_redirects, 4);
  cli.user_agent = "from-flag";
  o = resolve({{"userAgent", "from-script"}}, {{"K6_USER_AGENT", "from-env"}}, cli);
  EXPECT_EQ(o.user_agent, "from-flag");
}

TEST(ConfigFile, ErrorsNameTheFile) {
  CliOverrides cli;
  cli.config_file = "conf.json";
  cli.config_options = {{"vus", "many"}};
  EXPECT_EQ(script_error(nullptr, {}, cli), "conf.json: options.vus: must be an integer");
  cli.config_options = {{"tlsAIAFetch", true}};
  EXPECT_CONTAINS(script_error(nullptr, {}, cli), "conf.json: options.tlsAIAFetch: not supported by herd");
}

TEST(PlainOptions, ValidationErrors) {
  EXPECT_CONTAINS(script_error({{"tags", {{"a", 1}}}}), "options.tags.a: must be a string");
  EXPECT_CONTAINS(script_error({{"summaryTrendStats", {"avg", "p95"}}}),
                  "options.summaryTrendStats[1]: invalid trend stat \"p95\"");
  EXPECT_CONTAINS(script_error({{"summaryTrendStats", "avg"}}), "options.summaryTrendStats: must be an array");
  EXPECT_CONTAINS(script_error({{"summaryTimeUnit", "m"}}), "options.summaryTimeUnit: must be one of s, ms, us");
  EXPECT_CONTAINS(script_error({{"thresholds", "x"}}), "options.thresholds: must be an object");
  EXPECT_CONTAINS(script_error({{"setupTimeout", "-1s"}}), "options.setupTimeout: must not be negative");
  EXPECT_CONTAINS(script_error({{"teardownTimeout", "abc"}}), "options.teardownTimeout: invalid duration");
  EXPECT_CONTAINS(script_error({{"userAgent", 5}}), "options.userAgent: must be a string");
  EXPECT_CONTAINS(script_error({{"insecureSkipTLSVerify", "yes"}}), "options.insecureSkipTLSVerify: must be a boolean");
  EXPECT_CONTAINS(script_error({{"maxRedirects", -1}}), "options.maxRedirects: must not be negative");
  EXPECT_CONTAINS(script_error({{"batch", -1}}), "options.batch: must not be negative");
  EXPECT_CONTAINS(script_error({{"batchPerHost", "a"}}), "options.batchPerHost: must be an integer");
  EXPECT_CONTAINS(script_error({{"systemTags", {"status", "colour"}}}),
                  "options.systemTags[1]: unknown system tag \"colour\"");
  EXPECT_CONTAINS(script_error({{"executionSegment", "1/2:1/4"}}),
                  "options.executionSegment: invalid execution segment");
  EXPECT_CONTAINS(script_error({{"executionSegment", "abc"}}), "options.executionSegment: invalid execution segment");
  EXPECT_CONTAINS(script_error({{"executionSegmentSequence", "0,1/2,1/4,1"}}),
                  "options.executionSegmentSequence: invalid execution segment sequence");
  EXPECT_CONTAINS(script_error({{"executionSegment", "1/3:1/2"}, {"executionSegmentSequence", "0,1/2,1"}}),
                  "options.executionSegment: segment \"1/3:1/2\" is not part of the execution segment sequence");
  EXPECT_CONTAINS(script_error({{"noSummary", 1}}), "options.noSummary: must be a boolean");
}

TEST(PlainOptions, ExecutionSegmentForms) {
  EXPECT_EQ(resolve({{"executionSegment", "1/2"}}).execution_segment, "1/2");
  EXPECT_EQ(resolve({{"executionSegment", "0.25:50%"}}).execution_segment, "0.25:50%");
  EXPECT_EQ(resolve({{"executionSegment", "0.5:1"}, {"executionSegmentSequence", "0,0.5,1"}}).execution_segment,
            "0.5:1");
  CliOverrides cli;
  cli.execution_segment = "2:3";
  EXPECT_CONTAINS(script_error(nullptr, {}, cli), "--execution-segment: invalid execution segment \"2:3\"");
}

TEST(PlainOptions, NullValuesAreUnset) {
  Options o = resolve({{"vus", nullptr}, {"duration", nullptr}, {"userAgent", nullptr}});
  EXPECT_EQ(o.scenarios[0].executor, "per-vu-iterations");
  EXPECT_EQ(o.user_agent, Options{}.user_agent);
}

// ---- parse_stages_flag -------------------------------------------------------------------------

TEST(ParseStagesFlag, Valid) {
  auto st = parse_stages_flag("30s:10,1m:20");
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].duration, 30s);
  EXPECT_EQ(st[0].target, 10);
  EXPECT_EQ(st[1].duration, 1min);
  EXPECT_EQ(st[1].target, 20);
  auto one = parse_stages_flag("1m30s:0");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].duration, 90s);
}

TEST(ParseStagesFlag, Errors) {
  EXPECT_CONTAINS(error_of([] { parse_stages_flag("30s"); }), "invalid stage \"30s\"");
  EXPECT_CONTAINS(error_of([] { parse_stages_flag("xx:5"); }), "invalid duration \"xx\"");
  EXPECT_CONTAINS(error_of([] { parse_stages_flag("5s:ten"); }), "invalid target \"ten\"");
  EXPECT_CONTAINS(error_of([] { parse_stages_flag("5s:1,"); }), "invalid stage \"\"");
  EXPECT_CONTAINS(error_of([] { parse_stages_flag(""); }), "invalid stage");
}

// ---- to_json ---------------------------------------------------------------------------------

TEST(ToJson, CamelCaseAndDurationStrings) {
  json sc = {{"spike",
              {{"executor", "ramping-arrival-rate"},
               {"stages", {{{"duration", "90s"}, {"target", 100}}}},
               {"preAllocatedVUs", 10},
               {"timeUnit", "1m"}}}};
  Options o = resolve({{"scenarios", sc}, {"setupTimeout", "90s"}, {"tags", {{"a", "b"}}}});
  json j = o.to_json();
  const json& s = j["scenarios"]["spike"];
  EXPECT_EQ(s["executor"], "ramping-arrival-rate");
  EXPECT_EQ(s["timeUnit"], "1m0s");
  EXPECT_EQ(s["gracefulStop"], "30s");
  EXPECT_EQ(s["startTime"], "0s");
  EXPECT_EQ(s["preAllocatedVUs"], 10);
  EXPECT_EQ(s["maxVUs"], 10);
  EXPECT_EQ(s["stages"][0]["duration"], "1m30s");
  EXPECT_EQ(s["stages"][0]["target"], 100);
  EXPECT_FALSE(s.contains("vus"));
  EXPECT_EQ(j["setupTimeout"], "1m30s");
  EXPECT_EQ(j["teardownTimeout"], "1m0s");
  EXPECT_EQ(j["tags"]["a"], "b");
  EXPECT_EQ(j["insecureSkipTLSVerify"], false);
  EXPECT_EQ(j["summaryTrendStats"].size(), 6u);
  EXPECT_EQ(j["maxRedirects"], 10);
}

TEST(ToJson, Shortcuts) {
  Options o = resolve({{"vus", 3}, {"duration", "1m"}});
  json j = o.to_json();
  EXPECT_EQ(j["vus"], 3);
  EXPECT_EQ(j["duration"], "1m0s");
  EXPECT_FALSE(j.contains("iterations"));
  EXPECT_EQ(j["scenarios"]["default"]["executor"], "constant-vus");
  EXPECT_EQ(j["scenarios"]["default"]["duration"], "1m0s");
  EXPECT_EQ(j["scenarios"]["default"]["vus"], 3);
}

TEST(Options, MinIterationDurationFromScriptAndEnvironment) {
  EXPECT_EQ(resolve(json::object()).min_iteration_duration, 0s);
  Options o = resolve({{"minIterationDuration", "1.5s"}});
  EXPECT_EQ(o.min_iteration_duration, 1500ms);
  EXPECT_EQ(o.to_json()["minIterationDuration"], "1.5s");
  EXPECT_EQ(resolve({{"minIterationDuration", "1s"}}, {{"K6_MIN_ITERATION_DURATION", "250ms"}}).min_iteration_duration,
            250ms);
  EXPECT_CONTAINS(script_error({{"minIterationDuration", "-1s"}}),
                  "options.minIterationDuration: must not be negative");
  EXPECT_CONTAINS(script_error({}, {{"K6_MIN_ITERATION_DURATION", "soon"}}), "K6_MIN_ITERATION_DURATION");
  CliOverrides cli;
  cli.min_iteration_duration = 2s;  // --min-iteration-duration wins over the environment and the script
  EXPECT_EQ(
      resolve({{"minIterationDuration", "1s"}}, {{"K6_MIN_ITERATION_DURATION", "250ms"}}, cli).min_iteration_duration,
      2s);
}

}  // namespace
}  // namespace herd::exec
