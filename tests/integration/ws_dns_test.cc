// WebSocket host names resolved on the event loop (c-ares, src/ws/resolver.cc)
// against a real DNS server on loopback (tests/integration/dns_server.py, pointed
// at with HERD_DNS_SERVERS), and the WebSocket server of ws_fixture.h.
#include "ws_fixture.h"

namespace herd::it {
namespace {

class WsDnsTest : public WsTest {
 protected:
  void SetUp() override {
    WsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    start_dns();
  }
  std::map<std::string, std::string> dns_env(std::map<std::string, std::string> extra = {}) {
    extra.emplace("HERD_DNS_SERVERS", "127.0.0.1:" + dns_port_);
    return extra;
  }
};

// (a) and (b): a VU waiting on a slow lookup yields its fiber. The DNS server holds the
// answer for slow.herd.test until 10 more lookups of echo.herd.test reached it: only the
// other VU, on the same (single) worker thread, makes them. A lookup that blocked the
// thread would hold both VUs, and the server would answer SERVFAIL after 20 s.
TEST_F(WsDnsTest, AVuWaitingOnASlowLookupLetsTheOtherVusOfItsWorkerRun) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const fastSessions = new Counter('fast_sessions');
export const options = {
  dns: { ttl: '0' },
  scenarios: {
    slow: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'slow' },
    fast: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'fast' },
  },
};
const url = (name, path) => 'ws://' + name + ':' + __ENV.WS_PORT + path;
export function slow() {
  let got = '';
  const res = ws.connect(url('slow.herd.test', '/echo'), (s) => {
    s.on('open', () => s.send('through a name'));
    s.on('message', (m) => { got = m; s.close(); });
  });
  check(res, { 'slow.herd.test resolved, connected and echoed': (r) => r.status === 101 && got === 'through a name' });
}
export function fast() {
  for (let i = 0; i < 400; i++) {
    const res = ws.connect(url('echo.herd.test', '/echo'), (s) => { s.on('open', () => s.close()); });
    if (res.status === 101) fastSessions.add(1);
    if (ws.connect(url('released.herd.test', '/echo'), (s) => { s.on('open', () => s.close()); }).status === 101) return;
  }
}
)JS",
                    &r, {"--workers", "1"}, dns_env());
  ASSERT_EQ(r.exit_code, 0) << r << dns_log();
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
  EXPECT_NE(dns_log().find("released slow.herd.test after 10 echo.herd.test queries"), std::string::npos) << dns_log();
  EXPECT_GE(count(exp, "fast_sessions"), 10) << r;
}

// (c) NXDOMAIN and a lookup that times out (HERD_DNS_TIMEOUT) give k6-style errors:
// ws.connect returns them (the iteration goes on), or throws them with throw: true.
TEST_F(WsDnsTest, UnknownNamesAndLookupTimeoutsGiveK6StyleErrors) {
  const std::string script = R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { iterations: 1, throw: __ENV.THROW === '1' };
const url = (name) => 'ws://' + name + ':' + __ENV.WS_PORT + '/echo';
export default async function () {
  const nx = ws.connect(url('nope.herd.test'), () => {});
  const to = ws.connect(url('silent.herd.test'), () => {});
  const ev = await new Promise((resolve) => {
    const seen = [];
    const s = new WebSocket(url('nope.herd.test'));
    s.onerror = (e) => seen.push('error:' + e.error);
    s.onclose = (e) => { seen.push('close:' + e.code); resolve(seen); };
  });
  check(null, {
    'NXDOMAIN': () => nx.status === 0 && nx.error === 'dial tcp: lookup nope.herd.test: no such host',
    'timeout': () => to.status === 0 && to.error === 'dial tcp: lookup silent.herd.test: i/o timeout',
    'WebSocket: error then close 1006': () => ev.length === 2 &&
        ev[0] === 'error:dial tcp: lookup nope.herd.test: no such host' && ev[1] === 'close:1006',
  });
}
)JS";
  ProcResult r;
  json exp = run_ws(script, &r, {}, dns_env({{"HERD_DNS_TIMEOUT", "1s"}}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);
  EXPECT_LT(r.seconds, 15) << r;
  EXPECT_NE(r.err.find("Attempt to establish a WebSocket connection failed: dial tcp: lookup nope.herd.test: "
                       "no such host"),
            std::string::npos)
      << r;
  // throw: true: ws.connect throws the lookup error, which ends the iteration.
  ProcResult t;
  json texp = run_ws(script, &t, {}, dns_env({{"HERD_DNS_TIMEOUT", "1s"}, {"THROW", "1"}}));
  EXPECT_EQ(t.exit_code, 0) << t;
  EXPECT_EQ(total_check_passes(texp), 0) << t;
  EXPECT_NE(t.err.find("dial tcp: lookup nope.herd.test: no such host"), std::string::npos) << t;
  EXPECT_EQ(t.err.find("silent.herd.test"), std::string::npos) << t;
}

