#pragma once
// TLS for wss:// on the event loop: OpenSSL 3 over the session's non-blocking
// socket (SSL_set_fd; SSL_ERROR_WANT_READ/WANT_WRITE map to the loop's
// readiness in ws/client.cc). One SSL_CTX per distinct set of options per
// thread, cached: a VU stays on its worker's thread. Peers are checked against
// the system's CAs (OpenSSL's default paths; SSL_CERT_FILE/SSL_CERT_DIR apply).

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace herd::ws {

/// The TLS settings of a wss:// session (k6's insecureSkipTLSVerify,
/// tlsVersion, tlsCipherSuites and tlsAuth options).
struct TlsOptions {
  bool insecure_skip_verify = false;
  int min_version = 0;  ///< 0 = library default; else 10, 11, 12, 13
  int max_version = 0;  ///< 0 = no maximum
  std::string cipher_list;
  std::string cert_pem;  ///< client certificate (tlsAuth); "" for none
  std::string key_pem;
  std::string key_password;
};

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

/// The calling thread's client SSL_CTX for `o`. Throws std::runtime_error
/// ("tls: ...") for a bad certificate, key or cipher list.
std::shared_ptr<SSL_CTX> client_ctx(const TlsOptions& o);

/// A new client SSL on `fd` for `host` (SNI for names; the peer's certificate
/// is checked against `host`, a name or an IP literal, unless the context skips
/// verification). Throws std::runtime_error.
SslPtr new_client_ssl(SSL_CTX* ctx, int fd, const std::string& host);

/// Go's wording for a failed handshake (`ret` and `ssl_err` from
/// SSL_do_handshake and SSL_get_error); reads and clears the thread's error queue.
std::string handshake_error(SSL* ssl, int ssl_err, const std::string& host);

}  // namespace herd::ws
