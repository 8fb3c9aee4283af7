#include "callout/policy.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nkeys/nkeys.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

/// corp and partner (OIDC), billing (service); templates with every kind of placeholder; rules
/// covering issuer filters, value lists, presence and JSON pointers.
CalloutConfig TestConfig() {
  CalloutConfig c;
  c.servers = {"nats://127.0.0.1:4222"};
  c.accounts = {"AUTH", "ADMIN", "EU", "SVC", "PARTNERS"};
  c.default_account = "AUTH";

  PermissionTemplate def;
  def.pub_allow = {"user.{userId}.>"};
  def.sub_allow = {"user.{userId}.>", "_INBOX_{userId}.>"};
  c.templates["default"] = def;
  PermissionTemplate team;
  team.pub_allow = {"team.{claim:team}.>"};
  team.pub_deny = {"team.{claim:team}.admin"};
  team.sub_allow = {"team.{claim:team}.> workers"};
  c.templates["team"] = team;
  PermissionTemplate org;
  org.pub_allow = {"org.{claim:/org/id}.{userId}"};
  c.templates["org"] = org;
  PermissionTemplate tenant;
  tenant.pub_allow = {"tenant.{claim:https://example.com/tenant}.>"};
  c.templates["tenant"] = tenant;
  PermissionTemplate admin;
  admin.pub_allow = {">"};
  admin.sub_allow = {">"};
  admin.allow_responses = true;
  admin.responses_max = 5;
  admin.responses_ttl_ms = 2000;
  c.templates["admin"] = admin;
  PermissionTemplate svc;
  svc.pub_allow = {"svc.{userId}.>"};
  svc.sub_deny = {"svc.{userId}.private"};
  c.templates["svc"] = svc;

  IssuerSettings corp;
  corp.name = "corp";
  corp.issuer = "https://corp.example/";
  corp.audiences = {"natstack"};
  IssuerSettings partner;
  partner.name = "partner";
  partner.issuer = "https://partner.example/";
  partner.audiences = {"natstack"};
  partner.template_name = "org";
  partner.account = "PARTNERS";
  partner.user_prefix = "p_";
  c.issuers = {corp, partner};

  ServiceSettings billing;
  billing.name = "billing";
  billing.public_key = nkeys::KeyPair::Generate(nkeys::Role::kUser).PublicKey();
  billing.template_name = "svc";
  billing.account = "SVC";
  c.services = {billing};

  Rule admins;
  admins.name = "admins";
  admins.issuer = "corp";
  admins.claims = {{"groups", "admin"}};
  admins.template_name = "admin";
  admins.account = "ADMIN";
  Rule eu;
  eu.name = "eu-residents";
  eu.claims = {{"/address/country", json::array({"DE", "FR"})}};
  eu.account = "EU";  // template: the issuer's
  Rule teams;
  teams.name = "teams";
  teams.claims = {{"team", nullptr}};
  teams.template_name = "team";  // account: the issuer's
  Rule gold;
  gold.name = "partner-gold";
  gold.issuer = "partner";
  gold.claims = {{"email_verified", true}, {"tier", json::array({"gold", "silver"})}};
  gold.template_name = "tenant";
  c.rules = {admins, eu, teams, gold};
  return c;
}

Identity Oidc(std::string source, std::string user_id, json claims = json::object()) {
  Identity id;
  id.kind = Identity::Kind::kOidc;
  id.source = std::move(source);
  id.user_id = std::move(user_id);
  id.claims = std::move(claims);
  return id;
}

class PolicyDecideTest : public ::testing::Test {
 protected:
  PolicyDecideTest() : config_(TestConfig()), policy_(Build(config_)) {}

  static Policy Build(const CalloutConfig& config) {
    auto p = Policy::Build(config);
    EXPECT_TRUE(p) << p.error().message;
    return std::move(*p);
  }
  Grant Decide(const Identity& id) {
    auto g = policy_.Decide(id);
    EXPECT_TRUE(g) << g.error().detail;
    return g ? *g : Grant{};
  }
  /// The refusal detail, or "granted".
  std::string Refusal(const Identity& id) {
    auto g = policy_.Decide(id);
    return g ? "granted" : g.error().detail;
  }

