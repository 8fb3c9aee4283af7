#include "callout/identity.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/base64.hpp"
#include "crypto/evp.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"
#include "natsjwt/jwt.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1796314575;
constexpr char kCorpIss[] = "https://corp.example/";
constexpr char kPartnerIss[] = "https://partner.example/";

// Key generation is the slow part: once per binary.
const crypto::EvpPkeyPtr& CorpKey() {  // RS256, kid "corp-1"
  static const crypto::EvpPkeyPtr key = *crypto::GenerateRsaPkey(2048);
  return key;
}
const crypto::EvpPkeyPtr& PartnerKey() {  // EdDSA, kid "partner-1"
  static const crypto::EvpPkeyPtr key = *crypto::GenerateEd25519Pkey();
  return key;
}

/// A key source that counts every use, to prove what was (not) looked up.
class CountingKeys final : public jwt::KeySource {
 public:
  explicit CountingKeys(jwt::Jwks jwks) : keys_(std::make_shared<const jwt::Jwks>(std::move(jwks))) {}
  std::shared_ptr<const jwt::Jwks> Keys() const override {
    ++lookups;
    return keys_;
  }
  void OnUnknownKid(std::string_view) const override { ++refresh_requests; }
  bool AwaitRefresh(std::string_view, std::chrono::milliseconds) const override {
    ++refresh_requests;
    return false;
  }
  int Uses() const { return lookups.load() + refresh_requests.load(); }

  mutable std::atomic<int> lookups{0};
  mutable std::atomic<int> refresh_requests{0};

 private:
  std::shared_ptr<const jwt::Jwks> keys_;
};

// ---------------------------------------------------------------------------------------------
// Service tokens, verified directly.

class ServiceTokenTest : public ::testing::Test {
 protected:
  ServiceTokenTest() : key_(nkeys::KeyPair::Generate(nkeys::Role::kUser)) {
    service_.name = "billing";
    service_.public_key = key_.PublicKey();
    service_.max_token_ttl_s = 600;
  }

  /// A token over `payload` (iss defaults to the service key), signed by `signer` (default: the
  /// service's key).
  std::string Sign(json payload, const nkeys::KeyPair* signer = nullptr,
                   std::string_view header = natsjwt::kHeaderJson) {
    if (signer == nullptr) signer = &key_;
    if (!payload.contains("iss")) payload["iss"] = key_.PublicKey();
    return natsjwt::SignCompact(header, payload.dump(), *signer);
  }
  json Payload() const {
    return {{"sub", "billing"}, {"iat", kNow}, {"exp", kNow + 300}, {"jti", "tok-1"}};
  }
  std::string Reason(const std::string& token, int64_t now = kNow) {
    auto id = VerifyServiceToken(token, service_, now);
    if (id) return "admitted";
    return id.error().reason;
  }

  nkeys::KeyPair key_;
  ServiceSettings service_;
};

TEST_F(ServiceTokenTest, AMintedTokenVerifies) {
  const std::string token = MintServiceToken(key_, "billing", kNow, 300, "", "jti-7");
  auto id = VerifyServiceToken(token, service_, kNow);
  ASSERT_TRUE(id) << id.error().reason << ": " << id.error().detail;
  EXPECT_EQ(id->kind, Identity::Kind::kService);
  EXPECT_EQ(id->source, "billing");
  EXPECT_EQ(id->user_id, "billing");
  EXPECT_EQ(id->token_id, "jti-7");
  EXPECT_EQ(id->expires_at, kNow + 300);
  EXPECT_EQ(id->claims["iss"], key_.PublicKey());
  EXPECT_FALSE(id->claims.contains("aud"));
}

TEST_F(ServiceTokenTest, MintedTokensCarryTheNatsHeaderAndOptionalClaims) {
  const std::string token = MintServiceToken(key_, "billing", kNow, 60, "natstack", "j");
  auto decoded = natsjwt::DecodeAndVerify(token);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->header, json::parse(natsjwt::kHeaderJson));
  EXPECT_EQ(decoded->payload,
            (json{{"iss", key_.PublicKey()}, {"sub", "billing"}, {"iat", kNow},
                  {"exp", kNow + 60}, {"aud", "natstack"}, {"jti", "j"}}));
  auto bare = natsjwt::DecodeAndVerify(MintServiceToken(key_, "billing", kNow, 60));
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->payload.contains("aud"));
  EXPECT_FALSE(bare->payload.contains("jti"));
}