// (d) blockHostnames refuses a name before any lookup; blacklistIPs refuses the address a
// name resolved to; other names still connect. dns.policy picks the family.
TEST_F(WsDnsTest, BlockedNamesBlacklistedAddressesAndThePolicyApplyToResolvedNames) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = {
  iterations: 1,
  blockHostnames: ['*.blocked.herd.test'],
  blacklistIPs: ['127.0.0.2/32'],
};
const url = (name) => 'ws://' + name + ':' + __ENV.WS_PORT + '/echo';
export default function () {
  const blocked = ws.connect(url('a.blocked.herd.test'), () => {});
  const listed = ws.connect(url('other.herd.test'), () => {});
  const ok = ws.connect(url('echo.herd.test'), (s) => { s.on('open', () => s.close()); });
  const again = ws.connect(url('echo.herd.test'), (s) => { s.on('open', () => s.close()); });
  check(null, {
    'blocked name': () => blocked.error === 'hostname (a.blocked.herd.test) is in a blocked pattern (*.blocked.herd.test)',
    'blacklisted address': () => listed.error === 'IP (127.0.0.2) is in a blacklisted range (127.0.0.2/32)',
    'allowed name, twice': () => ok.status === 101 && again.status === 101,
  });
}
)JS",
                    &r, {}, dns_env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);
  EXPECT_EQ(dns_log().find("blocked.herd.test"), std::string::npos) << "a blocked name was looked up\n" << dns_log();
  EXPECT_NE(dns_log().find("query other.herd.test"), std::string::npos) << dns_log();
  // dns.ttl (k6's default 5m): the second connect used the worker's cached answer.
  EXPECT_EQ(count_occurrences(dns_log(), "query echo.herd.test 1\n"), 1) << dns_log();

  const std::string policy = R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1, dns: { policy: __ENV.POLICY } };
const url = (name) => 'ws://' + name + ':' + __ENV.WS_PORT + '/echo';
export default function () {
  const dual = ws.connect(url('dual.herd.test'), (s) => { s.on('open', () => s.close()); });
  const v6 = ws.connect(url('v6.herd.test'), (s) => { s.on('open', () => s.close()); });
  console.log('dual=' + (dual.error || dual.status) + ' v6=' + (v6.error || v6.status));
}
)JS";
  ProcResult p4, p6;
  run_ws(policy, &p4, {}, dns_env({{"POLICY", "onlyIPv4"}}));
  EXPECT_NE(p4.err.find("dual=101 v6=dial tcp: lookup v6.herd.test: no such host"), std::string::npos) << p4;
  run_ws(policy, &p6, {}, dns_env({{"POLICY", "preferIPv6"}}));
  // The server listens on 127.0.0.1 only: ::1 is dialled (refused, or unreachable without IPv6).
  EXPECT_NE(p6.err.find("dual=dial tcp [::1]:" + ws_port_ + ": connect: "), std::string::npos) << p6;
}

TEST_F(WsDnsTest, InvalidDnsServersAreAClearError) {
  ProcResult r;
  run_ws(R"JS(
import ws from 'k6/ws';
export const options = { iterations: 1 };
export default function () {
  const res = ws.connect('ws://echo.herd.test:' + __ENV.WS_PORT + '/echo', () => {});
  console.log('error=' + res.error);
}
)JS",
         &r, {}, {{"HERD_DNS_SERVERS", "dns.example:53"}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("error=dial tcp: lookup echo.herd.test: HERD_DNS_SERVERS: \\\"dns.example:53\\\" is not an IP "
                       "address with an optional port"),
            std::string::npos)
      << r;
}

}  // namespace
}  // namespace herd::it
