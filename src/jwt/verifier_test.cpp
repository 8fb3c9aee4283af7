#include "jwt/verifier.hpp"

#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::jwt {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kIssuer = "https://issuer.test/";
constexpr const char* kAudience = "natstack";

struct Keys {
  crypto::EvpPkeyPtr rsa;    // published as "rsa-1"
  crypto::EvpPkeyPtr rogue;  // not published
  crypto::EvpPkeyPtr ec256;  // "ec-1"
  crypto::EvpPkeyPtr ec384;  // "ec-2"
  crypto::EvpPkeyPtr ed;     // "ed-1"
};

const Keys& TestKeys() {
  static const Keys keys = [] {
    Keys k;
    k.rsa = *crypto::GenerateRsaPkey();
    k.rogue = *crypto::GenerateRsaPkey();
    k.ec256 = *crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
    k.ec384 = *crypto::GenerateEcPkey(crypto::KeyType::kEcP384);
    k.ed = *crypto::GenerateEd25519Pkey();
    return k;
  }();
  return keys;
}

Jwks TestJwks() {
  const Keys& k = TestKeys();
  return Jwks::FromKeys({*MakeJwk(k.rsa.get(), "rsa-1"), *MakeJwk(k.ec256.get(), "ec-1"),
                         *MakeJwk(k.ec384.get(), "ec-2"), *MakeJwk(k.ed.get(), "ed-1")});
}

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : keys_(TestJwks()) {}

  VerifierConfig Config(std::vector<std::string> algorithms = {"RS256"}) {
    VerifierConfig c;
    c.issuer = kIssuer;
    c.audiences = {kAudience};
    c.algorithms = std::move(algorithms);
    return c;
  }
  json Claims() {
    const int64_t now = clock_.UnixSeconds();
    return {{"iss", kIssuer}, {"sub", "auth0|alice"}, {"aud", kAudience},
            {"iat", now},     {"exp", now + 3600},    {"scope", "openid"}};
  }
  std::string Sign(const json& claims, std::string alg = "RS256", std::string kid = "rsa-1",
                   const EVP_PKEY* key = nullptr) {
    const Keys& k = TestKeys();
    if (key == nullptr) {
      key = alg[0] == 'E' && alg != "EdDSA" ? (alg == "ES384" ? k.ec384.get() : k.ec256.get())
            : alg == "EdDSA"                ? k.ed.get()
                                            : k.rsa.get();
    }
    json header = {{"alg", alg}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    auto token = SignJws(header, claims, key);
    EXPECT_TRUE(token.has_value()) << token.error().message;
    return token.value_or("");
  }
  tl::expected<VerifiedToken, TokenError> Verify(const std::string& token,
                                                 std::optional<VerifierConfig> config = {}) {
    OidcVerifier verifier(config ? *config : Config(), keys_, clock_);
    return verifier.Verify(token);
  }
  void ExpectRefusal(const std::string& token, Refusal reason,
                     std::optional<VerifierConfig> config = {}) {
    auto r = Verify(token, std::move(config));
    ASSERT_FALSE(r.has_value()) << "accepted";
    EXPECT_EQ(RefusalName(r.error().reason), RefusalName(reason)) << r.error().detail;
    if (!token.empty()) {
      EXPECT_EQ(r.error().detail.find(token), std::string::npos);
    }
  }

  testing::FakeClock clock_;
  StaticJwks keys_;
};

TEST_F(VerifierTest, ValidRs256Passes) {
  const json claims = Claims();
  auto r = Verify(Sign(claims));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->issuer, kIssuer);
  EXPECT_EQ(r->subject, "auth0|alice");
  EXPECT_EQ(r->kid, "rsa-1");
  EXPECT_EQ(r->algorithm, "RS256");
  EXPECT_EQ(r->audience, std::vector<std::string>{kAudience});
  EXPECT_EQ(r->issued_at, claims["iat"].get<int64_t>());
  EXPECT_EQ(r->expires_at, claims["exp"].get<int64_t>());
  EXPECT_EQ(r->claims["scope"], "openid");
}

