// k6/net/grpc over TLS (connect's `tls` and `plaintext: false`) against the
// demo service with certificates made by the openssl CLI for each test: server
// TLS, a wrong CA, mutual TLS, encrypted client keys (tls.password); and the
// message size limits (maxReceiveSize / maxSendSize).
#include <gmock/gmock.h>

#include "grpc_fixture.h"

namespace herd::it {
namespace {

class GrpcTlsTest : public GrpcTest {
 protected:
  void SetUp() override {
    GrpcTest::SetUp();
    if (!std::filesystem::exists("/usr/bin/openssl")) {
      if (std::getenv("CI")) FAIL() << "/usr/bin/openssl is needed to make the test certificates";
      GTEST_SKIP() << "no /usr/bin/openssl";
    }
    make_ca("ca");
    make_ca("other-ca");
    make_cert("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    make_cert("client", "ca", "extendedKeyUsage=clientAuth\n");
    // The client key encrypted: PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY) and traditional (Proc-Type: 4,ENCRYPTED).
    openssl({"pkey", "-in", "client.key", "-aes256", "-passout", "pass:s3cret", "-out", "client.p8.key"});
    openssl({"ec", "-in", "client.key", "-aes256", "-passout", "pass:s3cret", "-out", "client.trad.key"});
    ASSERT_THAT(dir_.read("client.trad.key"), ::testing::HasSubstr("Proc-Type: 4,ENCRYPTED"));
    ASSERT_THAT(dir_.read("client.p8.key"), ::testing::HasSubstr("BEGIN ENCRYPTED PRIVATE KEY"));
  }

  void openssl(std::vector<std::string> args) {
    RunSpec spec;
    spec.args = std::move(args);
    spec.cwd = dir_.path();
    ProcResult r = run_process("/usr/bin/openssl", spec);
    ASSERT_EQ(r.exit_code, 0) << r;
  }
  void make_ca(const std::string& name) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=herd test " + name});
  }
  void make_cert(const std::string& name, const std::string& ca, const std::string& ext) {
    dir_.write(name + ".ext", ext);
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
             "-out", name + ".csr", "-subj", "/CN=herd test " + name});
    openssl({"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial", "-out",
             name + ".pem", "-days", "2", "-extfile", name + ".ext"});
  }
  /// Restarts the demo service over TLS; with `mutual`, it requires client certificates signed by ca.pem.
  void serve_tls(bool mutual) {
    grpc_.reset();
    target::GrpcDemoTls tls{dir_.read("server.pem"), dir_.read("server.key"), mutual ? dir_.read("ca.pem") : ""};
    grpc_ = std::make_unique<target::GrpcDemoServer>("127.0.0.1:0", tls);
  }
  /// A script whose default function connects with `params` (JS text) and checks an Echo call,
  /// or, with `expect_error`, checks that connect() throws an error containing it.
  std::string script(const std::string& params, const std::string& expect_error = "") {
    std::string s = R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
const files = {};
for (const n of ['ca.pem', 'other-ca.pem', 'client.pem', 'client.key', 'client.p8.key', 'client.trad.key'])
  files[n] = open(n);
const f = (name) => files[name];
export const options = { iterations: 1 };
export default function () {
  let err = '', res = null;
  try {
    client.connect(__ENV.GRPC_ADDR, )JS" +
                    params + R"JS();
    res = client.invoke('herd.demo.Demo/Echo', { text: 'over tls' });
  } catch (e) { err = String(e); }
  if (res && res.status !== StatusOK) err = 'call failed: ' + JSON.stringify(res.error);
  console.log('connect error: ' + err);
)JS";
    if (expect_error.empty())
      s += "  check(res, { 'tls call': (r) => err === '' && r.status === StatusOK && r.message.text === 'over tls' "
           "});\n";
    else
      s += "  check(null, { 'connect failed as expected': () => err.includes(" + json(expect_error).dump() + ") });\n";
    return s + "}\n";
  }
  void expect_passes(const std::string& params, const std::string& expect_error = "") {
    ProcResult r;
    json exp = run(script(params, expect_error), &r);
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_ALL_CHECKS_PASS(exp, r, 1);
  }
};

