#include "http/tls_names.h"

#include <openssl/ocsp.h>
#include <openssl/ssl.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <unordered_map>

namespace herd::http {

namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// Every suite this OpenSSL build knows, by IANA name (built once).
const std::unordered_map<std::string, CipherSuite>& suites() {
  static const std::unordered_map<std::string, CipherSuite> table = [] {
    std::unordered_map<std::string, CipherSuite> t;
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return t;
    SSL_CTX_set_security_level(ctx.get(), 0);
    SSL_CTX_set_cipher_list(ctx.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx.get());
    for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
      const char* iana = SSL_CIPHER_standard_name(c);
      if (!iana) continue;
      CipherSuite s;
      s.openssl_name = SSL_CIPHER_get_name(c);
      s.tls13 = std::strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
      t.emplace(iana, std::move(s));
    }
    return t;
  }();
  return table;
}

}  // namespace

std::optional<int> tls_version_from_name(std::string_view name) {
  if (name == "ssl3.0") return 3;
  if (name == "tls1.0") return 10;
  if (name == "tls1.1") return 11;
  if (name == "tls1.2") return 12;
  if (name == "tls1.3") return 13;
  return std::nullopt;
}

std::optional<CipherSuite> cipher_suite_from_iana(std::string_view name) {
  const auto& t = suites();
  auto it = t.find(std::string(name));
  if (it == t.end()) it = t.find(std::string(name) + "_SHA256");  // Go's CHACHA20 aliases
  if (it == t.end()) return std::nullopt;
  return it->second;
}

TlsSessionNames tls_session_names(const void* p) {
  TlsSessionNames out;
  const SSL* ssl = static_cast<const SSL*>(p);
  if (!ssl) return out;
  switch (SSL_version(ssl)) {
    case SSL3_VERSION:
      out.version = "ssl3.0";
      break;
    case TLS1_VERSION:
      out.version = "tls1.0";
      break;
    case TLS1_1_VERSION:
      out.version = "tls1.1";
      break;
    case TLS1_2_VERSION:
      out.version = "tls1.2";
      break;
    case TLS1_3_VERSION:
      out.version = "tls1.3";
      break;
    default:
      break;
  }
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
    const char* iana = SSL_CIPHER_standard_name(c);
    out.cipher_suite = iana ? iana : SSL_CIPHER_get_name(c);
  }
  return out;
}

namespace {

std::int64_t unix_seconds(const ASN1_GENERALIZEDTIME* t) {
  if (!t) return 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

const char* reason_name(int reason) {
  switch (reason) {
    case OCSP_REVOKED_STATUS_UNSPECIFIED:
      return "unspecified";
    case OCSP_REVOKED_STATUS_KEYCOMPROMISE:
      return "key_compromise";
    case OCSP_REVOKED_STATUS_CACOMPROMISE:
      return "ca_compromise";
    case OCSP_REVOKED_STATUS_AFFILIATIONCHANGED:
      return "affiliation_changed";
    case OCSP_REVOKED_STATUS_SUPERSEDED:
      return "superseded";
    case OCSP_REVOKED_STATUS_CESSATIONOFOPERATION:
      return "cessation_of_operation";
    case OCSP_REVOKED_STATUS_CERTIFICATEHOLD:
      return "certificate_hold";
    case OCSP_REVOKED_STATUS_REMOVEFROMCRL:
      return "remove_from_crl";
    case 9:
      return "privilege_withdrawn";
    case 10:
      return "aa_compromise";
    default:
      return "unspecified";
  }
}

struct OcspResponseFree {
  void operator()(OCSP_RESPONSE* r) const { OCSP_RESPONSE_free(r); }
};
struct OcspBasicFree {
  void operator()(OCSP_BASICRESP* b) const { OCSP_BASICRESP_free(b); }
};

}  // namespace

void request_ocsp_stapling(void* ssl_ctx) {
  SSL_CTX_set_tlsext_status_type(static_cast<SSL_CTX*>(ssl_ctx), TLSEXT_STATUSTYPE_ocsp);
}

OcspInfo stapled_ocsp(const void* p) {
  OcspInfo out;
  out.status = "unknown";
  SSL* ssl = const_cast<SSL*>(static_cast<const SSL*>(p));
  const unsigned char* der = nullptr;
  long len = ssl ? SSL_get_tlsext_status_ocsp_resp(ssl, &der) : -1;
  if (!der || len <= 0) return out;
  std::unique_ptr<OCSP_RESPONSE, OcspResponseFree> resp(d2i_OCSP_RESPONSE(nullptr, &der, len));
  if (!resp || OCSP_response_status(resp.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) return out;
  std::unique_ptr<OCSP_BASICRESP, OcspBasicFree> basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return out;
  out.produced_at = unix_seconds(OCSP_resp_get0_produced_at(basic.get()));
  OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), 0);
  if (!single) return out;
  int reason = -1;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  int status = OCSP_single_get0_status(single, &reason, &revoked, &this_update, &next_update);
  out.this_update = unix_seconds(this_update);
  out.next_update = unix_seconds(next_update);
  if (status == V_OCSP_CERTSTATUS_GOOD) {
    out.status = "good";
  } else if (status == V_OCSP_CERTSTATUS_REVOKED) {
    out.status = "revoked";
    out.revoked_at = unix_seconds(revoked);
    out.revocation_reason = reason_name(reason);
  }
  return out;
}

}  // namespace herd::http
