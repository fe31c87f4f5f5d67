// The global `crypto` (WebCrypto) through the real binary. Known answers come
// from the `openssl` command-line tool run by the test (and published AES-GCM
// vectors); signatures and ciphertexts cross between openssl and the script.
#include <cstdio>

#include "harness.h"

namespace herd::it {
namespace {

class WebCryptoTest : public HerdTest {
 protected:
  /// Runs a shell command in the test's folder; its stdout. Fails the test on a non-zero exit.
  std::string sh(const std::string& cmd) {
    std::string full = "cd '" + dir_.path() + "' && " + cmd;
    FILE* p = popen(full.c_str(), "r");
    if (!p) {
      ADD_FAILURE() << "popen failed: " << cmd;
      return "";
    }
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int rc = pclose(p);
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
    return out;
  }
  /// The hex digest printed by `openssl dgst -r` (first word).
  std::string dgst(const std::string& args) {
    std::string out = sh("openssl dgst -r " + args);
    return out.substr(0, out.find(' '));
  }
  std::string file_hex(const std::string& rel) { return hex(dir_.read(rel)); }
  static std::string hex(const std::string& bytes) {
    static const char* h = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out += h[c >> 4];
      out += h[c & 15];
    }
    return out;
  }
  static std::string unhex(const std::string& s) {
    std::string out;
    for (size_t i = 0; i + 1 < s.size(); i += 2) out += static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16));
    return out;
  }
  /// A DER ECDSA signature as r||s, each `width` bytes.
  static std::string der_to_raw(const std::string& der, size_t width) {
    size_t i = 2;
    if (static_cast<unsigned char>(der[1]) & 0x80) i += static_cast<unsigned char>(der[1]) & 0x7f;
    std::string out;
    for (int k = 0; k < 2; k++) {
      size_t len = static_cast<unsigned char>(der[i + 1]);
      std::string v = der.substr(i + 2, len);
      while (v.size() > width && v[0] == 0) v.erase(0, 1);
      out += std::string(width - v.size(), '\0') + v;
      i += 2 + len;
    }
    return out;
  }
  /// r||s as a DER ECDSA signature.
  static std::string raw_to_der(const std::string& raw) {
    std::string body;
    for (int k = 0; k < 2; k++) {
      std::string v = raw.substr(k * raw.size() / 2, raw.size() / 2);
      while (v.size() > 1 && v[0] == 0) v.erase(0, 1);
      if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(0, 1, '\0');
      body += '\x02';
      body += static_cast<char>(v.size());
      body += v;
    }
    std::string len = body.size() < 128 ? std::string(1, static_cast<char>(body.size()))
                                        : std::string("\x81") + static_cast<char>(body.size());
    return "\x30" + len + body;
  }
  /// The hex after "TAG " in the run's console output.
  static std::string logged(const ProcResult& r, const std::string& tag) {
    std::smatch m;
    if (std::regex_search(r.err, m, std::regex(tag + " ([0-9a-f]+)"))) return m[1];
    return "";
  }
};

