// k6's network options end to end through `herd run`, in both HTTP transports
// (the built-in client and HERD_HTTP_CLIENT=curl): hosts, blockHostnames,
// blacklistIPs, localIPs, connection reuse, batch limits, userAgent,
// discardResponseBodies, throw; the TLS options and response fields against
// `openssl s_server` with a CA, server and client certificates made by the
// test; and the options herd refuses by name.
#include "harness.h"

namespace herd::it {
namespace {

class NetTest : public HerdTest {
 protected:
  /// Replaces every PORT in `script` with the target's port.
  std::string with_port(std::string script) const {
    const std::string p = std::to_string(port());
    for (std::size_t at; (at = script.find("PORT")) != std::string::npos;) script.replace(at, 4, p);
    return script;
  }

  /// Runs `script` in both transports and expects every check to pass, `passes` in all.
  void expect_checks_in_both(const std::string& script, long passes) {
    for (bool curl : {false, true}) {
      ProcResult r;
      std::map<std::string, std::string> env;
      if (curl) env["HERD_HTTP_CLIENT"] = "curl";
      json exp = run_export(with_port(script), &r, {}, env);
      ASSERT_EQ(r.exit_code, 0) << (curl ? "curl\n" : "built-in\n") << r;
      EXPECT_ALL_CHECKS_PASS(exp, r, passes);
    }
  }
};

TEST_F(NetTest, HostsBlockHostnamesAndBlacklistIPs) {
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  iterations: 1,
  hosts: { 'api.herd.test': '127.0.0.1:PORT', '*.wild.herd.test': '127.0.0.1' },
  blockHostnames: ['*.blocked.herd.test'],
  blacklistIPs: ['127.0.0.2/32'],
};
export default function () {
  check(http.get('http://api.herd.test/echo'), {
    'mapped name reaches the target': (r) => r.status === 200 && r.json('headers.Host') === 'api.herd.test',
    'url stays the name': (r) => r.url === 'http://api.herd.test/echo',
  });
  check(http.get('http://x.wild.herd.test:PORT/echo'), {
    'wildcard': (r) => r.status === 200 && r.json('headers.Host') === 'x.wild.herd.test:PORT',
  });
  check(http.get('http://a.blocked.herd.test/'), {
    'blocked name': (r) => r.status === 0 && r.error_code === 1111 &&
        r.error === 'hostname (a.blocked.herd.test) is in a blocked pattern (*.blocked.herd.test)',
  });
  check(http.get('http://127.0.0.2:PORT/'), {
    'blacklisted address': (r) => r.status === 0 && r.error_code === 1110 &&
        r.error === 'IP (127.0.0.2) is in a blacklisted range (127.0.0.2/32)',
  });
}
)JS",
                        5);
}

// k6's flags for the network options: the same effect as the options, and a bad
// value names the flag.
TEST_F(NetTest, NetworkFlagsActLikeTheirOptions) {
  const std::string script = with_port(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, hosts: { 'a.blocked.herd.test': '127.0.0.1:PORT' } };
export default function () {
  check(http.get('http://a.blocked.herd.test/'), {
    'blocked by --block-hostnames': (r) => r.error_code === 1111,
  });
  check(http.get('http://127.0.0.3:PORT/'), {
    'refused by --blacklist-ip': (r) => r.error_code === 1110 && r.error.includes('(127.0.0.3/32)'),
  });
  check(http.get('http://127.0.0.1:PORT/'), { 'others pass': (r) => r.status === 200 });
}
)JS");
  ProcResult r;
  json exp = run_export(script, &r,
                        {"--block-hostnames", "*.blocked.herd.test", "--blacklist-ip", "127.0.0.2/32", "--blacklist-ip",
                         "127.0.0.3/32", "--no-vu-connection-reuse", "--batch", "3"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);
  ProcResult inspect = run_spec({.args = {"inspect", "--batch", "3", "--batch-per-host", "2", "--no-connection-reuse",
                                          "--dns", "ttl=1m,select=first,policy=onlyIPv4", "script.js"}});
  ASSERT_EQ(inspect.exit_code, 0) << inspect;
  json opts = json::parse(inspect.out);
  EXPECT_EQ(opts.value("batch", 0), 3) << inspect.out;
  EXPECT_EQ(opts.value("batchPerHost", 0), 2) << inspect.out;
  EXPECT_EQ(opts.value("noConnectionReuse", false), true) << inspect.out;
  ProcResult bad = run_script("export default function () {}\n", {"--local-ips", "127.0.0.9-127.0.0.1"});
  EXPECT_EQ(bad.exit_code, 104) << bad;
  EXPECT_NE(bad.err.find("--local-ips: invalid address, range or CIDR"), std::string::npos) << bad;
  bad = run_script("export default function () {}\n", {"--dns", "select=roundRobin"});
  EXPECT_EQ(bad.exit_code, 104) << bad;
  EXPECT_NE(bad.err.find("--dns.select: \"roundRobin\" is not supported"), std::string::npos) << bad;
}

TEST_F(NetTest, ThrowTurnsABlockedRequestIntoAnException) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1, throw: true, blockHostnames: ['blocked.herd.test'] };
export default function () {
  try {
    http.get('http://blocked.herd.test/');
    console.log('no exception');
  } catch (e) {
    console.log('caught: ' + e.message);
  }
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("caught: hostname (blocked.herd.test) is in a blocked pattern (blocked.herd.test)"),
            std::string::npos)
      << r;
}

