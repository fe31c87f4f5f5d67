#pragma once
// The dashboard page's files, embedded at build time (CMakeLists.txt generates
// assets.cc from src/dashboard/assets/ and Debian's libjs-dygraphs).

#include <span>
#include <string_view>

namespace herd::dashboard {

struct Asset {
  std::string_view path;          ///< as served, e.g. "/dygraph.min.js"; "/" is the page
  std::string_view content_type;  ///< e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

/// Every embedded file; never empty.
std::span<const Asset> assets();
/// The file served at `path`, or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace herd::dashboard
