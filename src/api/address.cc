#include "api/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

namespace herd::api::detail {

HostPort split_address(const std::string& addr) {
  HostPort hp;
  std::string rest;
  if (!addr.empty() && addr[0] == '[') {
    std::size_t close = addr.find(']');
    if (close == std::string::npos) throw std::invalid_argument("control API address \"" + addr + "\": missing ']'");
    hp.host = addr.substr(1, close - 1);
    hp.bracketed = true;
    rest = addr.substr(close + 1);
    if (rest.empty() || rest[0] != ':')
      throw std::invalid_argument("control API address \"" + addr + "\": expected [HOST]:PORT");
    hp.port = rest.substr(1);
  } else {
    std::size_t colon = addr.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("control API address \"" + addr + "\": expected HOST:PORT");
    hp.host = addr.substr(0, colon);
    hp.port = addr.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos)
      throw std::invalid_argument("control API address \"" + addr + "\": IPv6 hosts need brackets, e.g. [::1]:6565");
  }
  if (hp.host.empty())
    throw std::invalid_argument("control API address \"" + addr +
                                "\": the host is required (e.g. 127.0.0.1:6565; 0.0.0.0 must be explicit)");
  if (hp.port.empty() || hp.port.size() > 5 ||
      !std::all_of(hp.port.begin(), hp.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(hp.port) > 65535)
    throw std::invalid_argument("control API address \"" + addr + "\": invalid port \"" + hp.port + "\"");
  return hp;
}

}  // namespace herd::api::detail
