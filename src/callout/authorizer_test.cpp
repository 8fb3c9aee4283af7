#include "callout/authorizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/evp.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1796314575;
constexpr char kIss[] = "https://idp.example/";

const crypto::EvpPkeyPtr& IdpKey() {  // ES256, kid "k1"
  static const crypto::EvpPkeyPtr key = *crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  return key;
}

/// A deny-list the test can change, recording what it was asked.
class FakeDenyList {
 public:
  RevocationCheck Check() {
    return [this](std::string_view user, std::string_view token_id) {
      std::lock_guard<std::mutex> lock(mu_);
      asked.emplace_back(std::string(user), std::string(token_id));
      return users.count(std::string(user)) > 0 || token_ids.count(std::string(token_id)) > 0;
    };
  }
  std::set<std::string> users, token_ids;
  std::vector<std::pair<std::string, std::string>> asked;

 private:
  std::mutex mu_;
};

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest()
      : keys_(jwt::Jwks::FromKeys({*jwt::MakeJwk(IdpKey().get(), "k1")})),
        service_key_(nkeys::KeyPair::Generate(nkeys::Role::kUser)),
        clock_(kNow) {
    config_.servers = {"nats://127.0.0.1:4222"};
    config_.accounts = {"AUTH", "TEAMS"};
    config_.max_user_ttl_s = 3600;
    IssuerSettings idp;
    idp.name = "idp";
    idp.issuer = kIss;
    idp.audiences = {"natstack"};
    idp.algorithms = {"ES256"};
    idp.user_prefix = "idp_";
    config_.issuers = {idp};
    ServiceSettings svc;
    svc.name = "billing";
    svc.public_key = service_key_.PublicKey();
    svc.max_token_ttl_s = 86400;
    config_.services = {svc};
    config_.templates["default"].pub_allow = {"user.{userId}.>"};
    config_.templates["team"].pub_allow = {"team.{claim:team}.{userId}"};
    Rule teams;
    teams.name = "teams";
    teams.claims = {{"team", nullptr}};
    teams.template_name = "team";
    teams.account = "TEAMS";
    config_.rules = {teams};
    Rebuild(deny_.Check());
  }

  void Rebuild(RevocationCheck revoked) {
    identities_ = std::make_unique<IdentityVerifier>(
        config_, std::vector<const jwt::KeySource*>{&keys_}, clock_);
    auto policy = Policy::Build(config_);
    ASSERT_TRUE(policy) << policy.error().message;
    policy_ = std::make_unique<Policy>(std::move(*policy));
    authorizer_ =
        std::make_unique<Authorizer>(config_, *identities_, *policy_, std::move(revoked), clock_);
  }

  std::string Token(json extra = json::object(), int64_t exp_in = 600) {
    json payload = {{"iss", kIss},  {"sub", "alice"},         {"aud", "natstack"},
                    {"iat", kNow},  {"exp", kNow + exp_in},   {"jti", "tok-1"}};
    payload.update(extra);
    return *jwt::SignJws({{"alg", "ES256"}, {"kid", "k1"}, {"typ", "JWT"}}, payload, IdpKey().get());
  }

  jwt::StaticJwks keys_;
  nkeys::KeyPair service_key_;
  testing::FakeClock clock_;
  CalloutConfig config_;
  FakeDenyList deny_;
  std::unique_ptr<IdentityVerifier> identities_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
};

TEST_F(AuthorizerTest, AdmitsAVerifiedTokenWithItsGrant) {
  const Decision d = authorizer_->Decide(Token());
  ASSERT_TRUE(d.admitted) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.reason, "admitted");
  ASSERT_TRUE(d.identity.has_value());
  EXPECT_EQ(d.identity->user_id, "idp_alice");
  EXPECT_EQ(d.identity->token_id, "tok-1");
  ASSERT_TRUE(d.grant.has_value());
  EXPECT_EQ(d.grant->account, "AUTH");
  EXPECT_EQ(d.grant->template_name, "default");
  EXPECT_EQ(d.grant->pub.allow, (std::vector<std::string>{"user.idp_alice.>"}));
  EXPECT_EQ(d.expires_at, kNow + 600) << "the token expires before max_user_ttl_s";
}