TEST_F(VerifierTest, ExpiredWithLeewayEdges) {
  const int64_t now = clock_.UnixSeconds();
  json c = Claims();
  c["exp"] = now - 31;
  ExpectRefusal(Sign(c), Refusal::kExpired);
  c["exp"] = now - 30;  // now == exp + leeway: expired (valid only while now < exp + leeway)
  ExpectRefusal(Sign(c), Refusal::kExpired);
  c["exp"] = now - 29;
  EXPECT_TRUE(Verify(Sign(c)).has_value());

  VerifierConfig strict = Config();
  strict.leeway = 0s;
  c["exp"] = now;
  ExpectRefusal(Sign(c), Refusal::kExpired, strict);
  c["exp"] = now + 1;
  EXPECT_TRUE(Verify(Sign(c), strict).has_value());
  // A fractional NumericDate is accepted (rounded down: never valid longer than it says).
  c["exp"] = static_cast<double>(now) + 1.5;
  EXPECT_TRUE(Verify(Sign(c), strict).has_value());
  c["exp"] = static_cast<double>(now) + 0.5;
  ExpectRefusal(Sign(c), Refusal::kExpired, strict);
  c["exp"] = now + 1;
  EXPECT_TRUE(Verify(Sign(c), strict).has_value());
  // Time passes: the same token expires.
  c["exp"] = now + 10;
  const std::string token = Sign(c);
  EXPECT_TRUE(Verify(token, strict).has_value());
  clock_.Advance(10s);
  ExpectRefusal(token, Refusal::kExpired, strict);
}

TEST_F(VerifierTest, NotBeforeInTheFuture) {
  const int64_t now = clock_.UnixSeconds();
  json c = Claims();
  c["nbf"] = now + 31;
  ExpectRefusal(Sign(c), Refusal::kNotYetValid);
  c["nbf"] = now + 30;
  EXPECT_TRUE(Verify(Sign(c)).has_value());
  c.erase("nbf");
  c["iat"] = now + 120;  // issued in the future
  ExpectRefusal(Sign(c), Refusal::kNotYetValid);
}

TEST_F(VerifierTest, WrongAudienceStringAndArray) {
  json c = Claims();
  c["aud"] = "someone-else";
  ExpectRefusal(Sign(c), Refusal::kWrongAudience);
  c["aud"] = json::array({"a", "b"});
  ExpectRefusal(Sign(c), Refusal::kWrongAudience);
  c["aud"] = json::array();
  ExpectRefusal(Sign(c), Refusal::kWrongAudience);
  c["aud"] = json::array({"a", kAudience});
  auto r = Verify(Sign(c));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->audience.size(), 2u);
  c["aud"] = json::array({"a", 5});
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  c["aud"] = 5;
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  // Any configured audience is enough.
  VerifierConfig two = Config();
  two.audiences = {"x", "someone-else"};
  c["aud"] = "someone-else";
  EXPECT_TRUE(Verify(Sign(c), two).has_value());
}

TEST_F(VerifierTest, TokenTypeDefaultsToAccessTokensAndPlainJwts) {
  auto with_typ = [&](const json& typ) {
    json header = {{"alg", "RS256"}, {"kid", "rsa-1"}};
    if (!typ.is_null()) header["typ"] = typ;
    return *SignJws(header, Claims(), TestKeys().rsa.get());
  };
  for (const char* ok : {"JWT", "jwt", "at+jwt", "application/at+JWT"})
    EXPECT_TRUE(Verify(with_typ(ok)).has_value()) << ok;
  EXPECT_TRUE(Verify(with_typ(nullptr)).has_value());  // no typ: RFC 7519 makes it optional
  for (const char* other : {"dpop+jwt", "logout+jwt", "secevent+jwt", "JOSE", "N_A"})
    ExpectRefusal(with_typ(other), Refusal::kWrongType);
  ExpectRefusal(with_typ(42), Refusal::kMalformed);
  // RFC 9068 strictly: only access tokens, which keeps ID tokens (typ JWT) out.
  VerifierConfig strict = Config();
  strict.token_types = {"at+jwt"};
  EXPECT_TRUE(Verify(with_typ("application/at+jwt"), strict).has_value());
  ExpectRefusal(with_typ("JWT"), Refusal::kWrongType, strict);
  ExpectRefusal(with_typ(nullptr), Refusal::kWrongType, strict);
  strict.token_types = {"at+jwt", ""};  // "" accepts a token without typ
  EXPECT_TRUE(Verify(with_typ(nullptr), strict).has_value());
}

TEST_F(VerifierTest, WrongIssuer) {
  json c = Claims();
  c["iss"] = "https://evil.example/";
  ExpectRefusal(Sign(c), Refusal::kWrongIssuer);
  c["iss"] = "https://issuer.test";  // no trailing slash: not the same issuer
  ExpectRefusal(Sign(c), Refusal::kWrongIssuer);
}

