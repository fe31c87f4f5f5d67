// wss:// (TLS on the event loop, src/ws/tls.cc) and the network options on
// WebSocket URLs (hosts, insecureSkipTLSVerify, tlsAuth), through the real
// binary against tests/integration/ws_server.py in its TLS mode, with a CA and
// certificates the test makes with the openssl CLI.
#include <fstream>

#include "ws_fixture.h"

namespace herd::it {
namespace {

bool make_pki(const std::string& dir) {
  std::string sh = R"SH(set -e
q() { "$@" >/dev/null 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
q openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=herd-wss-test-ca
q openssl req $ec -keyout key.pem -out server.csr -subj /CN=wss.test
printf 'subjectAltName=DNS:wss.test,IP:127.0.0.1\n' > san.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 1 -extfile san.ext
q openssl req $ec -keyout client.key -out client.csr -subj /CN=herd-wss-client
q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1
)SH";
  std::ofstream(dir + "/pki.sh") << sh;
  return std::system(("cd '" + dir + "' && bash pki.sh").c_str()) == 0;
}

class WssTest : public PythonServerTest {
 protected:
  void SetUp() override {
    PythonServerTest::SetUp();
    require_python_websockets();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(make_pki(dir_.path())) << "openssl could not make the test certificates";
    ASSERT_GT(start_python("ws_server.py", {dir_.path()}, "ws-port", "ws-server.log", &port_), 0)
        << "the WebSocket server did not start: " << dir_.read("ws-server.log");
  }
  /// Runs `script` with WSS_PORT set; `trust_ca` trusts the test's CA (SSL_CERT_FILE).
  json run_wss(const std::string& script, ProcResult* r, bool trust_ca) {
    std::map<std::string, std::string> env{{"WSS_PORT", port_}};
    if (trust_ca) env["SSL_CERT_FILE"] = dir_.path() + "/ca.pem";
    return run_export(script, r, {}, env);
  }

  std::string port_;
};

TEST_F(WssTest, EchoVerifiedByNameThroughHostsAndByIp) {
  ProcResult r;
  json exp = run_wss(R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { iterations: 1, hosts: { 'wss.test': '127.0.0.1' } };
function echo(url) {
  let got = '';
  const res = ws.connect(url, {}, (s) => {
    s.on('open', () => s.send('héllo over tls'));
    s.on('message', (m) => { got = m; s.close(); });
    s.setTimeout(() => s.close(), 5000);
  });
  return { status: res.status, error: res.error, got };
}
export default async function () {
  const byName = echo('wss://wss.test:' + __ENV.WSS_PORT + '/echo');
  const byIp = echo('wss://127.0.0.1:' + __ENV.WSS_PORT + '/echo');
  const modern = await new Promise((resolve) => {
    const s = new WebSocket('wss://wss.test:' + __ENV.WSS_PORT + '/peercert');
    s.onmessage = (e) => { s.close(); resolve(e.data); };
    s.onerror = (e) => resolve('error: ' + e.error);
  });
  check(null, {
    'by name (hosts, SNI, name check)': () => byName.status === 101 && byName.got === 'héllo over tls',
    'by IP (IP SAN check)': () => byIp.status === 101 && byIp.got === 'héllo over tls',
    'WebSocket class over TLS, no client cert': () => modern === 'client cert: none',
  });
}
)JS",
                     &r, true);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);
  EXPECT_EQ(metric_value(exp, "ws_sessions", "count"), 3) << r;
}

