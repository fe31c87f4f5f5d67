// "k6/encoding" and "k6/crypto", native, over OpenSSL.
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <string>

#include "js/runtime.h"
#include "k6/modules.h"
#include "k6/natives_util.h"
#include "util/base64.h"

namespace herd::k6 {

namespace {

/// Bytes of a string (UTF-8) or ArrayBuffer/typed array argument.
bool arg_bytes(JSContext* ctx, JSValueConst v, std::string* out) {
  if (JS_IsString(v) || !binary_bytes(ctx, v, out)) *out = js::to_string(ctx, v);
  return true;
}

void encoding_kind(JSContext* ctx, int argc, JSValueConst* argv, int idx, bool* url, bool* pad) {
  std::string enc = argc > idx && !JS_IsUndefined(argv[idx]) ? js::to_string(ctx, argv[idx]) : "std";
  *url = enc == "url" || enc == "rawurl";
  *pad = enc == "std" || enc == "url";
}

JSValue n_b64encode(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  std::string in;
  if (argc < 1 || !arg_bytes(ctx, argv[0], &in)) return JS_ThrowTypeError(ctx, "b64encode(input, [encoding])");
  bool url, pad;
  encoding_kind(ctx, argc, argv, 1, &url, &pad);
  return new_string(ctx, util::base64_encode(in, url, pad));
}

JSValue n_b64decode(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 1) return JS_ThrowTypeError(ctx, "b64decode(input, [encoding], [format])");
  bool url, pad;
  encoding_kind(ctx, argc, argv, 1, &url, &pad);
  std::string out;
  if (!util::base64_decode(js::to_string(ctx, argv[0]), url, &out))
    return JS_ThrowTypeError(ctx, "b64decode: invalid base64 input");
  std::string format = argc > 2 && !JS_IsUndefined(argv[2]) ? js::to_string(ctx, argv[2]) : "";
  if (format == "s") return new_string(ctx, out);
  js::ensure_typed_arrays(ctx);
  return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(out.data()), out.size());
}

// ---- hashes --------------------------------------------------------------------

/// MD4 (and RIPEMD-160 in OpenSSL before 3.0.7) live in OpenSSL 3's legacy
/// provider. A library context of our own loads it with the default provider,
/// so the process's default context, which TLS uses, stays as it is.
class LegacyDigests {
 public:
  static const LegacyDigests& instance() {
    static const LegacyDigests digests;
    return digests;
  }
  OSSL_LIB_CTX* libctx() const { return ctx_.get(); }
  const EVP_MD* md4() const { return md4_.get(); }
  const EVP_MD* ripemd160() const { return ripemd160_.get(); }

 private:
  struct CtxFree {
    void operator()(OSSL_LIB_CTX* c) const { OSSL_LIB_CTX_free(c); }
  };
  struct ProviderUnload {
    void operator()(OSSL_PROVIDER* p) const { OSSL_PROVIDER_unload(p); }
  };
  struct MdFree {
    void operator()(EVP_MD* m) const { EVP_MD_free(m); }
  };
  LegacyDigests()
      : ctx_(OSSL_LIB_CTX_new()),
        legacy_(ctx_ ? OSSL_PROVIDER_load(ctx_.get(), "legacy") : nullptr),
        default_(ctx_ ? OSSL_PROVIDER_load(ctx_.get(), "default") : nullptr),
        md4_(ctx_ ? EVP_MD_fetch(ctx_.get(), "MD4", nullptr) : nullptr),
        ripemd160_(ctx_ ? EVP_MD_fetch(ctx_.get(), "RIPEMD160", nullptr) : nullptr) {}
  // Members are destroyed in reverse: digests, then providers, then the context.
  std::unique_ptr<OSSL_LIB_CTX, CtxFree> ctx_;
  std::unique_ptr<OSSL_PROVIDER, ProviderUnload> legacy_, default_;
  std::unique_ptr<EVP_MD, MdFree> md4_, ripemd160_;
};

/// OpenSSL's library context for `md`: the legacy one for its digests, else the default (nullptr).
OSSL_LIB_CTX* libctx_of(const EVP_MD* md) {
  const LegacyDigests& l = LegacyDigests::instance();
  return md && (md == l.md4() || md == l.ripemd160()) ? l.libctx() : nullptr;
}

/// HMAC of `data` under `key` with digest `md` into `out`; false on failure.
bool hmac_bytes(const EVP_MD* md, const std::string& key, const std::string& data, std::string* out) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (!EVP_Q_mac(libctx_of(md), "HMAC", nullptr, EVP_MD_get0_name(md), nullptr, key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), buf, sizeof buf, &len))
    return false;
  out->assign(reinterpret_cast<char*>(buf), len);
  return true;
}

