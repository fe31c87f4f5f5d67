#pragma once
// The control API's listen address, internal to control_server.cc: "HOST:PORT",
// "[V6]:PORT" or ":PORT" parsed and checked, and a bound socket address printed back.

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace herd::api::detail {

struct HostPort {
  std::string host;
  std::string port;
  bool bracketed = false;
};

/// Throws std::invalid_argument naming the address when it is malformed.
HostPort split_address(const std::string& addr);
/// "127.0.0.1:6565" or "[::1]:6565"; the port also in `port_out`.
std::string format_sockaddr(const sockaddr_storage& ss, std::uint16_t* port_out);

}  // namespace herd::api::detail
