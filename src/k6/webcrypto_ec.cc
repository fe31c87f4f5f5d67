// WebCrypto elliptic-curve keys: ECDSA (sign/verify, IEEE P1363 r||s
// signatures) and ECDH (deriveBits) on P-256, P-384 and P-521; generate,
// import and export in raw (public), jwk, spki and pkcs8.
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include <cstring>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi_util.h"
#include "k6/webcrypto.h"

namespace herd::k6::webcrypto {

namespace {

/// Field size in bytes of a WebCrypto curve; 0 if unsupported.
size_t field_bytes(const std::string& curve) {
  return curve == "P-256" ? 32 : curve == "P-384" ? 48 : curve == "P-521" ? 66 : 0;
}

std::string curve_of(EVP_PKEY* pkey) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return "";
  std::string n(name, len);
  if (n == "prime256v1" || n == "P-256") return "P-256";
  if (n == "secp384r1" || n == "P-384") return "P-384";
  if (n == "secp521r1" || n == "P-521") return "P-521";
  return "";
}

std::string req_curve(JSContext* ctx, JSValueConst params, const char* op) {
  std::string c = req_string(ctx, params, "namedCurve", op);
  if (!field_bytes(c))
    fail("NotSupportedError", std::string(op) + ": unsupported namedCurve \"" + c + "\" (P-256, P-384, P-521)");
  return c;
}

std::string public_point(EVP_PKEY* pkey) {
  unsigned char buf[256];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) != 1)
    fail("OperationError", "cannot read the EC public key");
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string bn_bytes(const BIGNUM* bn, size_t width) {
  std::string out(width, '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width)) < 0)
    fail("OperationError", "a key number does not fit its field");
  return out;
}

/// An EC key from its curve, uncompressed public point and optional private scalar.
PkeyPtr ec_from_parts(const std::string& curve, const std::string& point, const std::string* priv) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  BnPtr d(priv
              ? BN_bin2bn(reinterpret_cast<const unsigned char*>(priv->data()), static_cast<int>(priv->size()), nullptr)
              : nullptr);
  bool built = bld && OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.c_str(), 0) == 1 &&
               OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1 &&
               (!d || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) == 1);
  ParamPtr params(built ? OSSL_PARAM_BLD_to_param(bld.get()) : nullptr);
  PkeyCtxPtr pc(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  bool ok = params && pc && EVP_PKEY_fromdata_init(pc.get()) == 1 &&
            EVP_PKEY_fromdata(pc.get(), &raw, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) == 1;
  PkeyPtr k(raw);
  if (!ok) fail("DataError", "the EC key data is not a valid " + curve + " key");
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  if (!check || (priv ? EVP_PKEY_pairwise_check(check.get()) : EVP_PKEY_public_check(check.get())) != 1)
    fail("DataError", "the EC key data is not a valid " + curve + " key");
  return k;
}

std::unique_ptr<KeyData> make_key(const std::string& alg, const std::string& curve, PkeyPtr pkey, KeyType type) {
  auto k = std::make_unique<KeyData>();
  k->algorithm = alg;
  k->curve = curve;
  k->type = type;
  k->pkey = std::move(pkey);
  return k;
}

bool has_private(EVP_PKEY* pkey) {
  BIGNUM* d = nullptr;
  bool has = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1;
  BnPtr owned(d);
  return has;
}

}  // namespace

KeyPair ec_generate(JSContext* ctx, const std::string& alg, JSValueConst params) {
  std::string curve = req_curve(ctx, params, "generateKey");
  PkeyPtr priv(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve.c_str()));
  if (!priv) fail("OperationError", "generateKey: EC key generation failed");
  PkeyPtr pub = ec_from_parts(curve, public_point(priv.get()), nullptr);
  KeyPair p;
  p.public_key = make_key(alg, curve, std::move(pub), KeyType::kPublic);
  p.private_key = make_key(alg, curve, std::move(priv), KeyType::kPrivate);
  return p;
}