TEST_F(ServiceTokenTest, AnAccountKeyMayBeTheServiceKey) {
  auto account = nkeys::KeyPair::Generate(nkeys::Role::kAccount);
  service_.public_key = account.PublicKey();
  EXPECT_TRUE(VerifyServiceToken(MintServiceToken(account, "billing", kNow, 60), service_, kNow));
}

TEST_F(ServiceTokenTest, AnotherKeysTokenIsRefused) {
  auto other = nkeys::KeyPair::Generate(nkeys::Role::kUser);
  // Signed by another key that names itself as iss: a valid signature, the wrong signer.
  EXPECT_EQ(Reason(MintServiceToken(other, "billing", kNow, 60)), "wrong_issuer");
  // Signed by another key but claiming the service's key as iss.
  json forged = Payload();
  forged["iss"] = key_.PublicKey();
  EXPECT_EQ(Reason(Sign(forged, &other)), "bad_signature");
}

TEST_F(ServiceTokenTest, SubMustBeTheServiceName) {
  EXPECT_EQ(Reason(MintServiceToken(key_, "payroll", kNow, 60)), "claim_mismatch");
  json p = Payload();
  p.erase("sub");
  EXPECT_EQ(Reason(Sign(p)), "missing_claim");
  p["sub"] = 7;
  EXPECT_EQ(Reason(Sign(p)), "malformed");
}

TEST_F(ServiceTokenTest, ExpAndIatAreRequiredIntegers) {
  json p = Payload();
  p.erase("exp");
  EXPECT_EQ(Reason(Sign(p)), "missing_claim");
  p = Payload();
  p.erase("iat");
  EXPECT_EQ(Reason(Sign(p)), "missing_claim");
  p = Payload();
  p["exp"] = std::to_string(kNow + 60);
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["iat"] = 1.5 + kNow;
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["nbf"] = "soon";
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["exp"] = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(Reason(Sign(p)), "malformed");
}

// Regression: exp - iat and exp + leeway were computed without a range check. With iat =
// INT64_MIN the lifetime wrapped negative, so a token valid for ten years passed
// max_token_ttl_s; exp = INT64_MAX overflowed exp + leeway (undefined behaviour).
TEST_F(ServiceTokenTest, TimesOutOfRangeAreRefusedNotWrapped) {
  json p = Payload();
  p["iat"] = std::numeric_limits<int64_t>::min();
  p["exp"] = kNow + 10LL * 365 * 86400;
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["exp"] = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["nbf"] = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(Reason(Sign(p)), "malformed");
  p = Payload();
  p["iat"] = -1;
  EXPECT_EQ(Reason(Sign(p)), "malformed");
}

TEST_F(ServiceTokenTest, LifetimeIsCappedByMaxTokenTtl) {
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 600)), "admitted");
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 601)), "lifetime_too_long");
  // Measured from iat, not from now: an old long-lived token is no better.
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow - 3600, 3700)), "lifetime_too_long");
}

TEST_F(ServiceTokenTest, ExpiryAndNotBeforeHonourTheLeeway) {
  const std::string token = MintServiceToken(key_, "billing", kNow, 300);  // exp kNow + 300
  EXPECT_EQ(Reason(token, kNow + 300), "admitted") << "inside the 30 s leeway";
  EXPECT_EQ(Reason(token, kNow + 329), "admitted");
  EXPECT_EQ(Reason(token, kNow + 330), "expired");
  EXPECT_EQ(Reason(token, kNow + 100000), "expired");
  auto strict = VerifyServiceToken(token, service_, kNow + 300, /*leeway_s=*/0);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().reason, "expired");

  // Issued in the future.
  EXPECT_EQ(Reason(token, kNow - 30), "admitted");
  EXPECT_EQ(Reason(token, kNow - 31), "not_yet_valid");
  // nbf in the future.
  json p = Payload();
  p["nbf"] = kNow + 100;
  EXPECT_EQ(Reason(Sign(p)), "not_yet_valid");
  EXPECT_EQ(Reason(Sign(p), kNow + 70), "admitted");
}

TEST_F(ServiceTokenTest, AudienceIsCheckedWhenConfigured) {
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 60)), "admitted");
  service_.audience = "natstack";
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 60)), "wrong_audience");
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 60, "other")), "wrong_audience");
  EXPECT_EQ(Reason(MintServiceToken(key_, "billing", kNow, 60, "natstack")), "admitted");
  json p = Payload();
  p["aud"] = json::array({"other", "natstack"});
  EXPECT_EQ(Reason(Sign(p)), "admitted");
  p["aud"] = json::array({"other"});
  EXPECT_EQ(Reason(Sign(p)), "wrong_audience");
  p["aud"] = 5;
  EXPECT_EQ(Reason(Sign(p)), "wrong_audience");
}