const EVP_MD* md_by_name(const std::string& name) {
  if (name == "md4") return LegacyDigests::instance().md4();
  if (name == "md5") return EVP_md5();
  if (name == "sha1") return EVP_sha1();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha512") return EVP_sha512();
  if (name == "sha512_224") return EVP_sha512_224();
  if (name == "sha512_256") return EVP_sha512_256();
  if (name == "ripemd160") return LegacyDigests::instance().ripemd160();
  return nullptr;
}

JSValue encode_digest(JSContext* ctx, const std::string& digest, const std::string& enc) {
  if (enc == "hex" || enc.empty()) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : digest) {
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    return new_string(ctx, out);
  }
  if (enc == "base64") return new_string(ctx, util::base64_encode(digest, false, true));
  if (enc == "base64url") return new_string(ctx, util::base64_encode(digest, true, true));
  if (enc == "base64rawurl") return new_string(ctx, util::base64_encode(digest, true, false));
  if (enc == "binary") {
    js::ensure_typed_arrays(ctx);
    return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(digest.data()), digest.size());
  }
  return JS_ThrowTypeError(ctx, "unsupported output encoding \"%s\" (hex, base64, base64url, base64rawurl, binary)",
                           enc.c_str());
}

bool digest(const EVP_MD* md, const std::string& data, std::string* out) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr) != 1) return false;
  out->assign(reinterpret_cast<char*>(buf), len);
  return true;
}

// md5(input, outputEncoding), sha256(...), ...: magic indexes kHashNames.
const char* const kHashNames[] = {"md4",    "md5",        "sha1",       "sha256",   "sha384",
                                  "sha512", "sha512_224", "sha512_256", "ripemd160"};

JSValue n_hash(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int magic) {
  const EVP_MD* md = md_by_name(kHashNames[magic]);
  if (!md)
    return JS_ThrowTypeError(ctx, "hash %s is not available (OpenSSL's legacy provider could not be loaded)",
                             kHashNames[magic]);
  std::string in, out;
  if (argc < 1 || !arg_bytes(ctx, argv[0], &in))
    return JS_ThrowTypeError(ctx, "%s(input, outputEncoding)", kHashNames[magic]);
  if (!digest(md, in, &out)) return JS_ThrowInternalError(ctx, "digest failed");
  return encode_digest(ctx, out, argc > 1 ? js::to_string(ctx, argv[1]) : "hex");
}

JSValue n_hmac(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 3) return JS_ThrowTypeError(ctx, "hmac(algorithm, secret, data, outputEncoding)");
  std::string alg = js::to_string(ctx, argv[0]);
  const EVP_MD* md = md_by_name(alg);
  if (!md) return JS_ThrowTypeError(ctx, "unknown hash algorithm \"%s\"", alg.c_str());
  std::string key, data;
  arg_bytes(ctx, argv[1], &key);
  arg_bytes(ctx, argv[2], &data);
  std::string out;
  if (!hmac_bytes(md, key, data, &out)) return JS_ThrowInternalError(ctx, "hmac with %s failed", alg.c_str());
  return encode_digest(ctx, out, argc > 3 ? js::to_string(ctx, argv[3]) : "hex");
}

