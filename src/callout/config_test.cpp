#include "callout/config.hpp"

#include <gtest/gtest.h>

#include "callout/policy.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

/// A complete config with one issuer; tests change parts of it.
json Minimal() {
  return {{"servers", {"tls://127.0.1.1:4222"}},
          {"password_file", "/p"},
          {"issuer_seed_file", "/i"},
          {"xkey_seed_file", "/x"},
          {"issuers", {{{"issuer", "https://idp.example.com/"}, {"audiences", {"natstack"}}}}}};
}

Result<CalloutConfig> Parse(const json& j) { return ParseCalloutConfig(j.dump(), "c.json"); }

TEST(CalloutConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  auto c = Parse(Minimal());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->user, "callout");
  EXPECT_EQ(c->subject, "$SYS.REQ.USER.AUTH");
  EXPECT_EQ(c->queue_group, "natstack-callout");
  EXPECT_FALSE(c->no_randomize);
  EXPECT_FALSE(c->system.enabled());
  EXPECT_EQ(c->accounts, std::vector<std::string>{"AUTH"});
  EXPECT_EQ(c->default_account, "AUTH");
  EXPECT_EQ(c->max_user_ttl_s, 3600);
  EXPECT_EQ(c->workers, 0);
  EXPECT_EQ(c->queue_size, 1024);
  EXPECT_EQ(c->refusal_delay_ms, 0);
  EXPECT_TRUE(c->drop_reasons.empty());
  EXPECT_FALSE(c->per_host.enabled());
  EXPECT_FALSE(c->per_user.enabled());
  ASSERT_EQ(c->issuers.size(), 1u);
  const IssuerSettings& i = c->issuers[0];
  EXPECT_EQ(i.name, "idp.example.com");  // from the issuer's host
  EXPECT_EQ(i.algorithms, std::vector<std::string>{"RS256"});
  EXPECT_EQ(i.leeway_s, 30);
  EXPECT_EQ(i.max_age_s, 0);
  EXPECT_EQ(i.user_claim, "sub");
  EXPECT_EQ(i.template_name, "default");
  EXPECT_EQ(i.account, "");
  EXPECT_EQ(i.jwks_refresh_s, 300);
  EXPECT_EQ(i.jwks_min_refresh_s, 1);
  EXPECT_EQ(i.jwks_max_refresh_s, 3600);
  EXPECT_EQ(i.unknown_kid_wait_ms, 1000);
  EXPECT_FALSE(i.optional);
  // No template named default: the built-in one, private by default.
  const PermissionTemplate d = DefaultTemplate();
  EXPECT_FALSE(d.allow_responses);  // a publish bypass: off unless asked for
  EXPECT_EQ(d.sub_allow, (std::vector<std::string>{"user.{userId}.>", "_INBOX_{userId}.>"}));
}

