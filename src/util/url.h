#pragma once
// URLs through libcurl's URL API (RFC 3986), owned by an RAII handle.

#include <curl/curl.h>

#include <string>

namespace herd::util {

/// Owns a CURLU handle. `ok()` is false when libcurl could not allocate it.
class Url {
 public:
  Url() : h_(curl_url()) {}
  ~Url() { curl_url_cleanup(h_); }
  Url(const Url&) = delete;
  Url& operator=(const Url&) = delete;

  bool ok() const { return h_ != nullptr; }
  CURLU* get() const { return h_; }
  /// Sets the URL (absolute, or relative to the one already set). False on a bad URL.
  bool set(const std::string& url) { return h_ && curl_url_set(h_, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK; }
  /// One part (CURLUPART_PATH, ...), "" when absent. `flags` as curl_url_get's (e.g. CURLU_URLDECODE).
  std::string part(CURLUPart which, unsigned flags = 0) const;

 private:
  CURLU* h_;
};

/// `ref` resolved against the absolute URL `base` (redirect Locations, links,
/// relative imports in remote modules); `ref` unchanged when either cannot be parsed.
std::string resolve_url(const std::string& base, const std::string& ref);

}  // namespace herd::util
