#pragma once
// A TCP listening socket, the way herd's servers (control API, web dashboard)
// open theirs: the host resolved as Go's net.Listen does, then a non-blocking
// socket bound and listening.

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace herd::util {

/// Where to listen: a resolved address and its length.
struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

/// Resolves `host`:`port` (a numeric port; an IPv6 literal when
/// `v6_literal`) and picks like Go's net.Listen for a name: the first IPv4
/// address, else the first one. Returns false with gai_strerror's text in
/// `error` when it cannot.
bool resolve_listen_address(const std::string& host, const std::string& port, bool v6_literal, ListenAddress* out,
                            std::string* error);

/// A non-blocking, close-on-exec socket bound to `a` (SO_REUSEADDR; IPv6 only
/// for an IPv6 address) and listening. Throws std::system_error
/// "<who>: cannot <step> <address>", e.g. "control API: cannot bind 127.0.0.1:6565".
int listen_socket(const ListenAddress& a, int backlog, const std::string& who);

/// "127.0.0.1:6565" or "[::1]:6565"; the port also in `port_out`.
std::string format_sockaddr(const sockaddr_storage& ss, std::uint16_t* port_out);

/// format_sockaddr of the address a socket is bound to (throws std::system_error).
std::string bound_address(int fd, std::uint16_t* port_out);

}  // namespace herd::util
