// End-to-end tests of k6/http through the real `herd run` binary against the
// in-process loopback target.
#include "harness.h"

namespace herd::it {
namespace {

using HttpTest = HerdTest;

TEST_F(HttpTest, EveryMethodReachesTheTarget) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const U = `${__ENV.BASE_URL}/echo`;
function echoed(res, method, body) {
  const j = res.json();
  return res.status === 200 && j.method === method && (body === undefined || j.body === body);
}
export default function () {
  check(http.get(`${U}?a=1&b=x%20y`), {
    'get': (r) => echoed(r, 'GET') && r.json('args.a') === '1' && r.json('args.b') === 'x y',
  });
  check(http.post(U, 'post-body'), { 'post': (r) => echoed(r, 'POST', 'post-body') });
  check(http.put(U, 'put-body'), { 'put': (r) => echoed(r, 'PUT', 'put-body') });
  check(http.patch(U, 'patch-body'), { 'patch': (r) => echoed(r, 'PATCH', 'patch-body') });
  check(http.del(U), { 'del': (r) => echoed(r, 'DELETE') });
  check(http.options(U), { 'options': (r) => echoed(r, 'OPTIONS') });
  check(http.request('PUT', U, 'req-body'), { 'request': (r) => echoed(r, 'PUT', 'req-body') });
  check(http.request('get', U), { 'request lower-case method': (r) => echoed(r, 'GET') });
  check(http.post(U, { a: 'x y', b: 1 }), {
    'form body': (r) => r.json('body') === 'a=x+y&b=1' &&
        r.json('headers.Content-Type') === 'application/x-www-form-urlencoded',
  });
  check(http.post(U, JSON.stringify({ k: 'v' }), { headers: { 'Content-Type': 'application/json' } }), {
    'json body': (r) => JSON.parse(r.json('body')).k === 'v' && r.json('headers.Content-Type') === 'application/json',
  });
  const h = http.head(`${__ENV.BASE_URL}/json`);
  check(h, {
    'head status': (r) => r.status === 200,
    'head has no body': (r) => r.body === '' || r.body === null,
    'head content-length': (r) => Number(r.headers['Content-Length']) > 50,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 13);
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 11) << r;
}

TEST_F(HttpTest, BatchArrayAndObjectForms) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  const arr = http.batch([
    `${B}/status/201`,
    ['POST', `${B}/echo`, 'arr-body', { headers: { 'X-Batch': 'arr' } }],
    { method: 'PUT', url: `${B}/echo`, body: 'obj-body' },
    { url: `${B}/delay/100` },
  ]);
  check(arr, {
    'array result': (a) => Array.isArray(a) && a.length === 4,
    'array[0] status': (a) => a[0].status === 201,
    'array[1] post': (a) => a[1].json('method') === 'POST' && a[1].json('body') === 'arr-body' &&
        a[1].json('headers.X-Batch') === 'arr',
    'array[2] put': (a) => a[2].json('method') === 'PUT' && a[2].json('body') === 'obj-body',
    'array[3] delayed': (a) => a[3].status === 200 && a[3].body === 'ok',
  });
  const obj = http.batch({
    first: `${B}/status/202`,
    second: { method: 'GET', url: `${B}/json` },
    third: ['GET', `${B}/status/404`],
  });
  check(obj, {
    'object keys': (o) => !Array.isArray(o) && Object.keys(o).sort().join(',') === 'first,second,third',
    'object first': (o) => o.first.status === 202,
    'object second': (o) => o.second.json('name') === 'herd',
    'object third': (o) => o.third.status === 404,
  });
  // Batched requests run in parallel: 3 x 300ms well under 900ms.
  const t0 = Date.now();
  http.batch([`${B}/delay/300`, `${B}/delay/300`, `${B}/delay/300`]);
  const took = Date.now() - t0;
  check(took, { 'batch is concurrent': (t) => t < 800 });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 10) << r;
}