// Shared script helpers: hex of a buffer, bytes of a hex string or text.
const char* kHelpers = R"JS(
const hex = (b) => Array.from(new Uint8Array(b)).map((x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const bytes = (s) => new Uint8Array(Array.from(s).map((c) => c.charCodeAt(0)));
const subtle = crypto.subtle;
)JS";

TEST_F(WebCryptoTest, DigestsAndHmacMatchOpenssl) {
  std::string msg = "herd webcrypto digest test \x01\x02\xff";
  dir_.write("msg.bin", msg);
  std::map<std::string, std::string> env;
  for (const char* h : {"1", "256", "384", "512"})
    env[std::string("SHA") + h] = dgst(std::string("-sha") + h + " msg.bin");
  env["HMAC256"] = dgst("-sha256 -mac HMAC -macopt hexkey:000102030405060708090a0b0c0d0e0f msg.bin");
  env["HMAC512"] = dgst("-sha512 -mac HMAC -macopt hexkey:000102030405060708090a0b0c0d0e0f msg.bin");
  ProcResult r;
  json exp = run_export(std::string(kHelpers) + R"JS(
import { check } from 'k6';
const msg = open('msg.bin', 'b');
export const options = { iterations: 1 };
export default async function () {
  const d = {};
  for (const h of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) d[h] = hex(await subtle.digest(h, msg));
  const key = unhex('000102030405060708090a0b0c0d0e0f');
  const k256 = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);
  const k512 = await subtle.importKey('raw', key.buffer, { name: 'hmac', hash: { name: 'sha-512' } }, false, ['sign']);
  const mac = await subtle.sign('HMAC', k256, msg);
  const jwk = await subtle.exportKey('jwk', k256);
  const fromJwk = await subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const gen = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-384' }, true, ['sign']);
  check(null, {
    'SHA-1': () => d['SHA-1'] === __ENV.SHA1,
    'SHA-256': () => d['SHA-256'] === __ENV.SHA256,
    'SHA-384': () => d['SHA-384'] === __ENV.SHA384,
    'SHA-512': () => d['SHA-512'] === __ENV.SHA512,
    'HMAC SHA-256': () => hex(mac) === __ENV.HMAC256,
    'jwk': () => jwk.kty === 'oct' && jwk.alg === 'HS256' && jwk.k === 'AAECAwQFBgcICQoLDA0ODw' && jwk.ext === true,
    'key shape': () => k256.type === 'secret' && k256.extractable && k256.algorithm.name === 'HMAC' &&
      k256.algorithm.hash.name === 'SHA-256' && k256.algorithm.length === 128 && k256.usages.join() === 'sign,verify' &&
      !k512.extractable && fromJwk.usages.join() === 'verify',
    'generated HMAC key is the hash block size': () => gen.algorithm.length === 1024,
  });
  const ok = await subtle.verify('HMAC', fromJwk, mac, msg);
  const bad = await subtle.verify('HMAC', fromJwk, mac, bytes('other'));
  const view = hex(await subtle.digest('SHA-256', new DataView(msg)));
  console.log('HMAC512 ' + hex(await subtle.sign('HMAC', k512, msg)));
  check(null, { 'verify true/false': () => ok === true && bad === false, 'view digest': () => view === __ENV.SHA256 });
}
)JS",
                        &r, {}, env);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
  EXPECT_EQ(logged(r, "HMAC512"), env["HMAC512"]) << r;
}