  CalloutConfig config_;
  Policy policy_;
};

// Even a template that allows everything never reaches the callout's own traffic.
TEST_F(PolicyDecideTest, TheCalloutsSubjectsAreDeniedToEveryIdentity) {
  const Strings denied = {"$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"};
  Grant admin = Decide(Oidc("corp", "root", {{"groups", "admin"}}));
  ASSERT_EQ(admin.template_name, "admin");
  EXPECT_EQ(admin.pub.allow, (Strings{">"}));
  EXPECT_EQ(admin.pub.deny, denied);
  EXPECT_EQ(admin.sub.deny, denied);
  Identity svc;
  svc.kind = Identity::Kind::kService;
  svc.source = "billing";
  svc.user_id = "billing";
  Grant s = Decide(svc);
  for (const std::string& d : denied) {
    EXPECT_NE(std::find(s.pub.deny.begin(), s.pub.deny.end(), d), s.pub.deny.end()) << d;
    EXPECT_NE(std::find(s.sub.deny.begin(), s.sub.deny.end(), d), s.sub.deny.end()) << d;
  }
}

TEST_F(PolicyDecideTest, NoRuleMatchedUsesTheIssuersOwnPlacement) {
  Grant g = Decide(Oidc("corp", "alice", {{"groups", json::array({"dev"})}}));
  EXPECT_EQ(g.rule, "");
  EXPECT_EQ(g.template_name, "default");
  EXPECT_EQ(g.account, "AUTH") << "the issuer has none: default_account";
  EXPECT_EQ(g.pub.allow, (Strings{"user.alice.>"}));
  EXPECT_EQ(g.sub.allow, (Strings{"user.alice.>", "_INBOX_alice.>"}));
  EXPECT_EQ(g.pub.deny, (Strings{"$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"}));
  EXPECT_FALSE(g.resp.has_value());

  g = Decide(Oidc("partner", "p_bob", {{"org", {{"id", "acme"}}}}));
  EXPECT_EQ(g.template_name, "org");
  EXPECT_EQ(g.account, "PARTNERS");
  EXPECT_EQ(g.pub.allow, (Strings{"org.acme.p_bob"}));
}

TEST_F(PolicyDecideTest, TheFirstMatchingRuleWins) {
  // Matches "admins", "eu-residents" and "teams": the first one decides everything.
  Grant g = Decide(Oidc("corp", "alice",
                        {{"groups", json::array({"dev", "admin"})},
                         {"team", "blue"},
                         {"address", {{"country", "DE"}}}}));
  EXPECT_EQ(g.rule, "admins");
  EXPECT_EQ(g.template_name, "admin");
  EXPECT_EQ(g.account, "ADMIN");
  EXPECT_EQ(g.pub.allow, (Strings{">"}));
  ASSERT_TRUE(g.resp.has_value());
  EXPECT_EQ(g.resp->max, 5);
  EXPECT_EQ(g.resp->ttl_ns, 2000LL * 1000000);

  // Without the admin group, eu-residents comes before teams.
  g = Decide(Oidc("corp", "alice", {{"team", "blue"}, {"address", {{"country", "DE"}}}}));
  EXPECT_EQ(g.rule, "eu-residents");
}

TEST_F(PolicyDecideTest, IssuerFilteredRulesSkipOtherIssuers) {
  // "admins" is for corp only: a partner identity in the admin group does not get it.
  Grant g = Decide(Oidc("partner", "p_eve", {{"groups", "admin"}, {"org", {{"id", "acme"}}}}));
  EXPECT_EQ(g.rule, "");
  EXPECT_EQ(g.template_name, "org");
  EXPECT_EQ(g.account, "PARTNERS");
  // "partner-gold" is for the partner only.
  g = Decide(Oidc("corp", "alice", {{"email_verified", true}, {"tier", "gold"}}));
  EXPECT_EQ(g.rule, "");
}

