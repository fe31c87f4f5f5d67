#include "ws/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

namespace herd::ws {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string last_error() {
  unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    const char* r = ERR_reason_error_string(e);
    out = r ? r : "error " + std::to_string(e);
  }
  ERR_clear_error();
  return out.empty() ? "unknown error" : out;
}

int proto_version(int v) {
  switch (v) {
    case 10:
      return TLS1_VERSION;
    case 11:
      return TLS1_1_VERSION;
    case 12:
      return TLS1_2_VERSION;
    case 13:
      return TLS1_3_VERSION;
    default:
      return 0;
  }
}

std::unique_ptr<BIO, BioFree> mem_bio(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!b) throw std::runtime_error("tls: out of memory");
  return b;
}

void load_client_cert(SSL_CTX* ctx, const TlsOptions& o) {
  auto cb = mem_bio(o.cert_pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!cert || SSL_CTX_use_certificate(ctx, cert.get()) != 1)
    throw std::runtime_error("tls: failed to load the tlsAuth certificate: " + last_error());
  // The rest of the PEM is the chain.
  while (X509* extra = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr))
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      throw std::runtime_error("tls: failed to load the tlsAuth certificate chain: " + last_error());
    }
  ERR_clear_error();  // the end of the PEM
  auto kb = mem_bio(o.key_pem);
  std::string pass = o.key_password;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, pass.data()));
  if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    throw std::runtime_error("tls: failed to load the tlsAuth key: " + last_error());
  if (SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error("tls: the tlsAuth key does not match its certificate");
}

std::shared_ptr<SSL_CTX> make_ctx(const TlsOptions& o) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SslCtxFree{});
  if (!ctx) throw std::runtime_error("tls: " + last_error());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // An EOF without close_notify reads as an EOF; the WebSocket layer says whether that was clean.
  SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (int v = proto_version(o.min_version)) SSL_CTX_set_min_proto_version(c, v);
  if (int v = proto_version(o.max_version)) SSL_CTX_set_max_proto_version(c, v);
  if (!o.cipher_list.empty() && SSL_CTX_set_cipher_list(c, o.cipher_list.c_str()) != 1)
    throw std::runtime_error("tls: bad cipher list \"" + o.cipher_list + "\": " + last_error());
  if (o.insecure_skip_verify) {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(c) != 1) ERR_clear_error();  // no system CAs: every peer fails
  }
  if (!o.cert_pem.empty()) load_client_cert(c, o);
  return ctx;
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::shared_ptr<SSL_CTX> client_ctx(const TlsOptions& o) {
  thread_local std::map<std::string, std::shared_ptr<SSL_CTX>> cache;
  std::string key = std::string(o.insecure_skip_verify ? "1" : "0") + '\0' + std::to_string(o.min_version) + '\0' +
                    std::to_string(o.max_version) + '\0' + o.cipher_list + '\0' + o.cert_pem + '\0' + o.key_pem + '\0' +
                    o.key_password;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto ctx = make_ctx(o);
  if (cache.size() >= 64) cache.clear();  // bounded: scripts rarely vary TLS settings per socket
  cache.emplace(std::move(key), ctx);
  return ctx;
}

SslPtr new_client_ssl(SSL_CTX* ctx, int fd, const std::string& host) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) throw std::runtime_error("tls: " + last_error());
  if (SSL_set_fd(ssl.get(), fd) != 1) throw std::runtime_error("tls: " + last_error());
  bool ip = is_ip(host);
  if (!ip && SSL_set_tlsext_host_name(ssl.get(), host.c_str()) != 1)
    throw std::runtime_error("tls: bad server name \"" + host + "\"");
  if (SSL_get_verify_mode(ssl.get()) & SSL_VERIFY_PEER) {
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str())
                : SSL_set1_host(ssl.get(), host.c_str());
    if (ok != 1) throw std::runtime_error("tls: cannot check the certificate against \"" + host + "\"");
  }
  SSL_set_connect_state(ssl.get());
  return ssl;
}

std::string handshake_error(SSL* ssl, int ssl_err, const std::string& host) {
  long v = SSL_get_verify_result(ssl);
  if (ssl_err == SSL_ERROR_SSL && v != X509_V_OK) {
    ERR_clear_error();
    std::string pre = "tls: failed to verify certificate: x509: ";
    switch (v) {
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return pre + "certificate is not valid for " + host;
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return pre + "certificate has expired or is not yet valid";
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return pre + "certificate signed by unknown authority";
      default:
        return pre + X509_verify_cert_error_string(v);
    }
  }
  if (ssl_err == SSL_ERROR_SYSCALL) {
    int e = errno;
    ERR_clear_error();
    if (e == ECONNRESET) return "read: connection reset by peer";
    return e == 0 ? "tls: unexpected EOF during the handshake" : std::string("tls: ") + std::strerror(e);
  }
  if (ssl_err == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return "tls: unexpected EOF during the handshake";
  }
  unsigned long e = ERR_peek_last_error();
  if (e != 0 && ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER) {
    ERR_clear_error();
    return "tls: first record does not look like a TLS handshake";
  }
  return "tls: " + last_error();
}

}  // namespace herd::ws
