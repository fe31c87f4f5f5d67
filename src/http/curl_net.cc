#include "http/curl_net.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <optional>

#include "http/tls_names.h"

namespace herd::http {

namespace {

CURLcode ssl_ctx_cb(CURL*, void* ssl_ctx, void*) {
  request_ocsp_stapling(ssl_ctx);
  return CURLE_OK;
}

// blacklistIPs for names libcurl resolves: refuse the socket for a blocked address.
curl_socket_t open_socket_cb(void* ud, curlsocktype, curl_sockaddr* a) {
  auto* state = static_cast<CurlNetState*>(ud);
  std::optional<IpAddr> ip;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a->family == AF_INET) {
    ip = IpAddr::parse(inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&a->addr)->sin_addr, buf, sizeof buf));
  } else if (a->family == AF_INET6) {
    ip = IpAddr::parse(inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&a->addr)->sin6_addr, buf, sizeof buf));
  }
  if (ip && state->net) {
    if (const IpNet* n = state->net->blacklisted(*ip)) {
      state->blocked = blacklisted_ip_message(*ip, *n);
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void apply_tls(CURL* e, const TlsConfig& tls, const std::string& host) {
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, &ssl_ctx_cb);
  static const long kMin[] = {CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_TLSv1_2,
                              CURL_SSLVERSION_TLSv1_3};
  static const long kMax[] = {CURL_SSLVERSION_MAX_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_1, CURL_SSLVERSION_MAX_TLSv1_2,
                              CURL_SSLVERSION_MAX_TLSv1_3};
  long version = CURL_SSLVERSION_DEFAULT;
  if (tls.min_version >= 10 && tls.min_version <= 13) version = kMin[tls.min_version - 10];
  if (tls.max_version >= 10 && tls.max_version <= 13) version |= kMax[tls.max_version - 10];
  if (version != CURL_SSLVERSION_DEFAULT) curl_easy_setopt(e, CURLOPT_SSLVERSION, version);
  if (!tls.cipher_list.empty()) curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, tls.cipher_list.c_str());
  if (const ClientCert* c = tls.cert_for(host)) {
    curl_blob cert{const_cast<char*>(c->cert_pem.data()), c->cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(c->key_pem.data()), c->key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
    if (!c->password.empty()) curl_easy_setopt(e, CURLOPT_KEYPASSWD, c->password.c_str());
  }
}

}  // namespace

void apply_net_options(CURL* e, std::string_view url, CurlNetState* state) {
  const NetConfig* n = state->net.get();
  if (!n) return;
  if (!n->blacklist.empty()) {
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &open_socket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, state);
  }
  curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, n->dns.ttl_seconds);
  std::optional<UrlHost> u = split_url_host(url);
  if (!u) return;
  if (!IpAddr::parse(u->host)) {
    using P = DnsConfig::Policy;
    const P policy = n->dns.policy;
    long first = CURL_IPRESOLVE_WHATEVER;
    if (policy == P::kPreferIPv4 || policy == P::kOnlyIPv4) first = CURL_IPRESOLVE_V4;
    if (policy == P::kPreferIPv6 || policy == P::kOnlyIPv6) first = CURL_IPRESOLVE_V6;
    if (policy == P::kPreferIPv4) state->fallback_resolve = CURL_IPRESOLVE_V6;
    if (policy == P::kPreferIPv6) state->fallback_resolve = CURL_IPRESOLVE_V4;
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, first);
  }
  if (u->https) apply_tls(e, n->tls, u->host);
}

void read_tls_info(CURL* easy, Response* resp) {
  curl_tlssessioninfo* info = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
      info->backend != CURLSSLBACKEND_OPENSSL || !info->internals)
    return;
  TlsSessionNames names = tls_session_names(info->internals);
  resp->tls_version = std::move(names.version);
  resp->tls_cipher_suite = std::move(names.cipher_suite);
  resp->ocsp = std::make_shared<const OcspInfo>(stapled_ocsp(info->internals));
}

}  // namespace herd::http