TEST_F(PolicyDecideTest, ARuleSettingOnlyTheAccountKeepsTheIssuersTemplateAndViceVersa) {
  Grant g = Decide(Oidc("partner", "p_bob",
                        {{"address", {{"country", "FR"}}}, {"org", {{"id", "acme"}}}}));
  EXPECT_EQ(g.rule, "eu-residents");
  EXPECT_EQ(g.account, "EU");
  EXPECT_EQ(g.template_name, "org");
  EXPECT_EQ(g.pub.allow, (Strings{"org.acme.p_bob"}));

  g = Decide(Oidc("partner", "p_bob", {{"team", "red"}}));
  EXPECT_EQ(g.rule, "teams");
  EXPECT_EQ(g.template_name, "team");
  EXPECT_EQ(g.account, "PARTNERS");
}

TEST_F(PolicyDecideTest, ValueListsAcceptAnyOfTheirValues) {
  for (const char* country : {"DE", "FR"}) {
    EXPECT_EQ(Decide(Oidc("corp", "a", {{"address", {{"country", country}}}})).rule,
              "eu-residents")
        << country;
  }
  for (const json& country : {json("US"), json("de"), json(49), json(nullptr),
                              json::array({"US", "CA"})}) {
    EXPECT_EQ(Decide(Oidc("corp", "a", {{"address", {{"country", country}}}})).rule, "")
        << country.dump();
  }
  // An array claim matches when it holds one of the values.
  EXPECT_EQ(Decide(Oidc("corp", "a", {{"address", {{"country", json::array({"US", "FR"})}}}})).rule,
            "eu-residents");
}

TEST_F(PolicyDecideTest, NullOnlyRequiresPresence) {
  for (const json& team : {json("blue"), json(7), json(true), json::object(), json(nullptr)}) {
    Identity id = Oidc("corp", "a", {{"team", team}});
    EXPECT_EQ(policy_.Trace(id).back(), "rule \"teams\": matches") << team.dump();
  }
  EXPECT_EQ(Decide(Oidc("corp", "a", {{"teams", "blue"}})).rule, "");
}

TEST_F(PolicyDecideTest, EveryClaimOfARuleMustMatch) {
  json claims = {{"email_verified", true}, {"tier", "gold"},
                 {"https://example.com/tenant", "t1"}, {"org", {{"id", "acme"}}}};
  EXPECT_EQ(Decide(Oidc("partner", "p", claims)).rule, "partner-gold");
  claims["tier"] = "bronze";
  EXPECT_EQ(Decide(Oidc("partner", "p", claims)).rule, "");
  claims["tier"] = "silver";
  claims["email_verified"] = "true";  // a string, not the boolean
  EXPECT_EQ(Decide(Oidc("partner", "p", claims)).rule, "");
  claims.erase("email_verified");
  EXPECT_EQ(Decide(Oidc("partner", "p", claims)).rule, "");
}

TEST_F(PolicyDecideTest, JsonPointerRuleClaimsNeedTheWholePath) {
  EXPECT_EQ(Decide(Oidc("corp", "a", {{"address", "DE"}})).rule, "");
  EXPECT_EQ(Decide(Oidc("corp", "a", {{"address", json::array({"DE"})}})).rule, "");
  EXPECT_EQ(Decide(Oidc("corp", "a", {{"/address/country", "DE"}})).rule, "")
      << "a pointer never matches a top-level claim named like it";
}

