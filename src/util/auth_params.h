#pragma once
// The auth-params of an HTTP authentication header (RFC 7235 section 2.1):
// `realm="x", qop="auth,auth-int", nonce=abc`, as challenges and digest
// credentials carry them. Used by the client (k6's digest auth) and the target.

#include <string>
#include <string_view>

namespace herd::util {

/// The value of `key` (ASCII case-insensitive) in the comma-separated auth-params
/// `params` (the scheme already removed), quotes and backslash escapes undone;
/// "" when absent or malformed.
std::string auth_param(std::string_view params, std::string_view key);

}  // namespace herd::util