TEST_F(WssTest, VerificationFailuresAndInsecureSkipTlsVerify) {
  ProcResult r;
  json exp = run_wss(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1, blockHostnames: ['*.blocked.test'] };
function echo(url) {
  let got = '';
  const res = ws.connect(url, {}, (s) => {
    s.on('open', () => s.send('x'));
    s.on('message', (m) => { got = m; s.close(); });
  });
  return { status: res.status, error: res.error || '', got };
}
export default function () {
  const unknown = echo('wss://127.0.0.1:' + __ENV.WSS_PORT + '/echo');
  const plainToTls = echo('ws://127.0.0.1:' + __ENV.WSS_PORT + '/echo');
  const blocked = echo('wss://a.blocked.test:' + __ENV.WSS_PORT + '/echo');
  check(null, {
    'blockHostnames applies': () => blocked.status === 0 &&
        blocked.error === 'hostname (a.blocked.test) is in a blocked pattern (*.blocked.test)',
    'unknown authority': () => unknown.status === 0 &&
        unknown.error === 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'ws:// to a TLS port is a bad handshake': () => plainToTls.status === 0 && plainToTls.error.includes('websocket: '),
  });
}
)JS",
                     &r, false);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);

  json mismatch = run_wss(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1, hosts: { 'other.test': '127.0.0.1' } };
export default function () {
  const res = ws.connect('wss://other.test:' + __ENV.WSS_PORT + '/echo', {}, () => {});
  check(res, { 'name mismatch': (x) => x.status === 0 &&
      x.error === 'tls: failed to verify certificate: x509: certificate is not valid for other.test' });
}
)JS",
                          &r, true);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(mismatch, r, 1);

  json insecure = run_wss(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1, insecureSkipTLSVerify: true, hosts: { 'other.test': '127.0.0.1' } };
export default function () {
  let got = '';
  const res = ws.connect('wss://other.test:' + __ENV.WSS_PORT + '/echo', {}, (s) => {
    s.on('open', () => s.send('skip'));
    s.on('message', (m) => { got = m; s.close(); });
  });
  check(res, { 'insecureSkipTLSVerify connects': (x) => x.status === 101 && got === 'skip' });
}
)JS",
                          &r, false);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(insecure, r, 1);
}

TEST_F(WssTest, SixteenMebibytesAnAbruptDropAndAClientCertificate) {
  ProcResult r;
  json exp = run_wss(R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = {
  iterations: 1,
  tlsAuth: [{ domains: ['127.0.0.1'], cert: open('./client.pem'), key: open('./client.key') }],
};
const base = 'wss://127.0.0.1:' + __ENV.WSS_PORT;
export default async function () {
  const n = 16 * 1024 * 1024;
  const big = await new Promise((resolve) => {
    const s = new WebSocket(base + '/echo');
    s.binaryType = 'arraybuffer';
    const got = [];
    s.onopen = () => {
      const b = new Uint8Array(n); b[0] = 1; b[n - 1] = 2;
      s.send(b.buffer);
      s.send('x'.repeat(n));
    };
    s.onmessage = (e) => { got.push(e.data); if (got.length === 2) { s.close(); resolve(got); } };
    s.onerror = (e) => resolve(['error: ' + e.error]);
  });
  const drop = { errors: [], code: 0 };
  ws.connect(base + '/drop', {}, (s) => {
    s.on('open', () => s.send('go'));
    s.on('error', (e) => drop.errors.push(e.error()));
    s.on('close', (code) => { drop.code = code; });
    s.setTimeout(() => s.close(), 5000);
  });
  let who = '';
  ws.connect(base + '/peercert', {}, (s) => { s.on('message', (m) => { who = m; s.close(); }); });
  const b = new Uint8Array(big[0]);
  check(null, {
    '16 MiB binary over TLS': () => b.length === n && b[0] === 1 && b[n - 1] === 2,
    '16 MiB text over TLS': () => big.length === 2 && big[1].length === n,
    'abrupt drop: 1006 with unexpected EOF': () => drop.code === 1006 && drop.errors.length === 1 &&
        drop.errors[0].includes('unexpected EOF'),
    'tlsAuth certificate offered': () => who === 'client cert: herd-wss-client',
  });
}
)JS",
                     &r, true);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
  EXPECT_GT(metric_value(exp, "data_received", "count"), 2 * 16 * 1024 * 1024) << r;
  EXPECT_LT(r.seconds, 30) << r;
}

}  // namespace
}  // namespace herd::it