TEST_F(PolicyDecideTest, ServicesIgnoreRules) {
  Identity svc;
  svc.kind = Identity::Kind::kService;
  svc.source = "billing";
  svc.user_id = "billing";
  svc.claims = {{"groups", "admin"}, {"team", "blue"}};
  Grant g = Decide(svc);
  EXPECT_EQ(g.rule, "");
  EXPECT_EQ(g.template_name, "svc");
  EXPECT_EQ(g.account, "SVC");
  EXPECT_EQ(g.pub.allow, (Strings{"svc.billing.>"}));
  EXPECT_EQ(g.sub.deny, (Strings{"svc.billing.private", "$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"}));
  EXPECT_EQ(policy_.Trace(svc), (Strings{"service \"billing\": fixed template and account"}));
}

TEST_F(PolicyDecideTest, AnUnknownSourceIsRefused) {
  EXPECT_NE(Refusal(Oidc("nobody", "a")), "granted");
  Identity svc;
  svc.kind = Identity::Kind::kService;
  svc.source = "corp";  // an issuer's name, but a service identity
  svc.user_id = "corp";
  EXPECT_NE(Refusal(svc), "granted");
}

TEST_F(PolicyDecideTest, ClaimPlaceholdersAreFilledWithOneSubjectToken) {
  Grant g = Decide(Oidc("corp", "alice", {{"team", "blue-7_x"}}));
  EXPECT_EQ(g.pub.allow, (Strings{"team.blue-7_x.>"}));
  EXPECT_EQ(g.pub.deny, (Strings{"team.blue-7_x.admin", "$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"}));
  EXPECT_EQ(g.sub.allow, (Strings{"team.blue-7_x.> workers"})) << "the queue group stays";
  // Integers are written out.
  EXPECT_EQ(Decide(Oidc("corp", "alice", {{"team", 42}})).pub.allow, (Strings{"team.42.>"}));
  EXPECT_EQ(Decide(Oidc("corp", "alice", {{"team", -3}})).pub.allow, (Strings{"team.-3.>"}));
  // Non-ASCII is one token too.
  EXPECT_EQ(Decide(Oidc("corp", "alice", {{"team", "équipe"}})).pub.allow,
            (Strings{"team.équipe.>"}));
}

TEST_F(PolicyDecideTest, ClaimValuesThatWouldChangeASubjectsShapeAreRefused) {
  const json bad[] = {"a.b",        "*",          ">",           "a*",        "a>",
                      "a b",        "a\tb",       "a\nb",        "\r",        " ",
                      "",           "a\x7f",      std::string(257, 'x'),    1.5,
                      true,         nullptr,      json::array({"blue"}), json::object(),
                      json{{"name", "blue"}}};
  for (const json& value : bad) {
    const std::string detail = Refusal(Oidc("corp", "alice", {{"team", value}}));
    EXPECT_NE(detail, "granted") << value.dump();
    EXPECT_NE(detail.find("team"), std::string::npos) << "the detail names the claim: " << detail;
  }
  EXPECT_NE(Refusal(Oidc("corp", "alice", {{"team", std::string(257, 'x')}})), "granted");
  EXPECT_EQ(Refusal(Oidc("corp", "alice", {{"team", std::string(256, 'x')}})), "granted");
}

TEST_F(PolicyDecideTest, AMissingClaimIsRefused) {
  // "partner-gold" picks the tenant template, whose claim the token does not carry.
  const std::string detail = Refusal(Oidc("partner", "p", {{"email_verified", true}, {"tier", "gold"}}));
  EXPECT_NE(detail, "granted");
  EXPECT_NE(detail.find("https://example.com/tenant"), std::string::npos) << detail;
  EXPECT_NE(detail.find("missing"), std::string::npos) << detail;
}

