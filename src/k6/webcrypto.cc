// The global `crypto`: getRandomValues, randomUUID and crypto.subtle (digest,
// generateKey, importKey, exportKey, sign, verify, encrypt, decrypt,
// deriveBits) with CryptoKey objects. Operations run at once and return
// settled promises; failures reject with DOMException-like errors.
#include "k6/webcrypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cctype>
#include <mutex>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi.h"
#include "k6/webapi_util.h"

namespace herd::k6 {

namespace {

using namespace webcrypto;

JSClassID key_class_id = 0;

const char* const kUsageNames[] = {"encrypt",   "decrypt",    "sign",    "verify",
                                   "deriveKey", "deriveBits", "wrapKey", "unwrapKey"};
const char* const kAlgorithms[] = {"AES-GCM", "AES-CBC",           "AES-CTR", "HMAC",    "ECDSA",
                                   "ECDH",    "RSASSA-PKCS1-v1_5", "RSA-PSS", "RSA-OAEP"};

bool is_aes(const std::string& a) {
  return a.rfind("AES-", 0) == 0;
}
bool is_ec(const std::string& a) {
  return a == "ECDSA" || a == "ECDH";
}
bool is_rsa(const std::string& a) {
  return a.rfind("RSA", 0) == 0;
}

/// Usages a key of this algorithm and type may have.
unsigned allowed_usages(const std::string& alg, KeyType type) {
  if (is_aes(alg)) return kEncrypt | kDecrypt | kWrapKey | kUnwrapKey;
  if (alg == "HMAC") return kSign | kVerify;
  if (alg == "ECDH") return type == KeyType::kPrivate ? kDeriveKey | kDeriveBits : 0;
  if (alg == "RSA-OAEP") return type == KeyType::kPrivate ? kDecrypt | kUnwrapKey : kEncrypt | kWrapKey;
  return type == KeyType::kPrivate ? kSign : kVerify;  // ECDSA, RSASSA-PKCS1-v1_5, RSA-PSS
}

// ---- CryptoKey ---------------------------------------------------------------

void key_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<KeyData*>(JS_GetOpaque(val, key_class_id));
}

KeyData* key_of(JSValueConst v) {
  return key_class_id ? static_cast<KeyData*>(JS_GetOpaque(v, key_class_id)) : nullptr;
}

JSValue key_type(JSContext* ctx, JSValueConst this_val) {
  KeyData* k = key_of(this_val);
  if (!k) return JS_ThrowTypeError(ctx, "not a CryptoKey");
  return JS_NewString(ctx, k->type == KeyType::kSecret ? "secret" : k->type == KeyType::kPublic ? "public" : "private");
}

JSValue key_extractable(JSContext* ctx, JSValueConst this_val) {
  KeyData* k = key_of(this_val);
  if (!k) return JS_ThrowTypeError(ctx, "not a CryptoKey");
  return JS_NewBool(ctx, k->extractable);
}

JSValue hash_object(JSContext* ctx, const std::string& hash) {
  JSValue h = JS_NewObject(ctx);
  set_str(ctx, h, "name", hash);
  return h;
}

JSValue key_algorithm(JSContext* ctx, JSValueConst this_val) {
  KeyData* k = key_of(this_val);
  if (!k) return JS_ThrowTypeError(ctx, "not a CryptoKey");
  JSValue o = JS_NewObject(ctx);
  set_str(ctx, o, "name", k->algorithm);
  if (is_aes(k->algorithm)) JS_SetPropertyStr(ctx, o, "length", JS_NewInt32(ctx, k->length_bits));
  if (k->algorithm == "HMAC") {
    JS_SetPropertyStr(ctx, o, "hash", hash_object(ctx, k->hash));
    JS_SetPropertyStr(ctx, o, "length", JS_NewInt32(ctx, k->length_bits));
  }
  if (is_ec(k->algorithm)) set_str(ctx, o, "namedCurve", k->curve);
  if (is_rsa(k->algorithm)) {
    JS_SetPropertyStr(ctx, o, "modulusLength", JS_NewInt32(ctx, k->modulus_bits));
    js::Value ab(ctx, new_array_buffer(ctx, k->public_exponent));
    js::Value g(ctx, JS_GetGlobalObject(ctx));
    js::Value ctor(ctx, JS_GetPropertyStr(ctx, g.get(), "Uint8Array"));
    JSValue abv = ab.get();
    JS_SetPropertyStr(ctx, o, "publicExponent", JS_CallConstructor(ctx, ctor.get(), 1, &abv));
    JS_SetPropertyStr(ctx, o, "hash", hash_object(ctx, k->hash));
  }
  return o;
}

JSValue key_usages(JSContext* ctx, JSValueConst this_val) {
  KeyData* k = key_of(this_val);
  if (!k) return JS_ThrowTypeError(ctx, "not a CryptoKey");
  JSValue arr = JS_NewArray(ctx);
  uint32_t n = 0;
  for (unsigned b = 0; b < 8; b++)
    if (k->usages & (1u << b)) JS_SetPropertyUint32(ctx, arr, n++, JS_NewString(ctx, kUsageNames[b]));
  return arr;
}

void ensure_key_class(JSContext* ctx) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&key_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (JS_IsRegisteredClass(rt, key_class_id)) return;
  JSClassDef def{};
  def.class_name = "CryptoKey";
  def.finalizer = key_finalizer;
  JS_NewClass(rt, key_class_id, &def);
  JSValue proto = JS_NewObject(ctx);
  struct Getter {
    const char* name;
    JSValue (*fn)(JSContext*, JSValueConst);
  };
  const Getter getters[] = {
      {"type", key_type}, {"extractable", key_extractable}, {"algorithm", key_algorithm}, {"usages", key_usages}};
  for (const auto& g : getters) {
    JSCFunctionType ft;
    ft.getter = g.fn;
    JSValue get = JS_NewCFunction2(ctx, ft.generic, g.name, 0, JS_CFUNC_getter, 0);
    JSAtom a = JS_NewAtom(ctx, g.name);
    JS_DefinePropertyGetSet(ctx, proto, a, get, JS_UNDEFINED, JS_PROP_CONFIGURABLE | JS_PROP_ENUMERABLE);
    JS_FreeAtom(ctx, a);
  }
  JS_DefinePropertyValueStr(
      ctx, proto, "toString",
      JS_NewCFunction(
          ctx, [](JSContext* c, JSValueConst, int, JSValueConst*) { return JS_NewString(c, "[object CryptoKey]"); },
          "toString", 0),
      JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
  JS_SetClassProto(ctx, key_class_id, proto);
}

JSValue wrap_key(JSContext* ctx, std::unique_ptr<KeyData> k) {
  ensure_key_class(ctx);
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(key_class_id));
  if (JS_IsException(o)) return o;
  JS_SetOpaque(o, k.release());
  return o;
}

