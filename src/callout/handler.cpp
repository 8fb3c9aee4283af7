#include "callout/handler.hpp"

#include <algorithm>

#include "callout/policy.hpp"

namespace natstack::callout {
namespace {

Outcome Drop(std::string reason) {
  Outcome o;
  o.kind = Outcome::Kind::kDropped;
  o.reason = std::move(reason);
  return o;
}

}  // namespace

RequestHandler::RequestHandler(const CalloutConfig& config, nkeys::KeyPair issuer,
                               nkeys::XKey xkey, const jwt::OidcVerifier& verifier,
                               const Clock& clock)
    : config_(config),
      issuer_(std::move(issuer)),
      xkey_(std::move(xkey)),
      verifier_(verifier),
      clock_(clock) {}

Outcome RequestHandler::Handle(std::string_view payload,
                               const std::optional<std::string>& server_xkey) const {
  // 1. Open. The servers are configured with our xkey, so they always seal: an unsealed
  //    request, or a sealed one without the sender's key, is not from them.
  if (!server_xkey || server_xkey->empty()) return Drop("unsealed_request");
  auto opened = xkey_.Open(payload, *server_xkey);
  if (!opened) return Drop("undecryptable_request");

  // 2. Verify the request JWT: signed by the server, for us, not expired.
  auto request = natsjwt::DecodeAuthorizationRequest(*opened, clock_.UnixSeconds());
  if (!request) return Drop("bad_request");
  if (request->server_id.xkey != *server_xkey) return Drop("xkey_mismatch");
  if (!config_.allowed_servers.empty() &&
      std::find(config_.allowed_servers.begin(), config_.allowed_servers.end(),
                request->server_id.id) == config_.allowed_servers.end())
    return Drop("server_not_allowed");

  // 3. The client's identity.
  const std::string& token = request->connect_opts.auth_token;
  if (token.empty()) return Refuse(*request, server_xkey, "no_token", "");
  auto verified = verifier_.Verify(token);
  if (!verified) {
    return Refuse(*request, server_xkey, std::string(jwt::RefusalName(verified.error().reason)),
                  "");
  }
  const std::string& user_id = verified->subject;
  if (!IsSubjectSafeToken(user_id)) return Refuse(*request, server_xkey, "unsafe_subject", "");

  // 4. The user JWT: bound to the server's one-time user key, placed in the fixed target
  //    account, expiring no later than the token.
  const int64_t now = clock_.UnixSeconds();
  natsjwt::UserClaims claims;
  claims.subject = request->user_nkey;
  claims.audience = config_.target_account;
  claims.name = user_id;
  claims.issued_at = now;
  claims.expires = std::min(verified->expires_at, now + config_.max_user_ttl_s);
  // Inside the verifier's clock-skew leeway a token can pass with exp already behind us; the
  // server would refuse the user JWT anyway. Refuse it here, where it is counted as expired.
  if (*claims.expires <= now) return Refuse(*request, server_xkey, "expired", user_id);
  RenderPermissions(config_.permissions, user_id, claims);

  natsjwt::AuthorizationResponse response;
  response.subject = request->user_nkey;
  response.audience = request->server_id.id;
  response.issued_at = now;
  response.user_jwt = natsjwt::EncodeUser(claims, issuer_);

  Outcome outcome;
  outcome.kind = Outcome::Kind::kAdmitted;
  outcome.reason = "admitted";
  outcome.user_id = user_id;
  return Respond(*request, server_xkey, std::move(response), std::move(outcome));
}

Outcome RequestHandler::Refuse(const natsjwt::AuthorizationRequest& request,
                               const std::optional<std::string>& server_xkey, std::string reason,
                               std::string user_id) const {
  natsjwt::AuthorizationResponse response;
  response.subject = request.user_nkey;
  response.audience = request.server_id.id;
  response.issued_at = clock_.UnixSeconds();
  // The server logs this text; the client only ever sees "Authorization Violation".
  response.error = "natstack: refused: " + reason;
  Outcome outcome;
  outcome.kind = Outcome::Kind::kRefused;
  outcome.reason = std::move(reason);
  outcome.user_id = std::move(user_id);
  return Respond(request, server_xkey, std::move(response), std::move(outcome));
}

Outcome RequestHandler::Respond(const natsjwt::AuthorizationRequest& request,
                                const std::optional<std::string>& server_xkey,
                                natsjwt::AuthorizationResponse r, Outcome outcome) const {
  outcome.server = request.server_id.name;
  const std::string jwt = natsjwt::EncodeAuthorizationResponse(r, issuer_);
  auto sealed = xkey_.Seal(jwt, *server_xkey);
  if (!sealed) return Drop("seal_failed");
  outcome.response = std::move(*sealed);
  return outcome;
}

}  // namespace natstack::callout