TEST_F(PolicyDecideTest, PointerAndLiteralClaimNamesInPlaceholders) {
  // /org/id is a JSON pointer; "https://example.com/tenant" is a top-level claim (dots and all).
  EXPECT_EQ(Decide(Oidc("partner", "p_1", {{"org", {{"id", "acme"}}}})).pub.allow,
            (Strings{"org.acme.p_1"}));
  EXPECT_NE(Refusal(Oidc("partner", "p_1", {{"org", {{"id", "ac.me"}}}})), "granted");
  EXPECT_NE(Refusal(Oidc("partner", "p_1", {{"org", "acme"}})), "granted");
  EXPECT_NE(Refusal(Oidc("partner", "p_1", {{"/org/id", "acme"}})), "granted");
  json claims = {{"email_verified", true}, {"tier", "gold"}, {"https://example.com/tenant", "t1"}};
  EXPECT_EQ(Decide(Oidc("partner", "p", claims)).pub.allow, (Strings{"tenant.t1.>"}));
  claims["https://example.com/tenant"] = "t1.>";
  EXPECT_NE(Refusal(Oidc("partner", "p", claims)), "granted");
}

TEST_F(PolicyDecideTest, UserIdsThatAreNotOneSubjectTokenAreRefused) {
  for (const char* user : {"", "a.b", "*", ">", "a b", "a\nb"}) {
    EXPECT_NE(Refusal(Oidc("corp", user)), "granted") << user;
  }
  EXPECT_EQ(Refusal(Oidc("corp", "auth0|alice@example")), "granted");
}

TEST_F(PolicyDecideTest, TraceExplainsEveryRuleTried) {
  const Strings trace =
      policy_.Trace(Oidc("partner", "p", {{"groups", "admin"}, {"address", {{"country", "US"}}}}));
  ASSERT_EQ(trace.size(), 5u);
  EXPECT_EQ(trace[0], "rule \"admins\": skipped (for issuer \"corp\")");
  EXPECT_NE(trace[1].find("rule \"eu-residents\": no match (claim \"/address/country\""),
            std::string::npos)
      << trace[1];
  EXPECT_EQ(trace[2], "rule \"teams\": no match (no claim \"team\")");
  EXPECT_EQ(trace[3], "rule \"partner-gold\": no match (no claim \"email_verified\")");
  EXPECT_EQ(trace[4], "no rule matched: the issuer's own template and account");

  const Strings matched = policy_.Trace(Oidc("corp", "a", {{"groups", "admin"}}));
  EXPECT_EQ(matched, (Strings{"rule \"admins\": matches"}));
}

TEST_F(PolicyDecideTest, TraceQuotesHostileClaimValues) {
  const Strings trace = policy_.Trace(
      Oidc("corp", "a", {{"address", {{"country", std::string("X\n\x1b[31m") + std::string(300, 'y')}}}}));
  for (const auto& line : trace) {
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\x1b'), std::string::npos);
    EXPECT_LT(line.size(), 400u);
  }
}

TEST(PolicyBuildTest, ADefaultTemplateExistsWhenTheConfigHasNone) {
  CalloutConfig c = TestConfig();
  c.templates.erase("default");
  auto p = Policy::Build(c);
  ASSERT_TRUE(p) << p.error().message;
  auto g = p->Decide(Oidc("corp", "alice"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->pub.allow, (Strings{"user.alice.>", "_INBOX_alice.>"}));
  EXPECT_EQ(g->sub.allow, (Strings{"user.alice.>", "_INBOX_alice.>"}));
  EXPECT_FALSE(g->resp.has_value());
  EXPECT_FALSE(DefaultTemplate().allow_responses);
}

TEST(PolicyBuildTest, RefusesWhatTheConfigValidatorRefuses) {
  CalloutConfig c = TestConfig();
  c.rules[0].template_name = "nope";
  EXPECT_FALSE(Policy::Build(c));
  c = TestConfig();
  c.rules[0].account = "SYS";
  EXPECT_FALSE(Policy::Build(c));
  c = TestConfig();
  c.templates["bad"].pub_allow = {"a.{claim:x"};
  EXPECT_FALSE(Policy::Build(c));
  c = TestConfig();
  c.templates["bad"].pub_allow = {"a.{user}"};
  EXPECT_FALSE(Policy::Build(c));
}

TEST(CompileSubjectTest, SplitsLiteralsAndPlaceholders) {
  auto s = CompileSubject("a.{userId}.b{claim:x}c.{claim:/p/0}");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->parts.size(), 6u);
  EXPECT_EQ(s->parts[0].kind, Policy::Part::Kind::kLiteral);
  EXPECT_EQ(s->parts[0].text, "a.");
  EXPECT_EQ(s->parts[1].kind, Policy::Part::Kind::kUserId);
  EXPECT_EQ(s->parts[2].text, ".b");
  EXPECT_EQ(s->parts[3].kind, Policy::Part::Kind::kClaim);
  EXPECT_EQ(s->parts[3].text, "x");
  EXPECT_EQ(s->parts[4].text, "c.");
  EXPECT_EQ(s->parts[5].kind, Policy::Part::Kind::kClaim);
  EXPECT_EQ(s->parts[5].text, "/p/0");
}

