#pragma once
/// OpenID Connect token verification: a compact JWS signed by an asymmetric key from the
/// issuer's JWKS, with the registered claims checked (RFC 7519 §4.1, OIDC Core §3.1.3.7).
///
/// What is never accepted, whatever the configuration says: "alg":"none", HMAC algorithms (HS*),
/// symmetric JWKs, an algorithm that does not fit the key's type, "crit" header parameters.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"

namespace natstack::jwt {

/// The last second of year 9999: a later NumericDate (exp, iat, nbf) is no real time, and a
/// token carrying one, or a negative one, is malformed.
inline constexpr int64_t kMaxNumericDate = 253402300799;

/// Why a token was refused. The names (RefusalName) are stable: metrics labels and logs use them.
enum class Refusal {
  kMalformed,  ///< "malformed": not a compact JWS of JSON objects, bad claim types, too large, crit
  kAlgorithmNotAllowed,  ///< "algorithm_not_allowed": not in the allow-list, none/HS*, or alg ≠ key
                         ///< type
  kUnknownIssuer,  ///< "unknown_issuer": no configured issuer (MultiIssuerVerifier)
  kUnknownKey,  ///< "unknown_key": kid not in the JWKS (or no kid and not exactly one fitting key)
  kBadSignature,     ///< "bad_signature"
  kWrongIssuer,      ///< "wrong_issuer": iss is not this verifier's issuer
  kWrongAudience,    ///< "wrong_audience": no aud value is an accepted audience
  kExpired,          ///< "expired": now >= exp + leeway
  kNotYetValid,      ///< "not_yet_valid": now < nbf - leeway, or iat > now + leeway
  kTooOld,           ///< "too_old": now - iat > max_age + leeway
  kMissingClaim,     ///< "missing_claim": no iss, sub, aud or exp (or iat with max_age)
  kKeysUnavailable,  ///< "keys_unavailable": the key source has no keys (JWKS never loaded)
  kTooLarge,         ///< "too_large": longer than max_token_bytes
  kClaimMismatch,    ///< "claim_mismatch": a required claim has another value
  kWrongType,        ///< "wrong_type": the header's typ names another kind of token
};

std::string_view RefusalName(Refusal reason);

/// A refusal. `detail` is for logs: it names claims, kids and algorithms (bounded, printable) but
/// never contains the token or key material.
struct TokenError {
  Refusal reason;
  std::string detail;
};

struct VerifiedToken {
  std::string issuer;
  std::string subject;
  std::string kid;
  std::string algorithm;
  std::vector<std::string> audience;  ///< aud as a list (a string aud becomes one element)
  int64_t issued_at = 0;              ///< 0 when the token has no iat
  int64_t expires_at = 0;
  nlohmann::json claims;  ///< the whole payload
};

/// Where a verifier gets keys from.
class KeySource {
 public:
  virtual ~KeySource() = default;
  /// The current key set; never null (an empty set before the first load). Must never block on
  /// the network. Thread-safe.
  virtual std::shared_ptr<const Jwks> Keys() const = 0;
  /// A token named a kid the current set does not have: a hint to refresh soon. Sources rate-limit
  /// this themselves; it must return at once. Thread-safe. (const: verifiers hold a const
  /// KeySource& and a hint does not change what Keys() returns now.)
  virtual void OnUnknownKid(std::string_view kid) const {}
  /// Like OnUnknownKid, but waits up to `budget` for the refresh it asks for (or one already
  /// under way) to finish. True when a fetch finished after the call, so Keys() may now hold the
  /// kid; false at once when no fetch can start within the budget (the source's rate limit), or
  /// when the budget ran out. Blocks the calling thread: call it from a worker, never from a delivery thread.
  /// Thread-safe. The default does not wait (a fixed set never changes on its own).
  virtual bool AwaitRefresh(std::string_view kid, std::chrono::milliseconds budget) const {
    OnUnknownKid(kid);
    return false;
  }
};

/// A fixed key set (tests, keys from configuration). Replace() swaps it atomically (rotation in
/// tests). Counts unknown-kid hints.
class StaticJwks final : public KeySource {
 public:
  StaticJwks() : StaticJwks(Jwks()) {}
  explicit StaticJwks(Jwks jwks);
  std::shared_ptr<const Jwks> Keys() const override;
  void OnUnknownKid(std::string_view kid) const override;
  void Replace(Jwks jwks);
  int unknown_kid_hints() const { return hints_.load(); }

