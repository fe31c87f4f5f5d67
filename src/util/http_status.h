#pragma once
// HTTP reason phrases (RFC 9110 and the IANA status code registry). One table
// for the target server, the control API and responses that carry no phrase
// (HTTP/2, or a server that sends none).

#include <string>
#include <string_view>

namespace herd::util {

/// "OK" for 200, "Not Found" for 404, ...; "" for a code without a registered phrase.
std::string_view http_reason_phrase(int status);

/// k6's Response.status_text (Go's Response.Status): "200 OK" from the code and
/// the phrase the server sent, or the registered phrase when it sent none
/// (HTTP/2 has none); just "299" when neither exists.
std::string http_status_text(int status, std::string_view reason);

}  // namespace herd::util
