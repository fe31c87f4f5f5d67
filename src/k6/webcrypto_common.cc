// WebCrypto helpers shared by the algorithm families: parameter readers,
// base64url, JWK members and DER key encodings.
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi_util.h"
#include "k6/webcrypto.h"
#include "util/base64.h"

namespace herd::k6::webcrypto {

void fail(const char* name, const std::string& message) {
  throw CryptoError{name, message};
}

namespace {

/// Reads `member` of `obj`; undefined when obj is not an object. Throws on a getter exception.
js::Value member(JSContext* ctx, JSValueConst obj, const char* name) {
  js::Value v(ctx, get_prop(ctx, obj, name));
  if (v.is_exception()) {
    js::discard_exception(ctx);
    fail("TypeError", std::string("cannot read ") + name);
  }
  return v;
}

}  // namespace

std::optional<std::string> opt_string(JSContext* ctx, JSValueConst obj, const char* name) {
  js::Value v = member(ctx, obj, name);
  if (JS_IsUndefined(v.get())) return std::nullopt;
  return js::to_string(ctx, v.get());
}

std::string req_string(JSContext* ctx, JSValueConst obj, const char* name, const char* where) {
  auto s = opt_string(ctx, obj, name);
  if (!s) fail("TypeError", std::string(where) + ": the algorithm needs a \"" + name + "\" member");
  return *s;
}

std::optional<double> opt_number(JSContext* ctx, JSValueConst obj, const char* name) {
  js::Value v = member(ctx, obj, name);
  if (JS_IsUndefined(v.get())) return std::nullopt;
  double d = 0;
  if (JS_ToFloat64(ctx, &d, v.get()) != 0 || !std::isfinite(d)) {
    js::discard_exception(ctx);
    fail("TypeError", std::string("\"") + name + "\" must be a number");
  }
  return d;
}

std::optional<std::string> opt_bytes(JSContext* ctx, JSValueConst obj, const char* name) {
  js::Value v = member(ctx, obj, name);
  if (JS_IsUndefined(v.get())) return std::nullopt;
  std::string out;
  if (!buffer_bytes(ctx, v.get(), &out))
    fail("TypeError", std::string("\"") + name + "\" must be an ArrayBuffer or a typed array");
  return out;
}

std::string req_bytes(JSContext* ctx, JSValueConst obj, const char* name, const char* where) {
  auto b = opt_bytes(ctx, obj, name);
  if (!b) fail("TypeError", std::string(where) + ": the algorithm needs a \"" + name + "\" member");
  return *b;
}

std::string canonical_hash(const std::string& name) {
  std::string up = name;
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* h : {"SHA-1", "SHA-256", "SHA-384", "SHA-512"})
    if (up == h) return h;
  return "";
}

std::string req_hash(JSContext* ctx, JSValueConst obj, const char* where) {
  js::Value v = member(ctx, obj, "hash");
  if (JS_IsUndefined(v.get())) fail("TypeError", std::string(where) + ": the algorithm needs a \"hash\" member");
  std::string name;
  if (JS_IsObject(v.get())) {
    auto n = opt_string(ctx, v.get(), "name");
    if (!n) fail("TypeError", std::string(where) + ": hash needs a \"name\"");
    name = *n;
  } else {
    name = js::to_string(ctx, v.get());
  }
  std::string c = canonical_hash(name);
  if (c.empty())
    fail("NotSupportedError",
         std::string(where) + ": unsupported hash \"" + name + "\" (SHA-1, SHA-256, SHA-384, SHA-512)");
  return c;
}

const EVP_MD* md_for(const std::string& hash) {
  if (hash == "SHA-1") return EVP_sha1();
  if (hash == "SHA-256") return EVP_sha256();
  if (hash == "SHA-384") return EVP_sha384();
  if (hash == "SHA-512") return EVP_sha512();
  return nullptr;
}

std::string b64url(const std::string& bytes) {
  return util::base64_encode(bytes, true, false);
}