std::unique_ptr<KeyData> ec_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                   const std::string& alg, JSValueConst params, unsigned) {
  std::string curve = req_curve(ctx, params, "importKey");
  size_t fb = field_bytes(curve);
  if (format == "raw") {
    std::string point;
    buffer_bytes(ctx, key_data, &point);
    if (point.size() != 1 + 2 * fb || point[0] != 4)
      fail("DataError", "importKey: a raw " + curve + " public key is an uncompressed point of " +
                            std::to_string(1 + 2 * fb) + " bytes");
    return make_key(alg, curve, ec_from_parts(curve, point, nullptr), KeyType::kPublic);
  }
  if (format == "jwk") {
    if (jwk_member(ctx, key_data, "kty") != "EC") fail("DataError", "importKey: an EC JWK has \"kty\": \"EC\"");
    if (jwk_member(ctx, key_data, "crv") != curve)
      fail("DataError", "importKey: the JWK's \"crv\" does not match namedCurve " + curve);
    std::string x = from_b64url(jwk_member(ctx, key_data, "x"), "x");
    std::string y = from_b64url(jwk_member(ctx, key_data, "y"), "y");
    if (x.size() != fb || y.size() != fb)
      fail("DataError", "importKey: JWK x and y must be " + std::to_string(fb) + " bytes");
    auto d = opt_string(ctx, key_data, "d");
    std::string dbytes = d ? from_b64url(*d, "d") : "";
    if (d && dbytes.size() != fb) fail("DataError", "importKey: JWK d must be " + std::to_string(fb) + " bytes");
    return make_key(alg, curve, ec_from_parts(curve, std::string(1, '\x04') + x + y, d ? &dbytes : nullptr),
                    d ? KeyType::kPrivate : KeyType::kPublic);
  }
  std::string der;
  buffer_bytes(ctx, key_data, &der);
  PkeyPtr k = format == "spki" ? pkey_from_spki(der) : pkey_from_pkcs8(der);
  if (EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_EC) fail("DataError", "importKey: the key is not an EC key");
  if (curve_of(k.get()) != curve) fail("DataError", "importKey: the key's curve does not match namedCurve " + curve);
  KeyType type = format == "spki" ? KeyType::kPublic : KeyType::kPrivate;
  if (type == KeyType::kPrivate && !has_private(k.get()))
    fail("DataError", "importKey: the PKCS #8 key has no private part");
  return make_key(alg, curve, std::move(k), type);
}

JSValue ec_export(JSContext* ctx, const std::string& format, const KeyData& key) {
  bool priv = key.type == KeyType::kPrivate;
  if (format == "raw") {
    if (priv) fail("InvalidAccessError", "exportKey: only public EC keys export as raw");
    return new_array_buffer(ctx, public_point(key.pkey.get()));
  }
  if (format == "spki") {
    if (priv) fail("InvalidAccessError", "exportKey: spki is for public keys");
    return new_array_buffer(ctx, spki_of(key.pkey.get()));
  }
  if (format == "pkcs8") {
    if (!priv) fail("InvalidAccessError", "exportKey: pkcs8 is for private keys");
    return new_array_buffer(ctx, pkcs8_of(key.pkey.get()));
  }
  size_t fb = field_bytes(key.curve);
  std::string point = public_point(key.pkey.get());
  if (point.size() != 1 + 2 * fb) fail("OperationError", "exportKey: the public point is not uncompressed");
  js::Value jwk(ctx, JS_NewObject(ctx));
  set_str(ctx, jwk.get(), "kty", "EC");
  set_str(ctx, jwk.get(), "crv", key.curve);
  set_str(ctx, jwk.get(), "x", b64url(point.substr(1, fb)));
  set_str(ctx, jwk.get(), "y", b64url(point.substr(1 + fb, fb)));
  if (priv) {
    BIGNUM* d = nullptr;
    bool has = EVP_PKEY_get_bn_param(key.pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1;
    BnPtr dp(d);
    if (!has) fail("OperationError", "exportKey: no private scalar");
    set_str(ctx, jwk.get(), "d", b64url(bn_bytes(d, fb)));
  }
  set_jwk_common(ctx, jwk.get(), key);
  return jwk.release();
}

std::string ecdsa_sign(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data) {
  const EVP_MD* md = md_for(req_hash(ctx, params, "sign"));
  MdCtxPtr mc(EVP_MD_CTX_new());
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = 0;
  std::string der;
  bool ok = mc && EVP_DigestSignInit(mc.get(), nullptr, md, nullptr, key.pkey.get()) == 1 &&
            EVP_DigestSign(mc.get(), nullptr, &len, in, data.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(mc.get(), reinterpret_cast<unsigned char*>(der.data()), &len, in, data.size()) == 1;
    der.resize(len);
  }
  if (!ok) fail("OperationError", "ECDSA signing failed");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) fail("OperationError", "ECDSA signing produced no signature");
  size_t fb = field_bytes(key.curve);
  return bn_bytes(ECDSA_SIG_get0_r(sig.get()), fb) + bn_bytes(ECDSA_SIG_get0_s(sig.get()), fb);
}

