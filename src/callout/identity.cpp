#include "callout/identity.hpp"

#include <algorithm>

#include "natsjwt/jwt.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

tl::unexpected<IdentityError> Refuse(std::string reason, std::string detail) {
  return tl::unexpected(IdentityError{std::move(reason), std::move(detail)});
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  if (s.size() > 64) out += "...";
  return out + "\"";
}

using jwt::kMaxNumericDate;

/// An integer NumericDate claim, or nullopt when absent; "malformed" when not an integer (NATS
/// JWTs carry integer seconds) or outside [0, year 9999]. The range keeps the time arithmetic
/// below (exp + leeway, exp - iat) from overflowing: with iat = INT64_MIN, exp - iat wrapped
/// to a negative lifetime and a token valid for years passed max_token_ttl_s.
tl::expected<std::optional<int64_t>, IdentityError> IntClaim(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return Refuse("malformed", std::string(name) + " is not an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(kMaxNumericDate))
    return Refuse("malformed", std::string(name) + " is out of range");
  const int64_t value = it->get<int64_t>();
  if (value < 0 || value > kMaxNumericDate)
    return Refuse("malformed", std::string(name) + " is out of range");
  return std::optional<int64_t>(value);
}

}  // namespace

jwt::VerifierConfig VerifierConfigOf(const IssuerSettings& issuer) {
  jwt::VerifierConfig vc;
  vc.issuer = issuer.issuer;
  vc.audiences = issuer.audiences;
  vc.algorithms = issuer.algorithms;
  vc.leeway = std::chrono::seconds(issuer.leeway_s);
  if (issuer.max_age_s > 0) vc.max_age = std::chrono::seconds(issuer.max_age_s);
  vc.required_claims = issuer.required_claims;
  vc.unknown_kid_wait = std::chrono::milliseconds(issuer.unknown_kid_wait_ms);
  vc.token_types = issuer.token_types;
  return vc;
}

jwt::RemoteJwksOptions JwksOptionsOf(const IssuerSettings& issuer) {
  jwt::RemoteJwksOptions o;
  o.url = issuer.jwks_uri;
  o.discovery_issuer = issuer.issuer;
  o.request.ca_file = issuer.ca_file;
  o.request.timeout = std::chrono::milliseconds(issuer.jwks_timeout_ms);
  o.refresh_interval = std::chrono::seconds(issuer.jwks_refresh_s);
  o.min_refresh_interval = std::chrono::seconds(issuer.jwks_min_refresh_s);
  o.max_refresh_interval = std::chrono::seconds(issuer.jwks_max_refresh_s);
  return o;
}

tl::expected<Identity, IdentityError> VerifyServiceToken(std::string_view token,
                                                         const ServiceSettings& service,
                                                         int64_t now, int64_t leeway_s) {
  if (token.size() > jwt::kDefaultMaxTokenBytes)
    return Refuse("too_large", "service token of " + std::to_string(token.size()) + " bytes");
  auto decoded = natsjwt::DecodeAndVerify(token);
  if (!decoded) {
    return Refuse(decoded.error().code == Code::kUnauthenticated ? "bad_signature" : "malformed",
                  "service " + Quote(service.name) + ": " + decoded.error().message);
  }
  const json& claims = decoded->payload;
  // DecodeAndVerify checked the signature with the key in iss; it must be the registered one.
  if (claims.value("iss", std::string()) != service.public_key)
    return Refuse("wrong_issuer", "service token not signed by " + Quote(service.name) + "'s key");
  auto sub = claims.find("sub");
  if (sub == claims.end()) return Refuse("missing_claim", "service token has no sub");
  if (!sub->is_string()) return Refuse("malformed", "sub is not a string");
  if (sub->get_ref<const std::string&>() != service.name)
    return Refuse("claim_mismatch", "service token sub " + Quote(sub->get<std::string>()) +
                                        " is not " + Quote(service.name));
  auto exp = IntClaim(claims, "exp");
  if (!exp) return tl::unexpected(std::move(exp).error());
  auto iat = IntClaim(claims, "iat");
  if (!iat) return tl::unexpected(std::move(iat).error());
  auto nbf = IntClaim(claims, "nbf");
  if (!nbf) return tl::unexpected(std::move(nbf).error());
  if (!*exp) return Refuse("missing_claim", "service token has no exp");
  if (!*iat) return Refuse("missing_claim", "service token has no iat");
  if (now >= **exp + leeway_s) return Refuse("expired", "service token expired");
  if (**iat > now + leeway_s) return Refuse("not_yet_valid", "service token issued in the future");
  if (*nbf && now < **nbf - leeway_s) return Refuse("not_yet_valid", "service token not yet valid");
  if (**exp - **iat > service.max_token_ttl_s)
    return Refuse("lifetime_too_long", "service token lives " + std::to_string(**exp - **iat) +
                                           " s, more than " +
                                           std::to_string(service.max_token_ttl_s));
  if (!service.audience.empty()) {
    auto aud = claims.find("aud");
    bool ok = false;
    if (aud != claims.end() && aud->is_string()) ok = aud->get<std::string>() == service.audience;
    if (aud != claims.end() && aud->is_array())
      ok = std::find(aud->begin(), aud->end(), json(service.audience)) != aud->end();
    if (!ok) return Refuse("wrong_audience", "service token is not for " + Quote(service.audience));
  }
  Identity id;
  id.kind = Identity::Kind::kService;
  id.source = service.name;
  id.user_id = service.name;
  if (auto jti = claims.find("jti"); jti != claims.end() && jti->is_string())
    id.token_id = jti->get<std::string>();
  id.expires_at = **exp;
  id.claims = claims;
  return id;
}