TEST_F(HttpTest, ParamsHeadersAndUserAgent) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const res = http.get(`${__ENV.BASE_URL}/headers`, { headers: { 'X-Custom-Thing': 'v1', Accept: 'text/plain' } });
  const hs = res.json('headers');
  check(hs, {
    'custom header sent': (h) => h['X-Custom-Thing'] === 'v1',
    'accept sent': (h) => h['Accept'] === 'text/plain',
    'a user agent is sent': (h) => typeof h['User-Agent'] === 'string' && h['User-Agent'].length > 0,
  });
  const ua = http.get(`${__ENV.BASE_URL}/headers`, { headers: { 'User-Agent': 'mine/1.0' } });
  check(ua, { 'user agent overridable': (r) => r.json('headers.User-Agent') === 'mine/1.0' });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
}

TEST_F(HttpTest, RequestTagsAndNameTagInThresholds) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = {
  iterations: 3,
  thresholds: {
    'http_reqs{name:ItemById}': ['count==3'],
    'http_reqs{kind:custom}': ['count==6'],
    'http_req_duration{name:ItemById}': ['max<5000'],
  },
};
export default function () {
  http.get(`${__ENV.BASE_URL}/echo?id=${__ITER}`, { tags: { name: 'ItemById', kind: 'custom' } });
  http.get(`${__ENV.BASE_URL}/json`, { tags: { kind: 'custom' } });
}
)JS",
                        &r, {"--out", "json=out.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "http_reqs{name:ItemById}", "count"), 3) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "http_reqs{kind:custom}", "count"), 6);
  EXPECT_EQ(exp["metrics"]["http_reqs{name:ItemById}"]["thresholds"]["count==3"], false);
  // Every sample of the named requests carries name=ItemById and the real url.
  std::istringstream in(dir_.read("out.json"));
  std::string line;
  int named = 0, json_name = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("type", "") != "Point" || j.value("metric", "") != "http_reqs") continue;
    const json& tags = j["data"]["tags"];
    if (tags.value("name", "") == "ItemById") {
      named++;
      EXPECT_EQ(tags.value("kind", ""), "custom");
      EXPECT_NE(tags.value("url", "").find("/echo?id="), std::string::npos) << tags.dump();
      EXPECT_EQ(tags.value("method", ""), "GET");
      EXPECT_EQ(tags.value("status", ""), "200");
    }
    if (tags.value("name", "") == base_url() + "/json") json_name++;
  }
  EXPECT_EQ(named, 3);
  EXPECT_EQ(json_name, 3) << "the name tag defaults to the URL";
}

TEST_F(HttpTest, TimeoutGivesErrorCode1050) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const t0 = Date.now();
  const res = http.get(`${__ENV.BASE_URL}/delay/3000`, { timeout: '300ms' });
  const took = Date.now() - t0;
  check(res, {
    'timeout status 0': (r) => r.status === 0,
    'timeout error_code 1050': (r) => r.error_code === 1050,
    'timeout error text': (r) => typeof r.error === 'string' && r.error.length > 0,
  });
  check(took, { 'gave up near the timeout': (t) => t >= 250 && t < 2500 });
  const ok = http.get(`${__ENV.BASE_URL}/delay/50`, { timeout: 2000 });
  check(ok, { 'numeric timeout in ms is enough': (r) => r.status === 200 && r.error_code === 0 });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 5);
  EXPECT_DOUBLE_EQ(metric_value(exp, "http_req_failed", "value"), 0.5) << exp["metrics"].dump();
  EXPECT_NE(r.err.find("Request Failed"), std::string::npos) << r;
}

