// Real k6 scripts run unchanged: scripts kept under a k6/ folder, ES modules
// importing CommonJS, jslib-shaped libraries over https, the shared k6/http
// module object, scripts on standard input and the TypeScript refusal, through
// the real binary against the target (and an openssl TLS peer) on loopback.
#include <filesystem>

#include "harness.h"
#include "tls_file_server.h"

namespace herd::it {
namespace {

class InteropTest : public HerdTest {
 protected:
  /// Runs `sh -c 'exec herd run ... - < file'` in the temp dir: the script on standard input.
  ProcResult run_stdin(const std::string& file, const std::string& extra_args = "") {
    RunSpec spec;
    spec.args = {"-c", "exec \"$HERD\" run " + extra_args + " - < " + file};
    spec.env = {{"HERD", herd_binary()}, {"BASE_URL", base_url()}};
    spec.cwd = dir_.path();
    return run_process("/bin/sh", spec);
  }
  ProcResult run_args(std::vector<std::string> args) {
    RunSpec spec;
    spec.args = std::move(args);
    return run_spec(spec);
  }
};

TEST_F(InteropTest, ScriptUnderAK6FolderIsAFileForRunInspectAndArchive) {
  dir_.write("k6/foundations/helpers/hit.js",
             "import http from 'k6/http';\n"
             "export function hit(name) { return http.post(`${__ENV.BASE_URL}/counter/${name}/inc`); }\n");
  dir_.write("k6/foundations/data.txt", "from the k6 folder");
  dir_.write("k6/foundations/01.basic.js", R"JS(
import { hit } from './helpers/hit.js';
import { check } from 'k6';
const text = open('./data.txt');
export const options = { iterations: 1 };
export default function () {
  const r = hit('k6dir');
  check(r, { 'status 200': (x) => x.status === 200, 'open() read the file': () => text === 'from the k6 folder' });
}
)JS");
  for (const char* path : {"k6/foundations/01.basic.js", "./k6/foundations/01.basic.js"}) {
    ProcResult r = run_args({"run", "-q", path});
    ASSERT_EQ(r.exit_code, 0) << path << "\n" << r;
    EXPECT_EQ(r.err.find("unknown module"), std::string::npos) << r;
  }
  EXPECT_EQ(counter("k6dir"), 2);

  ProcResult insp = run_args({"inspect", "k6/foundations/01.basic.js"});
  ASSERT_EQ(insp.exit_code, 0) << insp;
  EXPECT_NE(insp.out.find("\"iterations\": 1"), std::string::npos) << insp;

  ProcResult arch = run_args({"archive", "k6/foundations/01.basic.js", "-O", "test.tar"});
  ASSERT_EQ(arch.exit_code, 0) << arch;
  // The archive runs without the sources: move them away first.
  std::filesystem::rename(dir_.path() + "/k6", dir_.path() + "/k6-moved");
  ProcResult from_tar = run_args({"run", "-q", "test.tar"});
  ASSERT_EQ(from_tar.exit_code, 0) << from_tar;
  EXPECT_EQ(counter("k6dir"), 3);
}

TEST_F(InteropTest, OnlyImportSpecifiersNameBuiltIns) {
  // A file at ./k6/x.js does not turn the specifier 'k6/x.js' into a file import.
  dir_.write("k6/x.js", "export const x = 1;\n");
  ProcResult r = run_script("import { x } from 'k6/x.js';\nexport default function () {}\n");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("unknown module \"k6/x.js\""), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(InteropTest, TestRunManifestWithItsScriptUnderAK6Folder) {
  dir_.write("k6/tests/lib.js", "module.exports = { name: 'manifest-k6dir' };\n");
  dir_.write("k6/tests/test.js", R"JS(
import http from 'k6/http';
import lib from './lib.js';
export const options = { iterations: 3 };
export default function () { http.post(`${__ENV.BASE_URL}/counter/${lib.name}/inc`); }
)JS");
  dir_.write("testrun.yaml",
             "apiVersion: k6.io/v1alpha1\nkind: TestRun\nmetadata:\n  name: k6dir\nspec:\n  parallelism: 1\n"
             "  script:\n    localFile: k6/tests/test.js\n");
  ProcResult r = run_args({"run", "testrun.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("manifest-k6dir"), 3);
}

TEST_F(InteropTest, EsModulesImportCommonJsInEveryShape) {
  // exports.x, module.exports = function with properties, webpack getters, UMD with `this`.
  dir_.write("lib/plain.js",
             "globalThis.plainRuns = (globalThis.plainRuns || 0) + 1;\n"
             "exports.twice = (x) => x * 2;\nexports.name = 'plain';\n");
  dir_.write("lib/fn.js", "module.exports = function greet(n) { return 'hi ' + n; };\nmodule.exports.lang = 'en';\n");
  dir_.write("lib/webpack.js", R"JS((() => {
  var d = (t, defs) => { for (var k in defs) Object.defineProperty(t, k, { enumerable: true, get: defs[k] }); };
  var out = {};
  Object.defineProperty(out, '__esModule', { value: true });
  d(out, { triple: () => triple, default: () => triple });
  function triple(x) { return 3 * x; }
  for (var k in out) exports[k] = out[k];
  Object.defineProperty(exports, '__esModule', { value: true });
})();
)JS");
  dir_.write("lib/umd.js", R"JS((function (root, factory) {
  if (typeof exports === 'object' && typeof module === 'object') module.exports = factory();
  else if (typeof define === 'function' && define.amd) define([], factory);
  else root.Umd = factory();
})(this, function () { return { kind: 'umd', thisIsExports: this === undefined }; });
)JS");
  dir_.write("lib/nested.js", "const plain = require('./plain.js');\nexports.viaRequire = plain.twice(4);\n");
  dir_.write("lib/again.js", "import { twice } from './plain.js';\nexport const again = twice(5);\n");
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import plain, { twice, name } from './lib/plain.js';
import * as plainNs from './lib/plain.js';
import greet, { lang } from './lib/fn.js';
import triple3, { triple } from './lib/webpack.js';
import umd from './lib/umd.js';
import { again } from './lib/again.js';
import { viaRequire } from './lib/nested.js';
const required = require('./lib/plain.js');
export const options = { iterations: 1 };
export default function () {
  check(null, {
    'named': () => twice(21) === 42 && name === 'plain',
    'default is module.exports': () => plain.twice(2) === 4 && plain === required,
    'namespace': () => plainNs.twice(3) === 6 && plainNs.default === plain,
    'function exports': () => greet('bob') === 'hi bob' && lang === 'en',
    'webpack getters and own default': () => triple(2) === 6 && triple3(3) === 9,
    'umd': () => umd.kind === 'umd',
    'one evaluation for import, import and require': () => globalThis.plainRuns === 1 && again === 10,
    'require inside a CommonJS file resolves against that file': () => viaRequire === 8,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
}

TEST_F(InteropTest, CommonJsErrorsNameFileLineColumn) {
  dir_.write("boom.js", "exports.a = 1;\n\nthrow new Error('cjs boom');\n");
  ProcResult r = run_script("import { a } from './boom.js';\nexport default function () {}\n");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("boom.js:3:"), std::string::npos) << r;
  EXPECT_NE(r.err.find("cjs boom"), std::string::npos) << r;
  dir_.write("bad.js", "exports.a = 1;\nvar x = ;\n");
  r = run_script("import { a } from './bad.js';\nexport default function () {}\n");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("bad.js:2:9"), std::string::npos) << r;
  EXPECT_NE(r.err.find("SyntaxError"), std::string::npos) << r;
}

TEST_F(InteropTest, JslibShapedLibrariesLoadOverHttps) {
  namespace fs = std::filesystem;
  fs::copy(std::string(HERD_SOURCE_DIR) + "/tests/fixtures/jslib", dir_.path() + "/www", fs::copy_options::recursive);
  std::uint16_t port = closed_port();
  TlsFileServer tls(dir_.path() + "/www", port);
  ASSERT_TRUE(tls.ok()) << "openssl s_server did not start";
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  std::string script = R"JS(
import { textSummary } from '@JSLIB@/k6-summary/0.0.2/index.js';
import { randomIntBetween, randomString, uuidv4, vuTag } from '@JSLIB@/k6-utils/1.4.0/index.js';
import { Httpx } from '@JSLIB@/httpx/0.1.0/index.js';
import { describe, expect } from '@JSLIB@/k6chaijs/4.3.4.2/index.js';
import chai from '@JSLIB@/k6chaijs/4.3.4.2/index.js';
import papaparse from '@JSLIB@/papaparse/5.1.1/index.js';
import { expect as texpect } from '@JSLIB@/k6-testing/0.5.0/index.js';
import { check } from 'k6';
export const options = { iterations: 2 };
const session = new Httpx({ baseURL: __ENV.BASE_URL });
export default function () {
  const n = randomIntBetween(3, 5);
  const res = session.post('/counter/jslib/inc');
  const csv = papaparse.parse('a,b\n1,2\n', { header: true });
  let where = '';
  try { texpect(1).toBe(2); } catch (e) { where = e.message; }
  texpect(res.status).toBe(200);
  describe('chai', () => { expect(res.status).to.equal(200); expect([]).to.be.a('array'); });
  check(null, {
    'k6-utils': () => n >= 3 && n <= 5 && randomString(8).length === 8 && /^[0-9a-f]{8}-[0-9a-f]{4}-4/.test(uuidv4()) &&
      vuTag() === 'vu1',
    'papaparse default': () => csv.data[0].b === '2',
    'chai default': () => chai.version === 'fixture',
    'k6-testing names the caller': () => where.includes('At: script.js:17:'),
  });
}
export function handleSummary(data) { return { 'summary.txt': textSummary(data, { indent: ' ' }) }; }
)JS";
  for (size_t at = script.find("@JSLIB@"); at != std::string::npos; at = script.find("@JSLIB@", at))
    script.replace(at, 7, base);
  ProcResult r = run_script(script, {"-q"}, {{"SSL_CERT_FILE", dir_.path() + "/www/cert.pem"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("jslib"), 2);
  ASSERT_TRUE(dir_.exists("summary.txt")) << r;
  std::string summary = dir_.read("summary.txt");
  EXPECT_NE(summary.find("summary by fixture k6-summary"), std::string::npos) << summary;
  // The run's summaryTrendStats reach the library through data.options.
  EXPECT_NE(summary.find(" http_req_duration...............: avg="), std::string::npos) << summary;
  EXPECT_NE(summary.find(" p(95)="), std::string::npos) << summary;
  EXPECT_NE(summary.find("[ok] k6-testing names the caller 2/2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[ok] k6-utils 2/2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[ok] papaparse default 2/2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[ok] chai default 2/2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("# chai"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[ok] expected 200 to equal 200 2/2"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("[fail]"), std::string::npos) << summary;
}

TEST_F(InteropTest, RequireAndImportShareTheMutableHttpModule) {
  // Instrumentation in one module (ES or CommonJS) wraps http.request for callers elsewhere.
  dir_.write("instrument.js", R"JS(
import http from 'k6/http';
const orig = http.request;
http.request = function (method, url, body, params) {
  globalThis.wrapped = (globalThis.wrapped || 0) + 1;
  return orig(method, url + '?via=esm', body, params);
};
)JS");
  dir_.write("instrument-cjs.js", R"JS(
const http = require('k6/http');
const inner = http.request;
http.request = function (method, url, body, params) {
  globalThis.wrappedCjs = (globalThis.wrappedCjs || 0) + 1;
  return inner(method, url, body, params);
};
)JS");
  ProcResult r;
  json exp = run_export(R"JS(
import './instrument.js';
import './instrument-cjs.js';
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const res = http.request('POST', `${__ENV.BASE_URL}/counter/instrumented/inc`);
  check(res, {
    'status 200': (x) => x.status === 200,
    'both wrappers ran': () => globalThis.wrapped === 1 && globalThis.wrappedCjs === 1,
    'same object': () => require('k6/http') === http,
    'esm wrapper changed the url': (x) => x.url.endsWith('?via=esm'),
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
  EXPECT_EQ(counter("instrumented"), 1);
}

TEST_F(InteropTest, ScriptOnStandardInput) {
  dir_.write("lib.js", "export const name = 'stdin-run';\n");
  dir_.write("piped.js", R"JS(
import http from 'k6/http';
import { name } from './lib.js';
export const options = { iterations: 2 };
export default function () { http.post(`${__ENV.BASE_URL}/counter/${name}/inc`); }
)JS");
  ProcResult r = run_stdin("piped.js", "-q");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("stdin-run"), 2);

  // inspect and archive read standard input too; an archive can be piped to run.
  RunSpec sh;
  sh.args = {"-c",
             "\"$HERD\" inspect - < piped.js && \"$HERD\" archive -O piped.tar - < piped.js && "
             "\"$HERD\" run -q - < piped.tar"};
  sh.env = {{"HERD", herd_binary()}, {"BASE_URL", base_url()}};
  sh.cwd = dir_.path();
  ProcResult chain = run_process("/bin/sh", sh);
  ASSERT_EQ(chain.exit_code, 0) << chain;
  EXPECT_NE(chain.out.find("\"iterations\": 2"), std::string::npos) << chain;
  EXPECT_EQ(counter("stdin-run"), 4);

  dir_.write("bad.js", "export default function () {\n  let a = ;\n}\n");
  ProcResult bad = run_stdin("bad.js");
  EXPECT_EQ(bad.exit_code, 107) << bad;
  EXPECT_NE(bad.err.find("-:2:11: SyntaxError"), std::string::npos) << bad;
}

TEST_F(InteropTest, TypeScriptIsRefusedWithAClearMessage) {
  dir_.write("test.ts", "const n: number = 1;\nexport default function (): void {}\n");
  ProcResult r = run_args({"run", "test.ts"});
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("test.ts: TypeScript is not supported yet: compile it to JavaScript first"), std::string::npos)
      << r;
  EXPECT_EQ(r.err.find("missing initializer"), std::string::npos) << r;

  dir_.write("types.ts", "export const limit: number = 3;\n");
  ProcResult imp = run_script("import { limit } from './types.ts';\nexport default function () {}\n");
  EXPECT_EQ(imp.exit_code, 107) << imp;
  EXPECT_NE(imp.err.find("types.ts: TypeScript is not supported yet"), std::string::npos) << imp;
  EXPECT_EQ(served(), 0u);
}

}  // namespace
}  // namespace herd::it