std::string from_b64url(const std::string& text, const char* what) {
  std::string out;
  if (!util::base64_decode(text, true, &out))
    fail("DataError", std::string("JWK member \"") + what + "\" is not base64url");
  return out;
}

std::string jwk_member(JSContext* ctx, JSValueConst jwk, const char* name) {
  auto s = opt_string(ctx, jwk, name);
  if (!s) fail("DataError", std::string("the JWK has no \"") + name + "\" member");
  return *s;
}

namespace {
const char* const kUsageNames[] = {"encrypt",   "decrypt",    "sign",    "verify",
                                   "deriveKey", "deriveBits", "wrapKey", "unwrapKey"};
}

void check_jwk_common(JSContext* ctx, JSValueConst jwk, bool extractable, unsigned usages) {
  {
    js::Value ext = member(ctx, jwk, "ext");
    if (!JS_IsUndefined(ext.get()) && JS_ToBool(ctx, ext.get()) == 0 && extractable)
      fail("DataError", "the JWK has \"ext\": false but the key is imported as extractable");
  }
  js::Value ops = member(ctx, jwk, "key_ops");
  if (JS_IsArray(ctx, ops.get())) {
    unsigned allowed = 0;
    int64_t len = 0;
    {
      js::Value lenv(ctx, JS_GetPropertyStr(ctx, ops.get(), "length"));
      JS_ToInt64(ctx, &len, lenv.get());
    }
    for (int64_t i = 0; i < len; i++) {
      std::string s =
          js::to_string(ctx, js::Value(ctx, JS_GetPropertyUint32(ctx, ops.get(), static_cast<uint32_t>(i))).get());
      for (unsigned b = 0; b < 8; b++)
        if (s == kUsageNames[b]) allowed |= 1u << b;
    }
    if ((usages & ~allowed) != 0) fail("DataError", "the requested key usages are not all in the JWK's \"key_ops\"");
  }
}

void set_str(JSContext* ctx, JSValueConst obj, const char* name, const std::string& value) {
  JS_SetPropertyStr(ctx, obj, name, new_string(ctx, value));
}

void set_jwk_common(JSContext* ctx, JSValueConst jwk, const KeyData& key) {
  js::Value ops(ctx, JS_NewArray(ctx));
  uint32_t n = 0;
  for (unsigned b = 0; b < 8; b++)
    if (key.usages & (1u << b)) JS_SetPropertyUint32(ctx, ops.get(), n++, JS_NewString(ctx, kUsageNames[b]));
  JS_SetPropertyStr(ctx, jwk, "key_ops", ops.release());
  JS_SetPropertyStr(ctx, jwk, "ext", JS_NewBool(ctx, key.extractable));
}

std::string spki_of(EVP_PKEY* pkey) {
  unsigned char* raw = nullptr;
  int len = i2d_PUBKEY(pkey, &raw);
  OpensslBytes buf(raw);
  if (len <= 0) fail("OperationError", "cannot encode the public key as SPKI");
  return std::string(reinterpret_cast<char*>(buf.get()), static_cast<size_t>(len));
}

std::string pkcs8_of(EVP_PKEY* pkey) {
  Pkcs8Ptr info(EVP_PKEY2PKCS8(pkey));
  unsigned char* raw = nullptr;
  int len = info ? i2d_PKCS8_PRIV_KEY_INFO(info.get(), &raw) : 0;
  OpensslBytes buf(raw);
  if (len <= 0) fail("OperationError", "cannot encode the private key as PKCS #8");
  return std::string(reinterpret_cast<char*>(buf.get()), static_cast<size_t>(len));
}

PkeyPtr pkey_from_spki(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!k || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
    fail("DataError", "the key data is not a valid SPKI (DER) public key");
  return k;
}

PkeyPtr pkey_from_pkcs8(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  PkeyPtr k(info ? EVP_PKCS82PKEY(info.get()) : nullptr);
  if (!k) fail("DataError", "the key data is not a valid PKCS #8 (DER) private key");
  return k;
}

}  // namespace herd::k6::webcrypto