TEST(CalloutConfigTest, EverythingRoundTripsThroughSerialize) {
  const std::string service_key = nkeys::KeyPair::Generate(nkeys::Role::kUser).PublicKey();
  json j = Minimal();
  j["accounts"] = {"AUTH", "TENANT_A", "SERVICES"};
  j["no_randomize"] = true;
  j["system"] = {{"user", "sys"}, {"password_file", "/s"}};
  j["issuers"].push_back({{"name", "corp"},
                          {"issuer", "https://corp.example/realms/x"},
                          {"audiences", {"nats", "api"}},
                          {"jwks_uri", "https://corp.example/keys"},
                          {"algorithms", {"ES256", "EdDSA"}},
                          {"token_types", {"at+jwt"}},
                          {"required_claims", {{"email_verified", true}}},
                          {"user_claim", "preferred_username"},
                          {"user_prefix", "corp_"},
                          {"max_age_s", 600},
                          {"optional", true}});
  j["templates"] = {{"default", {{"pub_allow", {"user.{userId}.>"}}}},
                    {"tenant", {{"sub_allow", {"tenant.{claim:org}.>"}}}},
                    {"responder",
                     {{"sub_allow", {"svc.>"}}, {"allow_responses", true}, {"responses_max", 3}}}};
  j["rules"] = {{{"name", "acme"},
                 {"issuer", "corp"},
                 {"claims", {{"org", "acme"}}},
                 {"template", "tenant"},
                 {"account", "TENANT_A"}}};
  j["services"] = {{{"name", "billing"},
                    {"public_key", service_key},
                    {"template", "responder"},
                    {"account", "SERVICES"}}};
  j["drop_reasons"] = {"unknown_issuer"};
  j["refusal_delay_ms"] = 50;
  j["revocation_file"] = "/r.json";
  j["per_host"] = {{"per_s", 20.5}, {"burst", 40}};
  j["per_user"] = {{"per_s", 2}};
  j["previous_xkey_seed_files"] = {"/old-x"};
  auto c = Parse(j);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->per_user.burst, 2);  // default: per_s rounded up
  auto again = ParseCalloutConfig(SerializeCalloutConfig(*c), "again.json");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(SerializeCalloutConfig(*again), SerializeCalloutConfig(*c));
  EXPECT_EQ(again->issuers[1].user_claim, "preferred_username");
  EXPECT_EQ(again->issuers[1].token_types, std::vector<std::string>{"at+jwt"});
  EXPECT_EQ(again->issuers[1].required_claims, json({{"email_verified", true}}));
  EXPECT_EQ(again->rules[0].claims, json({{"org", "acme"}}));
  EXPECT_EQ(again->templates.at("responder").responses_max, 3);
  EXPECT_EQ(again->services[0].public_key, service_key);
  EXPECT_EQ(again->per_host.per_s, 20.5);
  EXPECT_TRUE(again->system.enabled());
}