TEST_F(WebCryptoTest, AesMatchesOpensslAndPublishedGcmVectors) {
  std::string key = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
  std::string iv = "000102030405060708090a0b0c0d0e0f";
  dir_.write("plain.txt", "Forty-two bytes of plain text for AES tests");
  std::map<std::string, std::string> env;
  env["CBC"] = hex(sh("openssl enc -aes-256-cbc -K " + key + " -iv " + iv + " -in plain.txt"));
  env["CTR"] = hex(sh("openssl enc -aes-256-ctr -K " + key + " -iv " + iv + " -in plain.txt"));
  // A counter whose low 8 bits wrap after one block: WebCrypto restarts them at
  // zero without carrying into the rest, so block 2 uses ...00 (openssl: two runs).
  std::string wrap_iv = "000102030405060708090a0b0c0d0eff", wrap_iv2 = "000102030405060708090a0b0c0d0e00";
  dir_.write("block1.bin", "0123456789abcdef");
  dir_.write("block2.bin", "fedcba9876543210");
  env["CTRWRAP"] = hex(sh("openssl enc -aes-256-ctr -K " + key + " -iv " + wrap_iv + " -in block1.bin")) +
                   hex(sh("openssl enc -aes-256-ctr -K " + key + " -iv " + wrap_iv2 + " -in block2.bin"));
  ProcResult r;
  json exp = run_export(std::string(kHelpers) + R"JS(
import { check } from 'k6';
const plain = open('plain.txt', 'b');
export const options = { iterations: 1 };
export default async function () {
  const raw = unhex(__ENV.KEY);
  const cbcKey = await subtle.importKey('raw', raw, 'AES-CBC', true, ['encrypt', 'decrypt']);
  const ctrKey = await subtle.importKey('raw', raw, { name: 'AES-CTR' }, true, ['encrypt', 'decrypt']);
  const iv = unhex(__ENV.IV);
  const cbc = await subtle.encrypt({ name: 'AES-CBC', iv }, cbcKey, plain);
  const cbcBack = await subtle.decrypt({ name: 'AES-CBC', iv }, cbcKey, unhex(__ENV.CBC));
  const ctr = await subtle.encrypt({ name: 'AES-CTR', counter: iv, length: 128 }, ctrKey, plain);
  const wrap = await subtle.encrypt({ name: 'AES-CTR', counter: unhex('000102030405060708090a0b0c0d0eff'), length: 8 }, ctrKey,
    bytes('0123456789abcdeffedcba9876543210'));
  // GCM test cases 2 and 4 of the GCM specification (McGrew and Viega).
  const zero = await subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const tc2 = await subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, zero, new Uint8Array(16));
  const k4 = await subtle.importKey('raw', unhex('feffe9928665731c6d6a8f9467308308'), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const p4 = unhex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
  const a4 = unhex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
  const tc4 = await subtle.encrypt({ name: 'AES-GCM', iv: unhex('cafebabefacedbaddecaf888'), additionalData: a4 }, k4, p4);
  const back4 = await subtle.decrypt({ name: 'AES-GCM', iv: unhex('cafebabefacedbaddecaf888'), additionalData: a4 }, k4, tc4);
  const short = await subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12), tagLength: 96 }, zero, new Uint8Array(0));
  let tampered = '';
  const bad = new Uint8Array(tc4).slice(); bad[0] ^= 1;
  try { await subtle.decrypt({ name: 'AES-GCM', iv: unhex('cafebabefacedbaddecaf888'), additionalData: a4 }, k4, bad); } catch (e) { tampered = e.name; }
  const gen = await subtle.generateKey({ name: 'AES-GCM', length: 192 }, true, ['encrypt']);
  const jwk = await subtle.exportKey('jwk', gen);
  check(null, {
    'AES-CBC = openssl': () => hex(cbc) === __ENV.CBC,
    'AES-CBC decrypts openssl': () => hex(cbcBack) === hex(plain),
    'AES-CTR = openssl': () => hex(ctr) === __ENV.CTR,
    'AES-CTR counter wraps in its length bits': () => hex(wrap) === __ENV.CTRWRAP,
    'AES-GCM test case 2': () => hex(tc2) === '0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf',
    'AES-GCM test case 4': () => hex(tc4) === '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' + '5bc94fbc3221a5db94fae95ae7121a47',
    'AES-GCM round trip': () => hex(back4) === hex(p4),
    'AES-GCM 96-bit tag': () => new Uint8Array(short).length === 12,
    'AES-GCM tampering is an OperationError': () => tampered === 'OperationError',
    'generated key': () => gen.algorithm.length === 192 && jwk.alg === 'A192GCM' && jwk.k.length === 32,
  });
}
)JS",
                        &r, {}, [&] {
                          env["KEY"] = key;
                          env["IV"] = iv;
                          return env;
                        }());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
}

