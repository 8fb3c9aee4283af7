#include "callout/explain.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/evp.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1796314575;  // 2026-12-03T16:16:15Z
constexpr char kIss[] = "https://idp.example/";

const crypto::EvpPkeyPtr& IdpKey() {
  static const crypto::EvpPkeyPtr key = *crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  return key;
}

class ExplainTest : public ::testing::Test {
 protected:
  ExplainTest()
      : keys_(jwt::Jwks::FromKeys({*jwt::MakeJwk(IdpKey().get(), "kid-1")})),
        service_key_(nkeys::KeyPair::Generate(nkeys::Role::kUser)),
        clock_(kNow) {
    config_.servers = {"nats://127.0.0.1:4222"};
    config_.accounts = {"AUTH", "OPS"};
    config_.max_user_ttl_s = 3600;
    IssuerSettings idp;
    idp.name = "idp";
    idp.issuer = kIss;
    idp.audiences = {"natstack"};
    idp.algorithms = {"ES256"};
    config_.issuers = {idp};
    ServiceSettings svc;
    svc.name = "billing";
    svc.public_key = service_key_.PublicKey();
    config_.services = {svc};
    config_.templates["default"].pub_allow = {"user.{userId}.>"};
    config_.templates["default"].sub_allow = {"user.{userId}.>", "_INBOX_{userId}.>"};
    config_.templates["ops"].pub_allow = {"ops.>"};
    config_.templates["ops"].pub_deny = {"ops.secret"};
    config_.templates["ops"].allow_responses = true;
    config_.templates["ops"].responses_max = 3;
    config_.templates["ops"].responses_ttl_ms = 1500;
    Rule ops;
    ops.name = "operators";
    ops.issuer = "idp";
    ops.claims = {{"groups", "ops"}};
    ops.template_name = "ops";
    ops.account = "OPS";
    config_.rules = {ops};
    identities_ = std::make_unique<IdentityVerifier>(
        config_, std::vector<const jwt::KeySource*>{&keys_}, clock_);
    auto policy = Policy::Build(config_);
    EXPECT_TRUE(policy) << policy.error().message;
    policy_ = std::make_unique<Policy>(std::move(*policy));
    authorizer_ = std::make_unique<Authorizer>(
        config_, *identities_, *policy_,
        [this](std::string_view user, std::string_view) { return user == revoked_user_; }, clock_);
  }

  std::string Token(json extra = json::object(), int64_t exp_in = 600) {
    json payload = {{"iss", kIss}, {"sub", "alice"},       {"aud", "natstack"},
                    {"iat", kNow}, {"exp", kNow + exp_in}, {"jti", "tok-9"}};
    payload.update(extra);
    return *jwt::SignJws({{"alg", "ES256"}, {"kid", "kid-1"}, {"typ", "JWT"}}, payload,
                         IdpKey().get());
  }
  Explanation Explain(const std::string& token) {
    return callout::Explain(token, *authorizer_, *identities_, *policy_, config_,
                            clock_.UnixSeconds());
  }

  /// Neither the token, nor any of its three segments, appears in `out`.
  static void ExpectNoTokenMaterial(const std::string& out, const std::string& token) {
    const size_t dot1 = token.find('.');
    const size_t dot2 = token.find('.', dot1 + 1);
    ASSERT_NE(dot2, std::string::npos);
    const std::string segments[] = {token, token.substr(0, dot1),
                                    token.substr(dot1 + 1, dot2 - dot1 - 1),
                                    token.substr(dot2 + 1)};
    for (const std::string& s : segments) {
      ASSERT_FALSE(s.empty());
      EXPECT_EQ(out.find(s), std::string::npos) << "printed token material: " << s;
      // Nor a recognisable piece of it (the first 16 characters).
      EXPECT_EQ(out.find(s.substr(0, 16)), std::string::npos) << s.substr(0, 16);
    }
  }

  jwt::StaticJwks keys_;
  nkeys::KeyPair service_key_;
  testing::FakeClock clock_;
  CalloutConfig config_;
  std::string revoked_user_ = "mallory";
  std::unique_ptr<IdentityVerifier> identities_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
};

