#pragma once
/// Opening a listening TCP socket the way every natstack server does, with the errors callers
/// show. Internal to the http library (server.cpp, event_server.cpp).

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace natstack::http {

/// "host:port", IPv6 hosts bracketed.
std::string HostPort(const std::string& host, uint16_t port);

/// A socket bound to host:port (0 = an ephemeral port) and listening with `backlog`:
/// SO_REUSEADDR only (restart without TIME_WAIT trouble; never SO_REUSEPORT, which would let a
/// second server share a serving port), close-on-exec, non-blocking when asked. Errors:
/// kAlreadyExists ("127.0.0.1:9400 is already in use"), kPermissionDenied, kInvalidArgument
/// (unresolvable, or the address is not on this host), kInternal for the rest.
Result<int> OpenListener(const std::string& host, uint16_t port, int backlog, bool nonblocking);

}  // namespace natstack::http
