#pragma once
// TLS names as k6 gives and takes them, mapped to OpenSSL's: protocol versions
// ("tls1.2", http.TLS_1_2) and cipher suites (IANA names such as
// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", which OpenSSL calls
// "ECDHE-RSA-AES128-GCM-SHA256").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herd::http {

/// "ssl3.0" -> 3, "tls1.0" -> 10, "tls1.1" -> 11, "tls1.2" -> 12, "tls1.3" -> 13; nullopt otherwise.
std::optional<int> tls_version_from_name(std::string_view name);

/// A cipher suite of OpenSSL's build, by its IANA name.
struct CipherSuite {
  std::string openssl_name;
  bool tls13 = false;  ///< a TLS 1.3 suite (not restricted by the cipher list, as in k6)
};
/// nullopt when OpenSSL does not know the suite. Accepts Go's short aliases
/// ("..._CHACHA20_POLY1305" for "..._CHACHA20_POLY1305_SHA256").
std::optional<CipherSuite> cipher_suite_from_iana(std::string_view name);

/// The negotiated protocol and suite of an OpenSSL `SSL*` (as libcurl hands it
/// out with CURLINFO_TLS_SSL_PTR), as k6 names them: "tls1.3" and
/// "TLS_AES_128_GCM_SHA256". Empty strings when `ssl` is null.
struct TlsSessionNames {
  std::string version;
  std::string cipher_suite;
};
TlsSessionNames tls_session_names(const void* ssl);

/// A stapled OCSP response as k6 reports it (res.ocsp). Times are unix seconds, 0 when absent.
struct OcspInfo {
  std::string status;  ///< "good", "revoked", "unknown" (also: TLS without a stapled response); "" without TLS
  std::int64_t produced_at = 0;
  std::int64_t this_update = 0;
  std::int64_t next_update = 0;
  std::int64_t revoked_at = 0;
  std::string revocation_reason;  ///< k6's names, e.g. "key_compromise"; "" unless revoked
};

/// Asks servers to staple an OCSP response on connections made from this
/// OpenSSL `SSL_CTX*` (Go's client, and so k6, always asks).
void request_ocsp_stapling(void* ssl_ctx);

/// The OCSP response stapled on `ssl`'s handshake: status "unknown" when none was stapled.
OcspInfo stapled_ocsp(const void* ssl);

}  // namespace herd::http
