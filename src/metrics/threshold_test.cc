#include "metrics/threshold.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::metrics {
namespace {

using Agg = ThresholdExpr::Agg;
using Op = ThresholdExpr::Op;
using Tags = std::vector<std::pair<std::string, std::string>>;
using namespace std::chrono_literals;

struct ExprCase {
  const char* text;
  Agg agg;
  double pct;
  Op op;
  double value;
};

TEST(ThresholdExpr, ParsesValid) {
  const ExprCase cases[] = {
      {"p(95)<200", Agg::kPercentile, 95, Op::kLt, 200},
      {"p(99.9) < 300", Agg::kPercentile, 99.9, Op::kLt, 300},
      {"  p( 90 )<=1.5  ", Agg::kPercentile, 90, Op::kLe, 1.5},
      {"p(0)>0", Agg::kPercentile, 0, Op::kGt, 0},
      {"p(100)>=-3", Agg::kPercentile, 100, Op::kGe, -3},
      {"rate>0.95", Agg::kRate, 0, Op::kGt, 0.95},
      {"rate<0.01", Agg::kRate, 0, Op::kLt, 0.01},
      {"count==0", Agg::kCount, 0, Op::kEq, 0},
      {"count===10", Agg::kCount, 0, Op::kEq, 10},
      {"count != 3", Agg::kCount, 0, Op::kNe, 3},
      {"count!==3", Agg::kCount, 0, Op::kNe, 3},
      {"value<100", Agg::kValue, 0, Op::kLt, 100},
      {"avg<1e3", Agg::kAvg, 0, Op::kLt, 1000},
      {"min>.5", Agg::kMin, 0, Op::kGt, 0.5},
      {"max<+7", Agg::kMax, 0, Op::kLt, 7},
      {"med\t<\t150", Agg::kMed, 0, Op::kLt, 150},
  };
  for (const auto& c : cases) {
    ThresholdExpr e = parse_threshold_expr(c.text);
    EXPECT_EQ(e.agg, c.agg) << c.text;
    EXPECT_DOUBLE_EQ(e.percentile, c.pct) << c.text;
    EXPECT_EQ(e.op, c.op) << c.text;
    EXPECT_DOUBLE_EQ(e.value, c.value) << c.text;
    EXPECT_EQ(e.source, c.text);
  }
}

TEST(ThresholdExpr, RejectsMalformedQuotingInput) {
  const char* bad[] = {"",          "   ",        "p(95)<<200", "p(95)",     "<200",           "p(95)<",
                       "p(95)=200", "p(95)=>200", "p(101)<5",   "p(-1)<5",   "p()<5",          "p(x)<5",
                       "p(95<200",  "p95<200",    "avg<abc",    "avg<1ms",   "avg<inf",        "avg<nan",
                       "mean<5",    "AVG<5",      "avg<5 6",    "avg<>5",    "rate > 0.9 < 1", "count==0x10",
                       "avg<1e",    "avg<-",      "p(95)!200",  "avg < 5 % "};
  for (const char* b : bad) {
    try {
      parse_threshold_expr(b);
      ADD_FAILURE() << "accepted: " << b;
    } catch (const ThresholdError& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + std::string(b) + "\""), std::string::npos) << e.what();
    }
  }
}

TEST(MetricSelector, Parses) {
  MetricSelector s = parse_metric_selector("http_req_duration");
  EXPECT_EQ(s.metric, "http_req_duration");
  EXPECT_TRUE(s.filter.empty());

  s = parse_metric_selector("http_req_duration{name:login}");
  EXPECT_EQ(s.metric, "http_req_duration");
  EXPECT_EQ(s.source, "http_req_duration{name:login}");
  ASSERT_NE(s.filter.get("name"), nullptr);
  EXPECT_EQ(*s.filter.get("name"), "login");

  s = parse_metric_selector("http_req_duration{ expected_response:true }");
  EXPECT_EQ(*s.filter.get("expected_response"), "true");

  s = parse_metric_selector("checks{scenario:default, group : ::a::b }");
  EXPECT_EQ(*s.filter.get("scenario"), "default");
  EXPECT_EQ(*s.filter.get("group"), "::a::b");

  s = parse_metric_selector("http_reqs{url:http://x:8080/p}");
  EXPECT_EQ(*s.filter.get("url"), "http://x:8080/p");

  s = parse_metric_selector("http_reqs{status:\"200\",name:'n'}");
  EXPECT_EQ(*s.filter.get("status"), "200");
  EXPECT_EQ(*s.filter.get("name"), "n");

  s = parse_metric_selector("my_metric{empty:}");
  EXPECT_EQ(*s.filter.get("empty"), "");
}