TEST_F(NetTest, LocalIPsGiveEachVuItsSourceAddress) {
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  localIPs: '127.0.0.2-127.0.0.3',
  scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 1 } },
};
export default function () {
  const want = ['127.0.0.2', '127.0.0.3'][(__VU - 1) % 2];
  check(http.get(`${__ENV.BASE_URL}/peer`), { 'source address': (r) => r.json('ip') === want });
}
)JS",
                        3);
}

TEST_F(NetTest, NoConnectionReuseAndNoVUConnectionReuse) {
  // /peer answers with the client's port: a new port is a new connection.
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, noConnectionReuse: true };
export default function () {
  const ports = [1, 2, 3].map(() => http.get(`${__ENV.BASE_URL}/peer`).json('port'));
  check(ports, { 'three connections': (p) => new Set(p).size === 3 });
}
)JS",
                        1);
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3, noVUConnectionReuse: true };
let last = 0;
export default function () {
  const a = http.get(`${__ENV.BASE_URL}/peer`).json('port');
  const b = http.get(`${__ENV.BASE_URL}/peer`).json('port');
  check(null, { 'reused within the iteration': () => a === b, 'new in each iteration': () => a !== last });
  last = a;
}
)JS",
                        6);
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3 };
let first = 0;
export default function () {
  const a = http.get(`${__ENV.BASE_URL}/peer`).json('port');
  if (first === 0) first = a;
  check(null, { 'kept across iterations by default': () => a === first });
}
)JS",
                        3);
}

TEST_F(NetTest, BatchAndBatchPerHostLimitParallelRequests) {
  // Six 300 ms requests, three per host name: two at a time take >= 900 ms, two per
  // host (both hosts at once) about 600 ms, six at a time about 300 ms.
  const std::string script = R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, OPTS };
export default function () {
  const b = __ENV.BASE_URL, l = `http://localhost:PORT`;
  const t0 = Date.now();
  const res = http.batch([`${b}/delay/300`, `${b}/delay/300`, `${b}/delay/300`,
                          `${l}/delay/300`, `${l}/delay/300`, `${l}/delay/300`]);
  const took = Date.now() - t0;
  check(res, { 'all ok': (rs) => rs.every((r) => r.status === 200), 'time': () => CHECK });
}
)JS";
  auto variant = [&](const std::string& opts, const std::string& check) {
    std::string s = script;
    s.replace(s.find("OPTS"), 4, opts);
    s.replace(s.find("CHECK"), 5, check);
    return s;
  };
  expect_checks_in_both(variant("batchPerHost: 2", "took >= 600 && took < 850"), 2);
  expect_checks_in_both(variant("batch: 2, batchPerHost: 0", "took >= 900"), 2);
  expect_checks_in_both(variant("batch: 6, batchPerHost: 6", "took < 850"), 2);
}

TEST_F(NetTest, UserAgentAndDiscardResponseBodies) {
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, userAgent: 'net-test/1.0', discardResponseBodies: true };
export default function () {
  check(http.get(`${__ENV.BASE_URL}/bytes/100`), { 'discarded': (r) => r.status === 200 && r.body === null });
  check(http.get(`${__ENV.BASE_URL}/headers`, { responseType: 'text' }), {
    'user agent': (r) => r.json('headers.User-Agent') === 'net-test/1.0',
  });
}
)JS",
                        2);
}

TEST_F(NetTest, DnsOptionsThatWorkAreAccepted) {
  expect_checks_in_both(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, dns: { ttl: '1m', select: 'first', policy: 'onlyIPv4' } };
export default function () {
  check(http.get(`http://localhost:PORT/peer`), { 'ipv4 localhost': (r) => r.status === 200 && r.remote_ip === '127.0.0.1' });
}
)JS",
                        1);
}

TEST_F(NetTest, UnsupportedNetworkOptionsAreRefusedByName) {
  struct Case {
    std::string options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"dns: { select: 'random' }", "options.dns.select: \"random\" is not supported"},
      {"dns: { select: 'roundRobin' }", "options.dns.select: \"roundRobin\" is not supported"},
      {"dns: { policy: 'sometimes' }", "options.dns.policy: must be one of"},
      {"hosts: { 'a.test': 'not-an-ip' }", "options.hosts.a.test: invalid address \"not-an-ip\""},
      {"blacklistIPs: ['10.0.0.0/99']", "options.blacklistIPs: invalid CIDR \"10.0.0.0/99\""},
      {"blockHostnames: ['a*b']", "options.blockHostnames: invalid host name pattern \"a*b\""},
      {"localIPs: '127.0.0.9-127.0.0.1'", "options.localIPs: invalid address, range or CIDR"},
      {"tlsVersion: 'tls9'", "options.tlsVersion: unknown TLS version \"tls9\""},
      {"tlsCipherSuites: ['TLS_NOPE']", "options.tlsCipherSuites[0]: unknown cipher suite \"TLS_NOPE\""},
      {"tlsAuth: [{ domains: ['a.test'], cert: 'x', key: 'y' }]", "options.tlsAuth[0].cert: must be a PEM"},
  };
  for (const Case& c : cases) {
    ProcResult r =
        run_script("export const options = { iterations: 1, " + c.options + " };\nexport default function () {}\n");
    EXPECT_EQ(r.exit_code, 104) << c.options << "\n" << r;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.options << "\n" << r;
  }
  ProcResult env = run_script("export default function () {}\n", {}, {{"K6_DNS", "ttl=1m,select=roundRobin"}});
  EXPECT_EQ(env.exit_code, 104) << env;
  EXPECT_NE(env.err.find("K6_DNS.select: \"roundRobin\" is not supported"), std::string::npos) << env;
}

}  // namespace
}  // namespace herd::it