TEST_F(ExplainTest, AnAdmittedTokenAsJson) {
  const std::string token = Token({{"groups", json::array({"ops"})}});
  const Explanation e = Explain(token);
  ASSERT_TRUE(e.decision.admitted) << e.decision.reason << ": " << e.decision.detail;
  const json j = ExplanationJson(e);
  EXPECT_EQ(j["verdict"], "admitted");
  EXPECT_EQ(j["reason"], "admitted");
  EXPECT_EQ(j["detail"], "");
  EXPECT_EQ(j["source"], "idp");
  EXPECT_EQ(j["kind"], "oidc");
  EXPECT_EQ(j["user_id"], "alice");
  EXPECT_EQ(j["token_id"], "tok-9");
  EXPECT_EQ(j["account"], "OPS");
  EXPECT_EQ(j["template"], "ops");
  EXPECT_EQ(j["rule"], "operators");
  EXPECT_EQ(j["permissions"]["pub"]["allow"], json::array({"ops.>"}));
  EXPECT_EQ(j["permissions"]["pub"]["deny"],
            json::array({"ops.secret", "$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"}));
  EXPECT_EQ(j["permissions"]["sub"]["allow"], json::array());
  EXPECT_EQ(j["permissions"]["allow_responses"], true);
  EXPECT_EQ(j["permissions"]["responses_max"], 3);
  EXPECT_EQ(j["permissions"]["responses_ttl_ms"], 1500);
  EXPECT_EQ(j["expires_at"], kNow + 600);
  EXPECT_EQ(j["expires_in_s"], 600);
  EXPECT_EQ(j["rules"], json::array({"rule \"operators\": matches"}));
  EXPECT_EQ(j["token"], (json{{"alg", "ES256"},
                              {"kid", "kid-1"},
                              {"typ", "JWT"},
                              {"iss", kIss},
                              {"sub", "alice"},
                              {"aud", "natstack"},
                              {"exp", kNow + 600},
                              {"iat", kNow},
                              {"jti", "tok-9"}}));
  ExpectNoTokenMaterial(j.dump(), token);
}

