#include "callout/explain.hpp"

#include <ctime>

#include "jwt/jws.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

std::string IsoTime(int64_t unix) {
  std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Duration(int64_t s) {
  if (s < 0) return "-" + Duration(-s);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
  return std::to_string(s / 86400) + "d";
}

std::string Joined(const std::vector<std::string>& list) {
  if (list.empty()) return "-";
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// Printable, bounded text for a terminal: what comes from a token (claims, the user id and
/// token id taken from them) may hold escapes and newlines that would rewrite the screen.
std::string Printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > max) out += "...";
  return out;
}

/// A claim for display.
std::string Show(const json& v) {
  return Printable(v.is_string() ? v.get<std::string>() : v.dump());
}

}  // namespace

Explanation Explain(std::string_view token, const Authorizer& authorizer,
                    const IdentityVerifier& identities, const Policy& policy,
                    const CalloutConfig& config, int64_t now) {
  Explanation e;
  e.now = now;
  e.max_user_ttl_s = config.max_user_ttl_s;
  e.claimed_source = identities.ClaimedSource(token);
  if (auto parsed = jwt::ParseCompactJws(token); parsed) {
    e.header = parsed->header;
    e.claims = parsed->payload;
  }
  e.decision = authorizer.Decide(token);
  if (e.decision.identity) e.trace = policy.Trace(*e.decision.identity);
  return e;
}

json ExplanationJson(const Explanation& e) {
  const Decision& d = e.decision;
  json j = {{"verdict", d.admitted ? "admitted" : "refused"},
            {"reason", d.reason},
            {"detail", d.detail},
            {"source", d.identity ? d.identity->source : e.claimed_source}};
  if (d.identity) {
    j["user_id"] = d.identity->user_id;
    j["token_id"] = d.identity->token_id;
    j["kind"] = d.identity->kind == Identity::Kind::kService ? "service" : "oidc";
  }
  if (d.grant) {
    j["account"] = d.grant->account;
    j["template"] = d.grant->template_name;
    j["rule"] = d.grant->rule;
    j["permissions"] = {{"pub", {{"allow", d.grant->pub.allow}, {"deny", d.grant->pub.deny}}},
                        {"sub", {{"allow", d.grant->sub.allow}, {"deny", d.grant->sub.deny}}},
                        {"allow_responses", d.grant->resp.has_value()}};
    if (d.grant->resp) {
      j["permissions"]["responses_max"] = d.grant->resp->max;
      j["permissions"]["responses_ttl_ms"] = d.grant->resp->ttl_ns / 1000000;
    }
  }
  if (d.admitted) {
    j["expires_at"] = d.expires_at;
    j["expires_in_s"] = d.expires_at - e.now;
  }
  j["rules"] = e.trace;
  json token = json::object();
  if (e.header.is_object()) {
    for (const char* k : {"alg", "kid", "typ"})
      if (e.header.contains(k)) token[k] = e.header[k];
  }
  if (e.claims.is_object()) {
    for (const char* k : {"iss", "sub", "aud", "exp", "iat", "nbf", "jti"})
      if (e.claims.contains(k)) token[k] = e.claims[k];
  }
  j["token"] = token;
  return j;
}

std::string ExplanationText(const Explanation& e) {
  const Decision& d = e.decision;
  std::string out;
  auto line = [&out](const std::string& k, const std::string& v) {
    std::string key = k + ":";
    key.resize(std::max<size_t>(key.size() + 1, 18), ' ');
    out += key + v + "\n";
  };
  std::string token;
  if (e.header.is_object()) {
    if (e.header.contains("alg")) token += Show(e.header["alg"]);
    if (e.header.contains("kid")) token += ", kid " + Show(e.header["kid"]);
  }
  if (e.claims.is_object()) {
    if (e.claims.contains("iss")) token += ", iss " + Show(e.claims["iss"]);
    if (e.claims.contains("sub")) token += ", sub " + Show(e.claims["sub"]);
    if (e.claims.contains("exp") && e.claims["exp"].is_number_integer()) {
      const int64_t exp = e.claims["exp"].get<int64_t>();
      token += ", exp " + IsoTime(exp) + " (" +
               (exp > e.now ? "in " + Duration(exp - e.now) : Duration(e.now - exp) + " ago") + ")";
    }
  }
  line("token", token.empty() ? "not a JWT" : token + " (as sent, before verification)");
  line("source", d.identity ? d.identity->source
                            : (e.claimed_source.empty() ? "none configured for its iss"
                                                        : e.claimed_source));
  line("verdict", d.admitted ? "admitted" : "refused: " + d.reason);
  if (!d.detail.empty()) line("why", Printable(d.detail, d.detail.size()));
  if (d.identity) {
    line("user id", Printable(d.identity->user_id));
    if (!d.identity->token_id.empty()) line("token id", Printable(d.identity->token_id));
  }
  if (!e.trace.empty()) {
    out += "rules:\n";
    for (const auto& t : e.trace) out += "  " + t + "\n";
  }
  if (d.grant) {
    line("account", d.grant->account);
    line("template", d.grant->template_name +
                         (d.grant->rule.empty() ? " (the source's own)" : " (rule " + d.grant->rule + ")"));
    line("publish allow", Joined(d.grant->pub.allow));
    line("publish deny", Joined(d.grant->pub.deny));
    line("subscribe allow", Joined(d.grant->sub.allow));
    line("subscribe deny", Joined(d.grant->sub.deny));
    line("responses", d.grant->resp ? "allowed (" + std::to_string(d.grant->resp->max) +
                                          " per request)"
                                    : "no");
  }
  if (d.admitted) {
    const bool capped = d.identity && d.expires_at < d.identity->expires_at;
    line("user JWT expires", IsoTime(d.expires_at) + " (in " + Duration(d.expires_at - e.now) +
                                 (capped ? ", capped by max_user_ttl_s = " +
                                               std::to_string(e.max_user_ttl_s) + " s)"
                                         : ", with the token)"));
  }
  return out;
}

}  // namespace natstack::callout