TEST_F(ServiceTokenTest, TamperedTokensAreRefused) {
  const std::string token = MintServiceToken(key_, "billing", kNow, 60);
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  // Another payload under the original signature.
  json p = Payload();
  p["iss"] = key_.PublicKey();
  p["exp"] = kNow + 600;
  const std::string swapped = token.substr(0, dot1 + 1) + Base64UrlEncode(p.dump()) +
                              token.substr(dot2);
  EXPECT_EQ(Reason(swapped), "bad_signature");
  // One signature byte flipped.
  std::string signature = *Base64UrlDecode(token.substr(dot2 + 1));
  signature[10] = static_cast<char>(signature[10] ^ 0x01);
  EXPECT_EQ(Reason(token.substr(0, dot2 + 1) + Base64UrlEncode(signature)), "bad_signature");
  // No signature; not three segments; not base64.
  EXPECT_NE(Reason(token.substr(0, dot2 + 1)), "admitted");
  EXPECT_EQ(Reason(token.substr(0, dot2)), "malformed");
  EXPECT_EQ(Reason("not a token"), "malformed");
  // A v1 or OIDC-style header is not a service token.
  EXPECT_EQ(Reason(Sign(Payload(), nullptr, R"({"typ":"JWT","alg":"ed25519"})")), "malformed");
  EXPECT_EQ(Reason(Sign(Payload(), nullptr, R"({"typ":"JWT","alg":"RS256"})")), "malformed");
}

TEST_F(ServiceTokenTest, OversizedTokensAreRefusedBeforeDecoding) {
  EXPECT_EQ(Reason(std::string(jwt::kDefaultMaxTokenBytes + 1, 'a')), "too_large");
}