TEST_F(HttpTest, RedirectsAreFollowedOrReturned) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  check(http.get(`${B}/redirect/3`), {
    'followed to the end': (r) => r.status === 200 && r.body === 'ok',
    'final url': (r) => r.url === `${B}/`,
  });
  check(http.get(`${B}/redirect/3`, { redirects: 0 }), {
    'redirects:0 returns the 302': (r) => r.status === 302 && r.headers['Location'] === '/redirect/2',
    'redirects:0 keeps the url': (r) => r.url === `${B}/redirect/3`,
  });
  check(http.get(`${B}/redirect/3`, { redirects: 1 }), {
    'redirects:1 stops at the second 302': (r) => r.status === 302 && r.url === `${B}/redirect/2`,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 5);
  // k6 counts every hop: 4 + 1 + 2.
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 7) << exp["metrics"].dump();
}

TEST_F(HttpTest, MaxRedirectsOptionIsRespected) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, maxRedirects: 2 };
export default function () {
  check(http.get(`${__ENV.BASE_URL}/redirect/5`), { 'stopped after 2 hops': (r) => r.status === 302 && r.url.endsWith('/redirect/3') });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
}

TEST_F(HttpTest, ResponseTypesTextBinaryNone) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  check(http.get(`${B}/bytes/30`), { 'text body is a string': (r) => typeof r.body === 'string' && r.body.length === 30 && r.body.startsWith('abc') });
  check(http.get(`${B}/bytes/30`, { responseType: 'binary' }), {
    'binary body is an ArrayBuffer': (r) => r.body instanceof ArrayBuffer && r.body.byteLength === 30,
    'binary bytes': (r) => new Uint8Array(r.body)[0] === 97 && new Uint8Array(r.body)[26] === 97,
  });
  check(http.get(`${B}/bytes/30`, { responseType: 'none' }), {
    'none body is null': (r) => r.body === null && r.status === 200,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
}

// An ASCII text body of 64 bytes or more is made from its bytes by QuickJS's
// deserialiser (k6/http_response.cc new_body_string), shorter or non-ASCII ones
// as before: bodies of every length around those limits and around the steps of
// the length's encoding (64, 8192 bytes) are exactly their bytes.
TEST_F(HttpTest, TextBodiesOfEveryLengthAreTheirBytes) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
const want = (n) => 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(n / 26) + 1).slice(0, n);
export default function () {
  for (const n of [0, 1, 2, 63, 64, 65, 127, 128, 8191, 8192, 100000]) {
    const res = http.get(`${B}/bytes/${n}`);
    check(res, {
      [`bytes ${n}`]: (r) => typeof r.body === 'string' && r.body.length === n && r.body === want(n) &&
          (n === 0 || r.body.charCodeAt(n - 1) === want(n).charCodeAt(n - 1)) && (r.body + '!').length === n + 1,
    });
  }
  const text = '\u00e9\u20ac'.repeat(30) + 'x'.repeat(70);
  check(http.post(`${B}/echo`, text), { 'non-ASCII body': (r) => r.json().body === text && r.body.indexOf(text) >= 0 });
  const ascii = 'y'.repeat(200);
  check(http.post(`${B}/echo`, ascii), { 'json() of an ASCII body': (r) => r.json().body === ascii });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 13);
}

TEST_F(HttpTest, BasicAuthFromUrlUserinfo) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const hostport = __ENV.BASE_URL.replace('http://', '');
  check(http.get(`http://alice:s3cret@${hostport}/basic-auth/alice/s3cret`), {
    'basic auth ok': (r) => r.status === 200 && r.json('authenticated') === true && r.json('user') === 'alice',
  });
  check(http.get(`http://alice:wrong@${hostport}/basic-auth/alice/s3cret`), {
    'wrong password 401': (r) => r.status === 401 && r.error_code === 1401,
  });
  check(http.get(`http://${hostport}/basic-auth/alice/s3cret`), { 'no credentials 401': (r) => r.status === 401 });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 3);
}

