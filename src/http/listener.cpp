#include "http/listener.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace natstack::http {

std::string HostPort(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<int> OpenListener(const std::string& host, uint16_t port, int backlog, bool nonblocking) {
  const std::string where = HostPort(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int gai =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &result);
  if (gai != 0)
    return Fail(Code::kInvalidArgument, "cannot listen on " + where + ": " + ::gai_strerror(gai));
  int err = 0;
  int fd = -1;
  for (addrinfo* ai = result; ai != nullptr && fd < 0; ai = ai->ai_next) {
    const int sock = ::socket(ai->ai_family,
                              ai->ai_socktype | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0),
                              ai->ai_protocol);
    if (sock < 0) {
      err = errno;
      continue;
    }
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(sock, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(sock, backlog) != 0) {
      err = errno;
      ::close(sock);
      continue;
    }
    fd = sock;
  }
  ::freeaddrinfo(result);
  if (fd >= 0) return fd;
  switch (err) {
    case EADDRINUSE: return Fail(Code::kAlreadyExists, where + " is already in use");
    case EACCES:
    case EPERM: return Fail(Code::kPermissionDenied, "not allowed to listen on " + where);
    case EADDRNOTAVAIL:
      return Fail(Code::kInvalidArgument,
                  "cannot listen on " + where + ": address not available on this host");
    default:
      return Fail(Code::kInternal, "cannot listen on " + where + ": " +
                                       std::error_code(err, std::generic_category()).message());
  }
}

}  // namespace natstack::http