TEST_F(GrpcTlsTest, ServerTlsWithTheRightCaAndAWrongOne) {
  serve_tls(false);
  expect_passes("{ timeout: '5s', tls: { cacerts: f('ca.pem') } }");
  expect_passes("{ timeout: '5s', plaintext: false, tls: { cacerts: [f('other-ca.pem'), f('ca.pem')] } }");
  // A CA that did not sign the server's certificate: the handshake fails and connect says why.
  expect_passes("{ timeout: '5s', tls: { cacerts: f('other-ca.pem') } }", "failed to connect to 127.0.0.1:");
  expect_passes("{ timeout: '5s', tls: { cacerts: f('other-ca.pem') } }", "certificate verify failed");
  // A plaintext client against a TLS server fails too (bounded by the timeout).
  expect_passes("{ timeout: '2s', plaintext: true }", "failed to connect to 127.0.0.1:");
}

TEST_F(GrpcTlsTest, MutualTlsAndEncryptedClientKeys) {
  serve_tls(true);
  expect_passes("{ timeout: '5s', tls: { cacerts: f('ca.pem'), cert: f('client.pem'), key: f('client.key') } }");
  expect_passes(
      "{ timeout: '5s', tls: { cacerts: f('ca.pem'), cert: f('client.pem'), key: f('client.p8.key'), password: "
      "'s3cret' } }");
  expect_passes(
      "{ timeout: '5s', tls: { cacerts: f('ca.pem'), cert: f('client.pem'), key: f('client.trad.key'), password: "
      "'s3cret' } }");
  // No client certificate: the server refuses the handshake.
  expect_passes("{ timeout: '3s', tls: { cacerts: f('ca.pem') } }", "failed to connect to 127.0.0.1:");
  // A wrong password, a password without a key, a certificate without its key.
  expect_passes(
      "{ timeout: '5s', tls: { cacerts: f('ca.pem'), cert: f('client.pem'), key: f('client.p8.key'), password: "
      "'wrong' } }",
      "cannot decrypt the TLS key with tls.password");
  expect_passes("{ tls: { cacerts: f('ca.pem'), password: 'x' } }", "tls.password is given but tls.key is not");
  expect_passes("{ tls: { cacerts: f('ca.pem'), cert: f('client.pem') } }", "tls.cert and tls.key go together");
}

TEST_F(GrpcTest, OversizeMessagesFailWithResourceExhausted) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, Stream, StatusOK, StatusResourceExhausted } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1 };
export default function () {
  const big = 'x'.repeat(4000);
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s', maxReceiveSize: 1000 });
  const small = client.invoke('herd.demo.Demo/Echo', { text: 'small' });
  const tooBigReply = client.invoke('herd.demo.Demo/Echo', { text: big });
  client.close();
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s', maxSendSize: 1000 });
  const tooBigRequest = client.invoke('herd.demo.Demo/Echo', { text: big });
  const fits = client.invoke('herd.demo.Demo/Echo', { text: 'x'.repeat(900) });
  client.close();
  // 0 is k6's default for both: gRPC's own limits (4 MiB), not zero bytes.
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s', maxReceiveSize: 0, maxSendSize: 0 });
  const zeroIsDefault = client.invoke('herd.demo.Demo/Echo', { text: big });
  // A stream outliving its client's close(): a write is an error, not a crash.
  const stream = new Stream(client, 'herd.demo.Demo/Chat');
  client.close();
  let writeAfterClose = '';
  try { stream.write({ text: 'late' }); } catch (e) { writeAfterClose = String(e); }
  check(null, {
    'maxReceiveSize/maxSendSize 0 are the defaults': () => zeroIsDefault.status === StatusOK &&
      zeroIsDefault.message.text.length === 4000,
    'a write after close() throws': () => writeAfterClose.includes('closed client'),
    'small reply passes': () => small.status === StatusOK,
    'reply over maxReceiveSize': () => tooBigReply.status === StatusResourceExhausted && tooBigReply.status === 8 &&
      tooBigReply.error.message.includes('larger than max'),
    'request over maxSendSize': () => tooBigRequest.status === StatusResourceExhausted &&
      tooBigRequest.error.message.includes('larger than max'),
    'request under maxSendSize passes': () => fits.status === StatusOK && fits.message.text.length === 900,
  });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
}

}  // namespace
}  // namespace herd::it