TEST_F(HttpTest, CookiesParamJarAndResponseCookies) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  check(http.get(`${B}/cookies`, { cookies: { flavour: 'choc', size: { value: 'xl' } } }), {
    'cookies param sent': (r) => r.json('cookies.flavour') === 'choc' && r.json('cookies.size') === 'xl',
  });
  const set = http.get(`${B}/cookies/set?session=abc&theme=dark`);
  check(set, {
    'response cookies': (r) => r.cookies.session[0].value === 'abc' && r.cookies.theme[0].value === 'dark',
  });
  check(http.get(`${B}/cookies`), {
    'jar sends stored cookies': (r) => r.json('cookies.session') === 'abc' && r.json('cookies.theme') === 'dark',
  });
  check(http.get(`${B}/cookies`, { cookies: { theme: 'light' } }), {
    'param cookie overrides jar cookie': (r) => r.json('cookies.theme') === 'light' && r.json('cookies.session') === 'abc',
  });
  const jar = http.cookieJar();
  check(jar.cookiesForURL(`${B}/`), { 'cookieJar() sees them': (c) => c.session[0] === 'abc' });
  jar.set(B, 'manual', 'yes');
  check(http.get(`${B}/cookies`), { 'jar.set cookie sent': (r) => r.json('cookies.manual') === 'yes' });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
}

TEST_F(HttpTest, CookieJarIsResetEveryIteration) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } } };
const B = __ENV.BASE_URL;
export default function () {
  check(http.get(`${B}/cookies`), { 'jar empty at iteration start': (r) => Object.keys(r.json('cookies')).length === 0 });
  http.get(`${B}/cookies/set?it=${__ITER}&vu=${__VU}`);
  check(http.get(`${B}/cookies`), {
    'own cookies within the iteration': (r) => r.json('cookies.it') === String(__ITER) && r.json('cookies.vu') === String(__VU),
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 12);
}

TEST_F(HttpTest, ResponseFields) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const B = __ENV.BASE_URL;
  const PORT = Number(B.split(':')[2]);
  const res = http.get(`${B}/json`);
  check(res, {
    'status': (r) => r.status === 200,
    'body': (r) => typeof r.body === 'string' && r.body.indexOf('"name":"herd"') >= 0,
    'canonical header keys': (r) => r.headers['Content-Type'] === 'application/json' && r.headers['Server'] === 'herd-target' &&
        r.headers['content-type'] === undefined,
    'url': (r) => r.url === `${B}/json`,
    'proto': (r) => r.proto === 'HTTP/1.1',
    'status_text': (r) => r.status_text === '200 OK',
    'remote ip and port': (r) => r.remote_ip === '127.0.0.1' && r.remote_port === PORT,
    'no error': (r) => r.error === '' && r.error_code === 0,
    'json()': (r) => r.json().version === 1,
    'json(selector)': (r) => r.json('nested.pi') === 3.14159 && r.json('nested.list.1') === 'b' && r.json('numbers.#') === 5,
    'json(missing selector)': (r) => r.json('nested.nothing') === undefined,
    'timings present and non-negative': (r) => ['blocked', 'connecting', 'tls_handshaking', 'sending', 'waiting', 'receiving', 'duration']
        .every((k) => typeof r.timings[k] === 'number' && r.timings[k] >= 0),
    'duration = sending + waiting + receiving': (r) =>
        Math.abs(r.timings.duration - (r.timings.sending + r.timings.waiting + r.timings.receiving)) < 0.1,
    'request object': (r) => r.request.method === 'GET' && r.request.url === `${B}/json`,
  });
  const slow = http.get(`${B}/delay/120`);
  check(slow, { 'waiting covers the server delay': (r) => r.timings.waiting >= 100 && r.timings.duration >= 100 });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 15);
}

