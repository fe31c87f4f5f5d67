// k6/encoding and k6/crypto against known test vectors, through the real binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include "harness.h"
#include "tls_file_server.h"

namespace herd::it {
namespace {

class ModulesTest : public HerdTest {};

TEST_F(ModulesTest, EncodingAndCryptoMatchKnownVectors) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';
import { sha256, hmac } from 'k6/crypto';
export const options = { iterations: 1 };
export default function () {
  check(null, {
    'b64 std': () => encoding.b64encode('hello?>') === 'aGVsbG8/Pg==',
    'b64 rawstd': () => encoding.b64encode('hello?>', 'rawstd') === 'aGVsbG8/Pg',
    'b64 url': () => encoding.b64encode('hello?>', 'url') === 'aGVsbG8_Pg==',
    'b64 rawurl': () => encoding.b64encode('hello?>', 'rawurl') === 'aGVsbG8_Pg',
    'b64 decode string': () => encoding.b64decode('aGVsbG8_Pg', 'rawurl', 's') === 'hello?>',
    'b64 decode bytes': () => new Uint8Array(encoding.b64decode('AAEC')).join(',') === '0,1,2',
    'b64 binary input': () => encoding.b64encode(new Uint8Array([255, 0]).buffer) === '/wA=',
    'md5': () => crypto.md5('abc', 'hex') === '900150983cd24fb0d6963f7d28e17f72',
    'sha1': () => crypto.sha1('abc', 'hex') === 'a9993e364706816aba3e25717850c26c9cd0d89d',
    'sha256': () => sha256('abc', 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'sha512 base64': () => crypto.sha512('', 'base64').startsWith('z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8'),
    'hmac': () => hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex') ===
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    'createHash': () => crypto.createHash('sha1').update('a').update('bc').digest('hex') ===
      'a9993e364706816aba3e25717850c26c9cd0d89d',
    'createHMAC': () => crypto.createHMAC('sha256', 'key').update('The quick brown fox ').update('jumps over the lazy dog').digest('hex') ===
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    'randomBytes': () => { const a = new Uint8Array(crypto.randomBytes(32)); return a.length === 32 && a.some((x) => x !== 0); },
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 15);
}

// console and the natives behind k6/metrics, k6/execution and k6/data are
// built on first use (k6/lazy_global.h): they must look and act like the
// plain globals they replace, in every VU and after reassignment.
TEST_F(ModulesTest, LazyGlobalsActLikePlainOnes) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';
const hits = new Counter('hits');
export const options = { vus: 2, iterations: 4 };
export default function () {
  hits.add(1);
  const keys = Object.keys(globalThis);
  check(null, {
    'console listed': () => keys.includes('console'),
    'natives hidden': () => !keys.includes('__herd'),
    'console works': () => typeof console.log === 'function' && console.log('x') === undefined,
    'exec works': () => exec.vu.idInTest >= 1,
  });
  const saved = console;
  const mine = { log() { return 'mine'; } };
  globalThis.console = mine;
  check(null, { 'console replaced': () => console === mine && console.log() === 'mine' });
  globalThis.console = saved;
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(exp["metrics"]["hits"]["count"], 4) << exp.dump();
  EXPECT_ALL_CHECKS_PASS(exp, r, 20);
}

TEST_F(ModulesTest, ConsoleAssignedBeforeFirstReadKeepsTheNewValue) {
  ProcResult r = run_script(R"JS(
globalThis.console = { log(m) { throw new Error('replaced console saw ' + m); } };
export const options = { iterations: 1 };
export default function () { console.log('hi'); }
)JS");
  EXPECT_NE(r.err.find("replaced console saw hi"), std::string::npos) << r;
}

TEST_F(ModulesTest, BadInputsThrowClearErrors) {
  ProcResult r = run_script(R"JS(
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';
export const options = { iterations: 1 };
export default function () {
  try { encoding.b64decode('!!!'); } catch (e) { console.log('E1 ' + e.message); }
  try { crypto.hmac('nope', 'k', 'd', 'hex'); } catch (e) { console.log('E2 ' + e.message); }
  try { crypto.sha256('x', 'octal'); } catch (e) { console.log('E3 ' + e.message); }
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("E1 b64decode: invalid base64"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E2 unknown hash algorithm"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E3 unsupported output encoding"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ModulesTest, AsyncAwaitTimersAndAsyncRequests) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 2 };
export async function setup() { await new Promise((res) => setTimeout(res, 20)); return { v: 42 }; }
export default async function (data) {
  const t0 = Date.now();
  const [a, b] = await Promise.all([http.asyncRequest('GET', `${__ENV.BASE_URL}/delay/150`),
                                    http.asyncRequest('POST', `${__ENV.BASE_URL}/counter/async/inc`)]);
  const dt = Date.now() - t0;
  let ticks = 0;
  await new Promise((resolve) => { const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve(); } }, 5); });
  // A timer still pending when the function returns keeps the iteration alive (k6's event loop).
  setTimeout(() => http.post(`${__ENV.BASE_URL}/counter/late/inc`), 30);
  check(a, {
    'statuses': () => a.status === 200 && b.status === 200,
    'concurrent': () => dt < 290,
    'interval': () => ticks === 3,
    'setup data': () => data.v === 42,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
  EXPECT_EQ(counter("async"), 2);
  EXPECT_EQ(counter("late"), 2);
}

TEST_F(ModulesTest, RejectedPromiseIsLoggedAndTheTestGoesOn) {
  ProcResult r;
  json exp = run_export(R"JS(
export const options = { iterations: 3 };
export default async function () { await null; throw new Error('async boom'); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count_occurrences(r.err, "async boom"), 3) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 3);
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ModulesTest, RemoteModulesAreFetchedOnceAndResolveRelativeImports) {
  ProcResult r;
  // The URL is written into the script: import specifiers cannot use __ENV.
  std::string script = std::string(R"JS(
import { check } from 'k6';
import lib, { greet } from 'BASE/modules/lib.js';
export const options = { vus: 4, iterations: 8 };
export default function () {
  check(null, { 'remote module works': () => greet('vu') === 'hello vu (dep from the target)' && lib.greet === greet });
}
)JS");
  script.replace(script.find("BASE"), 4, base_url());
  std::uint64_t before = served();
  json exp = run_export(script, &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
  // lib.js and dep.js, each fetched once for the whole run (5 runtimes).
  EXPECT_EQ(served() - before, 2u);
}

TEST_F(ModulesTest, UnreachableRemoteModuleIsAClearError) {
  RefusingPort refusing;
  std::string script = "import x from 'http://127.0.0.1:" + std::to_string(refusing.port()) +
                       "/nope.js';\nexport default function () {}\n";
  ProcResult r = run_script(script);
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("cannot fetch module http://127.0.0.1:"), std::string::npos) << r;
  std::string script404 = "import x from '" + base_url() + "/modules/missing.js';\nexport default function () {}\n";
  r = run_script(script404);
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("HTTP status 404"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ModulesTest, RequireLoadsLocalCommonJsAndBuiltins) {
  dir_.write("helper.js", "exports.mul = (a, b) => a * b;\n");
  dir_.write("util.js",
             "const helper = require('./helper.js');\nmodule.exports = { twice: (x) => helper.mul(x, 2) };\n");
  dir_.write("broken.js", "module.exports = {};\nthrow new Error('cjs boom');\n");
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
const util = require('./util.js');
const http = require('k6/http');
export const options = { iterations: 2 };
export default function () {
  let err = '';
  try { require('./broken.js'); } catch (e) { err = String(e.stack || e); }
  check(null, {
    'commonjs': () => util.twice(21) === 42,
    'cached': () => require('./util.js') === util,
    'builtin': () => typeof http.get === 'function',
    'errors name the file and line': () => err.includes('broken.js:2'),
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ModulesTest, HttpFileMakesAMultipartBodyAndObjectsAreFormEncoded) {
  dir_.write("upload.bin", std::string("BIN\0DATA", 8));
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
const bin = open('./upload.bin', 'b');
export const options = { iterations: 1 };
export default function () {
  const m = http.post(`${__ENV.BASE_URL}/echo`, { field: 'value 1', file: http.file(bin, 'upload.bin', 'application/x-test') });
  const e = m.json();
  const ct = e.headers['content-type'] || e.headers['Content-Type'];
  const boundary = ct.split('boundary=')[1];
  check(e, {
    'multipart content type': () => ct.startsWith('multipart/form-data; boundary='),
    'field part': () => e.body.includes('Content-Disposition: form-data; name="field"\r\n\r\nvalue 1\r\n'),
    'file part': () => e.body.includes('name="file"; filename="upload.bin"\r\nContent-Type: application/x-test'),
    'closing boundary': () => e.body.includes(`--${boundary}--`),
  });
  const f = http.post(`${__ENV.BASE_URL}/echo`, { a: 'x y', b: '&=' }).json();
  check(f, {
    'form encoded': () => f.body === 'a=x+y&b=%26%3D',
    'form content type': () => (f.headers['content-type'] || f.headers['Content-Type']) === 'application/x-www-form-urlencoded',
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ModulesTest, RemoteHttpsModuleOverRealTls) {
  dir_.write("www/mods/tls.js", "export const where = 'over tls';\n");
  std::uint16_t port = closed_port();
  TlsFileServer tls(dir_.path() + "/www", port);
  ASSERT_TRUE(tls.ok()) << "openssl s_server did not start";
  std::string script = "import { where } from 'https://127.0.0.1:" + std::to_string(port) +
                       "/mods/tls.js';\nexport const options = { iterations: 1 };\n"
                       "export default function () { console.log('remote says ' + where); }\n";
  ProcResult r = run_script(script, {}, {{"SSL_CERT_FILE", dir_.path() + "/www/cert.pem"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("remote says over tls"), std::string::npos) << r;
  // Without trusting the certificate the fetch fails with a clear TLS error.
  ProcResult bad = run_script(script);
  EXPECT_EQ(bad.exit_code, 107) << bad;
  EXPECT_NE(bad.err.find("cannot fetch module https://127.0.0.1:"), std::string::npos) << bad;
}

}  // namespace
}  // namespace herd::it
