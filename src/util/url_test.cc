#include "util/url.h"

#include <gtest/gtest.h>

namespace herd::util {
namespace {

TEST(ResolveUrl, RelativeAbsoluteAndUnparsable) {
  EXPECT_EQ(resolve_url("http://127.0.0.1:8080/a/b/c.js", "./d.js"), "http://127.0.0.1:8080/a/b/d.js");
  EXPECT_EQ(resolve_url("http://127.0.0.1:8080/a/b/c.js", "../d.js"), "http://127.0.0.1:8080/a/d.js");
  EXPECT_EQ(resolve_url("http://127.0.0.1:8080/a/b", "/x?y=1"), "http://127.0.0.1:8080/x?y=1");
  EXPECT_EQ(resolve_url("http://127.0.0.1:8080/a", "https://[::1]:9/z"), "https://[::1]:9/z");
  EXPECT_EQ(resolve_url("not a url", "./d.js"), "./d.js");
}

TEST(Url, PartsDecodedOnRequest) {
  Url u;
  ASSERT_TRUE(u.set("http://us%20er:p%40ss@127.0.0.1:81/p%20q?x=1"));
  EXPECT_EQ(u.part(CURLUPART_USER), "us%20er");
  EXPECT_EQ(u.part(CURLUPART_USER, CURLU_URLDECODE), "us er");
  EXPECT_EQ(u.part(CURLUPART_PASSWORD, CURLU_URLDECODE), "p@ss");
  EXPECT_EQ(u.part(CURLUPART_QUERY), "x=1");
  EXPECT_EQ(u.part(CURLUPART_FRAGMENT), "");
  EXPECT_FALSE(u.set("http://[bad"));
}

}  // namespace
}  // namespace herd::util
