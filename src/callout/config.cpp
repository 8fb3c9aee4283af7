#include "callout/config.hpp"

#include <nlohmann/json.hpp>

#include "callout/policy.hpp"
#include "core/json_config.hpp"
#include "jwt/verifier.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

Status ParsePermissions(ConfigReader& r, PermissionTemplate& p) {
  NATSTACK_TRY(r.StringList("pub_allow", p.pub_allow));
  NATSTACK_TRY(r.StringList("pub_deny", p.pub_deny));
  NATSTACK_TRY(r.StringList("sub_allow", p.sub_allow));
  NATSTACK_TRY(r.StringList("sub_deny", p.sub_deny));
  NATSTACK_TRY(r.Bool("allow_responses", p.allow_responses));
  return r.Finish();
}

Status ParseOidc(ConfigReader& r, OidcSettings& o) {
  NATSTACK_TRY(r.String("issuer", o.issuer, Required::kYes));
  NATSTACK_TRY(r.StringList("audiences", o.audiences, Required::kYes));
  NATSTACK_TRY(r.String("jwks_uri", o.jwks_uri));
  NATSTACK_TRY(r.StringList("algorithms", o.algorithms));
  NATSTACK_TRY(r.Int("leeway_s", o.leeway_s, 0, 600));
  NATSTACK_TRY(r.String("ca_file", o.ca_file));
  if (o.audiences.empty()) return r.Invalid("audiences", "needs at least one audience");
  if (o.algorithms.empty()) return r.Invalid("algorithms", "needs at least one algorithm");
  return r.Finish();
}

}  // namespace

Result<CalloutConfig> ParseCalloutConfig(std::string_view json_text, std::string_view source) {
  NATSTACK_ASSIGN_OR_RETURN(json doc, ParseJsonDocument(json_text, source));
  ConfigReader r(doc, std::string(source), "");
  CalloutConfig c;
  NATSTACK_TRY(r.StringList("servers", c.servers, Required::kYes));
  NATSTACK_TRY(r.String("user", c.user));
  NATSTACK_TRY(r.String("password_file", c.password_file, Required::kYes));
  NATSTACK_TRY(r.String("ca_file", c.ca_file));
  NATSTACK_TRY(r.String("subject", c.subject));
  NATSTACK_TRY(r.String("queue_group", c.queue_group));
  NATSTACK_TRY(r.String("issuer_seed_file", c.issuer_seed_file, Required::kYes));
  NATSTACK_TRY(r.String("xkey_seed_file", c.xkey_seed_file, Required::kYes));
  NATSTACK_TRY(r.String("target_account", c.target_account));
  NATSTACK_TRY(r.StringList("allowed_servers", c.allowed_servers));
  NATSTACK_TRY(r.Int("max_user_ttl_s", c.max_user_ttl_s, 1, 7 * 24 * 3600));
  NATSTACK_TRY(r.String("log_level", c.log_level));
  NATSTACK_TRY(r.String("http_listen", c.http_listen));
  NATSTACK_TRY(r.Object("oidc", Required::kYes,
                        [&](ConfigReader& sub) { return ParseOidc(sub, c.oidc); }));
  NATSTACK_TRY(r.Object("permissions", Required::kNo,
                        [&](ConfigReader& sub) { return ParsePermissions(sub, c.permissions); }));
  if (c.servers.empty()) return Fail(r.InvalidError("servers", "needs at least one URL"));
  if (c.target_account.empty()) return Fail(r.InvalidError("target_account", "must not be empty"));
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return Fail(r.InvalidError("log_level", "must be debug, info, warn or error"));
  NATSTACK_TRY(r.Finish());
  if (!c.http_listen.empty()) {
    const auto colon = c.http_listen.rfind(':');
    const std::string port =
        colon == std::string::npos ? std::string() : c.http_listen.substr(colon + 1);
    if (colon == 0 || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
      return Fail(r.InvalidError("http_listen", "expected HOST:PORT, got \"" + c.http_listen + "\""));
  }
  if (auto t = ValidateTemplate(c.permissions); !t)
    return Fail(Code::kInvalidArgument, std::string(source) + ": " + t.error().message);
  jwt::VerifierConfig vc;
  vc.issuer = c.oidc.issuer;
  vc.audiences = c.oidc.audiences;
  vc.algorithms = c.oidc.algorithms;
  vc.leeway = std::chrono::seconds(c.oidc.leeway_s);
  if (auto v = jwt::ValidateVerifierConfig(vc); !v)
    return Fail(Code::kInvalidArgument, std::string(source) + ": oidc: " + v.error().message);
  return c;
}

std::string SerializeCalloutConfig(const CalloutConfig& c) {
  json j = {
      {"servers", c.servers},
      {"user", c.user},
      {"password_file", c.password_file},
      {"ca_file", c.ca_file},
      {"subject", c.subject},
      {"queue_group", c.queue_group},
      {"issuer_seed_file", c.issuer_seed_file},
      {"xkey_seed_file", c.xkey_seed_file},
      {"target_account", c.target_account},
      {"allowed_servers", c.allowed_servers},
      {"max_user_ttl_s", c.max_user_ttl_s},
      {"log_level", c.log_level},
      {"http_listen", c.http_listen},
      {"oidc",
       {{"issuer", c.oidc.issuer},
        {"audiences", c.oidc.audiences},
        {"jwks_uri", c.oidc.jwks_uri},
        {"algorithms", c.oidc.algorithms},
        {"leeway_s", c.oidc.leeway_s},
        {"ca_file", c.oidc.ca_file}}},
      {"permissions",
       {{"pub_allow", c.permissions.pub_allow},
        {"pub_deny", c.permissions.pub_deny},
        {"sub_allow", c.permissions.sub_allow},
        {"sub_deny", c.permissions.sub_deny},
        {"allow_responses", c.permissions.allow_responses}}},
  };
  return j.dump(2) + "\n";
}

}  // namespace natstack::callout
