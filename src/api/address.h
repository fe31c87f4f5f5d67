#pragma once
// The control API's listen address, internal to control_server.cc: "HOST:PORT",
// "[V6]:PORT" or ":PORT" parsed and checked.

#include <string>

namespace herd::api::detail {

struct HostPort {
  std::string host;
  std::string port;
  bool bracketed = false;
};

/// Throws std::invalid_argument naming the address when it is malformed.
HostPort split_address(const std::string& addr);

}  // namespace herd::api::detail
