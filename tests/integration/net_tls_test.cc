// The TLS options and response fields end to end: `herd run` against
// `openssl s_server` on loopback, with a CA, a server certificate for a
// made-up name (reached through `hosts`), a client certificate and stapled
// OCSP responses, all made by the test with the openssl CLI.
#include "harness.h"
#include "tls_file_server.h"

namespace herd::it {
namespace {

/// The test's PKI, made once per test in `dir`.
bool make_pki(const std::string& dir) {
  const std::string script = R"SH(set -e
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=herd-net-test-ca
q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=tls.herd.test
printf 'subjectAltName=DNS:tls.herd.test,IP:127.0.0.1\n' > san.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext
q openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=herd-net-test-client
q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1
q openssl pkey -in client.key -aes256 -passout pass:herd-secret -out client-enc.key
serial=$(openssl x509 -serial -noout -in server.pem | cut -d= -f2)
expiry=$(date -u -d '+1 day' +%y%m%d%H%M%SZ)
revoked=$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=tls.herd.test\n' "$expiry" "$serial" > good.idx
printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=tls.herd.test\n' "$expiry" "$revoked" "$serial" > revoked.idx
q openssl ocsp -issuer ca.pem -cert server.pem -reqout ocsp.req -no_nonce
q openssl ocsp -index good.idx -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin ocsp.req -respout good.ocsp -ndays 1
q openssl ocsp -index revoked.idx -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin ocsp.req -respout revoked.ocsp -ndays 1
echo hello > hello.txt
)SH";
  std::ofstream(dir + "/pki.sh") << script;
  return std::system(("cd '" + dir + "' && sh pki.sh").c_str()) == 0;
}

class NetTlsTest : public HerdTest {
 protected:
  void SetUp() override {
    HerdTest::SetUp();
    ASSERT_TRUE(make_pki(dir_.path())) << "openssl could not make the test certificates";
    tls_port_ = closed_port();
  }

  /// Runs `script` (TLSPORT replaced) against a peer started with `server_args`; every check must pass.
  /// Returns the summary export.
  json expect_checks(const std::vector<std::string>& server_args, std::string script, long passes,
                     bool trust_ca = true) {
    OpensslServer peer(dir_.path(), tls_port_, "server.pem", "server.key", server_args);
    EXPECT_TRUE(peer.ok()) << "openssl s_server did not start";
    for (std::size_t at; (at = script.find("TLSPORT")) != std::string::npos;)
      script.replace(at, 7, std::to_string(tls_port_));
    std::map<std::string, std::string> env;
    if (trust_ca) env["SSL_CERT_FILE"] = dir_.path() + "/ca.pem";
    ProcResult r;
    json exp = run_export(script, &r, {}, env);
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_ALL_CHECKS_PASS(exp, r, passes);
    return exp;
  }

  std::uint16_t tls_port_ = 0;
};

const char* const kHosts = "hosts: { 'tls.herd.test': '127.0.0.1:TLSPORT' }";

std::string script(const std::string& options, const std::string& body) {
  return "import http from 'k6/http';\nimport { check } from 'k6';\nexport const options = { iterations: 1, " +
         std::string(kHosts) + ", " + options + " };\nexport default function () {\n" + body + "\n}\n";
}

TEST_F(NetTlsTest, ResponseReportsVersionCipherSuiteAndNoStapledOcsp) {
  // Samples carry the tls_version tag (a k6 default system tag): the threshold's submetric counts them.
  json exp = expect_checks({}, script("thresholds: { 'http_reqs{tls_version:tls1.3}': ['count>=1'] }", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), {
    'ok': (r) => r.status === 200 && r.body.trim() === 'hello',
    'tls1.3': (r) => r.tls_version === http.TLS_1_3 && r.tls_version === 'tls1.3',
    'suite': (r) => ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'].includes(r.tls_cipher_suite),
    'no staple': (r) => r.ocsp.status === 'unknown' && r.ocsp.produced_at === 0,
  });
  check(http.get(`${__ENV.BASE_URL}/`), { 'plain http has no tls': (r) => r.tls_version === '' && r.tls_cipher_suite === '' });)JS"),
                           5);
  EXPECT_EQ(exp["metrics"]["http_reqs{tls_version:tls1.3}"].value("count", -1.0), 1.0) << exp.dump();
}

