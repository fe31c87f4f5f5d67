#include "util/listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace herd::util {

bool resolve_listen_address(const std::string& host, const std::string& port, bool v6_literal, ListenAddress* out,
                            std::string* error) {
  addrinfo hints{};
  hints.ai_family = v6_literal ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (v6_literal ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || !res) {
    *error = gai_strerror(rc);
    return false;
  }
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  out->len = static_cast<socklen_t>(pick->ai_addrlen);
  std::memcpy(&out->addr, pick->ai_addr, pick->ai_addrlen);
  ::freeaddrinfo(res);
  return true;
}

int listen_socket(const ListenAddress& a, int backlog, const std::string& who) {
  std::uint16_t port = 0;
  std::string shown = format_sockaddr(a.addr, &port);
  auto fail = [&](int fd, const char* step) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw std::system_error(e, std::generic_category(), who + ": cannot " + step + " " + shown);
  };
  int family = a.addr.ss_family;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(-1, "create a socket for");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) < 0) fail(fd, "bind");
  if (::listen(fd, backlog) < 0) fail(fd, "listen on");
  return fd;
}

std::string format_sockaddr(const sockaddr_storage& ss, std::uint16_t* port_out) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    *port_out = ntohs(a->sin6_port);
    return "[" + std::string(buf) + "]:" + std::to_string(*port_out);
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  *port_out = ntohs(a->sin_port);
  return std::string(buf) + ":" + std::to_string(*port_out);
}

std::string bound_address(int fd, std::uint16_t* port_out) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) < 0)
    throw std::system_error(errno, std::generic_category(), "getsockname");
  return format_sockaddr(bound, port_out);
}

}  // namespace herd::util
