#pragma once
/// The decision for one token, without the request around it: identity (which issuer or
/// service, verified), revocation, placement and permissions, and the user JWT's expiry. The
/// request handler and `natstack callout explain` both use it, so explain shows exactly what a
/// connection would get.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callout/config.hpp"
#include "callout/identity.hpp"
#include "callout/policy.hpp"
#include "core/clock.hpp"

namespace natstack::callout {

/// Whether a user id or token id is on the deny-list. Thread-safe; must not block.
using RevocationCheck = std::function<bool(std::string_view user_id, std::string_view token_id)>;

struct Decision {
  bool admitted = false;
  std::string reason;  ///< "admitted" or a refusal reason (RefusalReasons())
  std::string detail;  ///< for logs and explain; never token material
  /// The issuer or service the token came from: verified when `identity` is set, else the one
  /// its (unverified) iss names among the configured ones ("" for none) — a metrics label that
  /// tells refusals apart by issuer and that a client cannot make up.
  std::string source;
  std::optional<Identity> identity;
  std::optional<Grant> grant;
  int64_t expires_at = 0;  ///< the user JWT's exp: min(token exp, now + max_user_ttl_s)
};

class Authorizer {
 public:
  /// All references must outlive the Authorizer. `revoked` may be empty (no deny-list).
  Authorizer(const CalloutConfig& config, const IdentityVerifier& identities, const Policy& policy,
             RevocationCheck revoked, const Clock& clock);

  /// Thread-safe. May block up to an issuer's unknown_kid_wait_ms (see IdentityVerifier).
  Decision Decide(std::string_view token) const;

 private:
  const CalloutConfig& config_;
  const IdentityVerifier& identities_;
  const Policy& policy_;
  RevocationCheck revoked_;
  const Clock& clock_;
};

}  // namespace natstack::callout