TEST(MetricSelector, RejectsMalformed) {
  const char* bad[] = {"",        "1abc",        "a-b",        "name{",         "name{}",
                       "name{ }", "name}",       "name{tag}",  "name{:v}",      "name{a:1}x",
                       "{a:1}",   "name{a:{b}}", "name{a:1,}", "name{a:1,a:2}", "na me{a:1}"};
  for (const char* b : bad) {
    try {
      parse_metric_selector(b);
      ADD_FAILURE() << "accepted: " << b;
    } catch (const ThresholdError& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + std::string(b) + "\""), std::string::npos) << e.what();
    }
  }
}

TEST(ThresholdDuration, GoStyle) {
  EXPECT_EQ(parse_threshold_duration("10s"), 10000ms);
  EXPECT_EQ(parse_threshold_duration("1m30s"), 90000ms);
  EXPECT_EQ(parse_threshold_duration("1h"), 3600000ms);
  EXPECT_EQ(parse_threshold_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_threshold_duration("250ms"), 250ms);
  EXPECT_EQ(parse_threshold_duration("2000us"), 2ms);
  EXPECT_EQ(parse_threshold_duration("3000µs"), 3ms);
  EXPECT_EQ(parse_threshold_duration("5000000ns"), 5ms);
  EXPECT_EQ(parse_threshold_duration("0"), 0ms);
  EXPECT_EQ(parse_threshold_duration("1500"), 1500ms);  // bare number = ms
  for (const char* b : {"", "s", "10x", "1.2.3s", "-5s", "10 s", "abc", "ms10"}) {
    EXPECT_FALSE(parse_threshold_duration(b).has_value()) << b;
  }
}

// Edge cases of the shared parser (util::parse_duration) as k6 reads
// delayAbortEval (types.ParseExtendedDuration).
TEST(ThresholdDuration, EdgeCasesFollowK6) {
  EXPECT_EQ(parse_threshold_duration("1d"), 86'400'000ms);  // k6's day unit
  EXPECT_EQ(parse_threshold_duration("1d2h"), 93'600'000ms);
  EXPECT_EQ(parse_threshold_duration("1e3"), 1000ms);  // a plain number, exponent included: ms
  EXPECT_EQ(parse_threshold_duration("1.9"), 1ms);     // truncated to whole milliseconds
  EXPECT_EQ(parse_threshold_duration("1999us"), 1ms);
  EXPECT_EQ(parse_threshold_duration("+5s"), 5000ms);
  EXPECT_EQ(parse_threshold_duration("-0s"), 0ms);
  for (const char* b : {" 10s", "10s ", "-5", "-1ms", "1e16", "99999999999999999999h", "5 s", "1x", "."})
    EXPECT_FALSE(parse_threshold_duration(b).has_value()) << b;
}