JSValue n_random_bytes(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  int64_t n = 0;
  if (argc < 1 || JS_ToInt64(ctx, &n, argv[0]) < 0 || n < 0 || n > (1 << 24))
    return JS_ThrowRangeError(ctx, "randomBytes(size): size must be between 0 and 16777216");
  std::string buf(static_cast<size_t>(n), '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(n)) != 1)
    return JS_ThrowInternalError(ctx, "randomBytes: no randomness available");
  js::ensure_typed_arrays(ctx);
  return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
}

// createHash(alg) / createHMAC(alg, secret): an object with update(data) and digest(enc).
// The accumulated input lives in a hidden string property (scripts hash small inputs).
JSValue n_hasher_update(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  std::string add;
  if (argc > 0) arg_bytes(ctx, argv[0], &add);
  std::string data;
  {
    js::Value cur(ctx, JS_GetPropertyStr(ctx, this_val, "__data"));
    if (!JS_IsUndefined(cur.get())) arg_bytes(ctx, cur.get(), &data);
  }
  js::ensure_typed_arrays(ctx);
  data += add;
  JS_DefinePropertyValueStr(ctx, this_val, "__data",
                            JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(data.data()), data.size()),
                            JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  return JS_DupValue(ctx, this_val);
}

JSValue n_hasher_digest(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  std::string a, k, d;
  bool is_hmac = false;
  {
    js::Value alg(ctx, JS_GetPropertyStr(ctx, this_val, "__alg"));
    js::Value key(ctx, JS_GetPropertyStr(ctx, this_val, "__key"));
    js::Value data(ctx, JS_GetPropertyStr(ctx, this_val, "__data"));
    a = js::to_string(ctx, alg.get());
    is_hmac = !JS_IsUndefined(key.get());
    if (is_hmac) arg_bytes(ctx, key.get(), &k);
    if (!JS_IsUndefined(data.get())) arg_bytes(ctx, data.get(), &d);
  }
  const EVP_MD* md = md_by_name(a);
  if (!md) return JS_ThrowTypeError(ctx, "unknown hash algorithm \"%s\"", a.c_str());
  std::string out;
  if (is_hmac) {
    if (!hmac_bytes(md, k, d, &out)) return JS_ThrowInternalError(ctx, "hmac with %s failed", a.c_str());
  } else if (!digest(md, d, &out)) {
    return JS_ThrowInternalError(ctx, "digest failed");
  }
  return encode_digest(ctx, out, argc > 0 ? js::to_string(ctx, argv[0]) : "hex");
}

JSValue make_hasher(JSContext* ctx, int argc, JSValueConst* argv, bool hmac) {
  if (argc < 1 || (hmac && argc < 2))
    return JS_ThrowTypeError(ctx, hmac ? "createHMAC(algorithm, secret)" : "createHash(algorithm)");
  std::string alg = js::to_string(ctx, argv[0]);
  if (!md_by_name(alg)) return JS_ThrowTypeError(ctx, "unknown hash algorithm \"%s\"", alg.c_str());
  JSValue o = JS_NewObject(ctx);
  JS_DefinePropertyValueStr(ctx, o, "__alg", new_string(ctx, alg), JS_PROP_WRITABLE);
  if (hmac) JS_DefinePropertyValueStr(ctx, o, "__key", JS_DupValue(ctx, argv[1]), JS_PROP_WRITABLE);
  JS_SetPropertyStr(ctx, o, "update", JS_NewCFunction(ctx, n_hasher_update, "update", 1));
  JS_SetPropertyStr(ctx, o, "digest", JS_NewCFunction(ctx, n_hasher_digest, "digest", 1));
  return o;
}

JSValue n_create_hash(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return make_hasher(ctx, argc, argv, false);
}
JSValue n_create_hmac(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return make_hasher(ctx, argc, argv, true);
}

// ---- modules ----------------------------------------------------------------------

struct Fn {
  const char* name;
  JSCFunction* fn;
  int length;
};
const Fn kEncoding[] = {{"b64encode", n_b64encode, 2}, {"b64decode", n_b64decode, 3}};
const Fn kCrypto[] = {{"hmac", n_hmac, 4},
                      {"randomBytes", n_random_bytes, 1},
                      {"createHash", n_create_hash, 1},
                      {"createHMAC", n_create_hmac, 2}};

int encoding_init(JSContext* ctx, JSModuleDef* m) {
  JSValue def = JS_NewObject(ctx);
  for (const auto& f : kEncoding) {
    JSValue fn = JS_NewCFunction(ctx, f.fn, f.name, f.length);
    JS_SetPropertyStr(ctx, def, f.name, JS_DupValue(ctx, fn));
    JS_SetModuleExport(ctx, m, f.name, fn);
  }
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

int crypto_init(JSContext* ctx, JSModuleDef* m) {
  JSValue def = JS_NewObject(ctx);
  auto set = [&](const char* name, JSValue fn) {
    JS_SetPropertyStr(ctx, def, name, JS_DupValue(ctx, fn));
    JS_SetModuleExport(ctx, m, name, fn);
  };
  for (const auto& f : kCrypto) set(f.name, JS_NewCFunction(ctx, f.fn, f.name, f.length));
  for (int i = 0; i < static_cast<int>(std::size(kHashNames)); i++)
    set(kHashNames[i], JS_NewCFunctionMagic(ctx, n_hash, kHashNames[i], 2, JS_CFUNC_generic_magic, i));
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

JSModuleDef* encoding_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, encoding_init);
  if (!m) return nullptr;
  for (const auto& f : kEncoding) JS_AddModuleExport(ctx, m, f.name);
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

JSModuleDef* crypto_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, crypto_init);
  if (!m) return nullptr;
  for (const auto& f : kCrypto) JS_AddModuleExport(ctx, m, f.name);
  for (const char* h : kHashNames) JS_AddModuleExport(ctx, m, h);
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::k6