// A header a request may not carry is refused with a TypeError naming it, as k6's Go client
// refuses it: a CR or LF in a value would end the header early and start another (the
// target would see an injected header), a NUL would cut it. Valid ones are sent whole.
TEST_F(HttpTest, HeadersHttpForbidsAreRefusedNamingTheHeader) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const U = `${__ENV.BASE_URL}/headers`;
  const refused = (headers) => {
    try { http.get(U, { headers }); return 'sent'; } catch (e) { return String(e); }
  };
  check(null, {
    'CRLF in a value': () => refused({ 'X-A': 'v\r\nX-Injected: 1' }).includes('invalid value for header "X-A": control character \\x0d'),
    'LF in a value': () => refused({ 'X-B': 'v\nw' }).includes('header "X-B"'),
    'NUL in a value': () => refused({ 'X-C': 'v\u0000w' }).includes('\\x00'),
    'NUL in a name': () => refused({ 'a\u0000b': 'x' }).includes('invalid header name "a\\x00b"'),
    'space in a name': () => refused({ 'My Header': 'x' }).includes('invalid header name "My Header"'),
    'colon in a name': () => refused({ 'X:Y': 'x' }).includes('invalid header name'),
    'empty name': () => refused({ '': 'x' }).includes('invalid header name ""'),
  });
  const ok = http.get(U, { headers: { 'X-Tab': 'a\tb', 'X-Utf8': 'caf\u00e9', "X_Odd!#$%&'*+.^`|~": 'y' } });
  check(ok.json('headers'), {
    'a tab is allowed': (h) => h['X-Tab'] === 'a\tb',
    'UTF-8 is allowed': (h) => typeof h['X-Utf8'] === 'string' && h['X-Utf8'].length > 0,
    'every token character is allowed': (h) => Object.keys(h).some((k) => k.toLowerCase() === "x_odd!#$%&'*+.^`|~"),
    'nothing injected': (h) => h['X-Injected'] === undefined,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 11);
}

