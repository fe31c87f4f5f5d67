#include "util/auth_params.h"

#include "util/ascii.h"

namespace herd::util {

std::string auth_param(std::string_view h, std::string_view key) {
  std::size_t i = 0;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',' || h[i] == '\t')) i++;
    std::size_t eq = h.find('=', i);
    if (eq == std::string_view::npos) return "";
    std::string_view k = util::trim_ows(h.substr(i, eq - i));
    std::size_t j = eq + 1;
    while (j < h.size() && (h[j] == ' ' || h[j] == '\t')) j++;
    std::string v;
    if (j < h.size() && h[j] == '"') {
      for (j++; j < h.size() && h[j] != '"'; j++) {
        if (h[j] == '\\' && j + 1 < h.size()) j++;
        v += h[j];
      }
      i = j + 1;
    } else {
      std::size_t end = h.find(',', j);
      if (end == std::string_view::npos) end = h.size();
      v = std::string(util::trim_ows(h.substr(j, end - j)));
      i = end;
    }
    if (iequals(k, key)) return v;
  }
  return "";
}

}  // namespace herd::util
