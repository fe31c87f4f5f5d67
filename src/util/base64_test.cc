#include "util/base64.h"

#include <gtest/gtest.h>

namespace herd::util {
namespace {

TEST(Base64, EncodesBothAlphabetsWithAndWithoutPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("alice:secret"), "YWxpY2U6c2VjcmV0");
  EXPECT_EQ(base64_encode("\xfb\xff", false), "+/8=");
  EXPECT_EQ(base64_encode("\xfb\xff", true), "-_8=");
  EXPECT_EQ(base64_encode("\xfb\xff", true, false), "-_8");
}

TEST(Base64, DecodesAndRejects) {
  std::string out;
  ASSERT_TRUE(base64_decode("Zm9vYg==", false, &out));
  EXPECT_EQ(out, "foob");
  ASSERT_TRUE(base64_decode("Zm9vYg", false, &out));  // padding optional
  EXPECT_EQ(out, "foob");
  ASSERT_TRUE(base64_decode("-_8", true, &out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_FALSE(base64_decode("-_8", false, &out));    // wrong alphabet
  EXPECT_FALSE(base64_decode("Zm9vY", false, &out));  // impossible length
  EXPECT_FALSE(base64_decode("Zm 9v", false, &out));
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  ASSERT_TRUE(base64_decode(base64_encode(bytes), false, &out));
  EXPECT_EQ(out, bytes);
}

}  // namespace
}  // namespace herd::util
