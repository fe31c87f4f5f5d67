// The remaining k6/crypto hashes (known answers computed with `openssl dgst`,
// MD4 and RIPEMD-160 through OpenSSL's legacy provider) and the error for
// k6 modules herd does not have.
#include "harness.h"

namespace herd::it {
namespace {

class ModuleGapsTest : public HerdTest {};

TEST_F(ModuleGapsTest, LegacyAndSha2VariantHashesMatchOpenssl) {
  // Expected values: `echo -n abc | openssl dgst -ALG -provider legacy -provider default`
  // and `... | openssl dgst -ALG -hmac key` over the fox sentence (OpenSSL 3.0).
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import crypto, { md4, sha384, sha512_224, sha512_256, ripemd160 } from 'k6/crypto';
export const options = { iterations: 1 };
const fox = 'The quick brown fox jumps over the lazy dog';
const digests = {
  md4: 'a448017aaf21d8525fc10ae87aa6729d',
  sha384: 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
  sha512_224: '4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa',
  sha512_256: '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23',
  ripemd160: '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc',
};
const hmacs = {
  md4: '8d3366c440a9c65124ab0b5f4ca27338',
  sha384: 'd7f4727e2c0b39ae0f1e40cc96f60242d5b7801841cea6fc592c5d3e1ae50700582a96cf35e1e554995fe4e03381c237',
  sha512_224: 'a1afb4f708cb63570639195121785ada3dc615989cc3c73f38e306a3',
  sha512_256: '7fb65e03577da9151a1016e9c2e514d4d48842857f13927f348588173dca6d89',
  ripemd160: '50278a77d4d7670561ab72e867383aef6ce50b3e',
};
const fns = { md4, sha384, sha512_224, sha512_256, ripemd160 };
export default function () {
  const c = {};
  for (const name of Object.keys(digests)) {
    c[`${name} function`] = () => fns[name]('abc', 'hex') === digests[name] && crypto[name] === fns[name];
    c[`${name} createHash`] = () => crypto.createHash(name).update('a').update('bc').digest('hex') === digests[name];
    c[`${name} hmac`] = () => crypto.hmac(name, 'key', fox, 'hex') === hmacs[name];
    c[`${name} createHMAC`] = () => crypto.createHMAC(name, 'key').update(fox).digest('hex') === hmacs[name];
  }
  c['sha384 base64'] = () => sha384('abc', 'base64') === 'ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn';
  check(null, c);
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 21);
}

TEST_F(ModuleGapsTest, ModulesHerdLacksFailNamingTheModuleAndTheImport) {
  struct Case {
    std::string module;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"k6/browser", "module \"k6/browser\" is not supported by herd yet"},
      {"k6/experimental/redis", "module \"k6/experimental/redis\" is not supported by herd yet"},
      {"k6/x/sql", "unknown module \"k6/x/sql\": herd has no such built-in module"},
  };
  for (const Case& c : cases) {
    // The import sits on line 3, column 26 (the quote of the specifier).
    ProcResult r = run_script("import { check } from 'k6';\n// a comment\nimport * as missing from '" + c.module +
                              "';\nexport default function () { check(missing, {}); }\n");
    EXPECT_EQ(r.exit_code, 107) << c.module << "\n" << r;
    EXPECT_NE(r.err.find("script.js:3:26: " + c.message), std::string::npos) << c.module << "\n" << r;
  }
  dir_.write("lib.js", "module.exports = function () {\n  return require(\"k6/experimental/redis\");\n};\n");
  ProcResult r = run_script("import load from './lib.js';\nexport default function () { load(); }\n", {"-i", "1"});
  // A require() in an iteration: the error is logged (logfmt escapes the quotes).
  EXPECT_NE(r.err.find("lib.js:2:18: module \\\"k6/experimental/redis\\\" is not supported by herd yet"),
            std::string::npos)
      << r;
}

}  // namespace
}  // namespace herd::it
