#pragma once
// application/x-www-form-urlencoded decoding, shared by the target's routes
// (query strings of server.cc and semantics_routes.cc, form bodies of html_pages.cc).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd::target {

/// Decodes '+' to a space and %XX to its byte; a '%' not followed by two hex
/// digits is kept as is.
std::string url_decode(std::string_view s);

/// "a=1&b&c=%20" -> {{"a","1"},{"b",""},{"c"," "}}, names and values decoded,
/// in order, duplicates kept, empty parts skipped.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

/// The decoded value of the first parameter whose decoded name is `name`; "" when absent.
std::string query_param(std::string_view q, std::string_view name);

}  // namespace herd::target