TEST(CalloutConfigTest, ErrorsNameTheKey) {
  const std::string account_key = nkeys::KeyPair::Generate(nkeys::Role::kAccount).PublicKey();
  struct Case {
    std::function<void(json&)> mutate;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j.erase("password_file"); }, "c.json: password_file: is required"},
      {[](json& j) { j["servers"] = "x"; }, "c.json: servers: expected a list of strings"},
      {[](json& j) { j["servers"] = {"a", 1}; }, "c.json: servers[1]: expected a string"},
      {[](json& j) { j["servers"] = json::array(); }, "c.json: servers: needs at least one URL"},
      {[](json& j) { j["oidc"] = json::object(); }, "c.json: oidc: unknown key"},
      {[](json& j) { j["issuers"][0]["audiences"] = json::array(); },
       "c.json: issuers[0].audiences: needs at least one audience"},
      {[](json& j) { j["issuers"][0]["leeway"] = 5; }, "c.json: issuers[0].leeway: unknown key"},
      {[](json& j) { j["issuers"][0]["issuer"] = "idp"; },
       "c.json: issuers[0].issuer: expected an http(s) URL"},
      {[](json& j) { j["issuers"][0]["algorithms"] = {"RS256", "HS256"}; },
       "c.json: issuers[0]: algorithm HS256 is never allowed (only asymmetric signatures)"},
      {[](json& j) { j["issuers"][0]["algorithms"] = {"none"}; },
       "c.json: issuers[0]: algorithm none is never allowed (only asymmetric signatures)"},
      {[](json& j) { j["issuers"][0]["unknown_kid_wait_ms"] = 5000; },
       "c.json: issuers[0].unknown_kid_wait_ms: must be between 0 and 1500"},
      {[](json& j) { j["issuers"][0]["required_claims"] = {"x"}; },
       "c.json: issuers[0].required_claims: expected an object of claim names to values"},
      {[](json& j) { j["issuers"][0]["required_claims"] = {{"org", {{"a", 1}}}}; },
       "c.json: issuers[0].required_claims.org: expected a value, a list of values or null"},
      {[](json& j) { j["issuers"][0]["user_prefix"] = "a.b"; },
       "c.json: issuers[0].user_prefix: must be usable in a subject token"},
      {[](json& j) { j["issuers"].push_back(j["issuers"][0]); },
       "c.json: issuers[1].name: another issuer is named \"idp.example.com\""},
      {[](json& j) {
         j["issuers"].push_back(j["issuers"][0]);
         j["issuers"][1]["name"] = "other";
       },
       "c.json: issuers[1].issuer: \"https://idp.example.com/\" is configured twice"},
      {[](json& j) { j["issuers"][0]["template"] = "admin"; },
       "c.json: issuers[0].template: no template named \"admin\" (templates)"},
      {[](json& j) { j["issuers"][0]["account"] = "OTHER"; },
       "c.json: issuers[0].account: account \"OTHER\" is not one of the cluster's accounts "
       "(accounts)"},
      {[](json& j) { j["issuers"] = json::array(); },
       "c.json: issuers: needs at least one OIDC issuer or service"},
      {[](json& j) { j["accounts"] = {"AUTH", "SYS"}; },
       "c.json: accounts[1]: identities are never placed in the system account: it controls "
       "the cluster"},
      {[](json& j) { j["accounts"] = {"TENANT"}; },
       "c.json: default_account: account \"AUTH\" is not one of the cluster's accounts "
       "(accounts)"},
      {[](json& j) { j["templates"] = {{"x", {{"pub_allow", {"user.{name}.>"}}}}}; },
       "c.json: templates.x.pub_allow: \"user.{name}.>\" has the placeholder {name}; only "
       "{userId} and {claim:NAME} exist"},
      {[](json& j) { j["templates"] = {{"x", {{"sub_allow", {"a..b"}}}}}; },
       "c.json: templates.x.sub_allow: \"a..b\" is not a valid NATS subject"},
      {[](json& j) { j["templates"] = {{"x", {{"pub_allow", {"a.>.b"}}}}}; },
       "c.json: templates.x.pub_allow: \"a.>.b\" is not a valid NATS subject"},
      {[](json& j) { j["templates"] = {{"x", {{"pub_allow", {"a.{userId"}}}}}; },
       "c.json: templates.x.pub_allow: \"a.{userId\" has an unterminated placeholder"},
      {[](json& j) { j["templates"] = {{"x", {{"pub_allow", {"a b"}}}}}; },
       "c.json: templates.x.pub_allow: \"a b\" is not a valid NATS subject"},
      {[](json& j) { j["templates"] = {{"x y", json::object()}}; },
       "c.json: templates.x y: a template name is letters, digits, '_', '-', '.' (at most 64)"},
      {[](json& j) { j["templates"] = {{"x", {{"responses_max", 0}}}}; },
       "c.json: templates.x.responses_max: must be between 1 and 1000000"},
      {[](json& j) { j["rules"] = {{{"claims", {{"org", "a"}}}}}; },
       "c.json: rules[0].template: a rule needs a template, an account or both"},
      {[](json& j) { j["rules"] = {{{"issuer", "nope"}, {"template", "default"}}}; },
       "c.json: rules[0].issuer: no issuer named \"nope\""},
      {[](json& j) { j["rules"] = {{{"account", "TENANT"}}}; },
       "c.json: rules[0].account: account \"TENANT\" is not one of the cluster's accounts "
       "(accounts)"},
      {[&](json& j) { j["services"] = {{{"name", "svc"}, {"public_key", "UABC"}}}; },
       "c.json: services[0].public_key: expected a user (U...) or account (A...) NKey"},
      {[&](json& j) { j["services"] = {{{"name", "a.b"}, {"public_key", account_key}}}; },
       "c.json: services[0].name: \"a.b\" is not a name (letters, digits, '_', '-'; one "
       "subject token)"},
      {[&](json& j) {
         j["services"] = {{{"name", "a"}, {"public_key", account_key}},
                          {{"name", "b"}, {"public_key", account_key}}};
       },
       "c.json: services[1].public_key: another service has this key"},
      {[](json& j) { j["drop_reasons"] = {"expired", "bored"}; },
       "c.json: drop_reasons[1]: \"bored\" is not a refusal reason"},
      {[](json& j) { j["allowed_servers"] = {"NABC"}; },
       "c.json: allowed_servers[0]: expected a server key (N...)"},
      {[](json& j) { j["max_user_ttl_s"] = 0; }, "c.json: max_user_ttl_s: must be between 1 and 604800"},
      {[](json& j) { j["log_level"] = "loud"; }, "c.json: log_level: must be debug, info, warn or error"},
      {[](json& j) { j["http_listen"] = "9401"; },
       "c.json: http_listen: expected HOST:PORT, got \"9401\""},
      {[](json& j) { j["per_host"] = {{"burst", 3}}; }, "c.json: per_host.per_s: is required"},
      {[](json& j) { j["per_host"] = {{"per_s", -1}}; },
       "c.json: per_host.per_s: must be between 0.001 and 1000000"},
      {[](json& j) { j["system"] = {{"user", "sys"}}; }, "c.json: system.password_file: is required"},
      {[](json& j) { j["refusal_delay_ms"] = 2500; },
       "c.json: refusal_delay_ms: must be between 0 and 1500"},
      {[](json& j) { j["queue_size"] = 0; }, "c.json: queue_size: must be between 1 and 1048576"},
  };
  for (const auto& c : cases) {
    json j = Minimal();
    c.mutate(j);
    auto r = Parse(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message) << j.dump();
  }
}

