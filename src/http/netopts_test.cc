// k6's network options as data: host maps with wildcards and ports, blocked
// name patterns, CIDR ranges, source address pools, URL host splitting and the
// TLS name tables.

#include "http/netopts.h"

#include <gtest/gtest.h>

#include "http/tls_names.h"

using namespace herd::http;

TEST(NetOpts, IpAddrParsesBothFamiliesAndRejectsNames) {
  ASSERT_TRUE(IpAddr::parse("127.0.0.2"));
  EXPECT_EQ(IpAddr::parse("127.0.0.2")->str(), "127.0.0.2");
  ASSERT_TRUE(IpAddr::parse("::1"));
  EXPECT_TRUE(IpAddr::parse("::1")->v6);
  EXPECT_FALSE(IpAddr::parse("localhost"));
  EXPECT_FALSE(IpAddr::parse("1.2.3"));
  EXPECT_FALSE(IpAddr::parse("[::1]"));
  EXPECT_FALSE(IpAddr::parse(""));
}

TEST(NetOpts, CidrContainsOnlyItsRangeAndFamily) {
  auto n = IpNet::parse("127.0.0.0/8");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains(*IpAddr::parse("127.255.0.1")));
  EXPECT_FALSE(n->contains(*IpAddr::parse("128.0.0.1")));
  EXPECT_FALSE(n->contains(*IpAddr::parse("::1")));
  auto one = IpNet::parse("10.1.2.3/32");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->contains(*IpAddr::parse("10.1.2.3")));
  EXPECT_FALSE(one->contains(*IpAddr::parse("10.1.2.4")));
  auto v6 = IpNet::parse("fd00::/64");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddr::parse("fd00::abcd")));
  EXPECT_FALSE(v6->contains(*IpAddr::parse("fd00:0:0:1::1")));
  auto all = IpNet::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(*IpAddr::parse("203.0.113.9")));
  EXPECT_FALSE(IpNet::parse("127.0.0.1"));
  EXPECT_FALSE(IpNet::parse("127.0.0.0/33"));
  EXPECT_FALSE(IpNet::parse("127.0.0.0/"));
  EXPECT_FALSE(IpNet::parse("host/8"));
}

TEST(NetOpts, HostPatternsMatchExactAndLeadingWildcard) {
  HostPatterns p;
  EXPECT_EQ(p.add("*.Blocked.test"), "");
  EXPECT_EQ(p.add("exact.test"), "");
  EXPECT_NE(p.add("a*b.test"), "");
  EXPECT_NE(p.add(""), "");
  ASSERT_NE(p.match("a.blocked.test"), nullptr);
  EXPECT_EQ(*p.match("x.y.blocked.test"), "*.blocked.test");
  EXPECT_EQ(p.match("blocked.test"), nullptr);
  EXPECT_NE(p.match("exact.test"), nullptr);
  EXPECT_EQ(p.match("sub.exact.test"), nullptr);
}

TEST(NetOpts, HostMapPrefersExactNamesAndPortKeys) {
  HostMap m;
  EXPECT_EQ(m.add("*.svc.test", "127.0.0.3"), "");
  EXPECT_EQ(m.add("api.svc.test", "127.0.0.4"), "");
  EXPECT_EQ(m.add("api.svc.test:8443", "127.0.0.5:9443"), "");
  EXPECT_EQ(m.add("v6.test", "[::1]:8080"), "");
  EXPECT_NE(m.add("bad.test", "not-an-ip"), "");
  EXPECT_NE(m.add("bad.test", "127.0.0.1:80:80"), "");
  EXPECT_NE(m.add("bad.test:0", "127.0.0.1"), "");
  ASSERT_NE(m.find("web.svc.test", 80), nullptr);
  EXPECT_EQ(m.find("web.svc.test", 80)->ip.str(), "127.0.0.3");
  EXPECT_EQ(m.find("api.svc.test", 80)->ip.str(), "127.0.0.4");
  EXPECT_EQ(m.find("api.svc.test", 80)->port, 0);
  EXPECT_EQ(m.find("api.svc.test", 8443)->ip.str(), "127.0.0.5");
  EXPECT_EQ(m.find("api.svc.test", 8443)->port, 9443);
  EXPECT_EQ(m.find("v6.test", 80)->port, 8080);
  EXPECT_TRUE(m.find("v6.test", 80)->ip.v6);
  EXPECT_EQ(m.find("other.test", 80), nullptr);
}

