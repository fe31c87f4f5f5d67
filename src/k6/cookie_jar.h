#pragma once
// A per-VU cookie jar (RFC 6265 subset): domain and path matching, expiry,
// host-only cookies, Secure. Reset at the start of every iteration unless
// noCookiesReset.

#include <cstdint>
#include <string>
#include <vector>

namespace herd::k6 {

struct Cookie {
  std::string name;
  std::string value;
  std::string domain;  ///< lower-case, no leading dot
  std::string path = "/";
  bool host_only = true;
  bool secure = false;
  bool http_only = false;
  std::int64_t expires_unix = 0;  ///< 0 = session cookie
  std::int64_t max_age = 0;
};

/// Parts of a URL needed for cookie matching.
struct UrlParts {
  std::string scheme;
  std::string host;  ///< lower-case
  std::string path;  ///< "/" when empty
};
UrlParts split_url(const std::string& url);

/// Parses one Set-Cookie header value. Returns false if it has no name=value.
bool parse_set_cookie(const std::string& header, const UrlParts& origin, std::int64_t now_unix, Cookie* out);

/// RFC 6265's default-path of a request path: "/a/b" -> "/a", "/x" -> "/".
std::string cookie_default_path(const std::string& url_path);
/// True when a cookie for `domain` may be set from `host` (equal, or a parent domain).
bool cookie_domain_allowed(const std::string& host, const std::string& domain);

class CookieJar {
 public:
  /// Stores cookies from a response's Set-Cookie headers (replaces same name/domain/path;
  /// an expired cookie deletes).
  void store(const Cookie& c, std::int64_t now_unix);
  /// Cookies to send to `url`, most specific path first.
  std::vector<Cookie> for_url(const std::string& url, std::int64_t now_unix) const;
  /// "a=1; b=2" for `url`, or "".
  std::string header_for(const std::string& url, std::int64_t now_unix) const;
  void clear() { cookies_.clear(); }
  bool empty() const { return cookies_.empty(); }
  /// Deletes every cookie that matches `url` by domain and path (k6's jar.clear(url)).
  void clear_url(const std::string& url);
  /// Deletes the cookies named `name` that match `url` by domain and path (k6's jar.delete).
  void remove(const std::string& url, const std::string& name);

 private:
  std::vector<Cookie> cookies_;
};

}  // namespace herd::k6
