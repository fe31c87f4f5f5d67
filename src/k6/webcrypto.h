#pragma once
// Internals of the WebCrypto implementation (crypto.subtle) shared by its
// algorithm families: key data, errors, and readers for algorithm parameters.
// Public entry point: install_webcrypto_global (k6/webapi.h).

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <quickjs.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herd::k6::webcrypto {

/// A failure with its DOMException name ("NotSupportedError", "OperationError",
/// "InvalidAccessError", "DataError", "SyntaxError") or "TypeError".
struct CryptoError {
  const char* name;
  std::string message;
};
[[noreturn]] void fail(const char* name, const std::string& message);

/// unique_ptr for an OpenSSL object released by `Free`.
template <typename T, void (*Free)(T*)>
struct OsslDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using OsslPtr = std::unique_ptr<T, OsslDeleter<T, Free>>;
using PkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using CipherCtxPtr = OsslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using BnPtr = OsslPtr<BIGNUM, BN_free>;
using ParamBldPtr = OsslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = OsslPtr<OSSL_PARAM, OSSL_PARAM_free>;
using EcdsaSigPtr = OsslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using Pkcs8Ptr = OsslPtr<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;
/// Bytes OpenSSL allocated (the output of i2d_* functions).
struct OpensslBytesFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using OpensslBytes = std::unique_ptr<unsigned char, OpensslBytesFree>;

/// Key usages as a bit set.
enum Usage : unsigned {
  kEncrypt = 1,
  kDecrypt = 2,
  kSign = 4,
  kVerify = 8,
  kDeriveKey = 16,
  kDeriveBits = 32,
  kWrapKey = 64,
  kUnwrapKey = 128,
};

enum class KeyType { kSecret, kPublic, kPrivate };

/// Everything behind a CryptoKey. Immutable once wrapped in a JS object.
struct KeyData {
  std::string algorithm;  ///< canonical name, e.g. "AES-GCM"
  KeyType type = KeyType::kSecret;
  bool extractable = false;
  unsigned usages = 0;          ///< Usage bits
  std::string secret;           ///< secret keys: the raw key bytes
  PkeyPtr pkey;                 ///< public and private keys
  std::string hash;             ///< HMAC and RSA: "SHA-256", ...
  std::string curve;            ///< EC: "P-256", "P-384", "P-521"
  int length_bits = 0;          ///< AES and HMAC: key length in bits
  int modulus_bits = 0;         ///< RSA
  std::string public_exponent;  ///< RSA: big-endian bytes
};

/// A generated or imported key pair.
struct KeyPair {
  std::unique_ptr<KeyData> public_key, private_key;
};

/// Reading algorithm dictionaries and JWK objects (throw CryptoError).
std::optional<std::string> opt_string(JSContext* ctx, JSValueConst obj, const char* member);
std::string req_string(JSContext* ctx, JSValueConst obj, const char* member, const char* where);
std::optional<double> opt_number(JSContext* ctx, JSValueConst obj, const char* member);
std::optional<std::string> opt_bytes(JSContext* ctx, JSValueConst obj, const char* member);
std::string req_bytes(JSContext* ctx, JSValueConst obj, const char* member, const char* where);
/// The `hash` member (a name or {name}), canonical ("SHA-256"). Throws if absent or unknown.
std::string req_hash(JSContext* ctx, JSValueConst obj, const char* where);
/// "SHA-1", "SHA-256", "SHA-384", "SHA-512" -> digest; nullptr otherwise.
const EVP_MD* md_for(const std::string& hash);
/// Canonical hash name for a name in any case, or "" if unsupported.
std::string canonical_hash(const std::string& name);

/// base64url without padding, and back (DataError naming `what` on bad input).
std::string b64url(const std::string& bytes);
std::string from_b64url(const std::string& text, const char* what);

/// JWK members: required string members throw DataError when missing.
std::string jwk_member(JSContext* ctx, JSValueConst jwk, const char* member);
/// Checks the JWK's "ext" and "key_ops" members against the requested import.
void check_jwk_common(JSContext* ctx, JSValueConst jwk, bool extractable, unsigned usages);
/// Sets a string member on a JS object.
void set_str(JSContext* ctx, JSValueConst obj, const char* member, const std::string& value);
/// key_ops and ext of an exported JWK.
void set_jwk_common(JSContext* ctx, JSValueConst jwk, const KeyData& key);

/// Bytes for ASN.1 DER conversions.
std::string spki_of(EVP_PKEY* pkey);
std::string pkcs8_of(EVP_PKEY* pkey);
PkeyPtr pkey_from_spki(const std::string& der);
PkeyPtr pkey_from_pkcs8(const std::string& der);

// ---- families ----------------------------------------------------------------
// HMAC and AES (webcrypto_symmetric.cc).
std::unique_ptr<KeyData> secret_generate(JSContext* ctx, const std::string& alg, JSValueConst params);
std::unique_ptr<KeyData> secret_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                       const std::string& alg, JSValueConst params, bool extractable, unsigned usages);
JSValue secret_export(JSContext* ctx, const std::string& format, const KeyData& key);
std::string hmac_sign(const KeyData& key, const std::string& data);
std::string aes_crypt(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt);

// ECDSA and ECDH (webcrypto_ec.cc).
KeyPair ec_generate(JSContext* ctx, const std::string& alg, JSValueConst params);
std::unique_ptr<KeyData> ec_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                   const std::string& alg, JSValueConst params, unsigned usages);
JSValue ec_export(JSContext* ctx, const std::string& format, const KeyData& key);
std::string ecdsa_sign(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data);
bool ecdsa_verify(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& sig,
                  const std::string& data);
std::string ecdh_derive(const KeyData& key, const KeyData& peer, std::optional<std::int64_t> length_bits);

// RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP (webcrypto_rsa.cc).
KeyPair rsa_generate(JSContext* ctx, const std::string& alg, JSValueConst params);
std::unique_ptr<KeyData> rsa_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                    const std::string& alg, JSValueConst params, unsigned usages);
JSValue rsa_export(JSContext* ctx, const std::string& format, const KeyData& key);
std::string rsa_sign(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data);
bool rsa_verify(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& sig,
                const std::string& data);
std::string rsa_oaep(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt);

}  // namespace herd::k6::webcrypto