// Response and res.timings objects are built on shapes kept per VU (k6/http_response.cc),
// and params.headers are read with no map: every request of every iteration still sees
// its own values, the same keys in the same order, writable and enumerable as before.
TEST_F(HttpTest, ResponsesAndTimingsAreOrdinaryObjectsOnEveryRequest) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3 };
const KEYS = '["blocked","connecting","tls_handshaking","sending","waiting","receiving","duration"]';
export default function () {
  const B = __ENV.BASE_URL;
  const a = http.post(`${B}/echo`, `body-${__ITER}`, { headers: { 'X-Z': 'z', 'X-A': `a${__ITER}` } });
  const fresh = JSON.stringify(Object.keys(a));
  const b = http.get(`${B}/delay/30`);
  check(a, {
    'own keys of a new response': () => fresh === '["status","error_code","body"]',
    'timings keys in order': (r) => JSON.stringify(Object.keys(r.timings)) === KEYS &&
        JSON.stringify(Object.keys(JSON.parse(JSON.stringify(r.timings)))) === KEYS,
    'each response its own timings': (r) => r.timings !== b.timings && b.timings.waiting >= 25 &&
        r.timings.waiting < b.timings.waiting,
    'timings writable': (r) => { r.timings.waiting = -1; return r.timings.waiting === -1 && b.timings.waiting >= 25; },
    'body and json per request': (r) => r.body.indexOf(`body-${__ITER}`) >= 0 && r.json().body === `body-${__ITER}`,
    'headers sent, sorted by name as before': (r) => r.json().headers['X-A'] === `a${__ITER}` &&
        r.json().headers['X-Z'] === 'z' &&
        JSON.stringify(Object.keys(r.request.headers).filter((k) => k.startsWith('X-'))) === '["X-A","X-Z"]',
    'status writable': (r) => { r.status = 7; return r.status === 7 && b.status === 200; },
  });
  // res.json() parses the response's own bytes only while res.body is the string it was made with
  const c = http.post(`${B}/echo`, 'plain');
  c.body = '{"replaced":true}';
  const u = http.post(`${B}/echo`, 'caf\u00e9 \u20ac');
  check(c, {
    'json() of a replaced body': (r) => r.json().replaced === true,
    'json() of a UTF-8 body': () => u.json().body === 'caf\u00e9 \u20ac' && u.body.indexOf('\u20ac') >= 0,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 27);
}

// res.json() parses natively (js/json_parse.h) and the VU keeps its last small result so the
// next same-shaped body reuses its shapes: every result is still a fresh, independent object,
// the same as JSON.parse of the body, and a body that is not JSON throws QuickJS's SyntaxError.
TEST_F(HttpTest, ResJsonGivesFreshObjectsEqualToJsonParse) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3 };
export default function () {
  const B = __ENV.BASE_URL;
  const body = `{"a":${__ITER},"__proto__":{"x":1},"10":[-0,1e3,"\\u00e9\\n"],"2":{"k":null}}`;
  const r1 = http.post(`${B}/echo`, body);
  const first = r1.json();
  const firstKeys = JSON.stringify(Object.keys(first));
  first.method = 'changed';
  delete first.body;
  first.headers.added = true;
  const r2 = http.post(`${B}/echo`, body);
  const second = r2.json();
  const own = http.post(`${B}/echo`, 'x');
  own.body = body;  // parsed from the replaced string
  const j = own.json();
  const ref = JSON.parse(body);
  let bad = '';
  const notJson = http.post(`${B}/echo`, 'x');
  notJson.body = '{"a":}';
  try { notJson.json(); } catch (e) { bad = `${e.name}: ${e.message}`; }
  let parseErr = '';
  try { JSON.parse('{"a":}'); } catch (e) { parseErr = `${e.name}: ${e.message}`; }
  check(null, {
    'a fresh result per request': () => second !== first && second.method === 'POST' && second.body === body &&
        !('added' in second.headers) && JSON.stringify(Object.keys(second)) === firstKeys && r2.json() === second,
    'keys as JSON.parse': () => JSON.stringify(Object.keys(j)) === '["2","10","a","__proto__"]' &&
        JSON.stringify(Object.keys(j)) === JSON.stringify(Object.keys(ref)) &&
        Object.getPrototypeOf(j) === Object.prototype && j.x === undefined && j.a === __ITER,
    'values as JSON.parse': () => Object.is(j['10'][0], -0) && j['10'][2] === '\u00e9\n' &&
        JSON.stringify(j) === JSON.stringify(ref),
    'a body that is not JSON throws JSON.parse\'s SyntaxError': () => bad !== '' && bad === parseErr,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 12);
}

TEST_F(HttpTest, ErrorCodesForRefusedConnectionAndHttpErrors) {
  RefusingPort refusing;
  std::uint16_t dead = refusing.port();
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  check(http.get(`http://127.0.0.1:${__ENV.DEAD_PORT}/`), {
    'refused: status 0': (r) => r.status === 0,
    'refused: error_code 1212': (r) => r.error_code === 1212,
    'refused: error text': (r) => r.error.length > 0,
  });
  check(http.get(`${__ENV.BASE_URL}/nothing-here`), {
    '404 status': (r) => r.status === 404,
    '404 error_code 1404': (r) => r.error_code === 1404,
  });
  check(http.get(`${__ENV.BASE_URL}/status/503`), { '503 error_code 1503': (r) => r.error_code === 1503 });
  check(http.get(`${__ENV.BASE_URL}/status/201`), { '201 has no error': (r) => r.error_code === 0 && r.error === '' });
}
)JS",
                        &r, {}, {{"DEAD_PORT", std::to_string(dead)}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 7);
  EXPECT_DOUBLE_EQ(metric_value(exp, "http_req_failed", "value"), 0.75) << exp["metrics"].dump();
}

TEST_F(HttpTest, UnreachableTargetCompletesWithFailedRateOne) {
  RefusingPort refusing;
  std::uint16_t dead = refusing.port();
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { vus: 2, iterations: 6 };
export default function () { http.get(`http://127.0.0.1:${__ENV.DEAD_PORT}/`); }
)JS",
                        &r, {}, {{"DEAD_PORT", std::to_string(dead)}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.seconds, 20) << r;
  EXPECT_DOUBLE_EQ(metric_value(exp, "http_req_failed", "value"), 1.0) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "http_req_failed", "passes"), 6);
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 6);
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 6);
  EXPECT_NE(r.out.find("http_req_failed"), std::string::npos) << r;
  EXPECT_NE(r.out.find("100.00%"), std::string::npos) << r;
}