TEST(NetOpts, IpPoolHandsOutAddressesInOrderAndWraps) {
  IpPool p;
  EXPECT_EQ(p.parse("127.0.0.2, 127.0.0.10-127.0.0.11,127.0.1.0/31"), "");
  EXPECT_EQ(p.get(0), "127.0.0.2");
  EXPECT_EQ(p.get(1), "127.0.0.10");
  EXPECT_EQ(p.get(2), "127.0.0.11");
  EXPECT_EQ(p.get(3), "127.0.1.0");
  EXPECT_EQ(p.get(4), "127.0.1.1");
  EXPECT_EQ(p.get(5), "127.0.0.2");
  IpPool v6;
  EXPECT_EQ(v6.parse("fd00::/120"), "");
  EXPECT_EQ(v6.get(255), "fd00::ff");
  IpPool bad;
  EXPECT_NE(bad.parse("127.0.0.9-127.0.0.1"), "");
  EXPECT_NE(bad.parse("127.0.0.1-::1"), "");
  EXPECT_NE(bad.parse("nope"), "");
}

TEST(NetOpts, SplitUrlHost) {
  auto u = split_url_host("http://User@API.Example.test:8080/p?q#f");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "api.example.test");
  EXPECT_EQ(u->port, 8080);
  EXPECT_FALSE(u->https);
  auto s = split_url_host("https://[::1]/x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 443);
  EXPECT_TRUE(s->https);
  EXPECT_FALSE(split_url_host("ftp://x/"));
  EXPECT_FALSE(split_url_host("http:///path"));
  EXPECT_FALSE(split_url_host("http://x:99999/"));
}

TEST(NetOpts, Messages) {
  EXPECT_EQ(blacklisted_ip_message(*IpAddr::parse("127.0.0.1"), *IpNet::parse("127.0.0.0/8")),
            "IP (127.0.0.1) is in a blacklisted range (127.0.0.0/8)");
  EXPECT_EQ(blocked_hostname_message("a.b.test", "*.b.test"), "hostname (a.b.test) is in a blocked pattern (*.b.test)");
}

TEST(TlsNames, VersionsAndCipherSuites) {
  EXPECT_EQ(tls_version_from_name("tls1.2"), 12);
  EXPECT_EQ(tls_version_from_name("tls1.3"), 13);
  EXPECT_FALSE(tls_version_from_name("TLS1.2"));
  auto gcm = cipher_suite_from_iana("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  ASSERT_TRUE(gcm);
  EXPECT_EQ(gcm->openssl_name, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_FALSE(gcm->tls13);
  auto chacha = cipher_suite_from_iana("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305");  // Go's alias
  ASSERT_TRUE(chacha);
  EXPECT_EQ(chacha->openssl_name, "ECDHE-RSA-CHACHA20-POLY1305");
  auto t13 = cipher_suite_from_iana("TLS_AES_128_GCM_SHA256");
  ASSERT_TRUE(t13);
  EXPECT_TRUE(t13->tls13);
  EXPECT_FALSE(cipher_suite_from_iana("TLS_MADE_UP_SUITE"));
  EXPECT_EQ(tls_session_names(nullptr).version, "");
  EXPECT_EQ(stapled_ocsp(nullptr).status, "unknown");
}

TEST(NetOpts, RouteRequestMapsBlocksAndRefuses) {
  NetConfig net;
  ASSERT_EQ(net.hosts.add("api.herd.test", "127.0.0.1:8080"), "");
  ASSERT_EQ(net.hosts.add("v6.herd.test", "::1"), "");
  ASSERT_EQ(net.blocked_hostnames.add("*.ads.herd.test"), "");
  net.blacklist.push_back(*IpNet::parse("10.0.0.0/8"));
  NetRoute r = route_request(net, "http://API.herd.test/p?q=1");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_TRUE(r.mapped);
  EXPECT_EQ(r.connect_to, "api.herd.test:80:127.0.0.1:8080");
  EXPECT_EQ(r.builtin_url, "http://127.0.0.1:8080/p?q=1");
  EXPECT_EQ(r.host_header, "api.herd.test");
  NetRoute v6 = route_request(net, "https://v6.herd.test:8443/");
  EXPECT_EQ(v6.connect_to, "v6.herd.test:8443:[::1]:8443");
  EXPECT_EQ(v6.builtin_url, "");  // https: libcurl only
  EXPECT_EQ(route_request(net, "http://user@api.herd.test/").builtin_url, "");
  NetRoute blocked = route_request(net, "http://x.ads.herd.test/");
  EXPECT_EQ(blocked.error_code, kBlockedHostnameErrorCode);
  NetRoute range = route_request(net, "http://10.1.2.3/");
  EXPECT_EQ(range.error_code, kBlacklistedIpErrorCode);
  EXPECT_EQ(range.error, "IP (10.1.2.3) is in a blacklisted range (10.0.0.0/8)");
  NetRoute other = route_request(net, "http://other.herd.test/");
  EXPECT_EQ(other.error_code, 0);
  EXPECT_FALSE(other.mapped);
}
