#pragma once
/// Who a token says the client is: OIDC tokens of several issuers at once, and the self-issued
/// tokens of registered internal services. The token's `iss` picks the verifier — a token whose
/// `iss` is neither a configured issuer nor a registered service key is refused
/// (unknown_issuer) before any key lookup or network call.

#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "callout/config.hpp"
#include "callout/policy.hpp"
#include "core/clock.hpp"
#include "jwt/remote_jwks.hpp"
#include "jwt/verifier.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::callout {

/// A refused token: `reason` is one of RefusalReasons(); `detail` is for logs (claims, kids,
/// issuer names; never token material).
struct IdentityError {
  std::string reason;
  std::string detail;
};

/// Verifies a registered service's self-issued token: a NATS-style JWT (typ JWT, alg
/// ed25519-nkey) signed by `service.public_key`, with `iss` = that key, `sub` = the service
/// name, `exp` (required) and `iat` (required), exp - iat at most max_token_ttl_s, `aud`
/// holding service.audience when one is configured. Leeway on times: `leeway_s`.
tl::expected<Identity, IdentityError> VerifyServiceToken(std::string_view token,
                                                         const ServiceSettings& service,
                                                         int64_t now, int64_t leeway_s = 30);

/// A service token for `name`, signed by `key` (the service's NKey), valid from `now` for
/// `ttl_s`; `audience` and `jti` are added when not empty. For `natstack token --seed-file` and
/// tests.
std::string MintServiceToken(const nkeys::KeyPair& key, std::string_view name, int64_t now,
                             int64_t ttl_s, std::string_view audience = {},
                             std::string_view jti = {});

class IdentityVerifier {
 public:
  /// `keys[i]` serves config.issuers[i]. The config, the key sources and the clock must outlive
  /// the verifier.
  IdentityVerifier(const CalloutConfig& config, std::vector<const jwt::KeySource*> keys,
                   const Clock& clock);

  /// Verifies `token` and maps it to an identity (user id = user_prefix + the user claim for
  /// OIDC, the service name for services). Thread-safe; may block up to an issuer's
  /// unknown_kid_wait_ms on an unknown kid.
  tl::expected<Identity, IdentityError> Verify(std::string_view token) const;

  /// The issuer or service a token claims to come from, unverified ("" when none matches or
  /// the token does not parse): for explain.
  std::string ClaimedSource(std::string_view token) const;

 private:
  const CalloutConfig& config_;
  const Clock& clock_;
  std::vector<std::unique_ptr<jwt::OidcVerifier>> oidc_;  // parallel to config_.issuers
  std::map<std::string, size_t, std::less<>> by_issuer_;  // iss -> index
  std::map<std::string, size_t, std::less<>> by_key_;     // service public key -> index
  std::set<std::string, std::less<>> by_service_name_;   // the user ids services own
};

/// The verifier settings for one issuer's config.
jwt::VerifierConfig VerifierConfigOf(const IssuerSettings& issuer);
/// The JWKS source settings for one issuer's config (explicit jwks_uri, else discovery).
jwt::RemoteJwksOptions JwksOptionsOf(const IssuerSettings& issuer);

}  // namespace natstack::callout
