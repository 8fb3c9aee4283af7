#include "callout/authorizer.hpp"

#include <algorithm>

namespace natstack::callout {
namespace {

// Ids come from tokens: bounded and printable before they reach a log line.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  if (s.size() > 64) out += "...";
  return out + "\"";
}

}  // namespace

Authorizer::Authorizer(const CalloutConfig& config, const IdentityVerifier& identities,
                       const Policy& policy, RevocationCheck revoked, const Clock& clock)
    : config_(config),
      identities_(identities),
      policy_(policy),
      revoked_(std::move(revoked)),
      clock_(clock) {}

Decision Authorizer::Decide(std::string_view token) const {
  Decision d;
  if (token.empty()) {
    d.reason = "no_token";
    d.detail = "the client sent no auth_token";
    return d;
  }
  auto identity = identities_.Verify(token);
  if (!identity) {
    d.reason = std::move(identity.error().reason);
    d.detail = std::move(identity.error().detail);
    d.source = identities_.ClaimedSource(token);
    return d;
  }
  d.identity = std::move(*identity);
  d.source = d.identity->source;
  const Identity& id = *d.identity;
  if (revoked_ && revoked_(id.user_id, id.token_id)) {
    d.reason = "revoked";
    d.detail = "user " + Quote(id.user_id) +
               (id.token_id.empty() ? "" : " / token " + Quote(id.token_id)) +
               " is on the deny-list";
    return d;
  }
  auto grant = policy_.Decide(id);
  if (!grant) {
    d.reason = "template_rejected";
    d.detail = std::move(grant.error().detail);
    return d;
  }
  d.grant = std::move(*grant);
  const int64_t now = clock_.UnixSeconds();
  d.expires_at = std::min(id.expires_at, now + config_.max_user_ttl_s);
  // Inside the verifier's clock-skew leeway a token can pass with exp already behind us; the
  // server would refuse the user JWT anyway. Refuse it here, where it is counted as expired.
  if (d.expires_at <= now) {
    d.reason = "expired";
    d.detail = "expired " + std::to_string(now - id.expires_at) + " s ago (within the leeway)";
    return d;
  }
  d.admitted = true;
  d.reason = "admitted";
  return d;
}

}  // namespace natstack::callout
