// The runners' names and addresses (pure, unit-tested in coordinator_test.cc).
// Their command lines come from herd::launch (launch/runner_args.h).
#include <stdexcept>

#include "coord/coordinator.h"

namespace herd::coord {

// Pure helpers.

std::string runner_name(std::size_t i, const RunnerEndpoint& r) {
  std::string s = "runner " + std::to_string(i + 1) + " (" + r.address;
  if (r.pid > 0) s += ", pid " + std::to_string(r.pid);
  return s + ")";
}

std::optional<std::string> parse_listening_line(const std::string& line) {
  static const std::string kMark = "control API listening on http://";
  auto p = line.find(kMark);
  if (p == std::string::npos) return std::nullopt;
  std::string rest = line.substr(p + kMark.size());
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n' || rest.back() == ' ' || rest.back() == '/'))
    rest.pop_back();
  auto colon = rest.rfind(':');
  if (rest.empty() || colon == std::string::npos || colon + 1 >= rest.size()) return std::nullopt;
  return rest;
}

std::vector<std::string> parse_runner_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto c = text.find(',', start);
    std::string item = text.substr(start, c == std::string::npos ? std::string::npos : c - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) throw std::invalid_argument("--runners: empty entry in \"" + text + "\"");
    auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size())
      throw std::invalid_argument("--runners: \"" + item + "\" is not HOST:PORT");
    for (std::size_t k = colon + 1; k < item.size(); ++k)
      if (item[k] < '0' || item[k] > '9') throw std::invalid_argument("--runners: bad port in \"" + item + "\"");
    out.push_back(item);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

}  // namespace herd::coord