std::string MintServiceToken(const nkeys::KeyPair& key, std::string_view name, int64_t now,
                             int64_t ttl_s, std::string_view audience, std::string_view jti) {
  json payload = {{"iss", key.PublicKey()},
                  {"sub", std::string(name)},
                  {"iat", now},
                  {"exp", now + ttl_s}};
  if (!audience.empty()) payload["aud"] = std::string(audience);
  if (!jti.empty()) payload["jti"] = std::string(jti);
  return natsjwt::SignCompact(natsjwt::kHeaderJson, payload.dump(), key);
}

IdentityVerifier::IdentityVerifier(const CalloutConfig& config,
                                   std::vector<const jwt::KeySource*> keys, const Clock& clock)
    : config_(config), clock_(clock) {
  for (size_t i = 0; i < config.issuers.size(); ++i) {
    oidc_.push_back(
        std::make_unique<jwt::OidcVerifier>(VerifierConfigOf(config.issuers[i]), *keys.at(i), clock));
    by_issuer_[config.issuers[i].issuer] = i;
  }
  for (size_t i = 0; i < config.services.size(); ++i) {
    by_key_[config.services[i].public_key] = i;
    by_service_name_.insert(config.services[i].name);
  }
}

tl::expected<Identity, IdentityError> IdentityVerifier::Verify(std::string_view token) const {
  auto iss = jwt::PeekIssuer(token);
  if (!iss) {
    return Refuse(std::string(jwt::RefusalName(iss.error().reason)), iss.error().detail);
  }
  if (auto svc = by_key_.find(*iss); svc != by_key_.end())
    return VerifyServiceToken(token, config_.services[svc->second], clock_.UnixSeconds());
  auto it = by_issuer_.find(*iss);
  if (it == by_issuer_.end())
    return Refuse("unknown_issuer", "iss " + Quote(*iss) + " is not a configured issuer");
  const IssuerSettings& settings = config_.issuers[it->second];
  auto verified = oidc_[it->second]->Verify(token);
  if (!verified) {
    return Refuse(std::string(jwt::RefusalName(verified.error().reason)),
                  settings.name + ": " + verified.error().detail);
  }
  Identity id;
  id.kind = Identity::Kind::kOidc;
  id.source = settings.name;
  if (settings.user_claim == "sub") {
    id.user_id = settings.user_prefix + verified->subject;
  } else {
    auto claim = verified->claims.find(settings.user_claim);
    if (claim == verified->claims.end())
      return Refuse("missing_claim", settings.name + ": no " + Quote(settings.user_claim) +
                                         " claim for the user id");
    if (!claim->is_string() || claim->get_ref<const std::string&>().empty())
      return Refuse("malformed", settings.name + ": " + Quote(settings.user_claim) +
                                     " is not a non-empty string");
    id.user_id = settings.user_prefix + claim->get<std::string>();
  }
  // An id in another source's namespace would get that source's subjects, inbox, deny-list
  // entry and rate limit: a service's exact name, or another issuer's (longer) prefix.
  if (by_service_name_.count(id.user_id) != 0)
    return Refuse("user_id_collision", settings.name + ": user id " + Quote(id.user_id) +
                                           " is the name of a registered service");
  for (const IssuerSettings& other : config_.issuers) {
    if (other.user_prefix.size() > settings.user_prefix.size() &&
        id.user_id.compare(0, other.user_prefix.size(), other.user_prefix) == 0)
      return Refuse("user_id_collision", settings.name + ": user id " + Quote(id.user_id) +
                                             " has the user_prefix of issuer " + other.name);
  }
  if (auto jti = verified->claims.find("jti"); jti != verified->claims.end() && jti->is_string())
    id.token_id = jti->get<std::string>();
  id.expires_at = verified->expires_at;
  id.claims = std::move(verified->claims);
  return id;
}

std::string IdentityVerifier::ClaimedSource(std::string_view token) const {
  auto iss = jwt::PeekIssuer(token);
  if (!iss) return "";
  if (auto svc = by_key_.find(*iss); svc != by_key_.end())
    return config_.services[svc->second].name;
  if (auto it = by_issuer_.find(*iss); it != by_issuer_.end())
    return config_.issuers[it->second].name;
  return "";
}

}  // namespace natstack::callout