TEST(ParseThresholds, StringsAndObjects) {
  auto j = nlohmann::json::parse(R"({
    "http_req_duration": ["p(95)<200", "avg<100"],
    "http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": true, "delayAbortEval": "10s"}],
    "http_req_duration{name:login}": ["max<1000"],
    "checks": []
  })");
  auto ths = parse_thresholds(j);
  ASSERT_EQ(ths.size(), 4u);
  const MetricThresholds* dur = nullptr;
  const MetricThresholds* failed = nullptr;
  const MetricThresholds* login = nullptr;
  for (const auto& t : ths) {
    if (t.selector.source == "http_req_duration") dur = &t;
    if (t.selector.source == "http_req_failed") failed = &t;
    if (t.selector.source == "http_req_duration{name:login}") login = &t;
  }
  ASSERT_TRUE(dur && failed && login);
  ASSERT_EQ(dur->thresholds.size(), 2u);
  EXPECT_EQ(dur->thresholds[0].expr.source, "p(95)<200");
  EXPECT_FALSE(dur->thresholds[0].abort_on_fail);
  ASSERT_EQ(failed->thresholds.size(), 1u);
  EXPECT_TRUE(failed->thresholds[0].abort_on_fail);
  EXPECT_EQ(failed->thresholds[0].delay_abort_eval, 10s);
  EXPECT_EQ(failed->thresholds[0].expr.agg, Agg::kRate);
  EXPECT_EQ(login->selector.metric, "http_req_duration");
  EXPECT_EQ(*login->selector.filter.get("name"), "login");
  EXPECT_TRUE(parse_thresholds(nlohmann::json()).empty());
}

