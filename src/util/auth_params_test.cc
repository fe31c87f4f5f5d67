#include "util/auth_params.h"

#include <gtest/gtest.h>

namespace herd::util {
namespace {

TEST(AuthParam, QuotedTokensEscapesAndCase) {
  const std::string h = R"(realm="herd", qop="auth,auth-int", NONCE=abc123 , opaque="a\"b", algorithm=MD5)";
  EXPECT_EQ(auth_param(h, "realm"), "herd");
  EXPECT_EQ(auth_param(h, "qop"), "auth,auth-int");
  EXPECT_EQ(auth_param(h, "nonce"), "abc123");
  EXPECT_EQ(auth_param(h, "opaque"), "a\"b");
  EXPECT_EQ(auth_param(h, "Algorithm"), "MD5");
  EXPECT_EQ(auth_param(h, "stale"), "");
}

TEST(AuthParam, MalformedInputGivesEmpty) {
  EXPECT_EQ(auth_param("", "realm"), "");
  EXPECT_EQ(auth_param("realm", "realm"), "");
  EXPECT_EQ(auth_param(R"(realm="unterminated)", "realm"), "unterminated");
  EXPECT_EQ(auth_param("a=1,,, b = 2", "b"), "2");
  EXPECT_EQ(auth_param(R"(x="\)", "x"), "\\");
}

}  // namespace
}  // namespace herd::util
