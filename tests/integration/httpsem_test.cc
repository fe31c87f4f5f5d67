// End-to-end tests of HTTP semantics real k6 scripts rely on, through the real
// `herd run` binary against the in-process loopback target: compressed
// responses, the `compression` param, digest auth, cookie jars, http.url and
// res.json(selector). Transport-sensitive cases run with both HTTP clients.
#include <set>
#include <sstream>

#include "harness.h"

namespace herd::it {
namespace {

class HttpSemanticsTest : public HerdTest, public ::testing::WithParamInterface<bool> {
 protected:
  // The built-in client (GetParam() true) or libcurl for everything.
  std::map<std::string, std::string> transport_env() const {
    if (GetParam()) return {};
    return {{"HERD_HTTP_CLIENT", "curl"}};
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, HttpSemanticsTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Builtin" : "Curl"; });

using HttpSemantics = HerdTest;

TEST_P(HttpSemanticsTest, CompressedResponsesAreDecoded) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  for (const c of ['gzip', 'deflate', 'br', 'zstd']) {
    const res = http.get(`${B}/${c}`);
    check(res, {
      [`${c} status`]: (r) => r.status === 200 && r.error_code === 0,
      [`${c} json`]: (r) => r.json('items.1.name') === 'second' && r.json().content_encoding === c,
      [`${c} header kept`]: (r) => r.headers['Content-Encoding'] === c,
    });
  }
  check(http.get(`${B}/encoded?coding=gzip,zstd&bytes=100000`), {
    'two codings': (r) => r.body.length === 100000 && r.body.startsWith('abcdef'),
  });
  check(http.get(`${B}/encoded?coding=br&bytes=1000`, { responseType: 'binary' }), {
    'binary body decoded': (r) => r.body.byteLength === 1000 && new Uint8Array(r.body)[1] === 98,
  });
  // as k6 (Go's transport with compression disabled): no Accept-Encoding of its own
  check(http.get(`${B}/headers`), { 'no accept-encoding sent': (r) => r.json('headers.Accept-Encoding') === undefined });
  const bad = http.get(`${B}/encoded?coding=gzip&bytes=20000&corrupt=1`);
  check(bad, {
    'corrupt: status kept': (r) => r.status === 200,
    'corrupt: error_code 1701': (r) => r.error_code === 1701,
    'corrupt: k6 message': (r) => r.error.startsWith('error decompressing response body ('),
  });
  check(http.get(`${B}/encoded?coding=zstd&bytes=20000&truncate=1`), { 'truncated: 1701': (r) => r.error_code === 1701 });
  check(http.get(`${B}/`), { 'next request fine': (r) => r.status === 200 && r.body === 'ok' });
}
)JS",
                        &r, {}, transport_env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 20);
  EXPECT_NE(r.err.find("error decompressing response body"), std::string::npos) << "logged as a failed request\n" << r;
}

TEST_F(HttpSemantics, DecompressionErrorThrowsWithThrowOption) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, throw: true };
export default function () {
  let msg = '';
  try { http.get(`${__ENV.BASE_URL}/encoded?coding=br&bytes=20000&corrupt=1`); } catch (e) { msg = String(e); }
  check(msg, { 'thrown': (m) => m.includes('error decompressing response body (') });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
}

TEST_P(HttpSemanticsTest, CompressionParamEncodesTheBody) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const U = `${__ENV.BASE_URL}/decode`;
const body = 'herd '.repeat(200);
export default function () {
  for (const c of ['gzip', 'deflate', 'br', 'zstd', 'gzip, br', 'zstd,deflate']) {
    const res = http.post(U, body, { compression: c });
    const want = c.split(',').map((s) => s.trim()).join(', ');
    check(res, {
      [`${c}: decoded by the target`]: (r) => r.status === 200 && r.json('length') === 1000 && r.json('body') === body,
      [`${c}: content-encoding`]: (r) => r.json('content_encoding') === want,
      [`${c}: request header`]: (r) => r.request.headers['Content-Encoding'][0] === want,
    });
  }
  const errs = [];
  for (const c of ['lzw', 'gzip, compress', 'identity']) {
    try { http.post(U, body, { compression: c }); errs.push('none'); } catch (e) { errs.push(String(e)); }
  }
  check(errs, {
    'unknown algorithms refused': (e) => e.every((m) => m.includes('unknown compression algorithm')),
    'names the algorithm': (e) => e[0].includes('"lzw"') && e[1].includes('"compress"'),
  });
  let typeErr = '';
  try { http.post(U, body, { compression: 1 }); } catch (e) { typeErr = String(e); }
  check(typeErr, { 'non-string refused': (m) => m.includes('params.compression must be a string') });
}
)JS",
                        &r, {}, transport_env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 21);
}