// ---- argument helpers ----------------------------------------------------------

/// The algorithm's canonical name from a string or {name}.
std::string algorithm_name(JSContext* ctx, JSValueConst alg, const char* op) {
  std::string name;
  if (JS_IsString(alg)) {
    name = js::to_string(ctx, alg);
  } else if (JS_IsObject(alg)) {
    auto n = opt_string(ctx, alg, "name");
    if (!n) fail("TypeError", std::string(op) + ": the algorithm needs a \"name\"");
    name = *n;
  } else {
    fail("TypeError", std::string(op) + ": the algorithm must be a string or an object with a name");
  }
  std::string up = name;
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!canonical_hash(up).empty()) return canonical_hash(up);
  for (const char* a : kAlgorithms) {
    std::string ua = a;
    for (auto& c : ua) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (ua == up) return a;
  }
  fail("NotSupportedError", std::string(op) + ": unsupported algorithm \"" + name + "\"");
}

unsigned parse_usages(JSContext* ctx, JSValueConst v, const char* op) {
  if (!JS_IsArray(ctx, v)) fail("TypeError", std::string(op) + ": keyUsages must be an array");
  int64_t len = 0;
  JS_ToInt64(ctx, &len, js::Value(ctx, JS_GetPropertyStr(ctx, v, "length")).get());
  unsigned bits = 0;
  for (int64_t i = 0; i < len; i++) {
    std::string s = js::to_string(ctx, js::Value(ctx, JS_GetPropertyUint32(ctx, v, static_cast<uint32_t>(i))).get());
    unsigned b = 0;
    while (b < 8 && s != kUsageNames[b]) b++;
    if (b == 8) fail("TypeError", std::string(op) + ": unknown key usage \"" + s + "\"");
    bits |= 1u << b;
  }
  return bits;
}

