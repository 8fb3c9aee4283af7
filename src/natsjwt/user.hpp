#pragma once
/// NATS user JWT (Go `UserClaims`, jwt v2.7.3 user_claims.go / types.go), as the auth callout
/// issues it inside an authorization response (docs/auth-callout-protocol.md §3.5).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::natsjwt {

struct Permission {
  std::vector<std::string> allow, deny;
};

/// Lets a user publish replies to any reply subject it received; `max` messages within
/// `ttl_ns` nanoseconds (Go time.Duration) per request.
struct ResponsePermission {
  int max = 1;
  int64_t ttl_ns = 0;
};

struct UserClaims {
  std::string subject;   ///< user nkey U... (the request's nats.user_nkey)
  std::string audience;  ///< config mode: target account name
  std::string name;
  int64_t issued_at = 0;  ///< Unix seconds (from the injected Clock)
  std::optional<int64_t> expires;
  Permission pub, sub;
  std::optional<ResponsePermission> resp;
};

/// Checks what Go's UserClaims.Encode and Validate would refuse: the subject must be a valid
/// user public key, and every permission subject must be non-empty, without leading/trailing
/// or doubled '.', with at most one space (a queue group, allowed only in `sub`).
/// kInvalidArgument naming the first problem.
Status ValidateUserClaims(const UserClaims& claims);

/// Go-compatible encoding, byte-identical to what github.com/nats-io/jwt/v2 would produce
/// (struct field order, omitempty, Go's HTML escaping of < > & and U+2028/U+2029, jti =
/// base32-no-pad(SHA-512/256(JSON of the claims without jti)), iss = issuer public key,
/// subs/data/payload = -1, type "user", version 2).
/// Preconditions (not checked here; see ValidateUserClaims): `claims.subject` is a user key and
/// `issuer` is the account key the server expects.
std::string EncodeUser(const UserClaims& claims, const nkeys::KeyPair& issuer);

}  // namespace natstack::natsjwt
