#include "grpc/tls_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>
#include <memory>

namespace herd::rpc {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

int password_cb(char* buf, int size, int, void* u) {
  const auto* pw = static_cast<const std::string*>(u);
  if (pw->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, pw->data(), pw->size());
  return static_cast<int>(pw->size());
}

/// OpenSSL's most recent error reason ("bad decrypt"), clearing the queue.
std::string last_ssl_error() {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  if (last == 0) return "no private key found";
  const char* reason = ERR_reason_error_string(last);
  return reason ? reason : "unknown OpenSSL error";
}

}  // namespace

std::string decrypt_pem_key(const std::string& pem, const std::string& password) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in) throw TlsKeyError("out of memory");
  std::string pw = password;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(in.get(), nullptr, password_cb, &pw));
  OPENSSL_cleanse(pw.data(), pw.size());
  if (!key)
    throw TlsKeyError("cannot decrypt the TLS key with tls.password (" + last_ssl_error() +
                      "): wrong password or not a PEM private key");
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw TlsKeyError("cannot write the decrypted TLS key: " + last_ssl_error());
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  std::string plain(data, static_cast<size_t>(n));
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return plain;
}

}  // namespace herd::rpc