TEST(CompileSubjectTest, RefusesMalformedPlaceholders) {
  for (const char* bad : {"a.{userid}", "a.{claim:}", "a.{claim:x", "a.}", "a.{claim:{x}}",
                          "a.{claim:/~2}", "a.{}", "{env:HOME}"}) {
    auto s = CompileSubject(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(CompileSubject("a.{claim:" + std::string(257, 'x') + "}"));
  EXPECT_TRUE(CompileSubject("a.{claim:" + std::string(256, 'x') + "}"));
}

TEST(ValidateTemplateTest, ChecksSubjectsQueueGroupsAndResponses) {
  PermissionTemplate t;
  t.pub_allow = {"a.{userId}.>", "b.*.c"};
  t.sub_allow = {"a.{userId}.> q1"};
  EXPECT_TRUE(ValidateTemplate(t));
  t.pub_allow = {"a.{userId}.> q1"};  // queue groups only in subscribe lists
  EXPECT_FALSE(ValidateTemplate(t));
  t = PermissionTemplate{};
  t.sub_allow = {"a.b q1 q2"};
  EXPECT_FALSE(ValidateTemplate(t));
  t.sub_allow = {"a.b "};
  EXPECT_FALSE(ValidateTemplate(t));
  t = PermissionTemplate{};
  t.pub_deny = {"a..b"};
  auto v = ValidateTemplate(t, "templates.x");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("templates.x.pub_deny"), std::string::npos) << v.error().message;
  t = PermissionTemplate{};
  t.responses_max = 0;
  EXPECT_FALSE(ValidateTemplate(t));
  t.responses_max = 1000001;
  EXPECT_FALSE(ValidateTemplate(t));
  t.responses_max = 1;
  t.responses_ttl_ms = -1;
  EXPECT_FALSE(ValidateTemplate(t));
  t.responses_ttl_ms = 86400001;
  EXPECT_FALSE(ValidateTemplate(t));
  t.responses_ttl_ms = 86400000;
  EXPECT_TRUE(ValidateTemplate(t));
}

TEST(SubjectTest, IsValidSubject) {
  for (const char* ok : {"a", "a.b", "a.*", "a.>", ">", "*", "*.b.>", "_INBOX.x", "$JS.API.>"})
    EXPECT_TRUE(IsValidSubject(ok)) << ok;
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "a.>.b", "a>", "a*", "a.b*", "a b",
                          "a\tb", "a.\x7f"})
    EXPECT_FALSE(IsValidSubject(bad)) << bad;
}

TEST(SubjectTest, IsSubjectSafeToken) {
  for (const char* ok : {"a", "alice", "auth0|123", "a-b_c", "user@example", "ü"})
    EXPECT_TRUE(IsSubjectSafeToken(ok)) << ok;
  for (const char* bad : {"", "a.b", "*", ">", "a b", "a\tb", "a\nb", "\x7f", "a\x01"})
    EXPECT_FALSE(IsSubjectSafeToken(bad)) << bad;
  EXPECT_TRUE(IsSubjectSafeToken(std::string(256, 'a')));
  EXPECT_FALSE(IsSubjectSafeToken(std::string(257, 'a')));
  EXPECT_FALSE(IsSubjectSafeToken(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace natstack::callout
