// WebCrypto RSA keys: RSASSA-PKCS1-v1_5 and RSA-PSS (sign/verify), RSA-OAEP
// (encrypt/decrypt); generate, import and export in jwk, spki and pkcs8.
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cstring>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi_util.h"
#include "k6/webcrypto.h"

namespace herd::k6::webcrypto {

namespace {

BnPtr bn_from(const std::string& bytes) {
  return BnPtr(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
}

std::string bn_to(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

/// A big-number parameter of an RSA key as big-endian bytes; "" if absent.
std::string rsa_param(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return "";
  BnPtr p(bn);
  return bn_to(bn);
}

/// JWK "alg" for an RSA algorithm and hash, e.g. "RS256", "PS384", "RSA-OAEP-256".
std::string jwk_alg(const std::string& alg, const std::string& hash) {
  std::string bits = hash.substr(4);
  if (alg == "RSASSA-PKCS1-v1_5") return "RS" + bits;
  if (alg == "RSA-PSS") return "PS" + bits;
  return hash == "SHA-1" ? "RSA-OAEP" : "RSA-OAEP-" + bits;
}

std::unique_ptr<KeyData> make_key(const std::string& alg, const std::string& hash, PkeyPtr pkey, KeyType type) {
  auto k = std::make_unique<KeyData>();
  k->algorithm = alg;
  k->hash = hash;
  k->type = type;
  k->modulus_bits = EVP_PKEY_get_bits(pkey.get());
  k->public_exponent = rsa_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
  k->pkey = std::move(pkey);
  return k;
}

PkeyPtr rsa_from_jwk(JSContext* ctx, JSValueConst jwk, bool priv) {
  struct Part {
    const char* jwk;
    const char* param;
  };
  const Part pub_parts[] = {{"n", OSSL_PKEY_PARAM_RSA_N}, {"e", OSSL_PKEY_PARAM_RSA_E}};
  const Part priv_parts[] = {{"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
                             {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
                             {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
  std::vector<BnPtr> bns;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) fail("OperationError", "importKey: out of memory");
  auto push = [&](const Part& p) {
    bns.push_back(bn_from(from_b64url(jwk_member(ctx, jwk, p.jwk), p.jwk)));
    if (!bns.back() || OSSL_PARAM_BLD_push_BN(bld.get(), p.param, bns.back().get()) != 1)
      fail("DataError", std::string("importKey: bad JWK member \"") + p.jwk + "\"");
  };
  for (const auto& p : pub_parts) push(p);
  if (priv) {
    push(priv_parts[0]);
    if (opt_string(ctx, jwk, "oth"))
      fail("NotSupportedError", "importKey: multi-prime RSA keys (\"oth\") are not supported");
    if (opt_string(ctx, jwk, "p"))
      for (size_t i = 1; i < 6; i++) push(priv_parts[i]);
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr pc(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  bool ok = params && pc && EVP_PKEY_fromdata_init(pc.get()) == 1 &&
            EVP_PKEY_fromdata(pc.get(), &raw, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) == 1;
  PkeyPtr k(raw);
  if (!ok) fail("DataError", "importKey: the JWK is not a valid RSA key");
  return k;
}

/// Sets up padding for a sign/verify or encrypt/decrypt context.
void set_padding(JSContext* ctx, JSValueConst params, const KeyData& key, EVP_PKEY_CTX* pc) {
  const EVP_MD* md = md_for(key.hash);
  if (key.algorithm == "RSA-PSS") {
    auto salt = opt_number(ctx, params, "saltLength");
    if (!salt) fail("TypeError", "RSA-PSS: the algorithm needs a \"saltLength\" member");
    if (*salt < 0 || *salt != static_cast<int>(*salt))
      fail("OperationError", "RSA-PSS: saltLength must be a non-negative integer");
    if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, static_cast<int>(*salt)) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) != 1)
      fail("OperationError", "RSA-PSS: bad parameters");
  } else if (key.algorithm == "RSA-OAEP") {
    if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 || EVP_PKEY_CTX_set_rsa_oaep_md(pc, md) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) != 1)
      fail("OperationError", "RSA-OAEP: bad parameters");
    if (auto label = opt_bytes(ctx, params, "label"); label && !label->empty()) {
      OpensslBytes copy(static_cast<unsigned char*>(OPENSSL_memdup(label->data(), label->size())));
      if (!copy || EVP_PKEY_CTX_set0_rsa_oaep_label(pc, copy.get(), static_cast<int>(label->size())) != 1)
        fail("OperationError", "RSA-OAEP: bad label");
      static_cast<void>(copy.release());  // owned by pc now
    }
  } else if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1) {
    fail("OperationError", "RSASSA-PKCS1-v1_5: bad parameters");
  }
}

}  // namespace

KeyPair rsa_generate(JSContext* ctx, const std::string& alg, JSValueConst params) {
  auto bits = opt_number(ctx, params, "modulusLength");
  if (!bits) fail("TypeError", "generateKey: the algorithm needs \"modulusLength\"");
  if (*bits < 1024 || *bits > 16384 || static_cast<int>(*bits) % 8)
    fail("OperationError", "generateKey: modulusLength must be a multiple of 8 between 1024 and 16384");
  std::string exp = req_bytes(ctx, params, "publicExponent", "generateKey");
  std::string hash = req_hash(ctx, params, "generateKey");
  BnPtr e = bn_from(exp);
  if (!e || (BN_get_word(e.get()) != 3 && BN_get_word(e.get()) != 65537))
    fail("OperationError", "generateKey: publicExponent must be 3 or 65537");
  PkeyCtxPtr pc(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!pc || EVP_PKEY_keygen_init(pc.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(pc.get(), static_cast<int>(*bits)) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(pc.get(), e.get()) != 1 || EVP_PKEY_keygen(pc.get(), &raw) != 1)
    fail("OperationError", "generateKey: RSA key generation failed");
  PkeyPtr priv(raw);
  std::string spki = spki_of(priv.get());
  KeyPair p;
  p.public_key = make_key(alg, hash, pkey_from_spki(spki), KeyType::kPublic);
  p.private_key = make_key(alg, hash, std::move(priv), KeyType::kPrivate);
  return p;
}

std::unique_ptr<KeyData> rsa_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                    const std::string& alg, JSValueConst params, unsigned) {
  std::string hash = req_hash(ctx, params, "importKey");
  if (format == "raw") fail("NotSupportedError", "importKey: RSA keys are imported as jwk, spki or pkcs8, not raw");
  if (format == "jwk") {
    if (jwk_member(ctx, key_data, "kty") != "RSA") fail("DataError", "importKey: an RSA JWK has \"kty\": \"RSA\"");
    auto ja = opt_string(ctx, key_data, "alg");
    if (ja && *ja != jwk_alg(alg, hash))
      fail("DataError", "importKey: the JWK's \"alg\" " + *ja + " does not match " + jwk_alg(alg, hash));
    bool priv = opt_string(ctx, key_data, "d").has_value();
    return make_key(alg, hash, rsa_from_jwk(ctx, key_data, priv), priv ? KeyType::kPrivate : KeyType::kPublic);
  }
  std::string der;
  buffer_bytes(ctx, key_data, &der);
  PkeyPtr k = format == "spki" ? pkey_from_spki(der) : pkey_from_pkcs8(der);
  if (EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_RSA) fail("DataError", "importKey: the key is not an RSA key");
  return make_key(alg, hash, std::move(k), format == "spki" ? KeyType::kPublic : KeyType::kPrivate);
}

JSValue rsa_export(JSContext* ctx, const std::string& format, const KeyData& key) {
  bool priv = key.type == KeyType::kPrivate;
  if (format == "raw") fail("InvalidAccessError", "exportKey: RSA keys do not export as raw");
  if (format == "spki") {
    if (priv) fail("InvalidAccessError", "exportKey: spki is for public keys");
    return new_array_buffer(ctx, spki_of(key.pkey.get()));
  }
  if (format == "pkcs8") {
    if (!priv) fail("InvalidAccessError", "exportKey: pkcs8 is for private keys");
    return new_array_buffer(ctx, pkcs8_of(key.pkey.get()));
  }
  js::Value jwk(ctx, JS_NewObject(ctx));
  set_str(ctx, jwk.get(), "kty", "RSA");
  set_str(ctx, jwk.get(), "alg", jwk_alg(key.algorithm, key.hash));
  set_str(ctx, jwk.get(), "n", b64url(rsa_param(key.pkey.get(), OSSL_PKEY_PARAM_RSA_N)));
  set_str(ctx, jwk.get(), "e", b64url(key.public_exponent));
  if (priv) {
    const std::pair<const char*, const char*> parts[] = {
        {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
    for (const auto& [name, param] : parts) {
      std::string v = rsa_param(key.pkey.get(), param);
      if (!v.empty()) set_str(ctx, jwk.get(), name, b64url(v));
    }
  }
  set_jwk_common(ctx, jwk.get(), key);
  return jwk.release();
}

std::string rsa_sign(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data) {
  MdCtxPtr mc(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pc = nullptr;  // owned by mc
  if (!mc || EVP_DigestSignInit(mc.get(), &pc, md_for(key.hash), nullptr, key.pkey.get()) != 1)
    fail("OperationError", key.algorithm + ": cannot set up signing");
  set_padding(ctx, params, key, pc);
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSign(mc.get(), nullptr, &len, in, data.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(mc.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) == 1;
    sig.resize(len);
  }
  if (!ok) fail("OperationError", key.algorithm + " signing failed");
  return sig;
}

bool rsa_verify(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& sig,
                const std::string& data) {
  MdCtxPtr mc(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pc = nullptr;  // owned by mc
  if (!mc || EVP_DigestVerifyInit(mc.get(), &pc, md_for(key.hash), nullptr, key.pkey.get()) != 1)
    fail("OperationError", key.algorithm + ": cannot set up verification");
  set_padding(ctx, params, key, pc);
  return EVP_DigestVerify(mc.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string rsa_oaep(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt) {
  PkeyCtxPtr pc(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  if (!pc || (encrypt ? EVP_PKEY_encrypt_init(pc.get()) : EVP_PKEY_decrypt_init(pc.get())) != 1)
    fail("OperationError", "RSA-OAEP: cannot set up");
  set_padding(ctx, params, key, pc.get());
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = 0;
  auto run = [&](unsigned char* out) {
    return encrypt ? EVP_PKEY_encrypt(pc.get(), out, &len, in, data.size())
                   : EVP_PKEY_decrypt(pc.get(), out, &len, in, data.size());
  };
  if (run(nullptr) != 1) fail("OperationError", "RSA-OAEP: the data does not fit the key");
  std::string out(len, '\0');
  if (run(reinterpret_cast<unsigned char*>(out.data())) != 1)
    fail("OperationError", encrypt ? "RSA-OAEP: the data is too long for the key" : "RSA-OAEP: decryption failed");
  out.resize(len);
  return out;
}

}  // namespace herd::k6::webcrypto