TEST_F(WebCryptoTest, EcdsaAndEcdhInteroperateWithOpenssl) {
  dir_.write("msg.txt", "sign me, please");
  for (const char* c : {"a", "b"}) {
    sh(std::string("openssl ecparam -name prime256v1 -genkey -noout -out ") + c + ".pem");
    sh(std::string("openssl pkcs8 -topk8 -nocrypt -in ") + c + ".pem -outform DER -out " + c + ".p8");
    sh(std::string("openssl pkey -in ") + c + ".pem -pubout -outform DER -out " + c + ".spki");
    sh(std::string("openssl pkey -in ") + c + ".pem -pubout -out " + c + ".pub.pem");
  }
  sh("openssl ecparam -name secp384r1 -genkey -noout -out c.pem && openssl pkey -in c.pem -pubout -outform DER -out "
     "c.spki");
  sh("openssl dgst -sha256 -sign a.pem -out a.sig msg.txt");
  sh("openssl dgst -sha384 -sign c.pem -out c.sig msg.txt");
  sh("openssl ecparam -name secp521r1 -genkey -noout -out e.pem && openssl pkey -in e.pem -pubout -outform DER -out "
     "e.spki");
  sh("openssl dgst -sha512 -sign e.pem -out e.sig msg.txt");
  std::map<std::string, std::string> env;
  env["SIG_A"] = hex(der_to_raw(dir_.read("a.sig"), 32));
  env["SIG_C"] = hex(der_to_raw(dir_.read("c.sig"), 48));
  env["SIG_E"] = hex(der_to_raw(dir_.read("e.sig"), 66));
  env["ECDH"] = hex(sh("openssl pkeyutl -derive -inkey a.pem -peerkey b.pub.pem"));
  ProcResult r;
  json exp = run_export(std::string(kHelpers) + R"JS(
import { check } from 'k6';
const msg = open('msg.txt', 'b');
const aPriv = open('a.p8', 'b'), aPub = open('a.spki', 'b'), bPub = open('b.spki', 'b'), cPub = open('c.spki', 'b'),
  ePub = open('e.spki', 'b');
export const options = { iterations: 1 };
export default async function () {
  const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
  const pub = await subtle.importKey('spki', aPub, P256, true, ['verify']);
  const priv = await subtle.importKey('pkcs8', aPriv, P256, true, ['sign']);
  const cKey = await subtle.importKey('spki', cPub, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['verify']);
  const ok = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, unhex(__ENV.SIG_A), msg);
  const wrong = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, unhex(__ENV.SIG_A), bytes('tampered'));
  const ok384 = await subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, cKey, unhex(__ENV.SIG_C), msg);
  const eKey = await subtle.importKey('spki', ePub, { name: 'ECDSA', namedCurve: 'P-521' }, false, ['verify']);
  const ok521 = await subtle.verify({ name: 'ECDSA', hash: 'SHA-512' }, eKey, unhex(__ENV.SIG_E), msg);
  const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, priv, msg);
  console.log('SIG ' + hex(sig));
  const jwkPub = await subtle.exportKey('jwk', pub);
  const jwkPriv = await subtle.exportKey('jwk', priv);
  const rawPub = await subtle.exportKey('raw', pub);
  const fromRaw = await subtle.importKey('raw', rawPub, P256, true, ['verify']);
  const fromJwk = await subtle.importKey('jwk', jwkPriv, P256, true, ['sign']);
  const sig2 = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, fromJwk, msg);
  const ok2 = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, fromRaw, sig2, msg);
  const spkiBack = await subtle.exportKey('spki', fromRaw);
  const ECDH = { name: 'ECDH', namedCurve: 'P-256' };
  const dh = await subtle.importKey('pkcs8', aPriv, ECDH, false, ['deriveBits']);
  const peer = await subtle.importKey('spki', bPub, ECDH, true, []);
  const shared = await subtle.deriveBits({ name: 'ECDH', public: peer }, dh, 256);
  const part = await subtle.deriveBits({ name: 'ECDH', public: peer }, dh, 12);
  check(null, {
    'verifies an openssl P-256 signature': () => ok === true && wrong === false,
    'verifies openssl P-384 and P-521 signatures': () => ok384 === true && ok521 === true,
    'signature is r||s': () => new Uint8Array(sig).length === 64,
    'jwk': () => jwkPub.kty === 'EC' && jwkPub.crv === 'P-256' && jwkPub.x.length === 43 && jwkPub.d === undefined &&
      jwkPriv.d.length === 43 && jwkPriv.x === jwkPub.x,
    'raw is the uncompressed point': () => new Uint8Array(rawPub).length === 65 && new Uint8Array(rawPub)[0] === 4,
    'jwk and raw round trip': () => ok2 === true && hex(spkiBack) === hex(aPub),
    'key shape': () => pub.type === 'public' && priv.type === 'private' && priv.algorithm.namedCurve === 'P-256' &&
      cKey.algorithm.namedCurve === 'P-384',
    'ECDH = openssl pkeyutl -derive': () => hex(shared) === __ENV.ECDH,
    'ECDH partial bits': () => hex(part) === __ENV.ECDH.slice(0, 2) + (parseInt(__ENV.ECDH.slice(2, 4), 16) & 0xf0).toString(16).padStart(2, '0'),
  });
}
)JS",
                        &r, {}, env);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 9);
  std::string sig = logged(r, "SIG");
  ASSERT_EQ(sig.size(), 128u) << r;
  dir_.write("script.sig", raw_to_der(unhex(sig)));
  sh("openssl dgst -sha256 -verify a.pub.pem -signature script.sig msg.txt");
}

