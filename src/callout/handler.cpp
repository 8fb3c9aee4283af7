#include "callout/handler.hpp"

#include <algorithm>

namespace natstack::callout {
namespace {

Outcome Drop(std::string reason, std::string detail = {}) {
  Outcome o;
  o.kind = Outcome::Kind::kDropped;
  o.reason = std::move(reason);
  o.detail = std::move(detail);
  return o;
}

void Describe(const OpenedRequest& opened, Outcome& o) {
  o.server = opened.request.server_id.name;
  o.server_id = opened.request.server_id.id;
  o.client_id = opened.request.client_info.id;
}

}  // namespace

RequestHandler::RequestHandler(const CalloutConfig& config, nkeys::KeyPair issuer,
                               std::vector<nkeys::XKey> xkeys, const Authorizer& authorizer,
                               KeyedRateLimiter* per_host, KeyedRateLimiter* per_user,
                               const Clock& clock)
    : config_(config),
      issuer_(std::move(issuer)),
      xkeys_(std::move(xkeys)),
      authorizer_(authorizer),
      per_host_(per_host),
      per_user_(per_user),
      clock_(clock),
      drop_reasons_(config.drop_reasons.begin(), config.drop_reasons.end()) {}

tl::expected<OpenedRequest, Outcome> RequestHandler::Open(
    std::string_view payload, const std::optional<std::string>& server_xkey) const {
  // 1. Open. The servers are configured with our xkey, so they always seal: an unsealed
  //    request, or a sealed one without the sender's key, is not from them.
  if (!server_xkey || server_xkey->empty()) return tl::unexpected(Drop("unsealed_request"));
  OpenedRequest out;
  Result<std::string> opened = Fail(Code::kUnauthenticated, "no xkey");
  for (size_t i = 0; i < xkeys_.size(); ++i) {
    opened = xkeys_[i].Open(payload, *server_xkey);
    if (opened) {
      out.xkey_index = i;
      break;
    }
    if (opened.error().code != Code::kUnauthenticated) break;  // malformed: no other key helps
  }
  if (!opened) return tl::unexpected(Drop("undecryptable_request", opened.error().message));

  // 2. Verify the request JWT: signed by the server, for us, not expired.
  auto request = natsjwt::DecodeAuthorizationRequest(*opened, clock_.UnixSeconds(), kRequestLeewayS);
  if (!request) return tl::unexpected(Drop("bad_request", request.error().message));
  if (request->server_id.xkey != *server_xkey)
    return tl::unexpected(Drop("xkey_mismatch", "header xkey is not the signed server_id.xkey"));
  if (!config_.allowed_servers.empty() &&
      std::find(config_.allowed_servers.begin(), config_.allowed_servers.end(),
                request->server_id.id) == config_.allowed_servers.end())
    return tl::unexpected(Drop("server_not_allowed", "server " + request->server_id.id));
  // 3. Once only. The server gives each request a deadline (now + its auth timeout) and a
  //    fresh user key; without a deadline a captured request would stay valid forever.
  const int64_t now = clock_.UnixSeconds();
  if (request->expires <= 0)
    return tl::unexpected(Drop("bad_request", "the request has no exp"));
  if (request->expires > now + kMaxRequestLifetimeS) {
    return tl::unexpected(Drop("bad_request", "the request's exp is more than " +
                                                  std::to_string(kMaxRequestLifetimeS) +
                                                  " s away"));
  }
  if (!replays_.FirstSight(request->user_nkey, request->expires + kRequestLeewayS, now)) {
    return tl::unexpected(Drop("replayed_request", "user key " + request->user_nkey.substr(0, 12) +
                                                       "... was in an earlier request"));
  }
  out.request = std::move(*request);
  out.server_xkey = *server_xkey;
  return out;
}

Outcome RequestHandler::Decide(const OpenedRequest& opened) const {
  const natsjwt::AuthorizationRequest& request = opened.request;
  // A request whose deadline passed waited too long in the queue: its client is gone.
  if (request.expires > 0 && clock_.UnixSeconds() > request.expires) {
    Outcome o = Drop("stale_request", "its deadline passed before a worker was free");
    Describe(opened, o);
    return o;
  }
  if (per_host_ != nullptr && !per_host_->Allow(request.client_info.host))
    return Refuse(opened, "rate_limited", "client address " + request.client_info.host);

  const Decision d = authorizer_.Decide(request.connect_opts.auth_token);
  std::string user_id = d.identity ? d.identity->user_id : "";
  if (!d.admitted) {
    Outcome o = Refuse(opened, d.reason, d.detail);
    o.source = d.source;
    if (d.identity) {
      o.user_id = d.identity->user_id;
      o.token_id = d.identity->token_id;
    }
    return o;
  }
  if (per_user_ != nullptr && !per_user_->Allow(user_id)) {
    Outcome o = Refuse(opened, "rate_limited", "user " + user_id);
    o.user_id = user_id;
    o.source = d.identity->source;
    o.token_id = d.identity->token_id;
    return o;
  }

  // The user JWT: bound to the server's one-time user key, placed in the configured account,
  // expiring no later than the token.
  const int64_t now = clock_.UnixSeconds();
  natsjwt::UserClaims claims;
  claims.subject = request.user_nkey;
  claims.audience = d.grant->account;
  claims.name = user_id;
  claims.issued_at = now;
  claims.expires = d.expires_at;
  claims.pub = d.grant->pub;
  claims.sub = d.grant->sub;
  claims.resp = d.grant->resp;

  natsjwt::AuthorizationResponse response;
  response.subject = request.user_nkey;
  response.audience = request.server_id.id;
  response.issued_at = now;
  response.user_jwt = natsjwt::EncodeUser(claims, issuer_);

  Outcome outcome;
  outcome.kind = Outcome::Kind::kAdmitted;
  outcome.reason = "admitted";
  outcome.user_id = std::move(user_id);
  outcome.source = d.identity->source;
  outcome.account = d.grant->account;
  outcome.token_id = d.identity->token_id;
  outcome.expires_at = d.expires_at;
  if (!d.grant->rule.empty()) outcome.detail = "rule " + d.grant->rule;
  return Respond(opened, std::move(response), std::move(outcome));
}

Outcome RequestHandler::Refuse(const OpenedRequest& opened, std::string reason,
                               std::string detail) const {
  if (drop_reasons_.count(reason) != 0) {
    Outcome o = Drop(std::move(reason), std::move(detail));
    Describe(opened, o);
    return o;
  }
  natsjwt::AuthorizationResponse response;
  response.subject = opened.request.user_nkey;
  response.audience = opened.request.server_id.id;
  response.issued_at = clock_.UnixSeconds();
  // The server logs this text; the client only ever sees "Authorization Violation". The
  // reason is a fixed label: no detail (claims, kids) reaches the server's log.
  response.error = "natstack: refused: " + reason;
  Outcome outcome;
  outcome.kind = Outcome::Kind::kRefused;
  outcome.reason = std::move(reason);
  outcome.detail = std::move(detail);
  return Respond(opened, std::move(response), std::move(outcome));
}

Outcome RequestHandler::Handle(std::string_view payload,
                               const std::optional<std::string>& server_xkey) const {
  auto opened = Open(payload, server_xkey);
  if (!opened) return std::move(opened).error();
  return Decide(*opened);
}

Outcome RequestHandler::Respond(const OpenedRequest& opened, natsjwt::AuthorizationResponse r,
                                Outcome outcome) const {
  Describe(opened, outcome);
  const std::string jwt = natsjwt::EncodeAuthorizationResponse(r, issuer_);
  auto sealed = xkeys_[opened.xkey_index].Seal(jwt, opened.server_xkey);
  if (!sealed) return Drop("seal_failed", sealed.error().message);
  outcome.response = std::move(*sealed);
  return outcome;
}

}  // namespace natstack::callout
