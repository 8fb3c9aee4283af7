#pragma once
/// Error and Result<T>: the one way expected failures travel through natstack.
///
/// Expected failures (bad input, an unreachable peer, a refused token) are returned as
/// `Result<T>`; exceptions never cross a library boundary or a C callback. Tests assert the
/// `Code`, never the message text.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace natstack {

/// A small canonical set of error codes (a subset of the gRPC/Abseil canon).
enum class Code {
  kOk = 0,
  kInvalidArgument,     ///< malformed input: a token, a config value, a request
  kNotFound,            ///< a file, key or record that is not there
  kAlreadyExists,       ///< something that must not exist yet does (a port in use)
  kPermissionDenied,    ///< authenticated but not allowed; file modes too open
  kUnauthenticated,     ///< a signature, issuer, audience or expiry check failed
  kFailedPrecondition,  ///< the system is not in a state to do this (wrong version, not ready)
  kUnavailable,         ///< a peer could not be reached; worth retrying
  kDeadlineExceeded,    ///< a wait ran out of time
  kInternal,            ///< a library call failed in a way that is not the caller's fault
};

/// Short stable name of a code, e.g. "invalid_argument" (used in logs and metrics labels).
std::string_view CodeName(Code code);

struct Error {
  Code code = Code::kInternal;
  std::string message;

  /// Returns a copy whose message is "context: message" (adds where the error happened).
  [[nodiscard]] Error Wrap(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
  [[nodiscard]] std::string ToString() const {
    return std::string(CodeName(code)) + ": " + message;
  }
};

template <typename T>
using Result = tl::expected<T, Error>;

/// Result of an operation that returns nothing on success.
using Status = tl::expected<void, Error>;

/// Builds an unexpected error: `return Fail(Code::kNotFound, "no such key");`
inline tl::unexpected<Error> Fail(Code code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

}  // namespace natstack

/// Propagates the error of an expression that yields a Result/Status:
///   NATSTACK_TRY(WriteFile(path, data));
#define NATSTACK_TRY(expr)                                              \
  do {                                                                  \
    auto natstack_try_result_ = (expr);                                 \
    if (!natstack_try_result_) return ::natstack::Fail(                 \
        std::move(natstack_try_result_).error());                       \
  } while (0)

#define NATSTACK_CONCAT_INNER_(a, b) a##b
#define NATSTACK_CONCAT_(a, b) NATSTACK_CONCAT_INNER_(a, b)

/// Declares `lhs` from a Result's value or returns its error:
///   NATSTACK_ASSIGN_OR_RETURN(auto key, ParseSeed(text));
#define NATSTACK_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto NATSTACK_CONCAT_(natstack_aor_, __LINE__) = (expr);                     \
  if (!NATSTACK_CONCAT_(natstack_aor_, __LINE__))                              \
    return ::natstack::Fail(std::move(NATSTACK_CONCAT_(natstack_aor_, __LINE__)).error()); \
  lhs = std::move(*NATSTACK_CONCAT_(natstack_aor_, __LINE__))