TEST(CalloutConfigTest, SyntaxErrorsGiveLineAndColumn) {
  auto r = ParseCalloutConfig("{\n  \"servers\": [\n  oops\n}", "c.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("c.json:3:", 0), 0u) << r.error().message;
}

TEST(CalloutConfigTest, PartialConfigsNeedNoSecretsOrServers) {
  json j = Minimal();
  j.erase("servers");
  j.erase("password_file");
  j.erase("issuer_seed_file");
  EXPECT_FALSE(Parse(j));
  auto partial = ParseCalloutConfig(j.dump(), "c.json", ConfigCompleteness::kPartial);
  EXPECT_TRUE(partial) << partial.error().message;
}

TEST(CalloutEnvironmentTest, TheOriginalDesignsVariables) {
  CalloutConfig c;
  auto secrets = ApplyEnvironment(
      {{"NATS_SERVERS", "tls://a:4222, tls://b:4222,"},
       {"NATS_AUTH_NKEY_ISSUER_SEED", "SAxxx"},
       {"NATS_AUTH_XKEY_ISSUER_SEED", "SXxxx"},
       {"NATS_AUTH_ACCOUNT", "APP"},
       {"AUTH0_DOMAIN", "tenant.eu.auth0.com"},
       {"AUTH0_API_IDENTIFIER", "https://api.example.com"},
       {"NATS_REGULAR_USER_PASSWORD", "pw"},
       {"NATS_SYS_USER_PASSWORD", "syspw"},
       {"UNRELATED", "x"}},
      c);
  ASSERT_TRUE(secrets) << secrets.error().message;
  EXPECT_EQ(c.servers, (std::vector<std::string>{"tls://a:4222", "tls://b:4222"}));
  EXPECT_EQ(secrets->issuer_seed, "SAxxx");
  EXPECT_EQ(secrets->xkey_seed, "SXxxx");
  EXPECT_EQ(secrets->password, "pw");
  EXPECT_EQ(secrets->system_password, "syspw");
  EXPECT_EQ(c.user, "regular_user");  // who the original design's services connect as
  EXPECT_EQ(c.default_account, "APP");
  EXPECT_EQ(c.accounts, std::vector<std::string>{"APP"});  // not the built-in AUTH
  ASSERT_EQ(c.issuers.size(), 1u);
  EXPECT_EQ(c.issuers[0].name, "auth0");
  EXPECT_EQ(c.issuers[0].issuer, "https://tenant.eu.auth0.com/");
  EXPECT_EQ(c.issuers[0].jwks_uri, "https://tenant.eu.auth0.com/.well-known/jwks.json");
  EXPECT_EQ(c.issuers[0].audiences, std::vector<std::string>{"https://api.example.com"});
  EXPECT_TRUE(ValidateCalloutConfig(c, "environment"));

  // AUTH0_DOMAIN given as a URL, as one variant of the original design does.
  CalloutConfig url;
  ASSERT_TRUE(ApplyEnvironment({{"AUTH0_DOMAIN", "https://login.example.com/"},
                                {"AUTH0_API_IDENTIFIER", "api"}},
                               url));
  EXPECT_EQ(url.issuers[0].issuer, "https://login.example.com/");
}

TEST(CalloutEnvironmentTest, BadVariablesAreNamed) {
  struct Case {
    std::map<std::string, std::string> env;
    const char* message;
  };
  for (const Case& k : std::vector<Case>{
           {{{"NATS_SERVERS", " , "}}, "environment: NATS_SERVERS: lists no server"},
           {{{"AUTH0_DOMAIN", "x.auth0.com"}},
            "environment: AUTH0_API_IDENTIFIER: AUTH0_DOMAIN and AUTH0_API_IDENTIFIER go together"},
           {{{"AUTH0_DOMAIN", "bad domain"}, {"AUTH0_API_IDENTIFIER", "a"}},
            "environment: AUTH0_DOMAIN: \"bad domain\" is not a domain or URL"},
           {{{"NATS_AUTH_NKEY_ISSUER_SEED", "SA"}, {"NATS_AUTH_NKEY_ISSUER_SEED_FILE", "/f"}},
            "environment: NATS_AUTH_NKEY_ISSUER_SEED: set both it and "
            "NATS_AUTH_NKEY_ISSUER_SEED_FILE; choose one"},
       }) {
    CalloutConfig c;
    auto r = ApplyEnvironment(k.env, c);
    ASSERT_FALSE(r) << k.message;
    EXPECT_EQ(r.error().message, k.message);
  }
}

TEST(CalloutEnvironmentTest, FileVariantsSetPaths) {
  CalloutConfig c;
  auto s = ApplyEnvironment({{"NATS_AUTH_NKEY_ISSUER_SEED_FILE", "/run/secrets/issuer"},
                             {"NATS_REGULAR_USER_PASSWORD_FILE", "/run/secrets/pw"}},
                            c);
  ASSERT_TRUE(s);
  EXPECT_EQ(c.issuer_seed_file, "/run/secrets/issuer");
  EXPECT_EQ(c.password_file, "/run/secrets/pw");
  EXPECT_EQ(c.user, "regular_user");
  EXPECT_TRUE(s->issuer_seed.empty());
  // With a config file, its user stands (the default "callout" included).
  CalloutConfig from_file;
  ASSERT_TRUE(ApplyEnvironment({{"NATS_REGULAR_USER_PASSWORD", "pw"}, {"NATS_AUTH_ACCOUNT", "APP"}},
                               from_file, true));
  EXPECT_EQ(from_file.user, "callout");
  EXPECT_EQ(from_file.accounts, (std::vector<std::string>{"AUTH", "APP"}));  // the file's, plus
}

TEST(CalloutEnvironmentTest, LoadWithoutAFileNeedsTheEnvironment) {
  auto none = LoadCalloutConfig("", {});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no callout config"), std::string::npos);
  auto env_only = LoadCalloutConfig("", {{"NATS_SERVERS", "nats://127.0.0.1:4222"},
                                         {"AUTH0_DOMAIN", "t.auth0.com"},
                                         {"AUTH0_API_IDENTIFIER", "api"}});
  ASSERT_TRUE(env_only) << env_only.error().message;
  EXPECT_TRUE(env_only->used_environment);
  auto missing = LoadCalloutConfig("/nonexistent/callout.json", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace natstack::callout