TEST_F(NetTlsTest, TlsVersionAndCipherSuitesChooseTheHandshake) {
  expect_checks({}, script("tlsVersion: http.TLS_1_2, tlsCipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), {
    'tls1.2': (r) => r.status === 200 && r.tls_version === 'tls1.2',
    'suite': (r) => r.tls_cipher_suite === 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  });)JS"),
                2);
  expect_checks(
      {}, script("tlsVersion: { max: 'tls1.2' }, tlsCipherSuites: ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384']", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), {
    'suite': (r) => r.tls_version === 'tls1.2' && r.tls_cipher_suite === 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  });)JS"),
      1);
  // A server limited to TLS 1.2 refuses a client that needs 1.3.
  expect_checks({"-tls1_2"}, script("tlsVersion: { min: 'tls1.3' }", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), {
    'handshake fails': (r) => r.status === 0 && r.error_code >= 1300 && r.error_code < 1400,
  });)JS"),
                1);
}

TEST_F(NetTlsTest, InsecureSkipTLSVerify) {
  expect_checks({}, script("", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), { 'unknown authority': (r) => r.status === 0 && r.error_code === 1310 });)JS"),
                1, /*trust_ca=*/false);
  expect_checks({}, script("insecureSkipTLSVerify: true", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), { 'accepted': (r) => r.status === 200 });)JS"),
                1, /*trust_ca=*/false);
}

TEST_F(NetTlsTest, TlsAuthSendsTheClientCertificateToItsDomains) {
  const std::vector<std::string> verify = {"-Verify", "1", "-CAfile", "ca.pem"};
  const std::string get = R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), { 'WANT': (r) => EXPR });)JS";
  auto body = [&](const std::string& want, const std::string& expr) {
    std::string b = get;
    b.replace(b.find("WANT"), 4, want);
    b.replace(b.find("EXPR"), 4, expr);
    return b;
  };
  const std::string auth = "tlsAuth: [{ domains: ['DOMAIN'], cert: open('./client.pem'), key: open('./client.key') }]";
  auto with_domain = [&](const std::string& d) {
    std::string a = auth;
    a.replace(a.find("DOMAIN"), 6, d);
    return a;
  };
  expect_checks(verify, script(with_domain("tls.herd.test"), body("accepted", "r.status === 200")), 1);
  expect_checks(verify, script(with_domain("other.herd.test"), body("refused", "r.status === 0 && r.error_code > 0")),
                1);
  expect_checks(verify, script("", body("refused", "r.status === 0 && r.error_code > 0")), 1);
  // An encrypted key with its password.
  const std::string enc =
      "tlsAuth: [{ domains: ['tls.herd.test'], cert: open('./client.pem'), "
      "key: open('./client-enc.key'), password: 'PASS' }]";
  auto with_password = [&](const std::string& p) {
    std::string a = enc;
    a.replace(a.find("PASS"), 4, p);
    return a;
  };
  expect_checks(verify, script(with_password("herd-secret"), body("decrypted", "r.status === 200")), 1);
  expect_checks(verify, script(with_password("wrong"), body("wrong password", "r.status === 0 && r.error_code > 0")),
                1);
}

TEST_F(NetTlsTest, StapledOcspResponses) {
  expect_checks({"-status_file", "good.ocsp"}, script("", R"JS(
  const now = Date.now() / 1000;
  check(http.get('https://tls.herd.test/hello.txt'), {
    'good': (r) => r.status === 200 && r.ocsp.status === http.OCSP_STATUS_GOOD && r.ocsp.revocation_reason === '',
    'times': (r) => Math.abs(r.ocsp.produced_at - now) < 300 && r.ocsp.next_update > r.ocsp.this_update,
  });)JS"),
                2);
  expect_checks({"-status_file", "revoked.ocsp"}, script("", R"JS(
  check(http.get('https://tls.herd.test/hello.txt'), {
    'revoked': (r) => r.ocsp.status === http.OCSP_STATUS_REVOKED && r.ocsp.revocation_reason === http.OCSP_REASON_KEY_COMPROMISE && r.ocsp.revoked_at > 0,
  });)JS"),
                1);
}

}  // namespace
}  // namespace herd::it
