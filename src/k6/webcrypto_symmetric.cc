// WebCrypto secret keys: HMAC (sign/verify) and AES-GCM, AES-CBC, AES-CTR
// (encrypt/decrypt); generate, import and export in raw and jwk formats.
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi_util.h"
#include "k6/webcrypto.h"

namespace herd::k6::webcrypto {

namespace {

int hmac_block_bits(const std::string& hash) {
  return hash == "SHA-384" || hash == "SHA-512" ? 1024 : 512;
}

void check_aes_length(int bits, const char* op) {
  if (bits != 128 && bits != 192 && bits != 256)
    fail(std::string(op) == "generateKey" ? "OperationError" : "DataError",
         std::string(op) + ": AES keys are 128, 192 or 256 bits, not " + std::to_string(bits));
}

/// JWK "alg" for a secret key, e.g. "A256GCM" or "HS256".
std::string jwk_alg(const std::string& alg, int bits, const std::string& hash) {
  if (alg == "HMAC") return "HS" + hash.substr(4);
  std::string mode = alg.substr(4);  // GCM, CBC, CTR
  return "A" + std::to_string(bits) + mode;
}

const EVP_CIPHER* cipher_for(const std::string& alg, size_t key_bytes) {
  int bits = static_cast<int>(key_bytes * 8);
  if (alg == "AES-GCM") return bits == 128 ? EVP_aes_128_gcm() : bits == 192 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
  if (alg == "AES-CBC") return bits == 128 ? EVP_aes_128_cbc() : bits == 192 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
  return bits == 128 ? EVP_aes_128_ctr() : bits == 192 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
}

std::string run_cipher(EVP_CIPHER_CTX* c, const std::string& in, bool final_may_fail = false) {
  std::string out(in.size() + 32, '\0');
  int n = 0, m = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_CipherUpdate(c, o, &n, reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size())) != 1)
    fail("OperationError", "the cipher failed");
  if (EVP_CipherFinal_ex(c, o + n, &m) != 1)
    fail("OperationError", final_may_fail ? "decryption failed: the data or the key is wrong" : "the cipher failed");
  out.resize(static_cast<size_t>(n + m));
  return out;
}

std::string aes_gcm(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt) {
  std::string iv = req_bytes(ctx, params, "iv", "AES-GCM");
  if (iv.empty()) fail("OperationError", "AES-GCM: iv must not be empty");
  std::string aad = opt_bytes(ctx, params, "additionalData").value_or("");
  int tag_bits = static_cast<int>(opt_number(ctx, params, "tagLength").value_or(128));
  if (tag_bits != 32 && tag_bits != 64 && (tag_bits < 96 || tag_bits > 128 || tag_bits % 8))
    fail("OperationError", "AES-GCM: tagLength must be 32, 64, 96, 104, 112, 120 or 128");
  size_t tag_len = static_cast<size_t>(tag_bits / 8);
  std::string body = data, tag;
  if (!encrypt) {
    if (data.size() < tag_len) fail("OperationError", "AES-GCM: the data is shorter than the tag");
    body = data.substr(0, data.size() - tag_len);
    tag = data.substr(data.size() - tag_len);
  }
  CipherCtxPtr c(EVP_CIPHER_CTX_new());
  if (!c ||
      EVP_CipherInit_ex(c.get(), cipher_for("AES-GCM", key.secret.size()), nullptr, nullptr, nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(c.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.secret.data()),
                        reinterpret_cast<const unsigned char*>(iv.data()), encrypt) != 1)
    fail("OperationError", "AES-GCM: cannot set up the cipher");
  int n = 0;
  if (!aad.empty() && EVP_CipherUpdate(c.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(aad.data()),
                                       static_cast<int>(aad.size())) != 1)
    fail("OperationError", "AES-GCM: additionalData rejected");
  if (!encrypt && EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_len), tag.data()) != 1)
    fail("OperationError", "AES-GCM: bad tag");
  std::string out = run_cipher(c.get(), body, !encrypt);
  if (encrypt) {
    std::string t(tag_len, '\0');
    if (EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_len), t.data()) != 1)
      fail("OperationError", "AES-GCM: cannot get the tag");
    out += t;
  }
  return out;
}

std::string aes_cbc(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt) {
  std::string iv = req_bytes(ctx, params, "iv", "AES-CBC");
  if (iv.size() != 16) fail("OperationError", "AES-CBC: iv must be 16 bytes, not " + std::to_string(iv.size()));
  CipherCtxPtr c(EVP_CIPHER_CTX_new());
  if (!c || EVP_CipherInit_ex(c.get(), cipher_for("AES-CBC", key.secret.size()), nullptr,
                              reinterpret_cast<const unsigned char*>(key.secret.data()),
                              reinterpret_cast<const unsigned char*>(iv.data()), encrypt) != 1)
    fail("OperationError", "AES-CBC: cannot set up the cipher");
  return run_cipher(c.get(), data, !encrypt);
}

