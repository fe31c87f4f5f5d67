#include "k6/digest_auth.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

std::string field(const std::string& h, const std::string& key) {
  auto p = h.find(key + "=");
  if (p == std::string::npos) return "";
  p += key.size() + 1;
  if (h[p] == '"') return h.substr(p + 1, h.find('"', p + 1) - p - 1);
  return h.substr(p, h.find(',', p) - p);
}

// RFC 7616 §3.9.1's example exchange.
const char* kChallenge =
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=%s, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

std::string challenge(const char* alg) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kChallenge, alg);
  return buf;
}

TEST(DigestAuth, Rfc7616Examples) {
  UserInfo c{"Mufasa", "Circle of Life", ""};
  const char* cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  std::string md5 = digest_authorization(challenge("MD5"), "GET", "/dir/index.html", c, cnonce);
  EXPECT_EQ(field(md5, "response"), "8ca523f5e9506fed4657c9700eebdbec") << md5;
  std::string sha = digest_authorization(challenge("SHA-256"), "GET", "/dir/index.html", c, cnonce);
  EXPECT_EQ(field(sha, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1") << sha;
  EXPECT_EQ(field(md5, "username"), "Mufasa");
  EXPECT_EQ(field(md5, "uri"), "/dir/index.html");
  EXPECT_EQ(field(md5, "qop"), "auth");
  EXPECT_EQ(field(md5, "nc"), "00000001");
  EXPECT_EQ(field(md5, "opaque"), "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
  EXPECT_EQ(md5.rfind("Digest ", 0), 0u);
}

TEST(DigestAuth, Rfc2069WithoutQop) {
  UserInfo c{"u", "p", ""};
  std::string h = digest_authorization("Digest realm=\"r\", nonce=\"n\"", "GET", "/x", c, "c");
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(field(h, "qop"), "");
  EXPECT_EQ(field(h, "response").size(), 32u);
}

TEST(DigestAuth, WhatItCannotAnswer) {
  UserInfo c{"u", "p", ""};
  EXPECT_EQ(digest_authorization("Basic realm=\"r\"", "GET", "/", c, "c"), "");
  EXPECT_EQ(digest_authorization("Digest realm=\"r\"", "GET", "/", c, "c"), "");  // no nonce
  EXPECT_EQ(digest_authorization("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256", "GET", "/", c, "c"), "");
  EXPECT_EQ(digest_authorization("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", "GET", "/", c, "c"), "");
  EXPECT_EQ(digest_authorization("Digestive nonce=\"n\"", "GET", "/", c, "c"), "");
  EXPECT_NE(digest_authorization("digest nonce=\"n\", algorithm=md5-sess, qop=auth", "GET", "/", c, "c"), "");
}

TEST(DigestAuth, RequestTargetAndCnonce) {
  EXPECT_EQ(request_target("http://h:1/a/b?c=d#f"), "/a/b?c=d");
  EXPECT_EQ(request_target("http://h"), "/");
  EXPECT_EQ(new_cnonce().size(), 32u);
  EXPECT_NE(new_cnonce(), new_cnonce());
}

TEST(DigestAuth, SplitUserInfo) {
  UserInfo u;
  ASSERT_TRUE(split_user_info("http://ada:p%40ss@127.0.0.1:8080/a?b=1", &u));
  EXPECT_EQ(u.user, "ada");
  EXPECT_EQ(u.password, "p@ss");
  EXPECT_EQ(u.bare_url, "http://127.0.0.1:8080/a?b=1");
  EXPECT_FALSE(split_user_info("http://127.0.0.1/", &u));
  EXPECT_FALSE(split_user_info("not a url", &u));
}

}  // namespace
}  // namespace herd::k6