void check_usages(const std::string& alg, KeyType type, unsigned usages, const char* op) {
  unsigned bad = usages & ~allowed_usages(alg, type);
  for (unsigned b = 0; b < 8; b++)
    if (bad & (1u << b))
      fail("SyntaxError", std::string(op) + ": usage \"" + kUsageNames[b] + "\" is not valid for " + alg + " " +
                              (type == KeyType::kSecret   ? "secret"
                               : type == KeyType::kPublic ? "public"
                                                          : "private") +
                              " keys");
  if (usages == 0 && type != KeyType::kPublic) fail("SyntaxError", std::string(op) + ": keyUsages must not be empty");
}

JSValueConst arg(int argc, JSValueConst* argv, int i) {
  return i < argc ? argv[i] : JS_UNDEFINED;
}

std::string data_arg(JSContext* ctx, int argc, JSValueConst* argv, int i, const char* op) {
  std::string out;
  if (!buffer_bytes(ctx, arg(argc, argv, i), &out))
    fail("TypeError", std::string(op) + ": data must be an ArrayBuffer, a typed array or a DataView");
  return out;
}

/// The key argument, checked for algorithm and usage.
const KeyData& key_arg(JSValueConst v, const std::string& alg, Usage usage, const char* op) {
  KeyData* k = key_of(v);
  if (!k) fail("TypeError", std::string(op) + ": key must be a CryptoKey");
  if (k->algorithm != alg)
    fail("InvalidAccessError", std::string(op) + ": the key is a " + k->algorithm + " key, not " + alg);
  if (!(k->usages & usage)) {
    unsigned b = 0;
    while ((1u << b) != usage) b++;
    fail("InvalidAccessError", std::string(op) + ": the key's usages do not include \"" + kUsageNames[b] + "\"");
  }
  return *k;
}

/// Runs `fn` (which may throw CryptoError) and settles a promise with its result.
template <typename F>
JSValue run_op(JSContext* ctx, F&& fn) {
  JSValue r;
  try {
    r = fn();
  } catch (const CryptoError& e) {
    if (std::string(e.name) == "TypeError")
      r = JS_ThrowTypeError(ctx, "%s", e.message.c_str());
    else
      r = throw_dom_error(ctx, e.name, e.message);
  } catch (const std::exception& e) {
    r = throw_dom_error(ctx, "OperationError", e.what());
  }
  return settle_promise(ctx, r);
}

// ---- subtle ---------------------------------------------------------------------

JSValue n_digest(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    std::string alg = algorithm_name(ctx, arg(argc, argv, 0), "digest");
    const EVP_MD* md = md_for(alg);
    if (!md) fail("NotSupportedError", "digest: " + alg + " is not a digest (SHA-1, SHA-256, SHA-384, SHA-512)");
    std::string data = data_arg(ctx, argc, argv, 1, "digest");
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) fail("OperationError", "digest failed");
    return new_array_buffer(ctx, std::string_view(reinterpret_cast<char*>(out), len));
  });
}

JSValue n_generate_key(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    JSValueConst params = arg(argc, argv, 0);
    std::string alg = algorithm_name(ctx, params, "generateKey");
    bool extractable = JS_ToBool(ctx, arg(argc, argv, 1)) > 0;
    unsigned usages = parse_usages(ctx, arg(argc, argv, 2), "generateKey");
    if (is_aes(alg) || alg == "HMAC") {
      check_usages(alg, KeyType::kSecret, usages, "generateKey");
      auto k = secret_generate(ctx, alg, params);
      k->extractable = extractable;
      k->usages = usages;
      return wrap_key(ctx, std::move(k));
    }
    if (!is_ec(alg) && !is_rsa(alg)) fail("NotSupportedError", "generateKey: " + alg + " keys cannot be generated");
    unsigned pub = usages & allowed_usages(alg, KeyType::kPublic);
    unsigned priv = usages & allowed_usages(alg, KeyType::kPrivate);
    if ((pub | priv) != usages) check_usages(alg, KeyType::kPrivate, usages & ~pub, "generateKey");
    if (priv == 0) fail("SyntaxError", "generateKey: the private key would have no usages");
    KeyPair pair = is_ec(alg) ? ec_generate(ctx, alg, params) : rsa_generate(ctx, alg, params);
    pair.public_key->extractable = true;
    pair.public_key->usages = pub;
    pair.private_key->extractable = extractable;
    pair.private_key->usages = priv;
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "publicKey", wrap_key(ctx, std::move(pair.public_key)));
    JS_SetPropertyStr(ctx, o, "privateKey", wrap_key(ctx, std::move(pair.private_key)));
    return o;
  });
}