/// AES-CTR where only the rightmost `length` bits of the counter block count
/// (and wrap), as WebCrypto specifies; OpenSSL's CTR mode carries into all 128.
std::string aes_ctr(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data) {
  std::string counter = req_bytes(ctx, params, "counter", "AES-CTR");
  if (counter.size() != 16) fail("OperationError", "AES-CTR: counter must be 16 bytes");
  auto len = opt_number(ctx, params, "length");
  if (!len) fail("TypeError", "AES-CTR: the algorithm needs a \"length\" member");
  int bits = static_cast<int>(*len);
  if (bits < 1 || bits > 128 || *len != bits) fail("OperationError", "AES-CTR: length must be between 1 and 128");
  std::string out;
  std::string block = counter;
  size_t pos = 0;
  while (pos < data.size() || (data.empty() && pos == 0)) {
    // Blocks left before the low `bits` bits wrap to zero.
    unsigned __int128 low = 0;
    for (unsigned char ch : block) low = (low << 8) | ch;
    unsigned __int128 mask =
        bits == 128 ? ~static_cast<unsigned __int128>(0) : ((static_cast<unsigned __int128>(1) << bits) - 1);
    unsigned __int128 until_wrap = (mask - (low & mask)) + 1;  // 0 means 2^128
    size_t blocks = (data.size() - pos + 15) / 16;
    size_t take = data.size() - pos;
    if (until_wrap != 0 && blocks > until_wrap) take = static_cast<size_t>(until_wrap) * 16;
    CipherCtxPtr c(EVP_CIPHER_CTX_new());
    if (!c || EVP_CipherInit_ex(c.get(), cipher_for("AES-CTR", key.secret.size()), nullptr,
                                reinterpret_cast<const unsigned char*>(key.secret.data()),
                                reinterpret_cast<const unsigned char*>(block.data()), 1) != 1)
      fail("OperationError", "AES-CTR: cannot set up the cipher");
    out += run_cipher(c.get(), data.substr(pos, take));
    pos += take;
    if (data.empty()) break;
    // The next segment starts with the counter's low bits at zero.
    unsigned __int128 high = low & ~mask;
    for (int i = 15; i >= 0; i--) {
      block[static_cast<size_t>(i)] = static_cast<char>(high & 0xff);
      high >>= 8;
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<KeyData> secret_generate(JSContext* ctx, const std::string& alg, JSValueConst params) {
  auto k = std::make_unique<KeyData>();
  k->algorithm = alg;
  int bits = 0;
  if (alg == "HMAC") {
    k->hash = req_hash(ctx, params, "generateKey");
    bits = static_cast<int>(opt_number(ctx, params, "length").value_or(hmac_block_bits(k->hash)));
    if (bits <= 0 || bits % 8) fail("OperationError", "generateKey: HMAC length must be a positive multiple of 8");
  } else {
    auto l = opt_number(ctx, params, "length");
    if (!l) fail("TypeError", "generateKey: the algorithm needs a \"length\" member");
    bits = static_cast<int>(*l);
    check_aes_length(bits, "generateKey");
  }
  k->length_bits = bits;
  k->secret.resize(static_cast<size_t>(bits / 8));
  if (RAND_bytes(reinterpret_cast<unsigned char*>(k->secret.data()), bits / 8) != 1)
    fail("OperationError", "generateKey: no randomness available");
  return k;
}

std::unique_ptr<KeyData> secret_import(JSContext* ctx, const std::string& format, JSValueConst key_data,
                                       const std::string& alg, JSValueConst params, bool, unsigned) {
  auto k = std::make_unique<KeyData>();
  k->algorithm = alg;
  if (alg == "HMAC") k->hash = req_hash(ctx, params, "importKey");
  if (format == "raw") {
    buffer_bytes(ctx, key_data, &k->secret);
  } else if (format == "jwk") {
    if (jwk_member(ctx, key_data, "kty") != "oct") fail("DataError", "importKey: a secret JWK has \"kty\": \"oct\"");
    k->secret = from_b64url(jwk_member(ctx, key_data, "k"), "k");
  } else {
    fail("NotSupportedError", "importKey: " + alg + " keys are imported as raw or jwk, not " + format);
  }
  int bits = static_cast<int>(k->secret.size() * 8);
  if (alg == "HMAC") {
    if (bits == 0) fail("DataError", "importKey: an HMAC key must not be empty");
    if (auto l = opt_number(ctx, params, "length"); l && static_cast<int>(*l) != bits)
      fail("DataError", "importKey: length " + std::to_string(static_cast<int>(*l)) + " does not match the key's " +
                            std::to_string(bits) + " bits");
  } else {
    check_aes_length(bits, "importKey");
  }
  k->length_bits = bits;
  if (format == "jwk") {
    auto ja = opt_string(ctx, key_data, "alg");
    if (ja && *ja != jwk_alg(alg, bits, k->hash))
      fail("DataError", "importKey: the JWK's \"alg\" " + *ja + " does not match " + jwk_alg(alg, bits, k->hash));
  }
  return k;
}

JSValue secret_export(JSContext* ctx, const std::string& format, const KeyData& key) {
  if (format == "raw") return new_array_buffer(ctx, key.secret);
  if (format != "jwk") fail("NotSupportedError", "exportKey: secret keys export as raw or jwk, not " + format);
  js::Value jwk(ctx, JS_NewObject(ctx));
  set_str(ctx, jwk.get(), "kty", "oct");
  set_str(ctx, jwk.get(), "k", b64url(key.secret));
  set_str(ctx, jwk.get(), "alg", jwk_alg(key.algorithm, key.length_bits, key.hash));
  set_jwk_common(ctx, jwk.get(), key);
  return jwk.release();
}

std::string hmac_sign(const KeyData& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(md_for(key.hash), key.secret.data(), static_cast<int>(key.secret.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
    fail("OperationError", "HMAC failed");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string aes_crypt(JSContext* ctx, JSValueConst params, const KeyData& key, const std::string& data, bool encrypt) {
  if (key.algorithm == "AES-GCM") return aes_gcm(ctx, params, key, data, encrypt);
  if (key.algorithm == "AES-CBC") return aes_cbc(ctx, params, key, data, encrypt);
  return aes_ctr(ctx, params, key, data);
}

}  // namespace herd::k6::webcrypto
