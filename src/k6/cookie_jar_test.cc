#include "k6/cookie_jar.h"

#include <gtest/gtest.h>

#include <limits>

namespace herd::k6 {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

TEST(SplitUrl, HostPathScheme) {
  UrlParts u = split_url("http://user:pw@Example.COM:8080/a/b?x=1#f");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.path, "/a/b");
  EXPECT_EQ(split_url("http://127.0.0.1").path, "/");
  EXPECT_EQ(split_url("http://[::1]:80/x").host, "::1");
}

TEST(ParseSetCookie, Attributes) {
  Cookie c;
  ASSERT_TRUE(
      parse_set_cookie("sid=abc; Path=/app; HttpOnly; Secure; Max-Age=60", split_url("http://h/app/x"), kNow, &c));
  EXPECT_EQ(c.name, "sid");
  EXPECT_EQ(c.value, "abc");
  EXPECT_EQ(c.path, "/app");
  EXPECT_TRUE(c.http_only);
  EXPECT_TRUE(c.secure);
  EXPECT_EQ(c.expires_unix, kNow + 60);
  EXPECT_TRUE(c.host_only);
  EXPECT_EQ(c.domain, "h");
  EXPECT_FALSE(parse_set_cookie("novalue", split_url("http://h/"), kNow, &c));
  EXPECT_FALSE(parse_set_cookie("a=1; Domain=other.com", split_url("http://h.example.com/"), kNow, &c));
}

TEST(CookieJar, MatchesDomainPathAndSecure) {
  CookieJar jar;
  Cookie c;
  ASSERT_TRUE(parse_set_cookie("a=1; Path=/", split_url("http://127.0.0.1/"), kNow, &c));
  jar.store(c, kNow);
  ASSERT_TRUE(parse_set_cookie("b=2; Path=/api", split_url("http://127.0.0.1/"), kNow, &c));
  jar.store(c, kNow);
  ASSERT_TRUE(parse_set_cookie("s=3; Secure", split_url("http://127.0.0.1/"), kNow, &c));
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://127.0.0.1/api/x", kNow), "b=2; a=1");
  EXPECT_EQ(jar.header_for("http://127.0.0.1/other", kNow), "a=1");
  EXPECT_EQ(jar.header_for("http://127.0.0.2/", kNow), "");
  EXPECT_EQ(jar.header_for("https://127.0.0.1/", kNow), "a=1; s=3");
}

TEST(CookieJar, ReplaceExpireAndClear) {
  CookieJar jar;
  Cookie c;
  ASSERT_TRUE(parse_set_cookie("a=1", split_url("http://h/"), kNow, &c));
  jar.store(c, kNow);
  ASSERT_TRUE(parse_set_cookie("a=2", split_url("http://h/"), kNow, &c));
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://h/", kNow), "a=2");
  ASSERT_TRUE(parse_set_cookie("a=x; Max-Age=0", split_url("http://h/"), kNow, &c));
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://h/", kNow), "");
  ASSERT_TRUE(parse_set_cookie("b=1; Max-Age=10", split_url("http://h/"), kNow, &c));
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://h/", kNow + 11), "");
  jar.clear();
  EXPECT_EQ(jar.header_for("http://h/", kNow), "");
}

TEST(CookieJar, DomainCookiesMatchSubdomains) {
  CookieJar jar;
  Cookie c;
  ASSERT_TRUE(parse_set_cookie("d=1; Domain=.example.com", split_url("http://www.example.com/"), kNow, &c));
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://api.example.com/", kNow), "d=1");
  EXPECT_EQ(jar.header_for("http://badexample.com/", kNow), "");
}

TEST(CookieJar, ClearAndRemoveMatchDomainAndPath) {
  CookieJar jar;
  auto put = [&](const char* header, const char* url) {
    Cookie c;
    ASSERT_TRUE(parse_set_cookie(header, split_url(url), kNow, &c)) << header;
    jar.store(c, kNow);
  };
  put("a=1; Path=/", "http://h/");
  put("b=1; Path=/deep", "http://h/");
  put("c=1; Path=/", "http://other/");
  put("a=2; Path=/deep", "http://h/");
  jar.remove("http://h/deep/x", "a");  // both a's match /deep/x
  EXPECT_EQ(jar.header_for("http://h/deep/x", kNow), "b=1");
  put("a=1; Path=/", "http://h/");
  jar.clear_url("http://h/");  // /deep is not sent to / and stays
  EXPECT_EQ(jar.header_for("http://h/", kNow), "");
  EXPECT_EQ(jar.header_for("http://h/deep", kNow), "b=1");
  EXPECT_EQ(jar.header_for("http://other/", kNow), "c=1");
}

// RFC 6265 5.1.3: the domain must match on a label boundary. The old check was
// a bare suffix match, so foobar.com could set a cookie for bar.com.
TEST(ParseSetCookie, DomainMustMatchOnALabelBoundary) {
  Cookie c;
  EXPECT_FALSE(parse_set_cookie("a=1; Domain=bar.com", split_url("http://foobar.com/"), kNow, &c));
  EXPECT_FALSE(parse_set_cookie("a=1; Domain=.bar.com", split_url("http://foobar.com/"), kNow, &c));
  EXPECT_FALSE(parse_set_cookie("a=1; Domain=0.0.1", split_url("http://127.0.0.1/"), kNow, &c));
  EXPECT_TRUE(parse_set_cookie("a=1; Domain=bar.com", split_url("http://foo.bar.com/"), kNow, &c));
  EXPECT_EQ(c.domain, "bar.com");
  EXPECT_FALSE(c.host_only);
  EXPECT_TRUE(parse_set_cookie("a=1; Domain=BAR.com", split_url("http://bar.com/"), kNow, &c));
  EXPECT_EQ(c.domain, "bar.com");
}

// Found by set_cookie_fuzz (UBSan): now + Max-Age overflowed int64, and the
// wrapped (negative) expiry made the jar drop a cookie meant to last forever.
TEST(ParseSetCookie, HugeMaxAgeSaturates) {
  Cookie c;
  ASSERT_TRUE(parse_set_cookie("a=1; Max-Age=9223372036854775807", split_url("http://h/"), kNow, &c));
  EXPECT_EQ(c.expires_unix, std::numeric_limits<std::int64_t>::max());
  CookieJar jar;
  jar.store(c, kNow);
  EXPECT_EQ(jar.header_for("http://h/", kNow + 1000), "a=1");
}

TEST(CookieJar, DefaultPathAndDomainRules) {
  EXPECT_EQ(cookie_default_path("/a/b"), "/a");
  EXPECT_EQ(cookie_default_path("/a"), "/");
  EXPECT_EQ(cookie_default_path(""), "/");
  EXPECT_TRUE(cookie_domain_allowed("www.example.com", "example.com"));
  EXPECT_TRUE(cookie_domain_allowed("example.com", "example.com"));
  EXPECT_FALSE(cookie_domain_allowed("badexample.com", "example.com"));
  EXPECT_FALSE(cookie_domain_allowed("example.com", "www.example.com"));
  EXPECT_TRUE(cookie_domain_allowed("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(cookie_domain_allowed("127.0.0.1", "0.0.1"));
  EXPECT_FALSE(cookie_domain_allowed("::1", "1"));
}

}  // namespace
}  // namespace herd::k6
