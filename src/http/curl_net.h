#pragma once
// k6's network options on a libcurl easy handle: DNS cache and address family
// (dns), blocked destination addresses (blacklistIPs, through the open-socket
// callback), TLS versions, cipher suites and client certificates, OCSP
// stapling requests; and the TLS facts of a response (tls_version,
// tls_cipher_suite, ocsp).

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

#include "http/client.h"
#include "http/netopts.h"

namespace herd::http {

/// What one libcurl transfer keeps for the network options. Must outlive the transfer.
struct CurlNetState {
  std::shared_ptr<const NetConfig> net;  ///< null: no options
  std::string blocked;                   ///< k6's message when the open-socket callback refused a blacklisted address
  long fallback_resolve = -1;            ///< dns.policy prefer*: the CURL_IPRESOLVE_* to retry with when the
                                         ///< preferred family has no address; -1: none
};

/// Sets the options of `state->net` on `easy` for a request to `url`.
void apply_net_options(CURL* easy, std::string_view url, CurlNetState* state);

/// Fills resp->tls_version, tls_cipher_suite and ocsp from the connection's
/// TLS session (call while the connection is in use, e.g. at the status line).
void read_tls_info(CURL* easy, Response* resp);

}  // namespace herd::http