TEST_F(VerifierTest, WrongIssuerIsRefusedBeforeAnyKeyLookup) {
  json c = Claims();
  c["iss"] = "https://evil.example/";
  ExpectRefusal(Sign(c, "RS256", "unknown-kid"), Refusal::kWrongIssuer);
  EXPECT_EQ(keys_.unknown_kid_hints(), 0);
}

TEST_F(VerifierTest, UnknownKidIsRefusedAndHintsTheSource) {
  ExpectRefusal(Sign(Claims(), "RS256", "rotated-key"), Refusal::kUnknownKey);
  EXPECT_EQ(keys_.unknown_kid_hints(), 1);
}

TEST_F(VerifierTest, TokenWithoutKid) {
  // Exactly one RSA key in the set: usable without a kid.
  EXPECT_TRUE(Verify(Sign(Claims(), "RS256", "")).has_value());
  // Two RSA keys: ambiguous.
  const Keys& k = TestKeys();
  keys_.Replace(Jwks::FromKeys({*MakeJwk(k.rsa.get(), "rsa-1"), *MakeJwk(k.rogue.get(), "rsa-2")}));
  ExpectRefusal(Sign(Claims(), "RS256", ""), Refusal::kUnknownKey);
}

TEST_F(VerifierTest, BadSignatureFlippedBit) {
  std::string token = Sign(Claims());
  const size_t dot = token.rfind('.');
  auto sig = Base64UrlDecode(token.substr(dot + 1));
  ASSERT_TRUE(sig.has_value());
  (*sig)[10] = static_cast<char>((*sig)[10] ^ 0x01);
  ExpectRefusal(token.substr(0, dot + 1) + Base64UrlEncode(*sig), Refusal::kBadSignature);
  // A changed payload with the original signature.
  json c = Claims();
  const std::string good = Sign(c);
  c["sub"] = "auth0|mallory";
  const std::string forged_payload = Sign(c);
  const std::string spliced =
      forged_payload.substr(0, forged_payload.rfind('.')) + good.substr(good.rfind('.'));
  ExpectRefusal(spliced, Refusal::kBadSignature);
  // Signed by a key that is not published, under a published kid.
  ExpectRefusal(Sign(Claims(), "RS256", "rsa-1", TestKeys().rogue.get()), Refusal::kBadSignature);
  // An empty signature.
  ExpectRefusal(token.substr(0, dot + 1), Refusal::kBadSignature);
}

TEST_F(VerifierTest, AlgNoneIsRefusedEvenWhenConfigured) {
  const json header = {{"alg", "none"}, {"typ", "JWT"}};
  ExpectRefusal(UnsignedJws(header, Claims()), Refusal::kAlgorithmNotAllowed);
  ExpectRefusal(UnsignedJws(header, Claims()), Refusal::kAlgorithmNotAllowed,
                Config({"RS256", "none"}));
  ExpectRefusal(UnsignedJws({{"alg", "None"}}, Claims()), Refusal::kAlgorithmNotAllowed);
  // A "none" header with a real signature appended is refused too.
  const std::string signed_token = Sign(Claims());
  const std::string none = UnsignedJws(header, Claims());
  ExpectRefusal(none + signed_token.substr(signed_token.rfind('.') + 1),
                Refusal::kAlgorithmNotAllowed);
}

TEST_F(VerifierTest, Hs256WithThePublicKeyAsSecretIsRefused) {
  // The classic confusion attack: HMAC "signed" with bytes anyone can fetch from the JWKS.
  const EVP_PKEY* rsa = TestKeys().rsa.get();
  auto pem = crypto::PublicKeyPem(rsa);
  ASSERT_TRUE(pem.has_value());
  auto comps = crypto::RsaPublicComponents(rsa);
  ASSERT_TRUE(comps.has_value());
  for (const std::string& secret : {*pem, comps->n, Base64UrlEncode(comps->n)}) {
    for (const char* alg : {"HS256", "HS384", "HS512"}) {
      auto token = HmacJws({{"alg", alg}, {"kid", "rsa-1"}}, Claims(), secret);
      ASSERT_TRUE(token.has_value());
      ExpectRefusal(*token, Refusal::kAlgorithmNotAllowed);
      ExpectRefusal(*token, Refusal::kAlgorithmNotAllowed, Config({"RS256", alg}));
    }
  }
}

