// k6's network options through resolve_options(): what lands in NetConfig,
// the environment forms, and the refusals that name the option.
#include <gtest/gtest.h>

#include "exec/options.h"

using herd::exec::CliOverrides;
using herd::exec::Options;
using herd::exec::OptionsError;
using herd::exec::resolve_options;
using json = nlohmann::json;

namespace {

Options resolve(const std::string& script_json, std::map<std::string, std::string> env = {}) {
  return resolve_options(json::parse(script_json), env, CliOverrides{});
}

std::string error_of(const std::string& script_json, std::map<std::string, std::string> env = {}) {
  try {
    resolve(script_json, std::move(env));
  } catch (const OptionsError& e) {
    return e.what();
  }
  return "";
}

TEST(NetOptions, ScriptOptionsFillTheNetConfig) {
  Options o = resolve(R"({
    "hosts": {"a.test": "127.0.0.1:8080", "*.b.test": "::1"},
    "dns": {"ttl": "90s", "select": "first", "policy": "onlyIPv6"},
    "blacklistIPs": ["10.0.0.0/8"], "blockHostnames": ["*.ads.test"],
    "localIPs": "127.0.0.2-127.0.0.3", "noVUConnectionReuse": true,
    "tlsVersion": {"min": "tls1.2", "max": "tls1.3"},
    "tlsCipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"],
    "tlsAuth": [{"domains": ["A.test"], "cert": "-----BEGIN CERTIFICATE-----", "key": "-----BEGIN PRIVATE KEY-----"}]
  })");
  const auto& n = o.net;
  ASSERT_NE(n.hosts.find("a.test", 80), nullptr);
  EXPECT_EQ(n.hosts.find("a.test", 80)->port, 8080);
  EXPECT_TRUE(n.hosts.find("x.b.test", 443)->ip.v6);
  EXPECT_EQ(n.dns.ttl_seconds, 90);
  EXPECT_EQ(n.dns.policy, herd::http::DnsConfig::Policy::kOnlyIPv6);
  ASSERT_EQ(n.blacklist.size(), 1u);
  EXPECT_NE(n.blocked_hostnames.match("x.ads.test"), nullptr);
  EXPECT_EQ(n.local_ips.get(1), "127.0.0.3");
  EXPECT_TRUE(n.no_vu_connection_reuse);
  EXPECT_EQ(n.tls.min_version, 12);
  EXPECT_EQ(n.tls.max_version, 13);
  EXPECT_EQ(n.tls.cipher_list, "ECDHE-RSA-AES128-GCM-SHA256");  // TLS 1.3 suites are not restricted, as in k6
  ASSERT_NE(n.tls.cert_for("a.test"), nullptr);
  EXPECT_EQ(n.tls.cert_for("b.test"), nullptr);
}

TEST(NetOptions, ToJsonShowsThemAsGiven) {
  Options o = resolve(R"({"hosts": {"a.test": "127.0.0.1"}, "blacklistIPs": ["10.0.0.0/8"]})");
  json j = o.to_json();
  EXPECT_EQ(j["hosts"]["a.test"], "127.0.0.1");
  EXPECT_EQ(j["blacklistIPs"][0], "10.0.0.0/8");
  EXPECT_FALSE(j.contains("dns"));
}

TEST(NetOptions, DefaultsAreK6s) {
  Options o = resolve("{}");
  EXPECT_EQ(o.net.dns.ttl_seconds, 300);
  EXPECT_EQ(o.net.dns.policy, herd::http::DnsConfig::Policy::kPreferIPv4);
  EXPECT_TRUE(o.net.hosts.empty());
  EXPECT_FALSE(o.net.checks_hosts());
  EXPECT_EQ(resolve(R"({"dns": {"ttl": "inf"}})").net.dns.ttl_seconds, -1);
  EXPECT_EQ(resolve(R"({"dns": {"ttl": "0"}})").net.dns.ttl_seconds, 0);
  EXPECT_EQ(resolve(R"({"dns": {"ttl": 1500}})").net.dns.ttl_seconds, 2);  // milliseconds, rounded up
  EXPECT_EQ(resolve(R"({"tlsVersion": "tls1.2"})").net.tls.max_version, 12);
}

TEST(NetOptions, EnvironmentForms) {
  Options o = resolve(R"({"blacklistIPs": ["10.0.0.0/8"]})", {{"K6_DNS", "ttl=1m,policy=any"},
                                                              {"K6_BLACKLIST_IPS", "127.0.0.0/8,fd00::/8"},
                                                              {"K6_BLOCK_HOSTNAMES", "a.test,*.b.test"},
                                                              {"K6_LOCAL_IPS", "127.0.0.5"},
                                                              {"K6_NO_VU_CONNECTION_REUSE", "true"}});
  EXPECT_EQ(o.net.dns.ttl_seconds, 60);
  EXPECT_EQ(o.net.dns.policy, herd::http::DnsConfig::Policy::kAny);
  EXPECT_EQ(o.net.blacklist.size(), 2u);  // the environment replaces the script's list
  EXPECT_NE(o.net.blocked_hostnames.match("c.b.test"), nullptr);
  EXPECT_EQ(o.net.local_ips.get(7), "127.0.0.5");
  EXPECT_TRUE(o.net.no_vu_connection_reuse);
}

TEST(NetOptions, RefusalsNameTheOption) {
  EXPECT_NE(error_of(R"({"dns": {"select": "random"}})").find("options.dns.select: \"random\" is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"dns": {"colour": "blue"}})").find("options.dns.colour: unknown field"), std::string::npos);
  EXPECT_NE(error_of(R"({"tlsVersion": "ssl3.0"})").find("options.tlsVersion: ssl3.0 is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"tlsVersion": {"min": "tls1.3", "max": "tls1.2"}})").find("min must not be above max"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"tlsCipherSuites": ["TLS_AES_128_GCM_SHA256"]})").find("options.tlsCipherSuites: lists only"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"tlsAuth": [{"cert": "-----BEGIN", "key": "-----BEGIN"}]})")
                .find("options.tlsAuth[0].domains: must list at least one domain"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"hosts": ["a"]})").find("options.hosts: must be an object"), std::string::npos);
  EXPECT_NE(error_of("{}", {{"K6_LOCAL_IPS", "nope"}}).find("K6_LOCAL_IPS: invalid address"), std::string::npos);
  EXPECT_NE(error_of("{}", {{"K6_NO_VU_CONNECTION_REUSE", "yes"}}).find("K6_NO_VU_CONNECTION_REUSE: invalid boolean"),
            std::string::npos);
}

}  // namespace