TEST_F(WebCryptoTest, RsaInteroperatesWithOpenssl) {
  dir_.write("msg.txt", "an RSA message");
  sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2>/dev/null");
  sh("openssl pkcs8 -topk8 -nocrypt -in k.pem -outform DER -out k.p8");
  sh("openssl pkey -in k.pem -pubout -outform DER -out k.spki");
  sh("openssl pkey -in k.pem -pubout -out k.pub.pem");
  std::map<std::string, std::string> env;
  env["PKCS1"] = hex(sh("openssl dgst -sha256 -sign k.pem msg.txt"));
  env["PSS"] =
      hex(sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign k.pem msg.txt"));
  env["OAEP"] =
      hex(sh("openssl pkeyutl -encrypt -pubin -inkey k.pub.pem -pkeyopt rsa_padding_mode:oaep "
             "-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in msg.txt"));
  ProcResult r;
  json exp = run_export(std::string(kHelpers) + R"JS(
import { check } from 'k6';
const msg = open('msg.txt', 'b');
const p8 = open('k.p8', 'b'), spki = open('k.spki', 'b');
export const options = { iterations: 1 };
export default async function () {
  const RS = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const PS = { name: 'RSA-PSS', hash: 'SHA-256' };
  const OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' };
  const rsPriv = await subtle.importKey('pkcs8', p8, RS, true, ['sign']);
  const rsSig = await subtle.sign(RS, rsPriv, msg);
  const psPub = await subtle.importKey('spki', spki, PS, true, ['verify']);
  const psOk = await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, psPub, unhex(__ENV.PSS), msg);
  const psBad = await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, psPub, unhex(__ENV.PSS), bytes('x'));
  const psPriv = await subtle.importKey('pkcs8', p8, PS, false, ['sign']);
  const psSig = await subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, psPriv, msg);
  console.log('PSS ' + hex(psSig));
  const oPriv = await subtle.importKey('pkcs8', p8, OAEP, true, ['decrypt']);
  const plain = await subtle.decrypt({ name: 'RSA-OAEP' }, oPriv, unhex(__ENV.OAEP));
  const oPub = await subtle.importKey('spki', spki, OAEP, true, ['encrypt']);
  const ct = await subtle.encrypt({ name: 'RSA-OAEP', label: bytes('L') }, oPub, bytes('round trip'));
  const back = await subtle.decrypt({ name: 'RSA-OAEP', label: bytes('L') }, oPriv, ct);
  const jwk = await subtle.exportKey('jwk', rsPriv);
  const fromJwk = await subtle.importKey('jwk', jwk, RS, true, ['sign']);
  const rsSig2 = await subtle.sign(RS, fromJwk, msg);
  const pubJwk = await subtle.exportKey('jwk', psPub);
  check(null, {
    'PKCS1 v1.5 signature = openssl': () => hex(rsSig) === __ENV.PKCS1,
    'verifies an openssl PSS signature': () => psOk === true && psBad === false,
    'decrypts openssl RSA-OAEP': () => String.fromCharCode(...new Uint8Array(plain)) === 'an RSA message',
    'OAEP with a label round trip': () => String.fromCharCode(...new Uint8Array(back)) === 'round trip',
    'jwk round trip': () => jwk.kty === 'RSA' && jwk.alg === 'RS256' && jwk.e === 'AQAB' && jwk.qi && hex(rsSig2) === __ENV.PKCS1,
    'public jwk': () => pubJwk.alg === 'PS256' && pubJwk.d === undefined && pubJwk.n === jwk.n,
    'key shape': () => rsPriv.algorithm.modulusLength === 2048 && hex(rsPriv.algorithm.publicExponent) === '010001' &&
      rsPriv.algorithm.hash.name === 'SHA-256' && psPub.type === 'public' && rsPriv.type === 'private',
  });
  const gen = await subtle.generateKey({ name: 'RSA-PSS', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    false, ['sign', 'verify']);
  const gs = await subtle.sign({ name: 'RSA-PSS', saltLength: 20 }, gen.privateKey, msg);
  const genOk = await subtle.verify({ name: 'RSA-PSS', saltLength: 20 }, gen.publicKey, gs, msg);
  check(null, {
    'generated pair signs and verifies': () => genOk === true && gen.publicKey.algorithm.modulusLength === 1024,
    'generated pair usages and extractability': () => gen.publicKey.extractable && !gen.privateKey.extractable &&
      gen.publicKey.usages.join() === 'verify' && gen.privateKey.usages.join() === 'sign',
  });
}
)JS",
                        &r, {}, env);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 9);
  std::string pss = logged(r, "PSS");
  ASSERT_EQ(pss.size(), 512u) << r;
  dir_.write("script.sig", unhex(pss));
  sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify k.pub.pem "
     "-signature script.sig msg.txt");
}