TEST_F(VerifierTest, AlgorithmMustFitTheKeyType) {
  // RS256 header naming the EC key (signed with the RSA key).
  ExpectRefusal(Sign(Claims(), "RS256", "ec-1"), Refusal::kAlgorithmNotAllowed,
                Config({"RS256", "ES256"}));
  // ES256 header naming the RSA key.
  ExpectRefusal(Sign(Claims(), "ES256", "rsa-1"), Refusal::kAlgorithmNotAllowed,
                Config({"RS256", "ES256"}));
  // ES384 header on the P-256 key.
  ExpectRefusal(Sign(Claims(), "ES384", "ec-1"), Refusal::kAlgorithmNotAllowed,
                Config({"ES256", "ES384"}));
  // EdDSA header on the RSA key.
  ExpectRefusal(Sign(Claims(), "EdDSA", "rsa-1"), Refusal::kAlgorithmNotAllowed,
                Config({"RS256", "EdDSA"}));
  // A JWK pinned to RS384 cannot be used with RS256.
  const Keys& k = TestKeys();
  keys_.Replace(Jwks::FromKeys({*MakeJwk(k.rsa.get(), "rsa-1", "RS384")}));
  ExpectRefusal(Sign(Claims()), Refusal::kAlgorithmNotAllowed, Config({"RS256", "RS384"}));
  EXPECT_TRUE(Verify(Sign(Claims(), "RS384"), Config({"RS256", "RS384"})).has_value());
}

TEST_F(VerifierTest, AllowListIsEnforced) {
  ExpectRefusal(Sign(Claims(), "RS512"), Refusal::kAlgorithmNotAllowed);
  ExpectRefusal(Sign(Claims(), "PS256"), Refusal::kAlgorithmNotAllowed);
  ExpectRefusal(Sign(Claims(), "ES256", "ec-1"), Refusal::kAlgorithmNotAllowed);
  ExpectRefusal(Sign(Claims(), "EdDSA", "ed-1"), Refusal::kAlgorithmNotAllowed);
}