 private:
  std::atomic<std::shared_ptr<const Jwks>> keys_;
  mutable std::atomic<int> hints_{0};
};

struct VerifierConfig {
  std::string issuer;                  ///< exact match with "iss"
  std::vector<std::string> audiences;  ///< one of them must be in "aud"
  std::vector<std::string> algorithms{
      "RS256"};                     ///< allow-list; names outside the supported set are ignored
  std::chrono::seconds leeway{30};  ///< clock skew allowed on exp, nbf and iat
  std::optional<std::chrono::seconds> max_age;  ///< refuse tokens issued longer ago (needs iat)
  size_t max_token_bytes = kDefaultMaxTokenBytes;
  /// Claims a token must carry, name -> value. A name starting with '/' is a JSON pointer into
  /// the payload (for nested claims); any other name is a top-level claim, taken literally
  /// (Auth0-style names such as "https://example.com/roles" contain dots and slashes after the
  /// scheme). The value matches when the claim equals it or, for an array claim, contains it; a
  /// list of values accepts any of them; null only requires the claim to be present.
  nlohmann::json required_claims = nlohmann::json::object();
  /// On an unknown kid, wait this long for the key source to refresh (a rotation at the IdP:
  /// the first token signed with a new key must not be refused). 0 = refuse at once.
  std::chrono::milliseconds unknown_kid_wait{0};
  /// Accepted header `typ` values, compared case-insensitively and without an "application/"
  /// prefix; "" in the list accepts a token without typ. Empty list: no typ, "JWT" or "at+jwt"
  /// (an access token per RFC 9068 or a plain JWT), so tokens that say they are something else
  /// (a DPoP proof, a logout token, a security event) are refused. ["at+jwt"] enforces RFC 9068
  /// §2.1, which keeps ID tokens out.
  std::vector<std::string> token_types;
};

/// Checks a configuration the way a config parser should, before building a verifier:
/// kInvalidArgument naming the problem (empty issuer, no audiences, an algorithm that is not
/// supported — "none" and HS* are named as never allowed —, negative leeway or max_age, a
/// required_claims that is not an object, or a JSON pointer name that does not parse).
Status ValidateVerifierConfig(const VerifierConfig& config);

/// Verifies tokens of one issuer. Thread-safe (const); `keys` and `clock` must outlive it.
class OidcVerifier {
 public:
  OidcVerifier(VerifierConfig config, const KeySource& keys, const Clock& clock);

  /// Checks, in order: structure and size → alg in the allow-list → iss → kid/key (and alg fits
  /// the key) → signature → aud → exp (required) → nbf → iat/max_age → sub (required) →
  /// required claims. An unknown kid calls keys.AwaitRefresh(kid, unknown_kid_wait) (which may
  /// block up to that long) and looks again.
  tl::expected<VerifiedToken, TokenError> Verify(std::string_view token) const;

  const VerifierConfig& config() const { return config_; }

 private:
  VerifierConfig config_;
  const KeySource& keys_;
  const Clock& clock_;
};

/// Whether a claim's value satisfies a required_claims entry (see VerifierConfig).
bool RequiredClaimMatches(const nlohmann::json& value, const nlohmann::json& expected);

/// The "iss" a token claims, read without verifying anything (to pick a verifier). kMalformed
/// when the token does not parse, kMissingClaim when it has no string iss.
tl::expected<std::string, TokenError> PeekIssuer(std::string_view token,
                                                 size_t max_token_bytes = kDefaultMaxTokenBytes);

/// Several issuers: picks the verifier whose issuer equals the token's (unverified) iss, so a
/// token from an unconfigured issuer is refused (kUnknownIssuer) before any key lookup or network
/// call. Holds pointers: the verifiers must outlive it. Thread-safe.
class MultiIssuerVerifier {
 public:
  explicit MultiIssuerVerifier(std::vector<const OidcVerifier*> verifiers);
  tl::expected<VerifiedToken, TokenError> Verify(std::string_view token) const;

 private:
  std::vector<const OidcVerifier*> verifiers_;
  size_t max_token_bytes_ = kDefaultMaxTokenBytes;
};

}  // namespace natstack::jwt
