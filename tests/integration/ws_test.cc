// k6/ws and k6/websockets through the real binary against a real WebSocket
// server on loopback (Debian's python3-websockets, tests/integration/ws_server.py).
#include "ws_fixture.h"

namespace herd::it {
namespace {

TEST_F(WsTest, K6WsEchoesTextAndBinaryAnswersPingsAndCountsMetrics) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const got = [];
  let pong = false, opened = false, closed = 0;
  const res = ws.connect(__ENV.WS_URL + '/echo', { tags: { t: 'x' } }, function (socket) {
    socket.on('open', () => {
      opened = true;
      socket.send('héllo');
      const b = new Uint8Array([1, 2, 3, 250]);
      socket.sendBinary(b.buffer);
      socket.ping();
    });
    socket.on('message', (m) => got.push('text:' + m));
    socket.on('binaryMessage', (m) => got.push('bin:' + Array.from(new Uint8Array(m)).join(',')));
    socket.on('pong', () => { pong = true; });
    socket.on('close', (code) => { closed = code; });
    socket.setInterval(() => { if (got.length === 2 && pong) socket.close(); }, 10);
    socket.setTimeout(() => socket.close(), 5000);
  });
  check(res, {
    'status 101': (r) => r.status === 101,
    'opened': () => opened,
    'text echoed': () => got.includes('text:héllo'),
    'binary echoed': () => got.includes('bin:1,2,3,250'),
    'pong': () => pong,
    'closed with k6/ws\'s default code 1001': () => closed === 1001,
    'connect returned after the close': () => closed !== 0,
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 7);
  EXPECT_EQ(count(exp, "ws_sessions"), 1) << r;
  EXPECT_EQ(count(exp, "ws_msgs_sent"), 2) << r;
  EXPECT_EQ(count(exp, "ws_msgs_received"), 2) << r;
  EXPECT_GE(metric_value(exp, "ws_ping", "max"), 0) << r;
  EXPECT_GT(metric_value(exp, "ws_connecting", "max"), 0) << r;
  EXPECT_GT(metric_value(exp, "ws_session_duration", "max"), 0) << r;
}

TEST_F(WsTest, ServerCloseAbruptDropAndMalformedFramesReachTheScript) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
export const options = { iterations: 1 };
function session(path) {
  const out = { errors: [], code: 0, reason: '' };
  ws.connect(__ENV.WS_URL + path, null, function (socket) {
    socket.on('open', () => socket.send('go'));
    socket.on('error', (e) => out.errors.push(e.error()));
    socket.on('close', (code) => { out.code = code; });
    socket.setTimeout(() => socket.close(), 5000);
  });
  return out;
}
export default function () {
  const c = session('/close'), d = session('/drop'), bf = session('/badframe'), bu = session('/badutf8');
  check(null, {
    'server close code': () => c.code === 4001 && c.errors.length === 0,
    'abrupt drop is 1006 with an error': () => d.code === 1006 && d.errors.length === 1 && d.errors[0].includes('unexpected EOF'),
    'reserved bits: 1002': () => bf.code === 1002 && bf.errors.some((e) => e.includes('reserved bits')),
    'bad UTF-8: 1007': () => bu.code === 1007 && bu.errors.some((e) => e.includes('UTF-8')),
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
  EXPECT_LT(r.seconds, 10) << r;
}

TEST_F(WsTest, RefusedRejectedAndUnsupportedConnectionsGiveK6StyleErrors) {
  ProcResult r;
  RefusingPort refusing;
  std::string refused = "ws://127.0.0.1:" + std::to_string(refusing.port()) + "/";
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { iterations: 1 };
function thrown(f) { try { f(); return ''; } catch (e) { return String(e); } }
export default async function () {
  const rej = ws.connect(__ENV.WS_URL + '/reject', {}, () => { throw new Error('must not run'); });
  const ref = ws.connect(')JS" +
                        refused + R"JS(', {}, () => { throw new Error('must not run'); });
  const wss = ws.connect('wss://127.0.0.1:1/', {}, () => {});
  const bad = ws.connect('http://127.0.0.1:1/', {}, () => {});
  const comp = thrown(() => ws.connect(__ENV.WS_URL + '/echo', { compression: 'gzip' }, () => {}));
  const ev = await new Promise((resolve) => {
    const seen = [];
    const s = new WebSocket(')JS" +
                        refused + R"JS(');
    s.onerror = (e) => seen.push('error:' + e.error);
    s.onclose = (e) => { seen.push('close:' + e.code); resolve(seen); };
  });
  check(null, {
    '403 is a bad handshake': () => rej.status === 403 && rej.error === 'websocket: bad handshake',
    'refused': () => ref.status === 0 && ref.error.includes('connect: connection refused'),
    'wss to a closed port': () => wss.status === 0 && wss.error.includes('connect: connection refused'),
    'not a ws URL': () => bad.error.includes('malformed ws or wss URL'),
    'unknown compression refused': () => comp.includes('unsupported WebSocket compression algorithm "gzip"'),
    'WebSocket: error then close 1006': () => ev.length === 2 && ev[0].includes('connection refused') && ev[1] === 'close:1006',
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
  EXPECT_NE(r.err.find("Attempt to establish a WebSocket connection failed"), std::string::npos) << r;
}

TEST_F(WsTest, SubprotocolsHeadersAndCookiesFromTheJar) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import http from 'k6/http';
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';
export const options = { iterations: 1 };
function first(url, params) {
  let msg = null;
  const res = ws.connect(url, params, (s) => { s.on('message', (m) => { msg = m; s.close(); }); });
  return { res, msg };
}
export default async function () {
  http.cookieJar().set(__ENV.WS_URL.replace('ws:', 'http:') + '/headers', 'session', 'abc');
  const h = first(__ENV.WS_URL + '/headers', { headers: { 'X-Test': 'yes' } });
  const sp = first(__ENV.WS_URL + '/subproto', { headers: { 'Sec-WebSocket-Protocol': 'superchat' } });
  const proto = await new Promise((resolve) => {
    const s = new WebSocket(__ENV.WS_URL + '/subproto', ['chat', 'superchat']);
    s.onmessage = (e) => { s.close(); resolve(s.protocol + '/' + e.data); };
  });
  const hv = JSON.parse(h.msg);
  check(null, {
    'cookie from the VU jar': () => hv.cookie === 'session=abc',
    'custom header': () => hv.x === 'yes',
    'user agent': () => hv.ua.startsWith('herd/'),
    'k6/ws subprotocol by header': () => sp.msg === 'superchat',
    'WebSocket protocols': () => proto === 'chat/chat',
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 5);
}

TEST_F(WsTest, WebSocketClassWithManySocketsTimersBinaryTypesAndBlobs) {
  ProcResult r;
  json exp = run_ws(R"JS(
import { WebSocket, Blob } from 'k6/websockets';
import { setTimeout } from 'k6/timers';
import { check } from 'k6';
export const options = { iterations: 2, vus: 1 };
let results;
export default function () {
  results = { texts: 0, ab: 0, blobs: 0, closes: 0, states: [], listeners: 0 };
  for (let i = 0; i < 5; i++) {
    const s = new WebSocket(__ENV.WS_URL + '/echo');
    results.states.push(s.readyState);
    s.binaryType = i % 2 ? 'arraybuffer' : 'blob';
    s.addEventListener('open', () => {
      results.states.push(s.readyState);
      s.send('t' + i);
      s.send(new Uint8Array([i, 7]).buffer);
      s.send(new Blob(['b', new Uint8Array([66])]));
    });
    s.addEventListener('message', () => results.listeners++);
    let n = 0;
    s.onmessage = (e) => {
      if (typeof e.data === 'string') results.texts++;
      else if (e.data instanceof ArrayBuffer) results.ab++;
      else if (e.data instanceof Blob) e.data.text().then((t) => { if (t.length === 2) results.blobs++; });
      if (++n === 3) setTimeout(() => s.close(), 10);
    };
    s.onclose = () => { results.closes++; if (results.closes === 5) report(); };
  }
}
function report() {
  check(results, {
    'all sockets closed before the iteration ended': (r) => r.closes === 5,
    'texts': (r) => r.texts === 5,
    'arraybuffers (odd sockets)': (r) => r.ab === 4,
    'blobs (even sockets, as text)': (r) => r.blobs === 6,
    'connecting then open': (r) => r.states.slice(0, 5).every((x) => x === 0) && r.states.slice(5).every((x) => x === 1),
    'addEventListener and onmessage both fire': (r) => r.listeners === 15,
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 12);
  EXPECT_EQ(count(exp, "ws_sessions"), 10) << r;
  EXPECT_EQ(count(exp, "ws_msgs_sent"), 30) << r;
  EXPECT_EQ(count(exp, "ws_msgs_received"), 30) << r;
}

TEST_F(WsTest, SixteenMebibyteMessagesBothWays) {
  ProcResult r;
  json exp = run_ws(R"JS(
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { iterations: 1 };
export default async function () {
  const n = 16 * 1024 * 1024;
  const out = await new Promise((resolve) => {
    const s = new WebSocket(__ENV.WS_URL + '/echo');
    s.binaryType = 'arraybuffer';
    const got = [];
    s.onopen = () => {
      const b = new Uint8Array(n); b[0] = 1; b[n - 1] = 2;
      s.send(b.buffer);
      s.send('x'.repeat(n));
    };
    s.onmessage = (e) => { got.push(e.data); if (got.length === 2) { s.close(); resolve(got); } };
  });
  const b = new Uint8Array(out[0]);
  check(out, {
    'binary size and ends': () => b.length === n && b[0] === 1 && b[n - 1] === 2,
    'text size': () => out[1].length === n,
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
  EXPECT_GT(metric_value(exp, "data_received", "count"), 2 * 16 * 1024 * 1024) << r;
}

TEST_F(WsTest, PermessageDeflateCompressesBothWaysAndStopsAZipBomb) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { iterations: 1 };
function first(url, params) {
  let msg = null;
  ws.connect(url, params, (s) => { s.on('message', (m) => { msg = m; s.close(); }); });
  return msg;
}
export default async function () {
  const ext = first(__ENV.WS_URL + '/extensions', { compression: 'deflate' });
  const none = first(__ENV.WS_URL + '/extensions', {});
  const n = 4 * 1024 * 1024;
  const text = 'herd '.repeat(n / 5);
  const echoed = await new Promise((resolve) => {
    const s = new WebSocket(__ENV.WS_URL + '/echo', null, { compression: 'deflate' });
    s.binaryType = 'arraybuffer';
    const got = [];
    s.onopen = () => { for (let i = 0; i < 3; i++) s.send(text + i); s.send(new Uint8Array(n).buffer); s.send(''); };
    s.onmessage = (e) => { got.push(e.data); if (got.length === 5) { s.close(); resolve(got); } };
  });
  const bomb = { errors: [], code: 0 };
  ws.connect(__ENV.WS_URL + '/bomb', { compression: 'deflate' }, (s) => {
    s.on('open', () => s.send('go'));
    s.on('error', (e) => bomb.errors.push(e.error()));
    s.on('close', (code) => { bomb.code = code; });
    s.setTimeout(() => s.close(), 8000);
  });
  check(null, {
    'deflate negotiated when asked': () => ext === 'permessage-deflate',
    'not offered by default': () => none === '',
    'texts echoed (context takeover)': () => [0, 1, 2].every((i) => echoed[i] === text + i),
    'binary echoed': () => echoed[3].byteLength === n && new Uint8Array(echoed[3]).every((b) => b === 0),
    'empty message echoed': () => echoed[4] === '',
    'zip bomb: 1009 and the limit': () => bomb.code === 1009 && bomb.errors.length === 1 &&
        bomb.errors[0].includes('read limit exceeded'),
  });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
  // 16 MiB of compressible payload went each way: far fewer bytes on the wire.
  EXPECT_LT(metric_value(exp, "data_received", "count"), 2 * 1024 * 1024) << r;
  EXPECT_LT(metric_value(exp, "data_sent", "count"), 2 * 1024 * 1024) << r;
  EXPECT_LT(r.seconds, 20) << r;
}

TEST_F(WsTest, AThousandConcurrentSocketsOnTenVus) {
  ProcResult r;
  json exp = run_ws(R"JS(
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 10, iterations: 1 } } };
export default async function () {
  let open = 0, peak = 0;
  const done = [], sockets = [];
  for (let i = 0; i < 100; i++) {
    done.push(new Promise((resolve) => {
      const s = new WebSocket(__ENV.WS_URL + '/echo');
      sockets.push(s);
      // Nothing is sent before all 100 are open, so all 100 are open at once.
      s.onopen = () => { open++; peak = Math.max(peak, open); if (open === 100) for (const t of sockets) t.send('go'); };
      s.onmessage = () => { s.close(); };
      s.onclose = () => { open--; resolve(); };
    }));
  }
  await Promise.all(done);
  check(peak, { '100 open at once in this VU': (p) => p === 100 });
}
)JS",
                    &r, {"--summary-trend-stats", "avg,max"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
  EXPECT_EQ(count(exp, "ws_sessions"), 1000) << r;
  EXPECT_EQ(count(exp, "ws_msgs_received"), 1000) << r;
  EXPECT_LT(r.seconds, 30) << r;
}

TEST_F(WsTest, GracefulStopClosesOpenSockets) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
export const options = {
  scenarios: {
    legacy: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '500ms', exec: 'legacy' },
    modern: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '500ms', exec: 'modern' },
  },
};
export function legacy() { ws.connect(__ENV.WS_URL + '/silent', {}, () => {}); }
export function modern() { for (let i = 0; i < 3; i++) new WebSocket(__ENV.WS_URL + '/silent'); }
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_EQ(count(exp, "ws_sessions"), 2 + 6) << r;
}

}  // namespace
}  // namespace herd::it
