// libcurl's results as k6's error codes and messages (k6_error_from_curl in
// client.h), and the messages of the limits both transports enforce.
#include <curl/curl.h>

#include <string>
#include <utility>

#include "http/client.h"
#include "util/ascii.h"

namespace herd::http {

namespace {

using util::icontains;

// "Failed to connect to 127.0.0.1 port 1 after 0 ms: ..." -> "127.0.0.1:1"
std::string dial_target(const std::string& detail) {
  static const std::string kPrefix = "connect to ";
  auto p = detail.find(kPrefix);
  if (p == std::string::npos) return "";
  p += kPrefix.size();
  auto sp = detail.find(' ', p);
  if (sp == std::string::npos) return "";
  std::string host = detail.substr(p, sp - p);
  auto port_kw = detail.find("port ", sp);
  if (port_kw == std::string::npos) return host;
  port_kw += 5;
  auto end = port_kw;
  while (end < detail.size() && detail[end] >= '0' && detail[end] <= '9') ++end;
  std::string port = detail.substr(port_kw, end - port_kw);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + port;
}

std::string after_colon(const std::string& detail, const std::string& key) {
  auto p = detail.find(key);
  if (p == std::string::npos) return "";
  std::string rest = detail.substr(p + key.size());
  while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  auto sp = rest.find_first_of(" \r\n");
  if (sp != std::string::npos) rest.resize(sp);
  return rest;
}

}  // namespace

std::pair<int, std::string> k6_error_from_curl(int curl_code, const std::string& detail) {
  const std::string what = detail.empty() ? curl_easy_strerror(static_cast<CURLcode>(curl_code)) : detail;
  switch (curl_code) {
    case CURLE_OK:
      return {0, ""};
    case CURLE_UNSUPPORTED_PROTOCOL:
      return {1020, "unsupported protocol scheme: " + what};
    case CURLE_URL_MALFORMAT:
      return {1020, "invalid URL: " + what};
    case CURLE_OPERATION_TIMEDOUT:
      return {1050, "request timeout"};
    case CURLE_COULDNT_RESOLVE_PROXY:
      return {1100, "dial tcp: lookup proxy: " + what};
    case CURLE_COULDNT_RESOLVE_HOST: {
      std::string host = after_colon(detail, "resolve host:");
      if (host.empty()) host = "host";
      return {1101, "lookup " + host + ": no such host"};
    }
    case CURLE_COULDNT_CONNECT: {
      std::string target = dial_target(detail);
      std::string prefix = target.empty() ? "dial tcp: " : "dial tcp " + target + ": ";
      if (icontains(detail, "refused")) return {1212, prefix + "connect: connection refused"};
      if (icontains(detail, "timed out") || icontains(detail, "timeout")) return {1211, prefix + "i/o timeout"};
      if (icontains(detail, "unreachable") || icontains(detail, "no route"))
        return {1210, prefix + "connect: network is unreachable"};
      return {1210, prefix + what};
    }
    case CURLE_SEND_ERROR:
      if (icontains(detail, "reset")) return {1220, "write: connection reset by peer"};
      if (icontains(detail, "broken pipe")) return {1201, "write: broken pipe"};
      return {1200, "write: " + what};
    case CURLE_RECV_ERROR:
      if (icontains(detail, "reset")) return {1220, "read: connection reset by peer"};
      return {1200, "read: " + what};
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_FAIL_REWIND:  // a non-replayable request not resent on a new connection (client.cc)
      return {1000, "EOF"};
    case CURLE_PARTIAL_FILE:
      return {1000, "unexpected EOF"};
    case CURLE_WEIRD_SERVER_REPLY:
      return {1000, "malformed HTTP response: " + what};
    case CURLE_SSL_CONNECT_ERROR:
      if (icontains(detail, "wrong version number") || icontains(detail, "record"))
        return {1301, "tls: first record does not look like a TLS handshake"};
      return {1300, "tls: " + what};
    case CURLE_PEER_FAILED_VERIFICATION:
#if defined(CURLE_SSL_CACERT) && CURLE_SSL_CACERT != CURLE_PEER_FAILED_VERIFICATION
    case CURLE_SSL_CACERT:
#endif
      if (icontains(detail, "subject name") || icontains(detail, "hostname") || icontains(detail, "host name"))
        return {1311, "x509: certificate is not valid for this host: " + what};
      return {1310, "x509: certificate signed by unknown authority"};
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return {1300, "tls: " + what};
    case CURLE_HTTP2_STREAM:
      return {1630, "http2: stream error: " + what};
    case CURLE_HTTP2:
      return {1650, "http2: connection error: " + what};
    default:
      return {1000, what};
  }
}

std::string header_limit_message(std::size_t limit) {
  return "net/http: server response headers exceeded " + std::to_string(limit) + " bytes; aborted";
}

std::string body_limit_message(std::size_t limit) {
  return "response body exceeded " + std::to_string(limit) + " bytes (maxResponseBodyBytes); aborted";
}

}  // namespace herd::http
