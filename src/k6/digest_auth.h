#pragma once
// HTTP Digest access authentication (RFC 7616) for `params.auth: "digest"`,
// done the way k6 does it: the request goes out without credentials, and a
// 401 carrying a `WWW-Authenticate: Digest` challenge is answered by sending
// the request once more with an Authorization header computed from the URL's
// user info. Both exchanges are samples (k6 emits the 401 too).
// Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth" or none (RFC 2069).

#include <string>
#include <string_view>

namespace herd::k6 {

/// Credentials taken out of a URL.
struct UserInfo {
  std::string user;      ///< percent-decoded
  std::string password;  ///< percent-decoded
  std::string bare_url;  ///< the URL without "user:password@"
};

/// Splits "http://user:pw@host/..." into its user info and the URL without it.
/// False when the URL has no user info (or cannot be parsed).
bool split_user_info(const std::string& url, UserInfo* out);

/// The request target (path and query, "/" at least) of an absolute URL; "/" if unparsable.
std::string request_target(const std::string& url);

/// A fresh client nonce: 32 random hex digits.
std::string new_cnonce();

/// The Authorization header value answering the Digest challenge `www_authenticate`
/// (a WWW-Authenticate value) for `method` on `uri` (the request target, path and
/// query). "" when it is not a Digest challenge herd can answer (another scheme,
/// an unknown algorithm, qop without "auth"). `cnonce` is the client nonce to use.
std::string digest_authorization(std::string_view www_authenticate, std::string_view method, std::string_view uri,
                                 const UserInfo& creds, std::string_view cnonce);

}  // namespace herd::k6