TEST_F(AuthorizerTest, RulesPlaceTheIdentity) {
  const Decision d = authorizer_->Decide(Token({{"team", "blue"}}));
  ASSERT_TRUE(d.admitted) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.grant->rule, "teams");
  EXPECT_EQ(d.grant->account, "TEAMS");
  EXPECT_EQ(d.grant->pub.allow, (std::vector<std::string>{"team.blue.idp_alice"}));
}

TEST_F(AuthorizerTest, ExpiryIsTheTokensOrMaxUserTtlWhicheverComesFirst) {
  EXPECT_EQ(authorizer_->Decide(Token(json::object(), 3599)).expires_at, kNow + 3599);
  EXPECT_EQ(authorizer_->Decide(Token(json::object(), 3600)).expires_at, kNow + 3600);
  EXPECT_EQ(authorizer_->Decide(Token(json::object(), 7200)).expires_at, kNow + 3600);
  EXPECT_EQ(authorizer_->Decide(Token(json::object(), 30LL * 86400)).expires_at, kNow + 3600);
  // The cap follows the clock.
  const std::string long_lived = Token(json::object(), 7200);
  clock_.Advance(1000s);
  EXPECT_EQ(authorizer_->Decide(long_lived).expires_at, kNow + 1000 + 3600);
  clock_.Advance(3000s);  // now kNow + 4000: the token's own exp (kNow + 7200) comes first
  EXPECT_EQ(authorizer_->Decide(long_lived).expires_at, kNow + 7200);
  // Services too.
  const Decision svc = authorizer_->Decide(MintServiceToken(service_key_, "billing", kNow + 4000, 86400));
  ASSERT_TRUE(svc.admitted) << svc.reason << ": " << svc.detail;
  EXPECT_EQ(svc.expires_at, kNow + 4000 + 3600);
}

TEST_F(AuthorizerTest, ATokenExpiredWithinTheLeewayIsRefusedAsExpired) {
  // exp 10 s ago passes the verifier (30 s leeway) but no user JWT can be issued for it.
  Decision d = authorizer_->Decide(Token(json::object(), -10));
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "expired");
  EXPECT_NE(d.detail.find("within the leeway"), std::string::npos) << d.detail;
  // exp exactly now: a user JWT that is already dead.
  d = authorizer_->Decide(Token(json::object(), 0));
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "expired");
  // One second left is still a (short) admission.
  d = authorizer_->Decide(Token(json::object(), 1));
  EXPECT_TRUE(d.admitted) << d.reason;
  EXPECT_EQ(d.expires_at, kNow + 1);
  // Past the leeway the verifier itself refuses.
  d = authorizer_->Decide(Token(json::object(), -31));
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "expired");
  // Service tokens within the leeway, likewise.
  d = authorizer_->Decide(MintServiceToken(service_key_, "billing", kNow - 70, 60));
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "expired");
}

TEST_F(AuthorizerTest, RevokedByUserId) {
  deny_.users = {"idp_alice"};
  const Decision d = authorizer_->Decide(Token());
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "revoked");
  EXPECT_FALSE(d.grant.has_value());
  ASSERT_EQ(deny_.asked.size(), 1u);
  EXPECT_EQ(deny_.asked[0], (std::pair<std::string, std::string>{"idp_alice", "tok-1"}))
      << "the deny-list sees the prefixed user id and the jti";
  // Another user of the same issuer is not affected; nor is "alice" without the prefix.
  EXPECT_TRUE(authorizer_->Decide(Token({{"sub", "bob"}})).admitted);
  deny_.users = {"alice"};
  EXPECT_TRUE(authorizer_->Decide(Token()).admitted);
}

TEST_F(AuthorizerTest, RevokedByTokenId) {
  deny_.token_ids = {"tok-1"};
  Decision d = authorizer_->Decide(Token());
  EXPECT_EQ(d.reason, "revoked");
  EXPECT_NE(d.detail.find("tok-1"), std::string::npos) << d.detail;
  EXPECT_TRUE(authorizer_->Decide(Token({{"jti", "tok-2"}})).admitted);
  // A service token's jti counts too.
  d = authorizer_->Decide(MintServiceToken(service_key_, "billing", kNow, 60, "", "tok-1"));
  EXPECT_EQ(d.reason, "revoked");
  EXPECT_EQ(deny_.asked.back(), (std::pair<std::string, std::string>{"billing", "tok-1"}));
}