TEST_F(ExplainTest, AnAdmittedTokenAsText) {
  const std::string token = Token(json::object(), 7200);  // capped by max_user_ttl_s
  const Explanation e = Explain(token);
  ASSERT_TRUE(e.decision.admitted);
  const std::string text = ExplanationText(e);
  EXPECT_NE(text.find("token:            ES256, kid kid-1, iss https://idp.example/, sub alice, "
                      "exp 2026-12-03T18:16:15Z (in 2h0m) (as sent, before verification)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("source:           idp\n"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict:          admitted\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("why:"), std::string::npos) << "no detail for an admission";
  EXPECT_NE(text.find("user id:          alice\n"), std::string::npos) << text;
  EXPECT_NE(text.find("token id:         tok-9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("rules:\n  rule \"operators\": no match (no claim \"groups\")\n  no rule "
                      "matched: the issuer's own template and account\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("account:          AUTH\n"), std::string::npos) << text;
  EXPECT_NE(text.find("template:         default (the source's own)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("publish allow:    user.alice.>\n"), std::string::npos) << text;
  EXPECT_NE(text.find("publish deny:     $SYS.REQ.USER.AUTH, $SYS._INBOX.>\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("subscribe allow:  user.alice.>, _INBOX_alice.>\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("responses:        no\n"), std::string::npos) << text;
  EXPECT_NE(text.find("user JWT expires: 2026-12-03T17:16:15Z (in 60m, capped by max_user_ttl_s "
                      "= 3600 s)\n"),
            std::string::npos)
      << text;
  ExpectNoTokenMaterial(text, token);

  const std::string with_rule = ExplanationText(Explain(Token({{"groups", "ops"}})));
  EXPECT_NE(with_rule.find("template:         ops (rule operators)\n"), std::string::npos)
      << with_rule;
  EXPECT_NE(with_rule.find("responses:        allowed (3 per request)\n"), std::string::npos)
      << with_rule;
  EXPECT_NE(with_rule.find("(in 10m, with the token)\n"), std::string::npos) << with_rule;
}

TEST_F(ExplainTest, ARefusedTokenAsJsonAndText) {
  const std::string token = Token({{"aud", "someone-else"}});
  const Explanation e = Explain(token);
  EXPECT_FALSE(e.decision.admitted);
  const json j = ExplanationJson(e);
  EXPECT_EQ(j["verdict"], "refused");
  EXPECT_EQ(j["reason"], "wrong_audience");
  EXPECT_NE(j["detail"].get<std::string>().find("someone-else"), std::string::npos);
  EXPECT_EQ(j["source"], "idp") << "the claimed source, unverified";
  EXPECT_FALSE(j.contains("user_id"));
  EXPECT_FALSE(j.contains("account"));
  EXPECT_FALSE(j.contains("permissions"));
  EXPECT_FALSE(j.contains("expires_at"));
  EXPECT_EQ(j["rules"], json::array());
  EXPECT_EQ(j["token"]["aud"], "someone-else");
  ExpectNoTokenMaterial(j.dump(), token);

  const std::string text = ExplanationText(e);
  EXPECT_NE(text.find("verdict:          refused: wrong_audience\n"), std::string::npos) << text;
  EXPECT_NE(text.find("why:              idp: aud \"someone-else\" is not accepted\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("user id:"), std::string::npos);
  EXPECT_EQ(text.find("user JWT expires:"), std::string::npos);
  ExpectNoTokenMaterial(text, token);
}

TEST_F(ExplainTest, ARevokedTokenShowsWhoButNoGrant) {
  const std::string token = Token({{"sub", "mallory"}});
  const Explanation e = Explain(token);
  EXPECT_EQ(e.decision.reason, "revoked");
  const json j = ExplanationJson(e);
  EXPECT_EQ(j["verdict"], "refused");
  EXPECT_EQ(j["user_id"], "mallory");
  EXPECT_FALSE(j.contains("permissions"));
  EXPECT_EQ(j["rules"].size(), 2u) << "the identity verified, so the rules are traced";
  const std::string text = ExplanationText(e);
  EXPECT_NE(text.find("verdict:          refused: revoked\n"), std::string::npos) << text;
  ExpectNoTokenMaterial(text + j.dump(), token);
}

TEST_F(ExplainTest, AnExpiredTokenShowsHowLongAgo) {
  const std::string token = Token(json::object(), -3 * 86400);
  const std::string text = ExplanationText(Explain(token));
  EXPECT_NE(text.find("(3d ago)"), std::string::npos) << text;
  EXPECT_NE(text.find("refused: expired"), std::string::npos) << text;
  ExpectNoTokenMaterial(text, token);
}

TEST_F(ExplainTest, AnUnknownIssuerAndNotAJwt) {
  const std::string token = Token({{"iss", "https://evil.example/"}});
  Explanation e = Explain(token);
  EXPECT_EQ(e.decision.reason, "unknown_issuer");
  EXPECT_EQ(ExplanationJson(e)["source"], "");
  std::string text = ExplanationText(e);
  EXPECT_NE(text.find("source:           none configured for its iss\n"), std::string::npos) << text;
  ExpectNoTokenMaterial(text, token);

  e = Explain("not-a-jwt");
  EXPECT_EQ(e.decision.reason, "malformed");
  EXPECT_TRUE(e.header.is_null());
  EXPECT_TRUE(e.claims.is_null());
  text = ExplanationText(e);
  EXPECT_NE(text.find("token:            not a JWT\n"), std::string::npos) << text;
  EXPECT_EQ(ExplanationJson(e)["token"], json::object());
  EXPECT_EQ(text.find("not-a-jwt"), std::string::npos) << text;
}

TEST_F(ExplainTest, AServiceToken) {
  const std::string token = MintServiceToken(service_key_, "billing", kNow, 300, "", "svc-1");
  const Explanation e = Explain(token);
  ASSERT_TRUE(e.decision.admitted) << e.decision.reason << ": " << e.decision.detail;
  const json j = ExplanationJson(e);
  EXPECT_EQ(j["kind"], "service");
  EXPECT_EQ(j["source"], "billing");
  EXPECT_EQ(j["token"]["alg"], "ed25519-nkey");
  EXPECT_EQ(j["token"]["iss"], service_key_.PublicKey());
  EXPECT_EQ(j["rules"], json::array({"service \"billing\": fixed template and account"}));
  const std::string text = ExplanationText(e);
  EXPECT_NE(text.find("source:           billing\n"), std::string::npos) << text;
  ExpectNoTokenMaterial(text + j.dump(), token);
}

// Regression: the text printed the user id and token id as they came, so a token whose sub or
// jti held terminal escapes or newlines could rewrite what the operator sees.
TEST_F(ExplainTest, TextNeverPrintsControlCharactersFromTheToken) {
  const std::string token = Token({{"sub", "mal\x1b[2J\nverdict: admitted"},
                                   {"jti", "j\x1b]0;x\x07"},
                                   {"kid-ish", "\x1b[31m"}});
  const Explanation e = Explain(token);
  ASSERT_TRUE(e.decision.identity.has_value());
  const std::string text = ExplanationText(e);
  size_t lines = 0;
  for (char c : text) {
    if (c == '\n') {
      ++lines;
      continue;
    }
    ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in\n" << text;
  }
  EXPECT_EQ(text.find("\nverdict: admitted"), std::string::npos) << text;
  EXPECT_GT(lines, 3u);
}

}  // namespace
}  // namespace natstack::callout