bool ecdsa_verify(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& sig,
                  const std::string& data) {
  const EVP_MD* md = md_for(req_hash(ctx, params, "verify"));
  size_t fb = field_bytes(key.curve);
  if (sig.size() != 2 * fb) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
  BnPtr r(BN_bin2bn(raw, static_cast<int>(fb), nullptr)), s(BN_bin2bn(raw + fb, static_cast<int>(fb), nullptr));
  EcdsaSigPtr es(ECDSA_SIG_new());
  if (!r || !s || !es || ECDSA_SIG_set0(es.get(), r.get(), s.get()) != 1) return false;
  static_cast<void>(r.release());  // owned by es now
  static_cast<void>(s.release());
  unsigned char* der_raw = nullptr;
  int der_len = i2d_ECDSA_SIG(es.get(), &der_raw);
  OpensslBytes der(der_raw);
  if (der_len <= 0) return false;
  MdCtxPtr mc(EVP_MD_CTX_new());
  return mc && EVP_DigestVerifyInit(mc.get(), nullptr, md, nullptr, key.pkey.get()) == 1 &&
         EVP_DigestVerify(mc.get(), der.get(), static_cast<size_t>(der_len),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string ecdh_derive(const KeyData& key, const KeyData& peer, std::optional<std::int64_t> length_bits) {
  if (peer.curve != key.curve)
    fail("InvalidAccessError", "deriveBits: the public key is on " + peer.curve + ", the private key on " + key.curve);
  PkeyCtxPtr pc(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  size_t len = 0;
  if (!pc || EVP_PKEY_derive_init(pc.get()) != 1 || EVP_PKEY_derive_set_peer(pc.get(), peer.pkey.get()) != 1 ||
      EVP_PKEY_derive(pc.get(), nullptr, &len) != 1)
    fail("OperationError", "deriveBits: ECDH failed");
  std::string secret(len, '\0');
  if (EVP_PKEY_derive(pc.get(), reinterpret_cast<unsigned char*>(secret.data()), &len) != 1)
    fail("OperationError", "deriveBits: ECDH failed");
  secret.resize(len);
  if (!length_bits) return secret;
  if (*length_bits > static_cast<std::int64_t>(secret.size() * 8))
    fail("OperationError", "deriveBits: length " + std::to_string(*length_bits) + " is more than the " +
                               std::to_string(secret.size() * 8) + " bits ECDH gives");
  size_t bytes = static_cast<size_t>((*length_bits + 7) / 8);
  secret.resize(bytes);
  if (*length_bits % 8)
    secret.back() = static_cast<char>(static_cast<unsigned char>(secret.back()) & (0xff << (8 - *length_bits % 8)));
  return secret;
}

}  // namespace herd::k6::webcrypto