TEST_F(AuthorizerTest, TheDenyListIsAskedOnlyAboutVerifiedIdentities) {
  deny_.users = {"idp_alice"};
  std::string forged = Token();
  char& c = forged[forged.size() - 10];  // inside the signature, clear of its padding bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_NE(authorizer_->Decide(forged).reason, "revoked");
  EXPECT_EQ(authorizer_->Decide(Token({{"aud", "other"}})).reason, "wrong_audience");
  EXPECT_TRUE(deny_.asked.empty());
}

TEST_F(AuthorizerTest, NoDenyListMeansNothingIsRevoked) {
  Rebuild(RevocationCheck{});
  EXPECT_TRUE(authorizer_->Decide(Token()).admitted);
}

// Regression: the revoked detail pasted the user id and token id as they came, so a token
// whose sub or jti held a newline wrote a line of its own into the log.
TEST_F(AuthorizerTest, TheRevokedDetailIsPrintable) {
  deny_.token_ids = {"x\nlevel=info msg=admitted user=root"};
  const Decision d = authorizer_->Decide(
      Token({{"sub", "mallory\r\nuser=root"}, {"jti", "x\nlevel=info msg=admitted user=root"}}));
  EXPECT_EQ(d.reason, "revoked");
  EXPECT_TRUE(std::all_of(d.detail.begin(), d.detail.end(),
                          [](char c) { return c >= 0x20 && c < 0x7f; }))
      << d.detail;
  EXPECT_NE(d.detail.find("mallory"), std::string::npos) << d.detail;
}

TEST_F(AuthorizerTest, TemplateRejectedWhenAClaimWouldChangeASubject) {
  for (const json& team : {json("a.b"), json(">"), json("*"), json("a b"), json(""),
                           json::object(), json::array({"x"}), json(1.5)}) {
    const Decision d = authorizer_->Decide(Token({{"team", team}}));
    EXPECT_FALSE(d.admitted) << team.dump();
    EXPECT_EQ(d.reason, "template_rejected") << team.dump();
    EXPECT_FALSE(d.grant.has_value());
    EXPECT_TRUE(d.identity.has_value()) << "the identity was verified";
    EXPECT_EQ(d.expires_at, 0);
  }
  // A user id that is not one subject token, too.
  const Decision d = authorizer_->Decide(Token({{"sub", "alice.admin"}}));
  EXPECT_EQ(d.reason, "template_rejected");
}

TEST_F(AuthorizerTest, RefusalsFromVerificationPassThrough) {
  EXPECT_EQ(authorizer_->Decide("").reason, "no_token");
  EXPECT_EQ(authorizer_->Decide("junk").reason, "malformed");
  EXPECT_EQ(authorizer_->Decide(Token({{"aud", "other"}})).reason, "wrong_audience");
  EXPECT_EQ(authorizer_->Decide(Token({{"iss", "https://other.example/"}})).reason,
            "unknown_issuer");
  EXPECT_EQ(authorizer_->Decide(Token({{"nbf", kNow + 100}})).reason, "not_yet_valid");
  EXPECT_EQ(authorizer_->Decide(MintServiceToken(service_key_, "payroll", kNow, 60)).reason,
            "claim_mismatch");
  const Decision d = authorizer_->Decide(Token({{"aud", "other"}}));
  EXPECT_FALSE(d.identity.has_value());
  EXPECT_FALSE(d.grant.has_value());
  EXPECT_FALSE(d.detail.empty());
}

TEST_F(AuthorizerTest, ServiceTokensGetTheirFixedPlacement) {
  const Decision d = authorizer_->Decide(MintServiceToken(service_key_, "billing", kNow, 300));
  ASSERT_TRUE(d.admitted) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.identity->kind, Identity::Kind::kService);
  EXPECT_EQ(d.grant->account, "AUTH");
  EXPECT_EQ(d.grant->pub.allow, (std::vector<std::string>{"user.billing.>"}));
  EXPECT_EQ(d.expires_at, kNow + 300);
}

TEST_F(AuthorizerTest, DecideIsSafeFromManyThreads) {
  deny_.users = {"idp_mallory"};
  const std::string good = Token();
  const std::string revoked = Token({{"sub", "mallory"}});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!authorizer_->Decide(good).admitted) ++wrong;
        if (authorizer_->Decide(revoked).reason != "revoked") ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace natstack::callout
