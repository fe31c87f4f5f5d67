#include "k6/secrets.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace herd::k6 {
namespace {

class SecretSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("herd-secrets-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(SecretSourcesTest, FileLinesAreKeyValuePairsSplitAtTheFirstEquals) {
  std::string f = write("s.txt", "token=abc=def\r\n\nuser=bob\n");
  SecretSources s = SecretSources::from_flags({"file=" + f});
  EXPECT_EQ(s.get("token"), "abc=def");
  EXPECT_EQ(s.get("user"), "bob");
  EXPECT_THROW(s.get("missing"), SecretError);
}

TEST_F(SecretSourcesTest, NamedSourcesAndTheDefault) {
  std::string f = write("s.txt", "cool=from file\n");
  SecretSources s = SecretSources::from_flags({"mock=default,cool=mock value", "file=name=disk,filename=" + f});
  EXPECT_EQ(s.get("cool"), "mock value");
  EXPECT_EQ(s.get_from("disk", "cool"), "from file");
  EXPECT_TRUE(s.has_source("disk"));
  EXPECT_THROW(s.get_from("nope", "cool"), SecretError);
}

TEST_F(SecretSourcesTest, SeveralSourcesWithoutADefaultHaveNoGet) {
  SecretSources s = SecretSources::from_flags({"mock=name=a,k=1", "mock=name=b,k=2"});
  try {
    s.get("k");
    FAIL() << "get() without a default source must throw";
  } catch (const SecretError& e) {
    EXPECT_NE(std::string(e.what()).find("none is the default"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.get_from("b", "k"), "2");
  EXPECT_THROW(SecretSources::from_flags({}).get("k"), SecretError);
}

TEST_F(SecretSourcesTest, BadValuesNameTheProblem) {
  auto message = [](std::vector<std::string> specs) {
    try {
      SecretSources::from_flags(specs);
    } catch (const SecretError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string bad = write("bad.txt", "ok=1\nno equals here\n");
  EXPECT_NE(message({"file=" + bad}).find("bad.txt:2: expected key=value"), std::string::npos);
  EXPECT_NE(message({"file=" + (dir_ / "absent").string()}).find("cannot read it"), std::string::npos);
  EXPECT_NE(message({"url=https://vault.invalid"}).find("not supported by herd"), std::string::npos);
  EXPECT_NE(message({"vault=x"}).find("unknown secret source type \"vault\""), std::string::npos);
  EXPECT_NE(message({"mock=a=1", "mock=b=2"}).find("two secret sources are named"), std::string::npos);
  EXPECT_NE(message({"mock=name=a,default", "mock=name=b,default"}).find("only one"), std::string::npos);
  EXPECT_NE(message({"mock=justaword"}).find("expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(message({"file=name=x,filename=" + bad + ",color=red"}).find("unknown setting \"color=red\""),
            std::string::npos);
}

}  // namespace
}  // namespace herd::k6