TEST_F(ServiceTokenTest, DetailsNeverHoldTheToken) {
  const std::string token = MintServiceToken(key_, "payroll", kNow, 60);
  auto id = VerifyServiceToken(token, service_, kNow);
  ASSERT_FALSE(id);
  const std::string signature = token.substr(token.rfind('.') + 1);
  EXPECT_EQ(id.error().detail.find(signature), std::string::npos);
  EXPECT_EQ(id.error().detail.find(token.substr(0, token.find('.'))), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// IdentityVerifier: two OIDC issuers and two services at once.

class IdentityVerifierTest : public ::testing::Test {
 protected:
  IdentityVerifierTest()
      : corp_keys_(jwt::Jwks::FromKeys({*jwt::MakeJwk(CorpKey().get(), "corp-1")})),
        partner_keys_(jwt::Jwks::FromKeys({*jwt::MakeJwk(PartnerKey().get(), "partner-1")})),
        billing_(nkeys::KeyPair::Generate(nkeys::Role::kUser)),
        audit_(nkeys::KeyPair::Generate(nkeys::Role::kAccount)),
        clock_(kNow) {
    config_.servers = {"nats://127.0.0.1:4222"};
    IssuerSettings corp;
    corp.name = "corp";
    corp.issuer = kCorpIss;
    corp.audiences = {"natstack"};
    IssuerSettings partner;
    partner.name = "partner";
    partner.issuer = kPartnerIss;
    partner.audiences = {"partner-api"};
    partner.algorithms = {"EdDSA"};
    partner.user_claim = "uid";
    partner.user_prefix = "partner_";
    config_.issuers = {corp, partner};
    ServiceSettings billing;
    billing.name = "billing";
    billing.public_key = billing_.PublicKey();
    ServiceSettings audit;
    audit.name = "audit";
    audit.public_key = audit_.PublicKey();
    audit.audience = "natstack";
    config_.services = {billing, audit};
    auto valid = ValidateCalloutConfig(config_, "test");
    EXPECT_TRUE(valid) << valid.error().message;
    verifier_ = std::make_unique<IdentityVerifier>(
        config_, std::vector<const jwt::KeySource*>{&corp_keys_, &partner_keys_}, clock_);
  }

  std::string CorpToken(json extra = json::object(), std::string kid = "corp-1") {
    json payload = {{"iss", kCorpIss}, {"sub", "alice"},      {"aud", "natstack"},
                    {"iat", kNow},     {"exp", kNow + 600},   {"jti", "corp-jti-1"}};
    payload.update(extra);
    return *jwt::SignJws({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}, payload, CorpKey().get());
  }
  std::string PartnerToken(json extra = json::object(), std::string kid = "partner-1") {
    json payload = {{"iss", kPartnerIss}, {"sub", "opaque-123"}, {"uid", "u-7"},
                    {"aud", "partner-api"}, {"iat", kNow},       {"exp", kNow + 900}};
    payload.update(extra);
    return *jwt::SignJws({{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", kid}}, payload,
                         PartnerKey().get());
  }
  std::string Reason(const std::string& token) {
    auto id = verifier_->Verify(token);
    return id ? "admitted" : id.error().reason;
  }

  CountingKeys corp_keys_;
  CountingKeys partner_keys_;
  nkeys::KeyPair billing_;
  nkeys::KeyPair audit_;
  testing::FakeClock clock_;
  CalloutConfig config_;
  std::unique_ptr<IdentityVerifier> verifier_;
};

TEST_F(IdentityVerifierTest, FirstIssuerMapsSubToTheUserId) {
  auto id = verifier_->Verify(CorpToken());
  ASSERT_TRUE(id) << id.error().reason << ": " << id.error().detail;
  EXPECT_EQ(id->kind, Identity::Kind::kOidc);
  EXPECT_EQ(id->source, "corp");
  EXPECT_EQ(id->user_id, "alice");
  EXPECT_EQ(id->token_id, "corp-jti-1");
  EXPECT_EQ(id->expires_at, kNow + 600);
  EXPECT_EQ(id->claims["aud"], "natstack");
  EXPECT_GT(corp_keys_.lookups.load(), 0);
  EXPECT_EQ(partner_keys_.Uses(), 0) << "the other issuer's keys were consulted";
}

// One id is one identity: a user of the prefix-less issuer named like a service, or carrying
// another issuer's prefix, would get that identity's subjects, inbox and deny-list entry.
TEST_F(IdentityVerifierTest, IdsInAnotherSourcesNamespaceAreRefused) {
  EXPECT_EQ(Reason(CorpToken({{"sub", "billing"}})), "user_id_collision");
  EXPECT_EQ(Reason(CorpToken({{"sub", "audit"}})), "user_id_collision");
  EXPECT_EQ(Reason(CorpToken({{"sub", "partner_u-7"}})), "user_id_collision");
  EXPECT_EQ(Reason(CorpToken({{"sub", "billingx"}})), "admitted");
  EXPECT_EQ(Reason(CorpToken({{"sub", "partner"}})), "admitted");
  // The prefixed issuer's ids cannot reach the services or the other issuer.
  EXPECT_EQ(Reason(PartnerToken({{"uid", "billing"}})), "admitted");  // partner_billing
  // The services themselves keep their names.
  auto svc = verifier_->Verify(MintServiceToken(billing_, "billing", kNow, 60));
  ASSERT_TRUE(svc) << svc.error().reason;
  EXPECT_EQ(svc->user_id, "billing");
}

TEST(IdentityConfigTest, TwoIssuersWithOnePrefixAreAStartUpError) {
  CalloutConfig c;
  c.servers = {"nats://127.0.0.1:4222"};
  IssuerSettings a;
  a.name = "a";
  a.issuer = "https://a.test/";
  a.audiences = {"x"};
  IssuerSettings b = a;
  b.name = "b";
  b.issuer = "https://b.test/";
  c.issuers = {a, b};
  auto v = ValidateCalloutConfig(c, "c.json");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message,
            "c.json: issuers[1].user_prefix: \"\" is also issuers[0]'s: their users' ids could be "
            "the same; give each issuer its own user_prefix");
  c.issuers[1].user_prefix = "b_";
  EXPECT_TRUE(ValidateCalloutConfig(c, "c.json"));
}

TEST_F(IdentityVerifierTest, SecondIssuerUsesItsUserClaimAndPrefix) {
  auto id = verifier_->Verify(PartnerToken());
  ASSERT_TRUE(id) << id.error().reason << ": " << id.error().detail;
  EXPECT_EQ(id->source, "partner");
  EXPECT_EQ(id->user_id, "partner_u-7") << "uid, not sub, with the issuer's prefix";
  EXPECT_EQ(id->token_id, "") << "no jti";
  EXPECT_EQ(id->expires_at, kNow + 900);
  EXPECT_EQ(corp_keys_.Uses(), 0);
  EXPECT_GT(partner_keys_.lookups.load(), 0);
}

TEST_F(IdentityVerifierTest, TheUserClaimMustBeANonEmptyString) {
  const json no_uid = {{"iss", kPartnerIss}, {"sub", "opaque-123"}, {"aud", "partner-api"},
                       {"iat", kNow},        {"exp", kNow + 900}};
  EXPECT_EQ(Reason(*jwt::SignJws({{"alg", "EdDSA"}, {"kid", "partner-1"}}, no_uid,
                                 PartnerKey().get())),
            "missing_claim");
  EXPECT_EQ(Reason(PartnerToken({{"uid", 7}})), "malformed");
  EXPECT_EQ(Reason(PartnerToken({{"uid", ""}})), "malformed");
  EXPECT_EQ(Reason(PartnerToken({{"uid", json::array({"u-7"})}})), "malformed");
}

TEST_F(IdentityVerifierTest, TheTokensIssPicksTheVerifier) {
  // Signed with corp's RSA key but claiming the partner's iss: the partner's verifier (EdDSA
  // only, its own keys) judges it, and corp's keys are never consulted.
  const std::string token = *jwt::SignJws(
      {{"alg", "RS256"}, {"kid", "corp-1"}},
      {{"iss", kPartnerIss}, {"sub", "x"}, {"uid", "x"}, {"aud", "partner-api"}, {"exp", kNow + 60}},
      CorpKey().get());
  EXPECT_EQ(Reason(token), "algorithm_not_allowed");
  EXPECT_EQ(corp_keys_.Uses(), 0);
  // Corp's audience is not the partner's.
  EXPECT_EQ(Reason(CorpToken({{"aud", "partner-api"}})), "wrong_audience");
  // A partner kid under corp's iss: corp's verifier looks in corp's keys only.
  EXPECT_EQ(Reason(CorpToken(json::object(), "partner-1")), "unknown_key");
  EXPECT_EQ(partner_keys_.Uses(), 0);
}

TEST_F(IdentityVerifierTest, UnknownIssuerIsRefusedBeforeAnyKeyLookup) {
  for (const std::string& iss :
       {std::string("https://evil.example/"), std::string("https://corp.example"),  // no '/'
        std::string(""), nkeys::KeyPair::Generate(nkeys::Role::kUser).PublicKey()}) {
    const std::string token = *jwt::SignJws(
        {{"alg", "RS256"}, {"kid", "corp-1"}},
        {{"iss", iss}, {"sub", "alice"}, {"aud", "natstack"}, {"exp", kNow + 60}}, CorpKey().get());
    auto id = verifier_->Verify(token);
    ASSERT_FALSE(id) << iss;
    EXPECT_EQ(id.error().reason, "unknown_issuer") << iss;
  }
  // An NKey that is not registered, with a valid NATS-style signature of its own.
  auto stranger = nkeys::KeyPair::Generate(nkeys::Role::kUser);
  EXPECT_EQ(Reason(MintServiceToken(stranger, "billing", kNow, 60)), "unknown_issuer");
  EXPECT_EQ(corp_keys_.Uses(), 0);
  EXPECT_EQ(partner_keys_.Uses(), 0);
}

TEST_F(IdentityVerifierTest, TokensWithoutAReadableIssAreRefusedBeforeAnyKeyLookup) {
  EXPECT_EQ(Reason("garbage"), "malformed");
  EXPECT_EQ(Reason(""), "malformed");
  const std::string no_iss = *jwt::SignJws(
      {{"alg", "RS256"}, {"kid", "corp-1"}}, {{"sub", "alice"}, {"aud", "natstack"}}, CorpKey().get());
  EXPECT_EQ(Reason(no_iss), "missing_claim");
  const std::string numeric_iss = *jwt::SignJws(
      {{"alg", "RS256"}, {"kid", "corp-1"}}, {{"iss", 1}, {"sub", "alice"}}, CorpKey().get());
  EXPECT_EQ(Reason(numeric_iss), "malformed");
  EXPECT_EQ(Reason(std::string(jwt::kDefaultMaxTokenBytes + 1, 'a')), "too_large");
  EXPECT_EQ(corp_keys_.Uses(), 0);
  EXPECT_EQ(partner_keys_.Uses(), 0);
}

TEST_F(IdentityVerifierTest, AnUnknownKidAsksOnlyItsIssuerToRefresh) {
  EXPECT_EQ(Reason(PartnerToken(json::object(), "partner-2")), "unknown_key");
  EXPECT_EQ(partner_keys_.refresh_requests.load(), 1);
  EXPECT_EQ(corp_keys_.Uses(), 0);
}

TEST_F(IdentityVerifierTest, RegisteredServicesVerifyAlongsideTheIssuers) {
  auto id = verifier_->Verify(MintServiceToken(billing_, "billing", kNow, 300, "", "b-1"));
  ASSERT_TRUE(id) << id.error().reason << ": " << id.error().detail;
  EXPECT_EQ(id->kind, Identity::Kind::kService);
  EXPECT_EQ(id->source, "billing");
  EXPECT_EQ(id->user_id, "billing");
  EXPECT_EQ(id->token_id, "b-1");
  // Each service is checked against its own settings.
  EXPECT_EQ(Reason(MintServiceToken(audit_, "audit", kNow, 300)), "wrong_audience");
  EXPECT_EQ(Reason(MintServiceToken(audit_, "audit", kNow, 300, "natstack")), "admitted");
  EXPECT_EQ(Reason(MintServiceToken(audit_, "billing", kNow, 300, "natstack")), "claim_mismatch");
  EXPECT_EQ(Reason(MintServiceToken(billing_, "billing", kNow, 3601)), "lifetime_too_long");
  EXPECT_EQ(corp_keys_.Uses() + partner_keys_.Uses(), 0);
}

TEST_F(IdentityVerifierTest, TimeComesFromTheInjectedClock) {
  const std::string corp = CorpToken();                                       // exp kNow + 600
  const std::string svc = MintServiceToken(billing_, "billing", kNow, 300);  // exp kNow + 300
  EXPECT_EQ(Reason(corp), "admitted");
  EXPECT_EQ(Reason(svc), "admitted");
  clock_.Advance(331s);
  EXPECT_EQ(Reason(svc), "expired");
  EXPECT_EQ(Reason(corp), "admitted");
  clock_.Advance(300s);
  EXPECT_EQ(Reason(corp), "expired");
}

TEST_F(IdentityVerifierTest, ClaimedSourceNamesTheIssuerOrServiceWithoutVerifying) {
  EXPECT_EQ(verifier_->ClaimedSource(CorpToken()), "corp");
  EXPECT_EQ(verifier_->ClaimedSource(PartnerToken()), "partner");
  EXPECT_EQ(verifier_->ClaimedSource(MintServiceToken(audit_, "whoever", kNow, 1)), "audit");
  // Unverified: a bad signature still names its claimed source.
  std::string tampered = CorpToken();
  char& c = tampered[tampered.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  ASSERT_EQ(Reason(tampered), "bad_signature");
  corp_keys_.lookups = 0;
  EXPECT_EQ(verifier_->ClaimedSource(tampered), "corp");
  EXPECT_EQ(verifier_->ClaimedSource("garbage"), "");
  EXPECT_EQ(verifier_->ClaimedSource(
                MintServiceToken(nkeys::KeyPair::Generate(nkeys::Role::kUser), "x", kNow, 1)),
            "");
  EXPECT_EQ(corp_keys_.Uses() + partner_keys_.Uses(), 0);
}

TEST(VerifierConfigOfTest, CarriesTheIssuerSettings) {
  IssuerSettings s;
  s.issuer = kCorpIss;
  s.audiences = {"a", "b"};
  s.algorithms = {"ES256", "RS256"};
  s.leeway_s = 5;
  s.max_age_s = 0;
  s.required_claims = {{"email_verified", true}};
  s.unknown_kid_wait_ms = 250;
  jwt::VerifierConfig vc = VerifierConfigOf(s);
  EXPECT_EQ(vc.issuer, kCorpIss);
  EXPECT_EQ(vc.audiences, s.audiences);
  EXPECT_EQ(vc.algorithms, s.algorithms);
  EXPECT_EQ(vc.leeway, 5s);
  EXPECT_FALSE(vc.max_age.has_value()) << "0 = no limit";
  EXPECT_EQ(vc.required_claims, s.required_claims);
  EXPECT_EQ(vc.unknown_kid_wait, 250ms);
  s.max_age_s = 60;
  EXPECT_EQ(VerifierConfigOf(s).max_age, std::optional<std::chrono::seconds>(60s));
}

}  // namespace
}  // namespace natstack::callout