JSValue n_import_key(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    std::string format = js::to_string(ctx, arg(argc, argv, 0));
    if (format != "raw" && format != "jwk" && format != "spki" && format != "pkcs8")
      fail("TypeError", "importKey: unknown format \"" + format + "\" (raw, jwk, spki, pkcs8)");
    JSValueConst key_data = arg(argc, argv, 1);
    std::string bytes;
    if (format == "jwk" ? !JS_IsObject(key_data) : !buffer_bytes(ctx, key_data, &bytes))
      fail("TypeError", format == "jwk" ? "importKey: a jwk key must be an object"
                                        : "importKey: keyData must be an ArrayBuffer or a typed array");
    JSValueConst params = arg(argc, argv, 2);
    std::string alg = algorithm_name(ctx, params, "importKey");
    bool extractable = JS_ToBool(ctx, arg(argc, argv, 3)) > 0;
    unsigned usages = parse_usages(ctx, arg(argc, argv, 4), "importKey");
    if (format == "jwk") check_jwk_common(ctx, key_data, extractable, usages);
    std::unique_ptr<KeyData> k;
    if (is_aes(alg) || alg == "HMAC")
      k = secret_import(ctx, format, key_data, alg, params, extractable, usages);
    else if (is_ec(alg))
      k = ec_import(ctx, format, key_data, alg, params, usages);
    else if (is_rsa(alg))
      k = rsa_import(ctx, format, key_data, alg, params, usages);
    else
      fail("NotSupportedError", "importKey: " + alg + " keys cannot be imported");
    k->algorithm = alg;
    check_usages(alg, k->type, usages, "importKey");
    k->extractable = extractable;
    k->usages = usages;
    return wrap_key(ctx, std::move(k));
  });
}

JSValue n_export_key(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    std::string format = js::to_string(ctx, arg(argc, argv, 0));
    if (format != "raw" && format != "jwk" && format != "spki" && format != "pkcs8")
      fail("TypeError", "exportKey: unknown format \"" + format + "\" (raw, jwk, spki, pkcs8)");
    KeyData* k = key_of(arg(argc, argv, 1));
    if (!k) fail("TypeError", "exportKey: key must be a CryptoKey");
    if (!k->extractable) fail("InvalidAccessError", "exportKey: the key is not extractable");
    if (k->type == KeyType::kSecret) return secret_export(ctx, format, *k);
    if (is_ec(k->algorithm)) return ec_export(ctx, format, *k);
    return rsa_export(ctx, format, *k);
  });
}

JSValue n_sign(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    JSValueConst params = arg(argc, argv, 0);
    std::string alg = algorithm_name(ctx, params, "sign");
    const KeyData& k = key_arg(arg(argc, argv, 1), alg, kSign, "sign");
    std::string data = data_arg(ctx, argc, argv, 2, "sign");
    std::string sig;
    if (alg == "HMAC")
      sig = hmac_sign(k, data);
    else if (alg == "ECDSA")
      sig = ecdsa_sign(ctx, params, k, data);
    else
      sig = rsa_sign(ctx, params, k, data);
    return new_array_buffer(ctx, sig);
  });
}