TEST_F(HttpTest, ThrowOptionTurnsNetworkErrorsIntoExceptions) {
  RefusingPort refusing;
  std::uint16_t dead = refusing.port();
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1, throw: true };
export default function () {
  try {
    http.get(`http://127.0.0.1:${__ENV.DEAD_PORT}/`);
    console.log('NO THROW');
  } catch (e) {
    console.log('THREW');
  }
}
)JS",
                            {}, {{"DEAD_PORT", std::to_string(dead)}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("msg=\"THREW\""), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(HttpTest, ResponseCallbackDecidesWhatCountsAsFailed) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  http.setResponseCallback(http.expectedStatuses(404, { min: 200, max: 204 }));
  http.get(`${__ENV.BASE_URL}/status/404`);  // expected now
  http.get(`${__ENV.BASE_URL}/status/200`);  // expected
  http.get(`${__ENV.BASE_URL}/status/302`);  // not expected (no Location: not followed)
  http.get(`${__ENV.BASE_URL}/status/500`, { responseCallback: http.expectedStatuses(500) });  // per-request
  http.get(`${__ENV.BASE_URL}/status/503`, { responseCallback: null });  // not counted at all
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 5) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "http_req_failed", "passes"), 1) << exp["metrics"]["http_req_failed"].dump();
  EXPECT_EQ(metric_value(exp, "http_req_failed", "fails"), 3) << exp["metrics"]["http_req_failed"].dump();
}

// k6's default (200-399 expected) without a callback, and an empty expectedStatuses() list, which
// expects nothing (the default is not a list kept per request: RequestSpec::default_expected).
TEST_F(HttpTest, DefaultAndEmptyExpectedStatuses) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  http.get(`${__ENV.BASE_URL}/status/200`);  // expected
  http.get(`${__ENV.BASE_URL}/status/399`);  // expected
  http.get(`${__ENV.BASE_URL}/status/400`);  // failed
  http.get(`${__ENV.BASE_URL}/status/418`, { responseCallback: http.expectedStatuses(418) });  // expected
  http.setResponseCallback(http.expectedStatuses());
  http.get(`${__ENV.BASE_URL}/status/200`);  // failed: nothing is expected
  http.get(`${__ENV.BASE_URL}/status/201`, { responseCallback: http.expectedStatuses({ min: 200, max: 299 }) });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 6) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "http_req_failed", "passes"), 2) << exp["metrics"]["http_req_failed"].dump();
  EXPECT_EQ(metric_value(exp, "http_req_failed", "fails"), 4) << exp["metrics"]["http_req_failed"].dump();
}

TEST_F(HttpTest, GroupAndVuTagsApplyToHttpMetrics) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { group } from 'k6';
import exec from 'k6/execution';
export const options = {
  iterations: 2,
  thresholds: {
    'http_reqs{group:::api}': ['count==2'],
    'http_reqs{group:::api::nested}': ['count==2'],
    'http_reqs{phase:warm}': ['count==6'],
  },
};
export default function () {
  exec.vu.tags.phase = 'warm';
  http.get(`${__ENV.BASE_URL}/`);
  group('api', () => {
    http.get(`${__ENV.BASE_URL}/json`);
    group('nested', () => { http.get(`${__ENV.BASE_URL}/`); });
  });
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "http_reqs{group:::api}", "count"), 2) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "http_reqs{group:::api::nested}", "count"), 2);
  EXPECT_EQ(metric_value(exp, "http_reqs{phase:warm}", "count"), 6);
}

}  // namespace
}  // namespace herd::it
