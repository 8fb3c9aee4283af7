#pragma once
/// The callout's decision pipeline, without I/O: a raw request message in, a response payload
/// (or a decision to drop) out. Thread-safe: every method may run on several threads at once.
///
///   Open: open (xkey) -> verify the request JWT (server signature, issuer = server id,
///         audience, expiry, header xkey = signed xkey, optional server allow-list) -> the
///         one-time user key not seen before (replays are dropped)
///   Decide: per-host rate limit -> identity (OIDC issuers, service tokens) -> deny-list ->
///         placement and permissions -> per-user rate limit -> sign the user JWT -> sign the
///         response -> seal it to the server.
///
/// A request that cannot be trusted is dropped (there is no trustworthy user key or server to
/// answer). Every refusal of a trusted request is a signed error response, so the client fails
/// at once instead of waiting out the auth timeout — unless its reason is in drop_reasons.
/// Open is cheap (no IdP key, no template) so a full worker queue can still refuse at once.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "callout/authorizer.hpp"
#include "callout/config.hpp"
#include "callout/rate_limiter.hpp"
#include "callout/replay_guard.hpp"
#include "core/clock.hpp"
#include "natsjwt/natsjwt.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::callout {

struct Outcome {
  enum class Kind { kAdmitted, kRefused, kDropped };
  Kind kind = Kind::kDropped;
  std::string reason;    ///< stable label: "admitted", "expired", "bad_request", ...
  std::string detail;    ///< for the log; never token or request material
  std::string response;  ///< payload to publish on the reply subject (empty when dropped)
  std::string user_id;   ///< the identity admitted or refused ("" when unknown)
  std::string source;    ///< issuer or service name ("" when unknown)
  std::string account;   ///< where it was placed (admitted)
  std::string token_id;  ///< the token's jti ("" when none)
  std::string server;    ///< server name from the request ("" when unknown)
  std::string server_id;  ///< server key (N...) from the request
  uint64_t client_id = 0;  ///< the connection's cid on that server
  int64_t expires_at = 0;  ///< the user JWT's exp (admitted)
};

/// A request that opened and verified: safe to answer.
struct OpenedRequest {
  natsjwt::AuthorizationRequest request;
  std::string server_xkey;  ///< from the Nats-Server-Xkey header
  size_t xkey_index = 0;    ///< which of our xkeys opened it (0 = the current one)
};

class RequestHandler {
 public:
  /// Clock skew allowed between the servers and us on a request's exp.
  static constexpr int64_t kRequestLeewayS = 2;
  /// A request's exp further away than this is refused: servers set now + their auth timeout
  /// (2-3 s by default), and the replay guard must remember each key until then.
  static constexpr int64_t kMaxRequestLifetimeS = 300;

  /// `xkeys[0]` is the current curve key, the others are still accepted (rotation). The
  /// config, authorizer, limiters and clock must outlive the handler; limiters may be null.
  RequestHandler(const CalloutConfig& config, nkeys::KeyPair issuer, std::vector<nkeys::XKey> xkeys,
                 const Authorizer& authorizer, KeyedRateLimiter* per_host,
                 KeyedRateLimiter* per_user, const Clock& clock);

  /// Opens and verifies a request; a dropped Outcome when it cannot be trusted.
  tl::expected<OpenedRequest, Outcome> Open(std::string_view payload,
                                            const std::optional<std::string>& server_xkey) const;
  /// The decision for an opened request (may block up to an issuer's unknown_kid_wait_ms).
  Outcome Decide(const OpenedRequest& opened) const;
  /// A signed refusal with `reason` (e.g. "overloaded"), no token work; dropped instead when
  /// the reason is in drop_reasons.
  Outcome Refuse(const OpenedRequest& opened, std::string reason, std::string detail) const;
  /// Open then Decide.
  Outcome Handle(std::string_view payload, const std::optional<std::string>& server_xkey) const;

  const std::string& IssuerPublicKey() const { return issuer_.PublicKey(); }
  const std::string& XKeyPublicKey() const { return xkeys_.front().PublicKey(); }

 private:
  Outcome Respond(const OpenedRequest& opened, natsjwt::AuthorizationResponse r,
                  Outcome outcome) const;

  const CalloutConfig& config_;
  nkeys::KeyPair issuer_;
  std::vector<nkeys::XKey> xkeys_;
  const Authorizer& authorizer_;
  KeyedRateLimiter* per_host_;
  KeyedRateLimiter* per_user_;
  const Clock& clock_;
  std::set<std::string, std::less<>> drop_reasons_;
  mutable ReplayGuard replays_;
};

}  // namespace natstack::callout