TEST_P(HttpSemanticsTest, DigestAuthAnswersTheChallengeAsK6) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const HP = __ENV.BASE_URL.replace('http://', '');
export default function () {
  const ok = http.get(`http://ada:pw@${HP}/digest-auth/auth/ada/pw`, { auth: 'digest' });
  check(ok, {
    'digest 200': (r) => r.status === 200,
    'digest authenticated': (r) => r.json('authenticated') === true && r.json('user') === 'ada',
  });
  check(http.get(`http://ada:bad@${HP}/digest-auth/auth/ada/pw`, { auth: 'digest' }), {
    'wrong password 401': (r) => r.status === 401,
  });
  check(http.get(`http://ada:pw@${HP}/digest-auth/auth/ada/pw`), { 'basic is not digest': (r) => r.status === 401 });
  check(http.get(`http://ada:pw@${HP}/basic-auth/ada/pw`, { auth: 'basic' }), { 'basic auth': (r) => r.status === 200 });
  const errs = [];
  for (const a of ['ntlm', 'kerberos']) {
    try { http.get(`http://ada:pw@${HP}/`, { auth: a }); errs.push('none'); } catch (e) { errs.push(String(e)); }
  }
  check(errs, {
    'ntlm refused': (e) => e[0].includes('"ntlm" is not supported by herd'),
    'unknown refused': (e) => e[1].includes('unknown authentication method "kerberos"'),
  });
}
)JS",
                        &r, {"--out", "json=out.json"}, transport_env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 7);
  std::string points = dir_.read("out.json");
  EXPECT_EQ(points.find(":pw@"), std::string::npos) << "no password in the url and name tags";
  EXPECT_NE(points.find("http://****:****@" + base_url().substr(7) + "/basic-auth/ada/pw"), std::string::npos);
  // as k6: each digest request is two exchanges, the 401 challenge being a sample too
  // (2 + 2 for the digest requests, 1 + 1 for the others)
  EXPECT_EQ(metric_value(exp, "http_reqs", "count"), 6) << exp["metrics"].dump();
}

TEST_F(HttpSemantics, CookieJars) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 2 };
const B = __ENV.BASE_URL;
const own = new http.CookieJar();  // a script's jar outlives iterations, unlike the VU's
let initErr = '';
try { http.cookieJar(); } catch (e) { initErr = String(e); }
export default function () {
  if (__ITER === 0) {
    own.set(`${B}/cookies`, 'a', '1');
    check(http.get(`${B}/cookies`, { jar: own }), { 'own jar sent': (r) => r.json('cookies.a') === '1' });
    check(http.get(`${B}/cookies`), { 'vu jar is another jar': (r) => r.json('cookies.a') === undefined });
    http.get(`${B}/cookies/set?b=2`, { jar: own });
    check(own.cookiesForURL(`${B}/`), { 'server cookie went to own jar': (c) => c.b[0] === '2' && c.a[0] === '1' });
    check(http.cookieJar().cookiesForURL(`${B}/`), { 'not to the vu jar': (c) => c.b === undefined });
    const vu = http.cookieJar();
    vu.set(B, 'v', 'x');
    check(http.get(`${B}/cookies`), { 'vu jar used by default': (r) => r.json('cookies.v') === 'x' });
    check(new http.CookieJar().cookiesForURL(B), { 'a new jar is empty': (c) => Object.keys(c).length === 0 });
    own.set(`${B}/a/b`, 'p', '1');
    own.set(`${B}/`, 'q', '1', { path: '/only' });
    check(own, {
      'default path is the directory': (j) => j.cookiesForURL(`${B}/a/x`).p !== undefined &&
          j.cookiesForURL(`${B}/`).p === undefined,
      'path option': (j) => j.cookiesForURL(`${B}/only/x`).q !== undefined && j.cookiesForURL(`${B}/`).q === undefined,
    });
    own.set(B, 'd', '1', { domain: 'example.com' });
    own.set(B, 'ip', '1', { domain: '0.0.1' });  // an address has no parent domain
    own.set(B, 'fut', '1', { expires: 'Fri, 01 Jan 2100 00:00:00 UTC' });
    own.set(B, 'gone', '1');
    own.set(B, 'gone', '1', { max_age: -1 });
    own.set(B, 'later', '1', { expires: 'Mon, 02 Jan 2006 15:04:05 GMT' });
    check(own.cookiesForURL(`${B}/`), {
      'foreign domain dropped': (c) => c.d === undefined && c.ip === undefined,
      'future expires kept': (c) => c.fut[0] === '1',
      'max_age < 0 deletes': (c) => c.gone === undefined,
      'past expires deletes': (c) => c.later === undefined,
    });
    own.delete(`${B}/`, 'a');
    check(own.cookiesForURL(`${B}/`), { 'delete one': (c) => c.a === undefined && c.b[0] === '2' });
    own.clear(`${B}/`);
    check(own.cookiesForURL(`${B}/`), { 'clear': (c) => Object.keys(c).length === 0 });
    check(own.cookiesForURL(`${B}/a/x`), { 'clear keeps other paths': (c) => c.p[0] === '1' });
    own.set(B, 'keep', 'yes');
    const errs = [];
    for (const f of [() => http.get(B, { jar: {} }), () => own.set('nope', 'a', 'b'),
                     () => own.set(B, 'x', 'y', { expires: 'tomorrow' }), () => http.CookieJar()]) {
      try { f(); errs.push('none'); } catch (e) { errs.push(String(e)); }
    }
    check(errs, {
      'jar param must be a jar': (e) => e[0].includes('params.jar must be a CookieJar'),
      'bad url': (e) => e[1].includes('invalid URL'),
      'bad expires': (e) => e[2].includes('unable to parse "expires"'),
      'constructor needs new': (e) => e[3] !== 'none',
    });
    check(initErr, { 'vu jar not in init': (m) => m.includes('init context is not supported') });
  } else {
    check(http.get(`${B}/cookies`, { jar: own }), { 'own jar kept across iterations': (r) => r.json('cookies.keep') === 'yes' });
    check(http.cookieJar().cookiesForURL(B), { 'vu jar reset': (c) => c.v === undefined });
  }
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 22);
}