JSValue n_verify(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    JSValueConst params = arg(argc, argv, 0);
    std::string alg = algorithm_name(ctx, params, "verify");
    const KeyData& k = key_arg(arg(argc, argv, 1), alg, kVerify, "verify");
    std::string sig = data_arg(ctx, argc, argv, 2, "verify");
    std::string data = data_arg(ctx, argc, argv, 3, "verify");
    bool ok;
    if (alg == "HMAC") {
      std::string mac = hmac_sign(k, data);
      ok = mac.size() == sig.size() && CRYPTO_memcmp(mac.data(), sig.data(), mac.size()) == 0;
    } else if (alg == "ECDSA") {
      ok = ecdsa_verify(ctx, params, k, sig, data);
    } else {
      ok = rsa_verify(ctx, params, k, sig, data);
    }
    return JS_NewBool(ctx, ok);
  });
}

JSValue n_crypt(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int encrypt) {
  const char* op = encrypt ? "encrypt" : "decrypt";
  return run_op(ctx, [&] {
    JSValueConst params = arg(argc, argv, 0);
    std::string alg = algorithm_name(ctx, params, op);
    if (!is_aes(alg) && alg != "RSA-OAEP") fail("NotSupportedError", std::string(op) + ": " + alg + " does not " + op);
    const KeyData& k = key_arg(arg(argc, argv, 1), alg, encrypt ? kEncrypt : kDecrypt, op);
    std::string data = data_arg(ctx, argc, argv, 2, op);
    return new_array_buffer(
        ctx, is_aes(alg) ? aes_crypt(ctx, params, k, data, encrypt) : rsa_oaep(ctx, params, k, data, encrypt));
  });
}

JSValue n_derive_bits(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return run_op(ctx, [&] {
    JSValueConst params = arg(argc, argv, 0);
    std::string alg = algorithm_name(ctx, params, "deriveBits");
    if (alg != "ECDH") fail("NotSupportedError", "deriveBits: only ECDH is supported, not " + alg);
    const KeyData& k = key_arg(arg(argc, argv, 1), alg, kDeriveBits, "deriveBits");
    KeyData* peer = key_of(js::Value(ctx, get_prop(ctx, params, "public")).get());
    if (!peer) fail("TypeError", "deriveBits: the algorithm needs a \"public\" CryptoKey");
    if (peer->type != KeyType::kPublic || peer->algorithm != "ECDH")
      fail("InvalidAccessError", "deriveBits: \"public\" must be an ECDH public key");
    std::optional<std::int64_t> length;
    JSValueConst lv = arg(argc, argv, 2);
    if (!JS_IsUndefined(lv) && !JS_IsNull(lv)) {
      double d = 0;
      if (JS_ToFloat64(ctx, &d, lv) < 0 || d < 0 || d != static_cast<double>(static_cast<std::int64_t>(d)))
        fail("TypeError", "deriveBits: length must be a non-negative integer");
      length = static_cast<std::int64_t>(d);
    }
    return new_array_buffer(ctx, ecdh_derive(k, *peer, length));
  });
}

JSValue n_unsupported(JSContext* ctx, JSValueConst, int, JSValueConst*, int magic) {
  static const char* const kNames[] = {"deriveKey", "wrapKey", "unwrapKey"};
  return run_op(ctx, [&]() -> JSValue {
    fail("NotSupportedError", std::string("crypto.subtle.") + kNames[magic] + " is not supported by herd");
  });
}

// ---- crypto -----------------------------------------------------------------------

JSValue n_get_random_values(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  JSValueConst a = arg(argc, argv, 0);
  size_t off = 0, len = 0, bpe = 0;
  js::Value ab(ctx, JS_IsObject(a) ? JS_GetTypedArrayBuffer(ctx, a, &off, &len, &bpe) : JS_EXCEPTION);
  bool integer = false;
  if (!ab.is_exception()) {
    js::Value ctor(ctx, JS_GetPropertyStr(ctx, a, "constructor"));
    js::Value name(ctx, get_prop(ctx, ctor.get(), "name"));
    integer = js::to_string(ctx, name.get()).find("Float") == std::string::npos;
  } else {
    js::discard_exception(ctx);
  }
  if (ab.is_exception() || !integer)
    return throw_dom_error(ctx, "TypeMismatchError", "getRandomValues: the argument must be an integer typed array");
  size_t size = 0;
  uint8_t* p = JS_GetArrayBuffer(ctx, &size, ab.get());
  if (len > 65536)
    return throw_dom_error(ctx, "QuotaExceededError",
                           "getRandomValues: at most 65536 bytes at a time, asked for " + std::to_string(len));
  if (!p || off + len > size) return JS_ThrowTypeError(ctx, "getRandomValues: the array's buffer is detached");
  if (len && RAND_bytes(p + off, static_cast<int>(len)) != 1)
    return throw_dom_error(ctx, "OperationError", "getRandomValues: no randomness available");
  return JS_DupValue(ctx, a);
}

