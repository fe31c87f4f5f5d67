#include "k6/logger.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::k6 {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LoggerTest, FormatsToAFile) {
  std::string path = ::testing::TempDir() + "/herd_logger_test.log";
  std::remove(path.c_str());
  {
    Logger log;
    ASSERT_EQ(log.set_output("file=" + path), "");
    log.log(Logger::Level::kInfo, "a \"quoted\"\nline");
    log.set_format(Logger::Format::kJson);
    log.log(Logger::Level::kWarn, "j\tson", "engine");
    log.set_format(Logger::Format::kRaw);
    log.log(Logger::Level::kError, "raw text");
    log.log(Logger::Level::kDebug, "hidden without verbose");
  }
  std::istringstream in(read_file(path));
  std::string text, js, raw, extra;
  std::getline(in, text);
  std::getline(in, js);
  std::getline(in, raw);
  EXPECT_FALSE(std::getline(in, extra));
  EXPECT_NE(text.find(R"(level=info msg="a \"quoted\"\nline" source=console)"), std::string::npos) << text;
  auto j = nlohmann::json::parse(js);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["msg"], "j\tson");
  EXPECT_EQ(j["source"], "engine");
  EXPECT_EQ(raw, "raw text");
  std::remove(path.c_str());
}

TEST(LoggerTest, OutputsAndFormatsRefusedByName) {
  Logger log;
  EXPECT_EQ(log.set_output("none"), "");
  EXPECT_EQ(log.set_output("stdout"), "");
  EXPECT_EQ(
      log.set_output("loki=http://127.0.0.1:3100"),
      "--log-output loki=http://127.0.0.1:3100: log output \"loki\" is not supported by herd (use stderr, stdout, "
      "none or file=PATH)");
  EXPECT_NE(log.set_output("file=").find("file= needs a path"), std::string::npos);
  EXPECT_NE(log.set_output("file=/nonexistent-dir/x.log").find("cannot open \"/nonexistent-dir/x.log\""),
            std::string::npos);
  Logger::Format f;
  EXPECT_TRUE(parse_log_format("", &f));
  EXPECT_EQ(f, Logger::Format::kText);
  EXPECT_TRUE(parse_log_format("json", &f));
  EXPECT_EQ(f, Logger::Format::kJson);
  EXPECT_FALSE(parse_log_format("logfmt", &f));
}

TEST(LoggerTest, SecretsAreRedactedOnceAdded) {
  std::string path = ::testing::TempDir() + "/herd_logger_secrets_test.log";
  std::remove(path.c_str());
  {
    Logger log;
    ASSERT_EQ(log.set_output("file=" + path), "");
    log.set_format(Logger::Format::kRaw);
    log.log(Logger::Level::kInfo, "before: pass");
    log.add_secret("pass");
    log.add_secret("password");
    log.add_secret("");
    log.log(Logger::Level::kInfo, "after: pass, password, passpass");
  }
  EXPECT_EQ(read_file(path),
            "before: pass\n"
            "after: ***SECRET_REDACTED***, ***SECRET_REDACTED***, ***SECRET_REDACTED******SECRET_REDACTED***\n");
}

}  // namespace
}  // namespace herd::k6