TEST_F(VerifierTest, OtherAlgorithmsVerifyWhenAllowed) {
  const VerifierConfig all =
      Config({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"});
  for (const auto& [alg, kid] :
       std::vector<std::pair<std::string, std::string>>{{"RS384", "rsa-1"},
                                                        {"RS512", "rsa-1"},
                                                        {"PS256", "rsa-1"},
                                                        {"PS384", "rsa-1"},
                                                        {"PS512", "rsa-1"},
                                                        {"ES256", "ec-1"},
                                                        {"ES384", "ec-2"},
                                                        {"EdDSA", "ed-1"}}) {
    auto r = Verify(Sign(Claims(), alg, kid), all);
    ASSERT_TRUE(r.has_value()) << alg << ": " << r.error().detail;
    EXPECT_EQ(r->algorithm, alg);
    // And a flipped signature bit is caught for each.
    std::string token = Sign(Claims(), alg, kid);
    const size_t dot = token.rfind('.');
    auto sig = *Base64UrlDecode(token.substr(dot + 1));
    sig[5] = static_cast<char>(sig[5] ^ 0x40);
    ExpectRefusal(token.substr(0, dot + 1) + Base64UrlEncode(sig), Refusal::kBadSignature, all);
  }
}

TEST_F(VerifierTest, EcdsaDerSignatureInsteadOfRawIsRefused) {
  // JOSE requires r||s; a DER signature (what OpenSSL emits) must not be accepted.
  const json header = {{"alg", "ES256"}, {"kid", "ec-1"}};
  const std::string input = EncodeSegment(header) + "." + EncodeSegment(Claims());
  auto der = crypto::SignMessage(TestKeys().ec256.get(), crypto::Digest::kSha256, input);
  ASSERT_TRUE(der.has_value());
  ExpectRefusal(input + "." + Base64UrlEncode(*der), Refusal::kBadSignature, Config({"ES256"}));
}

TEST_F(VerifierTest, Malformed) {
  const std::string good = Sign(Claims());
  const size_t first = good.find('.');
  const size_t second = good.find('.', first + 1);
  const std::string h = good.substr(0, first);
  const std::string p = good.substr(first + 1, second - first - 1);
  const std::string s = good.substr(second + 1);
  for (const std::string& token : std::vector<std::string>{
           "", "abc",
           h + "." + p,                                     // two segments
           h + "." + p + "." + s + "." + s,                 // four segments
           "." + p + "." + s,                               // empty header
           h + ".." + s,                                    // empty payload
           h + "$." + p + "." + s,                          // bad base64 in the header
           h + "." + p + "*." + s,                          // bad base64 in the payload
           h + "." + p + "." + s + "%",                     // bad base64 in the signature
           Base64UrlEncode("[1,2]") + "." + p + "." + s,    // header not an object
           h + "." + Base64UrlEncode("123") + "." + s,      // payload not an object
           h + "." + Base64UrlEncode("\"str\"") + "." + s,  // payload a string
           h + "." + Base64UrlEncode("{\"a\":") + "." + s,  // payload not JSON
           h + "==." + p + "." + s,                         // padded header
           h + "." + p + "=." + s,                          // padded payload
           h + "." + p + "." + s + "==",                    // padded signature
       }) {
    ExpectRefusal(token, Refusal::kMalformed);
  }
  // Over the size cap: its own reason, before any parsing.
  ExpectRefusal(std::string(1 << 20, 'a'), Refusal::kTooLarge);
  ExpectRefusal(h + "." + std::string(40000, 'A') + "." + s, Refusal::kTooLarge);
  // Deep nesting inside the size cap is refused (copying or dumping it would recurse), even
  // when signed; moderate nesting is fine.
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  ExpectRefusal(h + "." + Base64UrlEncode(deep) + "." + s, Refusal::kMalformed);
  const std::string deep_claims = R"({"sub":"x","n":)" + deep + "}";
  const std::string signed_deep =
      EncodeSegment({{"alg", "RS256"}, {"kid", "rsa-1"}}) + "." + Base64UrlEncode(deep_claims);
  auto sig = crypto::SignRs256(TestKeys().rsa.get(), signed_deep);
  ASSERT_TRUE(sig.has_value());
  ExpectRefusal(signed_deep + "." + Base64UrlEncode(*sig), Refusal::kMalformed);
  json nested = Claims();
  nested["x"] = json::parse(std::string(20, '[') + std::string(20, ']'));
  EXPECT_TRUE(Verify(Sign(nested)).has_value());
}

TEST(JwsTest, JsonNestingDepth) {
  EXPECT_EQ(JsonNestingDepth(""), 0u);
  EXPECT_EQ(JsonNestingDepth("{}"), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":[{"b":[]}]})"), 4u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[\"[[["})"), 1u);  // brackets inside strings
  EXPECT_EQ(JsonNestingDepth("]]]]{"), 1u);
  EXPECT_EQ(JsonNestingDepth("{\"a\":\"\\\\\",[[]]}"), 3u);  // an escaped backslash ends
}

TEST_F(VerifierTest, MalformedHeaderAndClaimTypes) {
  auto token = SignJws({{"alg", "RS256"}, {"kid", "rsa-1"}, {"crit", json::array({"exp"})}},
                       Claims(), TestKeys().rsa.get());
  ExpectRefusal(*token, Refusal::kMalformed);
  token = SignJwsAs("RS256", {{"kid", "rsa-1"}}, Claims(), TestKeys().rsa.get());  // no alg
  ExpectRefusal(*token, Refusal::kMalformed);
  ExpectRefusal(Sign(Claims(), "RS256", "") + "", Refusal::kTooLarge, [&] {
    VerifierConfig c = Config();
    c.max_token_bytes = 100;
    return c;
  }());
  json c = Claims();
  c["exp"] = "tomorrow";
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  c = Claims();
  c["nbf"] = true;
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  c = Claims();
  c["iat"] = json::array();
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  c = Claims();
  c["iss"] = 42;
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  c = Claims();
  c["sub"] = 42;
  ExpectRefusal(Sign(c), Refusal::kMalformed);
  auto bad_kid = SignJws({{"alg", "RS256"}, {"kid", 1}}, Claims(), TestKeys().rsa.get());
  ExpectRefusal(*bad_kid, Refusal::kMalformed);
}

TEST_F(VerifierTest, MissingClaims) {
  for (const char* name : {"exp", "sub", "aud", "iss"}) {
    json c = Claims();
    c.erase(name);
    ExpectRefusal(Sign(c), Refusal::kMissingClaim);
  }
  json c = Claims();
  c["sub"] = "";
  ExpectRefusal(Sign(c), Refusal::kMissingClaim);
  // iat is optional without max_age.
  c = Claims();
  c.erase("iat");
  auto r = Verify(Sign(c));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->issued_at, 0);
}

TEST_F(VerifierTest, MaxAge) {
  VerifierConfig config = Config();
  config.max_age = 600s;
  json c = Claims();
  c["iat"] = clock_.UnixSeconds() - 600 - 31;
  ExpectRefusal(Sign(c), Refusal::kTooOld, config);
  c["iat"] = clock_.UnixSeconds() - 600 - 30;
  EXPECT_TRUE(Verify(Sign(c), config).has_value());
  c.erase("iat");
  ExpectRefusal(Sign(c), Refusal::kMissingClaim, config);
}