JSValue n_random_uuid(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1)
    return throw_dom_error(ctx, "OperationError", "randomUUID: no randomness available");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 15];
  }
  return new_string(ctx, s);
}

JSValue build_crypto(JSContext* ctx) {
  JSValue subtle = JS_NewObject(ctx);
  struct Fn {
    const char* name;
    JSCFunction* fn;
    int length;
  };
  const Fn fns[] = {{"digest", n_digest, 2},
                    {"generateKey", n_generate_key, 3},
                    {"importKey", n_import_key, 5},
                    {"exportKey", n_export_key, 2},
                    {"sign", n_sign, 3},
                    {"verify", n_verify, 4},
                    {"deriveBits", n_derive_bits, 3}};
  for (const auto& f : fns) JS_SetPropertyStr(ctx, subtle, f.name, JS_NewCFunction(ctx, f.fn, f.name, f.length));
  JS_SetPropertyStr(ctx, subtle, "encrypt",
                    JS_NewCFunctionMagic(ctx, n_crypt, "encrypt", 3, JS_CFUNC_generic_magic, 1));
  JS_SetPropertyStr(ctx, subtle, "decrypt",
                    JS_NewCFunctionMagic(ctx, n_crypt, "decrypt", 3, JS_CFUNC_generic_magic, 0));
  const char* const unsupported[] = {"deriveKey", "wrapKey", "unwrapKey"};
  for (int i = 0; i < 3; i++)
    JS_SetPropertyStr(ctx, subtle, unsupported[i],
                      JS_NewCFunctionMagic(ctx, n_unsupported, unsupported[i], 3, JS_CFUNC_generic_magic, i));
  JSValue crypto = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, crypto, "getRandomValues", JS_NewCFunction(ctx, n_get_random_values, "getRandomValues", 1));
  JS_SetPropertyStr(ctx, crypto, "randomUUID", JS_NewCFunction(ctx, n_random_uuid, "randomUUID", 0));
  JS_SetPropertyStr(ctx, crypto, "subtle", subtle);
  return crypto;
}

/// The lazy `crypto` getter: builds the object once, then replaces itself with it.
JSValue crypto_getter(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  JSValue crypto = build_crypto(ctx);
  js::Value g(ctx, JS_GetGlobalObject(ctx));
  JS_DefinePropertyValueStr(ctx, g.get(), "crypto", JS_DupValue(ctx, crypto), JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
  return crypto;
}

JSValue crypto_setter(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  js::Value g(ctx, JS_GetGlobalObject(ctx));
  JS_DefinePropertyValueStr(ctx, g.get(), "crypto", JS_DupValue(ctx, arg(argc, argv, 0)),
                            JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
  return JS_UNDEFINED;
}

int webcrypto_module_init(JSContext* ctx, JSModuleDef* m) {
  JSValue crypto = JS_GetPropertyStr(ctx, js::Value(ctx, JS_GetGlobalObject(ctx)).get(), "crypto");
  if (JS_IsException(crypto)) return -1;
  JSValue def = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, def, "crypto", JS_DupValue(ctx, crypto));
  JS_SetModuleExport(ctx, m, "crypto", crypto);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

JSModuleDef* webcrypto_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, webcrypto_module_init);
  if (!m) return nullptr;
  JS_AddModuleExport(ctx, m, "crypto");
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

void install_webcrypto_global(JSContext* ctx, JSValueConst global) {
  JSAtom a = JS_NewAtom(ctx, "crypto");
  JS_DefinePropertyGetSet(ctx, global, a, JS_NewCFunction(ctx, crypto_getter, "get crypto", 0),
                          JS_NewCFunction(ctx, crypto_setter, "set crypto", 1), JS_PROP_CONFIGURABLE);
  JS_FreeAtom(ctx, a);
}

}  // namespace herd::k6