TEST_F(WebCryptoTest, RandomValuesUuidAndErrors) {
  ProcResult r;
  json exp = run_export(std::string(kHelpers) + R"JS(
import { check } from 'k6';
import { crypto as modCrypto } from 'k6/experimental/webcrypto';
const initDigest = await crypto.subtle.digest('SHA-1', new Uint8Array(0));
export const options = { iterations: 1 };
async function errName(p) { try { await p(); return 'none'; } catch (e) { return e.name + ': ' + e.message; } }
export default async function () {
  const a = new Uint32Array(16);
  const same = crypto.getRandomValues(a);
  const uuids = new Set();
  for (let i = 0; i < 50; i++) uuids.add(crypto.randomUUID());
  const aes = await subtle.generateKey({ name: 'AES-CBC', length: 128 }, false, ['encrypt']);
  const errs = {
    md5: await errName(() => subtle.digest('MD5', new Uint8Array(1))),
    noExport: await errName(() => subtle.exportKey('raw', aes)),
    badUsage: await errName(() => subtle.generateKey({ name: 'AES-GCM', length: 128 }, true, ['sign'])),
    badLength: await errName(() => subtle.generateKey({ name: 'AES-GCM', length: 100 }, true, ['encrypt'])),
    wrongAlg: await errName(() => subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, aes, new Uint8Array(1))),
    noUsage: await errName(() => subtle.decrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, aes, new Uint8Array(16))),
    badIv: await errName(() => subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(3) }, aes, new Uint8Array(1))),
    wrapKey: await errName(() => subtle.wrapKey('raw', aes, aes, 'AES-KW')),
    float: (() => { try { crypto.getRandomValues(new Float64Array(1)); return 'none'; } catch (e) { return e.name; } })(),
    quota: (() => { try { crypto.getRandomValues(new Uint8Array(65537)); return 'none'; } catch (e) { return e.name; } })(),
  };
  console.log(JSON.stringify(errs));
  check(null, {
    'getRandomValues fills in place': () => same === a && a.some((x) => x !== 0),
    'randomUUID is a v4 UUID': () => [...uuids].every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)) && uuids.size === 50,
    'k6/experimental/webcrypto exports the global': () => modCrypto === crypto,
    'usable in the init context': () => hex(initDigest) === 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    'NotSupportedError': () => errs.md5.startsWith('NotSupportedError: digest: unsupported algorithm "MD5"'),
    'InvalidAccessError': () => errs.noExport.startsWith('InvalidAccessError: exportKey: the key is not extractable') &&
      errs.wrongAlg.startsWith('InvalidAccessError: encrypt: the key is a AES-CBC key') &&
      errs.noUsage.startsWith('InvalidAccessError: decrypt: the key\'s usages do not include "decrypt"'),
    'SyntaxError': () => errs.badUsage.startsWith('SyntaxError: generateKey: usage "sign"'),
    'OperationError': () => errs.badLength.startsWith('OperationError') && errs.badIv.startsWith('OperationError: AES-CBC: iv must be 16 bytes'),
    'unsupported operations say so': () => errs.wrapKey === 'NotSupportedError: crypto.subtle.wrapKey is not supported by herd',
    'getRandomValues errors': () => errs.float === 'TypeMismatchError' && errs.quota === 'QuotaExceededError',
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
}

}  // namespace
}  // namespace herd::it