TEST_F(VerifierTest, KeysUnavailable) {
  keys_.Replace(Jwks());
  ExpectRefusal(Sign(Claims()), Refusal::kKeysUnavailable);
}

TEST_F(VerifierTest, ExtremeNumericDates) {
  // Dates outside 1970..9999 are no real time: malformed, whichever claim carries them.
  for (const char* claim : {"exp", "iat", "nbf"}) {
    for (const json& v : {json(std::numeric_limits<int64_t>::max()), json(1e300), json(-1),
                          json(std::numeric_limits<int64_t>::min()),
                          json(std::numeric_limits<uint64_t>::max()), json(253402300800LL),
                          json(-0.5)}) {
      json c = Claims();
      c[claim] = v;
      ExpectRefusal(Sign(c), Refusal::kMalformed);
    }
  }
  // The last second of 9999 is a date; a fractional one is floored.
  json c = Claims();
  c["exp"] = 253402300799LL;
  EXPECT_TRUE(Verify(Sign(c)).has_value());
  c["exp"] = static_cast<double>(clock_.UnixSeconds()) + 600.75;
  EXPECT_TRUE(Verify(Sign(c)).has_value());
  c = Claims();
  c["nbf"] = 0;
  EXPECT_TRUE(Verify(Sign(c)).has_value());
}

TEST_F(VerifierTest, MultiIssuerRefusesUnknownIssuersBeforeKeyLookup) {
  StaticJwks other_keys;
  VerifierConfig other = Config();
  other.issuer = "https://other.test/";
  OidcVerifier a(Config(), keys_, clock_);
  OidcVerifier b(other, other_keys, clock_);
  MultiIssuerVerifier multi({&a, &b});
  EXPECT_TRUE(multi.Verify(Sign(Claims())).has_value());
  json c = Claims();
  c["iss"] = "https://evil.example/";
  auto r = multi.Verify(Sign(c, "RS256", "unknown"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, Refusal::kUnknownIssuer);
  EXPECT_EQ(keys_.unknown_kid_hints(), 0);
  c["iss"] = "https://other.test/";
  r = multi.Verify(Sign(c));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, Refusal::kKeysUnavailable);
  r = multi.Verify("x.y");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, Refusal::kMalformed);
}

TEST(RefusalTest, NamesAreStable) {
  EXPECT_EQ(RefusalName(Refusal::kMalformed), "malformed");
  EXPECT_EQ(RefusalName(Refusal::kAlgorithmNotAllowed), "algorithm_not_allowed");
  EXPECT_EQ(RefusalName(Refusal::kUnknownIssuer), "unknown_issuer");
  EXPECT_EQ(RefusalName(Refusal::kUnknownKey), "unknown_key");
  EXPECT_EQ(RefusalName(Refusal::kBadSignature), "bad_signature");
  EXPECT_EQ(RefusalName(Refusal::kWrongIssuer), "wrong_issuer");
  EXPECT_EQ(RefusalName(Refusal::kWrongAudience), "wrong_audience");
  EXPECT_EQ(RefusalName(Refusal::kExpired), "expired");
  EXPECT_EQ(RefusalName(Refusal::kNotYetValid), "not_yet_valid");
  EXPECT_EQ(RefusalName(Refusal::kTooOld), "too_old");
  EXPECT_EQ(RefusalName(Refusal::kMissingClaim), "missing_claim");
  EXPECT_EQ(RefusalName(Refusal::kKeysUnavailable), "keys_unavailable");
  EXPECT_EQ(RefusalName(Refusal::kTooLarge), "too_large");
  EXPECT_EQ(RefusalName(Refusal::kClaimMismatch), "claim_mismatch");
}

