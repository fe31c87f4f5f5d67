#include "util/url.h"

namespace herd::util {

std::string Url::part(CURLUPart which, unsigned flags) const {
  char* s = nullptr;
  if (!h_ || curl_url_get(h_, which, &s, flags) != CURLUE_OK || !s) return "";
  std::string out = s;
  curl_free(s);
  return out;
}

std::string resolve_url(const std::string& base, const std::string& ref) {
  Url u;
  if (!u.set(base) || !u.set(ref)) return ref;
  std::string out = u.part(CURLUPART_URL);
  return out.empty() ? ref : out;
}

}  // namespace herd::util
