#include "dashboard/options.h"

#include <gtest/gtest.h>

namespace herd::dashboard {
namespace {

using Env = std::map<std::string, std::string>;

TEST(DashboardOptions, OffUnlessAskedFor) {
  std::vector<std::string> specs = {"json=x.json"};
  EXPECT_FALSE(take_dashboard(specs, {}));
  EXPECT_FALSE(take_dashboard(specs, {{"K6_WEB_DASHBOARD", "false"}}));
  EXPECT_FALSE(take_dashboard(specs, {{"K6_WEB_DASHBOARD_PORT", "1234"}}));
  EXPECT_EQ(specs.size(), 1u);
}

TEST(DashboardOptions, K6Defaults) {
  std::vector<std::string> specs;
  auto o = take_dashboard(specs, {{"K6_WEB_DASHBOARD", "true"}});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 5665);
  EXPECT_EQ(o->period, std::chrono::seconds(10));
  EXPECT_EQ(o->listen_address(), "127.0.0.1:5665");
}

TEST(DashboardOptions, OutTakesItsSpecAndArguments) {
  std::vector<std::string> specs = {"json=a.json", "web-dashboard=port=0&period=2s", "csv"};
  auto o = take_dashboard(specs, {{"K6_WEB_DASHBOARD_PORT", "7000"}, {"K6_WEB_DASHBOARD_HOST", "::1"}});
  ASSERT_TRUE(o);
  EXPECT_EQ(specs, (std::vector<std::string>{"json=a.json", "csv"}));
  EXPECT_EQ(o->port, 0);  // the --out argument wins over the variable
  EXPECT_EQ(o->period, std::chrono::seconds(2));
  EXPECT_EQ(o->listen_address(), "[::1]:0");
}

TEST(DashboardOptions, VariablesApply) {
  std::vector<std::string> specs = {"web-dashboard"};
  auto o = take_dashboard(specs, {{"K6_WEB_DASHBOARD_PERIOD", "500ms"},
                                  {"K6_WEB_DASHBOARD_PORT", "-1"},
                                  {"K6_WEB_DASHBOARD_OPEN", "false"},
                                  {"K6_WEB_DASHBOARD_EXPORT", ""}});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->port, -1);
  EXPECT_EQ(o->period, std::chrono::milliseconds(500));
  EXPECT_EQ(o->export_path, "");
  specs = {"web-dashboard=export=" + ::testing::TempDir() + "r.html"};
  o = take_dashboard(specs, {});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->export_path, ::testing::TempDir() + "r.html");
}

void expect_refused(std::vector<std::string> specs, const Env& env, const std::string& names) {
  try {
    take_dashboard(specs, env);
    ADD_FAILURE() << "accepted; expected an error naming " << names;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

TEST(DashboardOptions, RefusesWhatItCannotHonour) {
  Env on = {{"K6_WEB_DASHBOARD", "true"}};
  auto with = [&](const char* k, const char* v) {
    Env e = on;
    e[k] = v;
    return e;
  };
  expect_refused({}, with("K6_WEB_DASHBOARD_OPEN", "true"), "K6_WEB_DASHBOARD_OPEN");
  expect_refused({}, with("K6_WEB_DASHBOARD_EXPORT", "/nonexistent-dir/report.html"), "K6_WEB_DASHBOARD_EXPORT");
  expect_refused({}, with("K6_WEB_DASHBOARD_PORT", "70000"), "K6_WEB_DASHBOARD_PORT");
  expect_refused({}, with("K6_WEB_DASHBOARD_PORT", "80x"), "K6_WEB_DASHBOARD_PORT");
  expect_refused({}, with("K6_WEB_DASHBOARD_PERIOD", "soon"), "K6_WEB_DASHBOARD_PERIOD");
  expect_refused({}, with("K6_WEB_DASHBOARD_PERIOD", "1ms"), "K6_WEB_DASHBOARD_PERIOD");
  expect_refused({}, with("K6_WEB_DASHBOARD_HOST", ""), "K6_WEB_DASHBOARD_HOST");
  expect_refused({}, {{"K6_WEB_DASHBOARD", "yes"}}, "K6_WEB_DASHBOARD");
  expect_refused({"web-dashboard=open"}, {}, "--out web-dashboard open");
  expect_refused({"web-dashboard=colour=red"}, {}, "--out web-dashboard colour");
  expect_refused({"web-dashboard", "web-dashboard"}, {}, "more than once");
}

TEST(DashboardOptions, ReportFlag) {
  std::string dir = ::testing::TempDir();
  std::vector<std::string> specs;
  auto alone = take_dashboard(specs, {{"K6_WEB_DASHBOARD_EXPORT", dir + "env.html"}}, dir + "flag.html");
  ASSERT_TRUE(alone);  // --report alone: the report, no server
  EXPECT_EQ(alone->port, -1);
  EXPECT_EQ(alone->export_path, dir + "flag.html");  // wins over the variable
  auto served = take_dashboard(specs, {{"K6_WEB_DASHBOARD", "true"}}, dir + "flag.html");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->port, 5665);
  EXPECT_EQ(served->export_path, dir + "flag.html");
  std::vector<std::string> twice = {"web-dashboard=export=" + dir + "out.html"};
  try {
    take_dashboard(twice, {}, dir + "flag.html");
    FAIL() << "two report files accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--report"), std::string::npos) << e.what();
  }
  EXPECT_THROW(take_dashboard(specs, {}, "/nonexistent-dir/r.html"), std::invalid_argument);
}

}  // namespace
}  // namespace herd::dashboard