TEST_F(VerifierTest, RequiredClaims) {
  VerifierConfig config = Config();
  config.required_claims = {{"email_verified", true},
                            {"org", json::array({"acme", "globex"})},
                            {"https://example.com/roles", "nats"},
                            {"/tenant/id", 7},
                            {"scope", nullptr}};
  ASSERT_TRUE(ValidateVerifierConfig(config).has_value());
  json good = Claims();
  good["email_verified"] = true;
  good["org"] = "globex";
  good["https://example.com/roles"] = json::array({"admin", "nats"});
  good["tenant"] = {{"id", 7}};
  auto ok = Verify(Sign(good), config);
  ASSERT_TRUE(ok.has_value()) << ok.error().detail;

  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    Refusal reason;
  };
  for (const Case& c : std::vector<Case>{
           {"false flag", [](json& j) { j["email_verified"] = false; }, Refusal::kClaimMismatch},
           {"string true", [](json& j) { j["email_verified"] = "true"; }, Refusal::kClaimMismatch},
           {"flag missing", [](json& j) { j.erase("email_verified"); }, Refusal::kMissingClaim},
           {"other org", [](json& j) { j["org"] = "initech"; }, Refusal::kClaimMismatch},
           {"org list without ours",
            [](json& j) { j["org"] = json::array({"initech"}); }, Refusal::kClaimMismatch},
           {"role missing from list",
            [](json& j) { j["https://example.com/roles"] = json::array({"admin"}); },
            Refusal::kClaimMismatch},
           {"nested wrong", [](json& j) { j["tenant"]["id"] = 8; }, Refusal::kClaimMismatch},
           {"nested as string", [](json& j) { j["tenant"]["id"] = "7"; }, Refusal::kClaimMismatch},
           {"nested parent not an object", [](json& j) { j["tenant"] = "7"; },
            Refusal::kMissingClaim},
           {"presence only", [](json& j) { j.erase("scope"); }, Refusal::kMissingClaim},
       }) {
    json claims = good;
    c.mutate(claims);
    auto r = Verify(Sign(claims), config);
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error().reason, c.reason) << c.name << ": " << r.error().detail;
  }
  // Org in a list that holds ours passes.
  json listed = good;
  listed["org"] = json::array({"initech", "acme"});
  EXPECT_TRUE(Verify(Sign(listed), config).has_value());
}

/// A key source whose refresh brings a new key set after a call, counting the waits.
class RotatingKeys final : public KeySource {
 public:
  RotatingKeys(Jwks before, Jwks after)
      : keys_(std::make_shared<const Jwks>(std::move(before))), after_(std::move(after)) {}
  std::shared_ptr<const Jwks> Keys() const override { return std::atomic_load(&keys_); }
  bool AwaitRefresh(std::string_view, std::chrono::milliseconds budget) const override {
    ++waits_;
    if (budget.count() <= 0) return false;
    std::atomic_store(&keys_, std::make_shared<const Jwks>(after_));
    return true;
  }
  int waits() const { return waits_; }

 private:
  mutable std::shared_ptr<const Jwks> keys_;
  Jwks after_;
  mutable std::atomic<int> waits_{0};
};

TEST_F(VerifierTest, UnknownKidWaitsForARefreshWhenConfigured) {
  const Keys& k = TestKeys();
  RotatingKeys keys(Jwks::FromKeys({*MakeJwk(k.rsa.get(), "rsa-1")}),
                    Jwks::FromKeys({*MakeJwk(k.rsa.get(), "rsa-1"), *MakeJwk(k.rogue.get(), "rsa-2")}));
  const std::string token = Sign(Claims(), "RS256", "rsa-2", k.rogue.get());
  VerifierConfig no_wait = Config();
  auto refused = OidcVerifier(no_wait, keys, clock_).Verify(token);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().reason, Refusal::kUnknownKey);
  VerifierConfig wait = Config();
  wait.unknown_kid_wait = 500ms;
  auto admitted = OidcVerifier(wait, keys, clock_).Verify(token);
  ASSERT_TRUE(admitted.has_value()) << admitted.error().detail;
  EXPECT_EQ(admitted->kid, "rsa-2");
  EXPECT_EQ(keys.waits(), 2);
}

TEST(VerifierConfigTest, Validation) {
  VerifierConfig good;
  good.issuer = kIssuer;
  good.audiences = {kAudience};
  EXPECT_TRUE(ValidateVerifierConfig(good).has_value());
  struct Case {
    const char* name;
    std::function<void(VerifierConfig&)> mutate;
  };
  for (const Case& c : std::vector<Case>{
           {"empty issuer", [](VerifierConfig& v) { v.issuer.clear(); }},
           {"no audiences", [](VerifierConfig& v) { v.audiences.clear(); }},
           {"empty audience", [](VerifierConfig& v) { v.audiences = {""}; }},
           {"no algorithms", [](VerifierConfig& v) { v.algorithms.clear(); }},
           {"none", [](VerifierConfig& v) { v.algorithms = {"none"}; }},
           {"HS256",
            [](VerifierConfig& v) {
              v.algorithms = {"RS256", "HS256"};
            }},
           {"unknown", [](VerifierConfig& v) { v.algorithms = {"RS257"}; }},
           {"negative leeway", [](VerifierConfig& v) { v.leeway = -1s; }},
           {"negative max_age", [](VerifierConfig& v) { v.max_age = -1s; }},
           {"required_claims not an object",
            [](VerifierConfig& v) { v.required_claims = json::array(); }},
           {"required claim with an empty name",
            [](VerifierConfig& v) { v.required_claims = {{"", 1}}; }},
           {"required claim pointer malformed",
            [](VerifierConfig& v) { v.required_claims = {{"/a/~2", 1}}; }},
           {"required claim value an object",
            [](VerifierConfig& v) { v.required_claims = {{"org", {{"a", 1}}}}; }},
           {"negative unknown_kid_wait", [](VerifierConfig& v) { v.unknown_kid_wait = -1ms; }},
       }) {
    VerifierConfig v = good;
    c.mutate(v);
    auto st = ValidateVerifierConfig(v);
    ASSERT_FALSE(st.has_value()) << c.name;
    EXPECT_EQ(st.error().code, Code::kInvalidArgument) << c.name;
  }
}

// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): the published signatures verify; the example
// claims (iss "joe", no aud/sub) then stop at the claim checks, after the signature.
TEST(Rfc7515Test, PublishedExamplesVerify) {
  const json rsa_jwk = {
      {"kty", "RSA"},
      {"n",
       "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
       "4qPCJrcS2mJPMEzP1Pt0Bm4d4"
       "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
       "bSf63kpaSHSXndS5z5rexMdb"
       "BYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_"
       "I5IhlJH7aGhyxXFvUK-D"
       "WNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"},
      {"e", "AQAB"}};
  const json ec_jwk = {{"kty", "EC"},
                       {"crv", "P-256"},
                       {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                       {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
  const std::string payload =
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  const std::string rs256 = "eyJhbGciOiJSUzI1NiJ9." + payload +
                            ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__"
                            "dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5j"
                            "ujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
                            "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
                            "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"
                            "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEU"
                            "ipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
  const std::string es256 =
      "eyJhbGciOiJFUzI1NiJ9." + payload +
      ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  testing::FakeClock clock(1300819000);
  for (const auto& [jwk, token, alg] : std::vector<std::tuple<json, std::string, std::string>>{
           {rsa_jwk, rs256, "RS256"}, {ec_jwk, es256, "ES256"}}) {
    StaticJwks keys(*Jwks::Parse(json{{"keys", json::array({jwk})}}.dump()));
    VerifierConfig config;
    config.issuer = "joe";
    config.audiences = {"natstack"};
    config.algorithms = {alg};
    OidcVerifier verifier(config, keys, clock);
    auto r = verifier.Verify(token);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, Refusal::kMissingClaim)
        << r.error().detail;  // aud, after the signature
    std::string tampered = token;
    tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
    r = verifier.Verify(tampered);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, Refusal::kBadSignature) << r.error().detail;
  }
}

TEST(JwsTest, SignAndParseRoundTrip) {
  const json header = {{"alg", "ES256"}, {"kid", "k"}};
  const json payload = {{"a", 1}};
  auto token = SignJws(header, payload, TestKeys().ec256.get());
  ASSERT_TRUE(token.has_value());
  auto parsed = ParseCompactJws(*token);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->header, header);
  EXPECT_EQ(parsed->payload, payload);
  EXPECT_EQ(parsed->signature.size(), 64u);  // r||s
  // Wrong key type for the header's alg.
  EXPECT_FALSE(SignJws({{"alg", "RS256"}}, payload, TestKeys().ec256.get()).has_value());
  EXPECT_FALSE(SignJws({{"alg", "HS256"}}, payload, TestKeys().rsa.get()).has_value());
  EXPECT_FALSE(HmacJws({{"alg", "RS256"}}, payload, "secret").has_value());
  EXPECT_EQ(FindJwsAlgorithm("none"), nullptr);
  EXPECT_EQ(FindJwsAlgorithm("HS256"), nullptr);
  EXPECT_EQ(SupportedJwsAlgorithms().size(), 10u);
}

}  // namespace
}  // namespace natstack::jwt

namespace natstack::jwt {
namespace {

// The issuer is read before any verifier is chosen; an oversized token is named as such there,
// not as malformed.
TEST(PeekIssuerTest, OversizedTokenIsTooLargeNotMalformed) {
  auto r = PeekIssuer(std::string(kDefaultMaxTokenBytes + 1, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Refusal::kTooLarge);
  r = PeekIssuer("a.b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Refusal::kMalformed);
}

}  // namespace
}  // namespace natstack::jwt
