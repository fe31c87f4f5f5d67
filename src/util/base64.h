#pragma once
// Base64 (RFC 4648), standard and URL-safe alphabets. One implementation for
// k6/encoding, the target's basic auth, kubeconfig data and `herd kube run`.

#include <string>
#include <string_view>

namespace herd::util {

/// `url` selects the "-_" alphabet; `pad` appends "=" to a multiple of 4.
std::string base64_encode(std::string_view in, bool url = false, bool pad = true);

/// Decodes the chosen alphabet, with or without trailing padding. Returns false
/// (leaving `out` unspecified) on a character outside the alphabet or an
/// impossible length.
bool base64_decode(std::string_view in, bool url, std::string* out);

}  // namespace herd::util