TEST_F(HttpSemantics, HttpUrlGroupsRequestsUnderOneName) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3 };
const B = __ENV.BASE_URL;
export default function () {
  const id = __ITER + 10;
  const res = http.get(http.url`${B}/echo?id=${id}&x=1`);
  check(res, { 'real url requested': (r) => r.json('args.id') === String(id) && r.url.endsWith(`id=${id}&x=1`) });
  http.get(http.url`${B}/status/${200 + __ITER}`, { tags: { name: 'mine' } });
  http.batch([['GET', http.url`${B}/json?v=${id}`], http.url`${B}/status/${201}`]);
  let msg = '';
  try { http.url('not a template'); } catch (e) { msg = String(e); }
  check(msg, { 'plain call refused': (m) => m.includes('template tag') });
}
)JS",
                        &r, {"--out", "json=out.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
  std::istringstream in(dir_.read("out.json"));
  std::string line;
  std::map<std::string, int> names;
  std::set<std::string> urls;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("type", "") != "Point" || j.value("metric", "") != "http_reqs") continue;
    names[j["data"]["tags"].value("name", "")]++;
    urls.insert(j["data"]["tags"].value("url", ""));
  }
  EXPECT_EQ(names["${}/echo?id=${}&x=1"], 3) << ::testing::PrintToString(names);
  EXPECT_EQ(names["mine"], 3) << "a user name tag wins";
  EXPECT_EQ(names["${}/json?v=${}"], 3) << "batch requests too";
  EXPECT_EQ(names["${}/status/${}"], 3) << "a bare http.url in a batch";
  EXPECT_EQ(urls.count(base_url() + "/echo?id=11&x=1"), 1u) << "the url tag stays the real URL";
}

TEST_F(HttpSemantics, JsonSelectors) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
const B = __ENV.BASE_URL;
export default function () {
  const res = http.get(`${B}/json`);
  check(res, {
    'count': (r) => r.json('numbers.#') === 5,
    'index': (r) => r.json('numbers.2') === 3 && r.json('nested.list.1') === 'b',
    'number': (r) => r.json('nested.pi') === 3.14159,
    'null value': (r) => r.json('nested.empty') === null,
    'missing is undefined': (r) => r.json('nested.nope') === undefined && r.json('numbers.9') === undefined,
    'query': (r) => JSON.stringify(r.json('numbers.#(>3)#')) === '[4,5]' && r.json('numbers.#(==2)') === 2,
    'wildcard': (r) => r.json('nest*.pi') === 3.14159,
    'whole doc still cached': (r) => r.json().name === 'herd' && r.json() === r.json(),
  });
  const items = http.get(`${B}/gzip`);
  check(items, {
    'projection': (r) => JSON.stringify(r.json('items.#.id')) === '[1,2]',
    'query on a key': (r) => r.json('items.#(name=="second").id') === 2,
    'all matches': (r) => JSON.stringify(r.json('items.#(id>=1)#.name')) === '["first","second"]',
    'pipe': (r) => r.json('items.#.name|1') === 'second',
  });
  check(http.get(`${B}/`), {
    'as k6: a body that is not JSON gives undefined': (r) => r.json('a') === undefined,
  });
  check(res, { 'as k6: an empty selector gives undefined': (r) => r.json('') === undefined });
  let msg = '';
  try { res.json('items.#(id>'); } catch (e) { msg = String(e); }
  check(msg, { 'bad selector is an error': (m) => m.includes('SyntaxError') && m.includes('items.#(id>') });
  let unsupported = '';
  try { res.json('numbers|@pretty'); } catch (e) { unsupported = String(e); }
  check(unsupported, { 'unsupported modifier named': (m) => m.includes('@pretty is not supported by herd') });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 16);
}

}  // namespace
}  // namespace herd::it