TEST(ParseThresholds, ErrorsNameKeyAndExpression) {
  try {
    parse_thresholds(nlohmann::json::parse(R"({"http_req_duration": ["p(95)<<200"]})"));
    ADD_FAILURE();
  } catch (const ThresholdError& e) {
    EXPECT_NE(std::string(e.what()).find(R"(invalid threshold "p(95)<<200" on metric "http_req_duration")"),
              std::string::npos)
        << e.what();
  }
  const char* bad[] = {
      R"([1])",
      R"({"a": 5})",
      R"({"a": [5]})",
      R"({"a": [{"abortOnFail": true}]})",
      R"({"a": [{"threshold": "rate<1", "abortOnFail": "yes"}]})",
      R"({"a": [{"threshold": "rate<1", "delayAbortEval": "ten seconds"}]})",
      R"({"a": [{"threshold": "rate<1", "delayAbortEval": true}]})",
      R"({"bad-name": ["rate<1"]})",
      R"({"a{": ["rate<1"]})",
      R"({"a": ["rate<"]})",
  };
  for (const char* b : bad) EXPECT_THROW(parse_thresholds(nlohmann::json::parse(b)), ThresholdError) << b;
  try {
    parse_thresholds(nlohmann::json::parse(R"({"my_metric": [{"threshold": "avg<1", "delayAbortEval": "xx"}]})"));
    ADD_FAILURE();
  } catch (const ThresholdError& e) {
    EXPECT_NE(std::string(e.what()).find("my_metric"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("delayAbortEval"), std::string::npos) << e.what();
  }
}

TEST(AggregateValue, PerType) {
  SeriesState c;
  c.add(MetricType::kCounter, 30, 0);
  EXPECT_EQ(aggregate_value(MetricType::kCounter, c, parse_threshold_expr("count>0"), 10), 30);
  EXPECT_EQ(aggregate_value(MetricType::kCounter, c, parse_threshold_expr("rate>0"), 10), 3);
  EXPECT_EQ(aggregate_value(MetricType::kCounter, c, parse_threshold_expr("rate>0"), 0), 0);
  EXPECT_FALSE(aggregate_value(MetricType::kCounter, c, parse_threshold_expr("avg>0"), 10));
  EXPECT_FALSE(aggregate_value(MetricType::kCounter, c, parse_threshold_expr("value>0"), 10));

  SeriesState g;
  g.add(MetricType::kGauge, 4, 1);
  EXPECT_EQ(aggregate_value(MetricType::kGauge, g, parse_threshold_expr("value>0"), 1), 4);
  EXPECT_FALSE(aggregate_value(MetricType::kGauge, g, parse_threshold_expr("count>0"), 1));

  SeriesState r;
  for (int i = 0; i < 4; ++i) r.add(MetricType::kRate, i == 0 ? 0 : 1, 0);
  EXPECT_EQ(aggregate_value(MetricType::kRate, r, parse_threshold_expr("rate>0"), 1), 0.75);
  EXPECT_FALSE(aggregate_value(MetricType::kRate, r, parse_threshold_expr("count>0"), 1));

  SeriesState t;
  for (int i = 1; i <= 101; ++i) t.add(MetricType::kTrend, i, 0);
  EXPECT_NEAR(*aggregate_value(MetricType::kTrend, t, parse_threshold_expr("avg>0"), 1), 51, 1e-9);
  EXPECT_EQ(*aggregate_value(MetricType::kTrend, t, parse_threshold_expr("min>0"), 1), 1);
  EXPECT_EQ(*aggregate_value(MetricType::kTrend, t, parse_threshold_expr("max>0"), 1), 101);
  EXPECT_NEAR(*aggregate_value(MetricType::kTrend, t, parse_threshold_expr("med>0"), 1), 51, 0.51);
  EXPECT_NEAR(*aggregate_value(MetricType::kTrend, t, parse_threshold_expr("p(90)>0"), 1), 91, 0.91);
  EXPECT_FALSE(aggregate_value(MetricType::kTrend, t, parse_threshold_expr("rate>0"), 1));
}

TEST(ThresholdAggKey, Names) {
  EXPECT_EQ(threshold_agg_key(parse_threshold_expr("p(99.9)<1")), "p(99.9)");
  EXPECT_EQ(threshold_agg_key(parse_threshold_expr("p(95.00)<1")), "p(95)");
  EXPECT_EQ(threshold_agg_key(parse_threshold_expr("med<1")), "med");
  EXPECT_EQ(threshold_agg_key(parse_threshold_expr("count<1")), "count");
}

Snapshot sample_snapshot() {
  Registry reg;
  Sink sink(reg);
  TagSet login(Tags{{"name", "login"}}), home(Tags{{"name", "home"}});
  for (int i = 0; i < 100; ++i) {
    sink.add(kHttpReqDuration, home, 50, 0);
    sink.add(kHttpReqDuration, login, 500, 0);
    sink.add(kHttpReqs, home, 1, 0);
    sink.add(kHttpReqFailed, home, i < 5 ? 1 : 0, 0);
  }
  sink.add(kVus, TagSet(), 10, 1);
  return sink.snapshot();
}

TEST(EvaluateThresholds, OkAndFail) {
  auto ths = parse_thresholds(nlohmann::json::parse(R"({
    "http_req_duration": ["p(95)<600", "avg<100"],
    "http_req_duration{name:home}": ["max<100"],
    "http_req_duration{name:login}": ["min>=500", "p(50)==500"],
    "http_req_failed": ["rate<0.01", "rate<=0.05"],
    "http_reqs": ["count==100", "rate>=10", "count!=100"],
    "vus": ["value==10"],
    "iterations": ["count>0"]
  })"));
  auto res = evaluate_thresholds(ths, sample_snapshot(), 10s, true);
  std::map<std::string, ThresholdResult> by;
  for (const auto& r : res) by[r.selector + " " + r.source] = r;
  ASSERT_EQ(res.size(), 12u);
  EXPECT_TRUE(by["http_req_duration p(95)<600"].ok);
  EXPECT_FALSE(by["http_req_duration avg<100"].ok);
  EXPECT_NEAR(*by["http_req_duration avg<100"].observed, 275, 1e-9);
  EXPECT_TRUE(by["http_req_duration{name:home} max<100"].ok);
  EXPECT_EQ(*by["http_req_duration{name:home} max<100"].observed, 50);
  EXPECT_TRUE(by["http_req_duration{name:login} min>=500"].ok);
  EXPECT_TRUE(by["http_req_duration{name:login} p(50)==500"].ok);
  EXPECT_FALSE(by["http_req_failed rate<0.01"].ok);
  EXPECT_TRUE(by["http_req_failed rate<=0.05"].ok);
  EXPECT_TRUE(by["http_reqs count==100"].ok);
  EXPECT_TRUE(by["http_reqs rate>=10"].ok);
  EXPECT_DOUBLE_EQ(*by["http_reqs rate>=10"].observed, 10);
  EXPECT_FALSE(by["http_reqs count!=100"].ok);
  EXPECT_TRUE(by["vus value==10"].ok);
  // no samples: at the end a counter is judged on count=0 (k6 evaluates empty sinks in its final pass)
  EXPECT_FALSE(by["iterations count>0"].ok);
  EXPECT_EQ(by["iterations count>0"].observed, 0.0);
}

TEST(EvaluateThresholds, DelayAbortEvalAndAbortFlag) {
  auto ths = parse_thresholds(nlohmann::json::parse(
      R"({"http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": true, "delayAbortEval": "30s"}]})"));
  Snapshot s = sample_snapshot();
  auto early = evaluate_thresholds(ths, s, 10s, false);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_TRUE(early[0].ok);
  EXPECT_TRUE(early[0].abort_on_fail);
  auto late = evaluate_thresholds(ths, s, 31s, false);
  EXPECT_FALSE(late[0].ok);
  auto fin = evaluate_thresholds(ths, s, 10s, true);
  EXPECT_FALSE(fin[0].ok);
}

// No samples (a filter matching nothing, a metric never added to): skipped while the test runs; at the
// end a trend or counter is judged on its zero values, a rate (which has no value) stays ok.
TEST(EvaluateThresholds, NoSamplesAreSkippedWhileRunningAndJudgedOnZeroAtTheEnd) {
  auto ths = parse_thresholds(nlohmann::json::parse(
      R"({"http_req_duration{name:nope}": ["max<1", "p(95)>1"], "http_reqs{name:nope}": ["count>=100"],
          "http_req_failed{name:nope}": ["rate<0.01"]})"));
  for (const auto& r : evaluate_thresholds(ths, sample_snapshot(), 1s, false)) {
    EXPECT_TRUE(r.ok) << r.selector << " " << r.source;
    EXPECT_FALSE(r.observed) << r.selector << " " << r.source;
  }
  auto res = evaluate_thresholds(ths, sample_snapshot(), 1s, true);
  std::map<std::string, ThresholdResult> by;
  for (const auto& r : res) by[r.selector + " " + r.source] = r;
  ASSERT_EQ(res.size(), 4u);
  EXPECT_TRUE(by["http_req_duration{name:nope} max<1"].ok);
  EXPECT_EQ(by["http_req_duration{name:nope} max<1"].observed, 0.0);
  EXPECT_FALSE(by["http_req_duration{name:nope} p(95)>1"].ok);
  EXPECT_FALSE(by["http_reqs{name:nope} count>=100"].ok);
  EXPECT_EQ(by["http_reqs{name:nope} count>=100"].observed, 0.0);
  EXPECT_TRUE(by["http_req_failed{name:nope} rate<0.01"].ok);
  EXPECT_FALSE(by["http_req_failed{name:nope} rate<0.01"].observed);
}

TEST(ValidateThresholds, UnknownMetricAndWrongAggregation) {
  Registry reg;
  reg.define("my_gauge", MetricType::kGauge, ValueType::kDefault);
  EXPECT_NO_THROW(validate_thresholds(parse_thresholds(nlohmann::json::parse(
                                          R"({"http_req_duration{name:x}": ["p(95)<1"], "my_gauge": ["value<3"],
                                              "http_reqs": ["count>1", "rate>1"], "checks": ["rate>0.9"]})")),
                                      reg));
  try {
    validate_thresholds(parse_thresholds(nlohmann::json::parse(R"({"nope": ["count>1"]})")), reg);
    ADD_FAILURE();
  } catch (const ThresholdError& e) {
    EXPECT_NE(std::string(e.what()).find("\"nope\""), std::string::npos) << e.what();
  }
  const char* wrong[] = {R"({"http_reqs": ["avg<1"]})",          R"({"http_reqs": ["value<1"]})",
                         R"({"my_gauge": ["rate<1"]})",          R"({"checks": ["count<1"]})",
                         R"({"http_req_duration": ["rate<1"]})", R"({"http_req_duration": ["count<1"]})"};
  for (const char* w : wrong) {
    try {
      validate_thresholds(parse_thresholds(nlohmann::json::parse(w)), reg);
      ADD_FAILURE() << w;
    } catch (const ThresholdError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot be used"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace herd::metrics
