#include "callout/config.hpp"

#include <algorithm>
#include <set>

#include "callout/policy.hpp"
#include "core/file.hpp"
#include "core/json_config.hpp"
#include "jwt/verifier.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

/// Names of issuers, services and templates: labels in metrics and logs.
bool IsLabel(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

/// The host of an http(s) URL, as a label ("https://idp.example.com/x" -> "idp.example.com").
std::string HostLabel(const std::string& url) {
  std::string rest = url;
  const auto scheme = rest.find("://");
  if (scheme != std::string::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  const auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  std::string out;
  for (char c : rest) out.push_back(c == ':' ? '_' : c);
  return out;
}

bool IsHttpUrl(const std::string& s) {
  return s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0;
}

Status ParseTemplate(ConfigReader& r, PermissionTemplate& p) {
  NATSTACK_TRY(r.StringList("pub_allow", p.pub_allow));
  NATSTACK_TRY(r.StringList("pub_deny", p.pub_deny));
  NATSTACK_TRY(r.StringList("sub_allow", p.sub_allow));
  NATSTACK_TRY(r.StringList("sub_deny", p.sub_deny));
  NATSTACK_TRY(r.Bool("allow_responses", p.allow_responses));
  NATSTACK_TRY(r.Int("responses_max", p.responses_max, 1, 1000000));
  NATSTACK_TRY(r.Int("responses_ttl_ms", p.responses_ttl_ms, 0, 24LL * 3600 * 1000));
  return r.Finish();
}

Status ParseClaimsObject(ConfigReader& r, const std::string& key, json& out) {
  const json* v = r.Raw(key);
  if (v == nullptr) return Ok();
  if (!v->is_object()) return r.Invalid(key, "expected an object of claim names to values");
  for (const auto& [name, value] : v->items()) {
    if (name.empty()) return r.Invalid(key, "a claim name is empty");
    if (value.is_object())
      return r.Invalid(key + "." + name, "expected a value, a list of values or null");
    if (name[0] == '/') {
      try {
        (void)json::json_pointer(name);
      } catch (const json::exception&) {
        return r.Invalid(key + "." + name, "is not a valid JSON pointer");
      }
    }
  }
  out = *v;
  return Ok();
}

Status ParseIssuer(ConfigReader& r, IssuerSettings& o) {
  NATSTACK_TRY(r.String("name", o.name));
  NATSTACK_TRY(r.String("issuer", o.issuer, Required::kYes));
  NATSTACK_TRY(r.StringList("audiences", o.audiences, Required::kYes));
  NATSTACK_TRY(r.String("jwks_uri", o.jwks_uri));
  NATSTACK_TRY(r.StringList("algorithms", o.algorithms));
  NATSTACK_TRY(r.StringList("token_types", o.token_types));
  NATSTACK_TRY(r.Int("leeway_s", o.leeway_s, 0, 600));
  NATSTACK_TRY(r.Int("max_age_s", o.max_age_s, 0, 30LL * 86400));
  NATSTACK_TRY(ParseClaimsObject(r, "required_claims", o.required_claims));
  NATSTACK_TRY(r.String("user_claim", o.user_claim));
  NATSTACK_TRY(r.String("user_prefix", o.user_prefix));
  NATSTACK_TRY(r.String("ca_file", o.ca_file));
  NATSTACK_TRY(r.String("template", o.template_name));
  NATSTACK_TRY(r.String("account", o.account));
  NATSTACK_TRY(r.Int("jwks_refresh_s", o.jwks_refresh_s, 10, 86400));
  NATSTACK_TRY(r.Int("jwks_min_refresh_s", o.jwks_min_refresh_s, 1, 3600));
  NATSTACK_TRY(r.Int("jwks_max_refresh_s", o.jwks_max_refresh_s, 10, 7LL * 86400));
  // Below the server's auth timeout (2 s): a wait past it only delays a client who has left.
  NATSTACK_TRY(r.Int("unknown_kid_wait_ms", o.unknown_kid_wait_ms, 0, 1500));
  NATSTACK_TRY(r.Int("jwks_timeout_ms", o.jwks_timeout_ms, 100, 30000));
  NATSTACK_TRY(r.Bool("optional", o.optional));
  if (o.audiences.empty()) return r.Invalid("audiences", "needs at least one audience");
  if (o.algorithms.empty()) return r.Invalid("algorithms", "needs at least one algorithm");
  if (o.user_claim.empty()) return r.Invalid("user_claim", "must not be empty");
  if (!IsHttpUrl(o.issuer)) return r.Invalid("issuer", "expected an http(s) URL");
  if (!o.jwks_uri.empty() && !IsHttpUrl(o.jwks_uri))
    return r.Invalid("jwks_uri", "expected an http(s) URL");
  if (o.jwks_min_refresh_s > o.jwks_refresh_s || o.jwks_refresh_s > o.jwks_max_refresh_s)
    return r.Invalid("jwks_refresh_s",
                     "needs jwks_min_refresh_s <= jwks_refresh_s <= jwks_max_refresh_s");
  if (o.name.empty()) o.name = HostLabel(o.issuer);
  return r.Finish();
}

Status ParseService(ConfigReader& r, ServiceSettings& s) {
  NATSTACK_TRY(r.String("name", s.name, Required::kYes));
  NATSTACK_TRY(r.String("public_key", s.public_key, Required::kYes));
  NATSTACK_TRY(r.String("template", s.template_name));
  NATSTACK_TRY(r.String("account", s.account));
  NATSTACK_TRY(r.Int("max_token_ttl_s", s.max_token_ttl_s, 1, 30LL * 86400));
  NATSTACK_TRY(r.String("audience", s.audience));
  return r.Finish();
}

Status ParseRule(ConfigReader& r, Rule& rule) {
  NATSTACK_TRY(r.String("name", rule.name));
  NATSTACK_TRY(r.String("issuer", rule.issuer));
  NATSTACK_TRY(ParseClaimsObject(r, "claims", rule.claims));
  NATSTACK_TRY(r.String("template", rule.template_name));
  NATSTACK_TRY(r.String("account", rule.account));
  if (rule.template_name.empty() && rule.account.empty())
    return r.Invalid("template", "a rule needs a template, an account or both");
  return r.Finish();
}

Status ParseRateLimit(ConfigReader& r, RateLimit& l) {
  NATSTACK_TRY(r.Number("per_s", l.per_s, 0.001, 1e6, Required::kYes));
  NATSTACK_TRY(r.Int("burst", l.burst, 1, 1000000));
  if (l.burst == 0) l.burst = std::max<int64_t>(1, static_cast<int64_t>(l.per_s + 0.999));
  return r.Finish();
}

Status ParseSystem(ConfigReader& r, SystemConnection& s) {
  NATSTACK_TRY(r.String("user", s.user));
  NATSTACK_TRY(r.String("password_file", s.password_file, Required::kYes));
  NATSTACK_TRY(r.StringList("servers", s.servers));
  return r.Finish();
}

Status Invalid(std::string_view source, const std::string& key, const std::string& why) {
  return Fail(Code::kInvalidArgument, std::string(source) + ": " + key + ": " + why);
}

std::string At(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

}  // namespace

const std::vector<std::string_view>& RefusalReasons() {
  static const std::vector<std::string_view> kReasons = {
      "no_token",       "malformed",        "too_large",         "algorithm_not_allowed",
      "unknown_issuer", "unknown_key",      "keys_unavailable",  "bad_signature",
      "wrong_issuer",   "wrong_audience",   "expired",           "not_yet_valid",
      "too_old",        "missing_claim",    "claim_mismatch",    "lifetime_too_long",
      "revoked",        "template_rejected", "rate_limited",     "overloaded",
      "wrong_type",     "user_id_collision",
  };
  return kReasons;
}

Status ValidateCalloutConfig(const CalloutConfig& c, std::string_view source) {
  if (c.servers.empty()) return Invalid(source, "servers", "needs at least one URL");
  if (c.subject.empty()) return Invalid(source, "subject", "must not be empty");
  if (c.accounts.empty()) return Invalid(source, "accounts", "needs at least one account");
  std::set<std::string> accounts;
  for (size_t i = 0; i < c.accounts.size(); ++i) {
    const std::string& a = c.accounts[i];
    if (a.empty() || a.find_first_of(" \t\r\n") != std::string::npos)
      return Invalid(source, At("accounts", i), "\"" + a + "\" is not an account name");
    if (a == "SYS" || a == "$SYS")
      return Invalid(source, At("accounts", i),
                     "identities are never placed in the system account: it controls the cluster");
    accounts.insert(a);
  }
  auto check_account = [&](const std::string& key, const std::string& a) -> Status {
    if (!a.empty() && accounts.count(a) == 0)
      return Invalid(source, key,
                     "account \"" + a + "\" is not one of the cluster's accounts (accounts)");
    return Ok();
  };
  if (c.default_account.empty()) return Invalid(source, "default_account", "must not be empty");
  NATSTACK_TRY(check_account("default_account", c.default_account));

  std::set<std::string> templates = {"default"};
  for (const auto& [name, t] : c.templates) {
    if (!IsLabel(name))
      return Invalid(source, "templates." + name,
                     "a template name is letters, digits, '_', '-', '.' (at most 64)");
    NATSTACK_TRY(ValidateTemplate(t, "templates." + name).map_error([&](const Error& e) {
      return Error{e.code, std::string(source) + ": " + e.message};
    }));
    templates.insert(name);
  }
  auto check_template = [&](const std::string& key, const std::string& t) -> Status {
    if (!t.empty() && templates.count(t) == 0)
      return Invalid(source, key, "no template named \"" + t + "\" (templates)");
    return Ok();
  };

  if (c.issuers.empty() && c.services.empty())
    return Invalid(source, "issuers", "needs at least one OIDC issuer or service");
  std::set<std::string> issuer_names, issuer_urls;
  for (size_t i = 0; i < c.issuers.size(); ++i) {
    const IssuerSettings& is = c.issuers[i];
    const std::string key = At("issuers", i);
    if (!IsLabel(is.name))
      return Invalid(source, key + ".name",
                     "\"" + is.name + "\" is not a name (letters, digits, '_', '-', '.')");
    if (!issuer_names.insert(is.name).second)
      return Invalid(source, key + ".name", "another issuer is named \"" + is.name + "\"");
    if (!issuer_urls.insert(is.issuer).second)
      return Invalid(source, key + ".issuer", "\"" + is.issuer + "\" is configured twice");
    if (!is.user_prefix.empty() && !IsSubjectSafeToken(is.user_prefix))
      return Invalid(source, key + ".user_prefix", "must be usable in a subject token");
    // User ids are what subjects, inboxes, deny-list entries and rate limits are keyed on:
    // two issuers with one prefix would give two people one id.
    for (size_t j = 0; j < i; ++j) {
      if (c.issuers[j].user_prefix == is.user_prefix)
        return Invalid(source, key + ".user_prefix",
                       "\"" + is.user_prefix + "\" is also " + At("issuers", j) +
                           "'s: their users' ids could be the same; give each issuer its own "
                           "user_prefix");
    }
    jwt::VerifierConfig vc;
    vc.issuer = is.issuer;
    vc.audiences = is.audiences;
    vc.algorithms = is.algorithms;
    vc.leeway = std::chrono::seconds(is.leeway_s);
    vc.required_claims = is.required_claims;
    if (auto v = jwt::ValidateVerifierConfig(vc); !v)
      return Invalid(source, key, v.error().message);
    NATSTACK_TRY(check_template(key + ".template", is.template_name));
    NATSTACK_TRY(check_account(key + ".account", is.account));
  }
  std::set<std::string> service_names, service_keys;
  for (size_t i = 0; i < c.services.size(); ++i) {
    const ServiceSettings& s = c.services[i];
    const std::string key = At("services", i);
    if (!IsSubjectSafeToken(s.name) || !IsLabel(s.name))
      return Invalid(source, key + ".name",
                     "\"" + s.name + "\" is not a name (letters, digits, '_', '-'; one subject token)");
    if (!service_names.insert(s.name).second)
      return Invalid(source, key + ".name", "another service is named \"" + s.name + "\"");
    if (!nkeys::IsValidPublicKey(s.public_key, nkeys::Role::kUser) &&
        !nkeys::IsValidPublicKey(s.public_key, nkeys::Role::kAccount))
      return Invalid(source, key + ".public_key", "expected a user (U...) or account (A...) NKey");
    if (!service_keys.insert(s.public_key).second)
      return Invalid(source, key + ".public_key", "another service has this key");
    NATSTACK_TRY(check_template(key + ".template", s.template_name));
    NATSTACK_TRY(check_account(key + ".account", s.account));
  }
  for (size_t i = 0; i < c.rules.size(); ++i) {
    const Rule& r = c.rules[i];
    const std::string key = At("rules", i);
    if (!r.issuer.empty() && issuer_names.count(r.issuer) == 0)
      return Invalid(source, key + ".issuer", "no issuer named \"" + r.issuer + "\"");
    if (r.template_name.empty() && r.account.empty())
      return Invalid(source, key, "a rule needs a template, an account or both");
    NATSTACK_TRY(check_template(key + ".template", r.template_name));
    NATSTACK_TRY(check_account(key + ".account", r.account));
  }
  for (size_t i = 0; i < c.drop_reasons.size(); ++i) {
    const auto& reasons = RefusalReasons();
    if (std::find(reasons.begin(), reasons.end(), c.drop_reasons[i]) == reasons.end())
      return Invalid(source, At("drop_reasons", i),
                     "\"" + c.drop_reasons[i] + "\" is not a refusal reason");
  }
  for (size_t i = 0; i < c.allowed_servers.size(); ++i) {
    if (!nkeys::IsValidPublicKey(c.allowed_servers[i], nkeys::Role::kServer))
      return Invalid(source, At("allowed_servers", i), "expected a server key (N...)");
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return Invalid(source, "log_level", "must be debug, info, warn or error");
  if (!c.http_listen.empty()) {
    const auto colon = c.http_listen.rfind(':');
    const std::string port =
        colon == std::string::npos ? std::string() : c.http_listen.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
      return Invalid(source, "http_listen", "expected HOST:PORT, got \"" + c.http_listen + "\"");
  }
  return Ok();
}

Result<CalloutConfig> ParseCalloutConfig(std::string_view json_text, std::string_view source,
                                         ConfigCompleteness completeness) {
  NATSTACK_ASSIGN_OR_RETURN(json doc, ParseJsonDocument(json_text, source));
  ConfigReader r(doc, std::string(source), "");
  CalloutConfig c;
  const Required needed =
      completeness == ConfigCompleteness::kComplete ? Required::kYes : Required::kNo;
  NATSTACK_TRY(r.StringList("servers", c.servers, needed));
  NATSTACK_TRY(r.String("user", c.user));
  NATSTACK_TRY(r.String("password_file", c.password_file, needed));
  NATSTACK_TRY(r.String("ca_file", c.ca_file));
  NATSTACK_TRY(r.String("subject", c.subject));
  NATSTACK_TRY(r.String("queue_group", c.queue_group));
  NATSTACK_TRY(r.Bool("no_randomize", c.no_randomize));
  NATSTACK_TRY(r.Object("system", Required::kNo,
                        [&](ConfigReader& sub) { return ParseSystem(sub, c.system); }));
  NATSTACK_TRY(r.String("issuer_seed_file", c.issuer_seed_file, needed));
  NATSTACK_TRY(r.String("xkey_seed_file", c.xkey_seed_file, needed));
  NATSTACK_TRY(r.StringList("previous_xkey_seed_files", c.previous_xkey_seed_files));
  NATSTACK_TRY(r.StringList("allowed_servers", c.allowed_servers));
  NATSTACK_TRY(r.StringList("accounts", c.accounts));
  NATSTACK_TRY(r.String("default_account", c.default_account));
  NATSTACK_TRY(r.ObjectList("issuers", Required::kNo, [&](ConfigReader& sub, size_t) {
    c.issuers.emplace_back();
    return ParseIssuer(sub, c.issuers.back());
  }));
  NATSTACK_TRY(r.ObjectList("services", Required::kNo, [&](ConfigReader& sub, size_t) {
    c.services.emplace_back();
    return ParseService(sub, c.services.back());
  }));
  NATSTACK_TRY(r.ObjectMap("templates", Required::kNo,
                           [&](const std::string& name, ConfigReader& sub) {
                             return ParseTemplate(sub, c.templates[name]);
                           }));
  NATSTACK_TRY(r.ObjectList("rules", Required::kNo, [&](ConfigReader& sub, size_t i) {
    c.rules.emplace_back();
    c.rules.back().name = "rules[" + std::to_string(i) + "]";
    return ParseRule(sub, c.rules.back());
  }));
  NATSTACK_TRY(r.Int("max_user_ttl_s", c.max_user_ttl_s, 1, 7 * 24 * 3600));
  NATSTACK_TRY(r.StringList("drop_reasons", c.drop_reasons));
  NATSTACK_TRY(r.Int("refusal_delay_ms", c.refusal_delay_ms, 0, 1500));
  NATSTACK_TRY(r.String("revocation_file", c.revocation_file));
  NATSTACK_TRY(r.Int("revocation_poll_ms", c.revocation_poll_ms, 50, 60000));
  NATSTACK_TRY(r.Int("workers", c.workers, 0, 64));
  NATSTACK_TRY(r.Int("queue_size", c.queue_size, 1, 1 << 20));
  NATSTACK_TRY(r.Object("per_host", Required::kNo,
                        [&](ConfigReader& sub) { return ParseRateLimit(sub, c.per_host); }));
  NATSTACK_TRY(r.Object("per_user", Required::kNo,
                        [&](ConfigReader& sub) { return ParseRateLimit(sub, c.per_user); }));
  NATSTACK_TRY(r.String("log_level", c.log_level));
  NATSTACK_TRY(r.String("http_listen", c.http_listen));
  NATSTACK_TRY(r.Finish());
  if (completeness == ConfigCompleteness::kComplete) NATSTACK_TRY(ValidateCalloutConfig(c, source));
  return c;
}

namespace {

json TemplateJson(const PermissionTemplate& t) {
  return {{"pub_allow", t.pub_allow},
          {"pub_deny", t.pub_deny},
          {"sub_allow", t.sub_allow},
          {"sub_deny", t.sub_deny},
          {"allow_responses", t.allow_responses},
          {"responses_max", t.responses_max},
          {"responses_ttl_ms", t.responses_ttl_ms}};
}

json RateLimitJson(const RateLimit& l) { return {{"per_s", l.per_s}, {"burst", l.burst}}; }

}  // namespace

std::string SerializeCalloutConfig(const CalloutConfig& c) {
  json issuers = json::array();
  for (const auto& i : c.issuers) {
    issuers.push_back({{"name", i.name},
                       {"issuer", i.issuer},
                       {"audiences", i.audiences},
                       {"jwks_uri", i.jwks_uri},
                       {"algorithms", i.algorithms},
                       {"token_types", i.token_types},
                       {"leeway_s", i.leeway_s},
                       {"max_age_s", i.max_age_s},
                       {"required_claims", i.required_claims},
                       {"user_claim", i.user_claim},
                       {"user_prefix", i.user_prefix},
                       {"ca_file", i.ca_file},
                       {"template", i.template_name},
                       {"account", i.account},
                       {"jwks_refresh_s", i.jwks_refresh_s},
                       {"jwks_min_refresh_s", i.jwks_min_refresh_s},
                       {"jwks_max_refresh_s", i.jwks_max_refresh_s},
                       {"unknown_kid_wait_ms", i.unknown_kid_wait_ms},
                       {"jwks_timeout_ms", i.jwks_timeout_ms},
                       {"optional", i.optional}});
  }
  json services = json::array();
  for (const auto& s : c.services) {
    services.push_back({{"name", s.name},
                        {"public_key", s.public_key},
                        {"template", s.template_name},
                        {"account", s.account},
                        {"max_token_ttl_s", s.max_token_ttl_s},
                        {"audience", s.audience}});
  }
  json templates = json::object();
  for (const auto& [name, t] : c.templates) templates[name] = TemplateJson(t);
  json rules = json::array();
  for (const auto& r : c.rules) {
    rules.push_back({{"name", r.name},
                     {"issuer", r.issuer},
                     {"claims", r.claims},
                     {"template", r.template_name},
                     {"account", r.account}});
  }
  json j = {
      {"servers", c.servers},
      {"user", c.user},
      {"password_file", c.password_file},
      {"ca_file", c.ca_file},
      {"subject", c.subject},
      {"queue_group", c.queue_group},
      {"no_randomize", c.no_randomize},
      {"issuer_seed_file", c.issuer_seed_file},
      {"xkey_seed_file", c.xkey_seed_file},
      {"previous_xkey_seed_files", c.previous_xkey_seed_files},
      {"allowed_servers", c.allowed_servers},
      {"accounts", c.accounts},
      {"default_account", c.default_account},
      {"issuers", issuers},
      {"services", services},
      {"templates", templates},
      {"rules", rules},
      {"max_user_ttl_s", c.max_user_ttl_s},
      {"drop_reasons", c.drop_reasons},
      {"refusal_delay_ms", c.refusal_delay_ms},
      {"revocation_file", c.revocation_file},
      {"revocation_poll_ms", c.revocation_poll_ms},
      {"workers", c.workers},
      {"queue_size", c.queue_size},
      {"log_level", c.log_level},
      {"http_listen", c.http_listen},
  };
  if (c.system.enabled()) {
    j["system"] = {{"user", c.system.user},
                   {"password_file", c.system.password_file},
                   {"servers", c.system.servers}};
  }
  if (c.per_host.enabled()) j["per_host"] = RateLimitJson(c.per_host);
  if (c.per_user.enabled()) j["per_user"] = RateLimitJson(c.per_user);
  return j.dump(2) + "\n";
}

const std::vector<std::string_view>& EnvironmentVariableNames() {
  static const std::vector<std::string_view> kNames = {
      "NATS_SERVERS",
      "NATS_AUTH_NKEY_ISSUER_SEED",
      "NATS_AUTH_NKEY_ISSUER_SEED_FILE",
      "NATS_AUTH_XKEY_ISSUER_SEED",
      "NATS_AUTH_XKEY_ISSUER_SEED_FILE",
      "NATS_AUTH_ACCOUNT",
      "AUTH0_DOMAIN",
      "AUTH0_API_IDENTIFIER",
      "NATS_REGULAR_USER_PASSWORD",
      "NATS_REGULAR_USER_PASSWORD_FILE",
      "NATS_SYS_USER_PASSWORD",
      "NATS_SYS_USER_PASSWORD_FILE",
  };
  return kNames;
}

Result<EnvironmentSecrets> ApplyEnvironment(const std::map<std::string, std::string>& env,
                                            CalloutConfig& c, bool with_file) {
  auto get = [&env](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() || it->second.empty() ? nullptr : &it->second;
  };
  auto bad = [](const char* name, const std::string& why) {
    return Fail(Code::kInvalidArgument, std::string("environment: ") + name + ": " + why);
  };
  EnvironmentSecrets secrets;
  if (const std::string* v = get("NATS_SERVERS")) {
    // The original design passes a comma-separated list.
    std::vector<std::string> servers;
    size_t pos = 0;
    while (pos <= v->size()) {
      size_t comma = v->find(',', pos);
      if (comma == std::string::npos) comma = v->size();
      std::string url = v->substr(pos, comma - pos);
      url.erase(0, url.find_first_not_of(" \t"));
      url.erase(url.find_last_not_of(" \t") + 1);
      if (!url.empty()) servers.push_back(url);
      pos = comma + 1;
    }
    if (servers.empty()) return bad("NATS_SERVERS", "lists no server");
    c.servers = std::move(servers);
  }
  // A secret comes either as a value (the original design's Secrets Manager injection) or as a
  // path in the *_FILE variant; not both.
  auto secret = [&](const char* name, const char* file_name, std::string& value,
                    std::string& path) -> Status {
    const std::string* v = get(name);
    const std::string* f = get(file_name);
    if (v != nullptr && f != nullptr)
      return bad(name, std::string("set both it and ") + file_name + "; choose one");
    if (v != nullptr) value = *v;
    if (f != nullptr) path = *f;
    return Ok();
  };
  NATSTACK_TRY(secret("NATS_AUTH_NKEY_ISSUER_SEED", "NATS_AUTH_NKEY_ISSUER_SEED_FILE",
                      secrets.issuer_seed, c.issuer_seed_file));
  NATSTACK_TRY(secret("NATS_AUTH_XKEY_ISSUER_SEED", "NATS_AUTH_XKEY_ISSUER_SEED_FILE",
                      secrets.xkey_seed, c.xkey_seed_file));
  const bool had_password = !c.password_file.empty();
  NATSTACK_TRY(secret("NATS_REGULAR_USER_PASSWORD", "NATS_REGULAR_USER_PASSWORD_FILE",
                      secrets.password, c.password_file));
  // The original design's services connect as regular_user; with a config file, its `user`
  // (default "callout") stands.
  if (!with_file && (!secrets.password.empty() || (!had_password && !c.password_file.empty())) &&
      c.user == "callout")
    c.user = "regular_user";
  NATSTACK_TRY(secret("NATS_SYS_USER_PASSWORD", "NATS_SYS_USER_PASSWORD_FILE",
                      secrets.system_password, c.system.password_file));
  if (const std::string* v = get("NATS_AUTH_ACCOUNT")) {
    c.default_account = *v;
    if (!with_file) {
      // The original design's one account: the built-in AUTH is not the cluster's.
      c.accounts = {*v};
    } else if (std::find(c.accounts.begin(), c.accounts.end(), *v) == c.accounts.end()) {
      c.accounts.push_back(*v);
    }
  }
  const std::string* domain = get("AUTH0_DOMAIN");
  const std::string* audience = get("AUTH0_API_IDENTIFIER");
  if ((domain == nullptr) != (audience == nullptr))
    return bad(domain ? "AUTH0_API_IDENTIFIER" : "AUTH0_DOMAIN",
               "AUTH0_DOMAIN and AUTH0_API_IDENTIFIER go together");
  if (domain != nullptr) {
    // Either a bare domain ("tenant.eu.auth0.com") or a URL ("https://tenant.eu.auth0.com");
    // Auth0's issuer is the URL with a trailing slash and its JWKS is at a fixed path.
    std::string base = *domain;
    if (!IsHttpUrl(base)) base = "https://" + base;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.find_first_of(" \t\r\n") != std::string::npos || HostLabel(base).empty())
      return bad("AUTH0_DOMAIN", "\"" + *domain + "\" is not a domain or URL");
    IssuerSettings is;
    is.name = "auth0";
    is.issuer = base + "/";
    is.audiences = {*audience};
    is.jwks_uri = base + "/.well-known/jwks.json";
    // One issuer per name: the environment's replaces a config file's "auth0".
    c.issuers.erase(std::remove_if(c.issuers.begin(), c.issuers.end(),
                                   [&](const IssuerSettings& i) {
                                     return i.name == is.name || i.issuer == is.issuer;
                                   }),
                    c.issuers.end());
    c.issuers.push_back(std::move(is));
  }
  return secrets;
}

}  // namespace natstack::callout

namespace natstack::callout {

const std::vector<std::string_view>& SecretEnvironmentVariableNames() {
  static const std::vector<std::string_view> kNames = {
      "NATS_AUTH_NKEY_ISSUER_SEED", "NATS_AUTH_XKEY_ISSUER_SEED", "NATS_REGULAR_USER_PASSWORD",
      "NATS_SYS_USER_PASSWORD"};
  return kNames;
}

Result<LoadedConfig> LoadCalloutConfig(const std::string& path,
                                       const std::map<std::string, std::string>& env) {
  LoadedConfig out;
  out.used_environment = std::any_of(env.begin(), env.end(), [](const auto& kv) {
    const auto& names = EnvironmentVariableNames();
    return !kv.second.empty() &&
           std::find(names.begin(), names.end(), kv.first) != names.end();
  });
  std::string source = "environment";
  if (!path.empty()) {
    auto text = ReadConfigFile(path);
    if (!text) return Fail(text.error());
    NATSTACK_ASSIGN_OR_RETURN(
        out.config, ParseCalloutConfig(*text, path,
                                       out.used_environment ? ConfigCompleteness::kPartial
                                                            : ConfigCompleteness::kComplete));
    source = path;
    if (out.used_environment) source += " and the environment";
  } else if (!out.used_environment) {
    return Fail(Code::kInvalidArgument,
                "no callout config: give --config FILE or set NATS_SERVERS and the other "
                "variables of the original design (see docs/callout.md)");
  }
  NATSTACK_ASSIGN_OR_RETURN(out.secrets, ApplyEnvironment(env, out.config, !path.empty()));
  NATSTACK_TRY(ValidateCalloutConfig(out.config, source));
  return out;
}

}  // namespace natstack::callout
