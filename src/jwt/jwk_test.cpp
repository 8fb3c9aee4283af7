#include "jwt/jwk.hpp"

#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include "core/base64.hpp"

namespace natstack::jwt {
namespace {

using nlohmann::json;

// RFC 7638 §3.1 example key.
constexpr const char* kRfc7638N =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebW"
    "KRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQM"
    "icAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcR"
    "wr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

TEST(JwkTest, Rfc7638Thumbprint) {
  auto jwk = ParseJwk(json{
      {"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}});
  ASSERT_TRUE(jwk.has_value()) << jwk.error().message;
  EXPECT_EQ(jwk->type, crypto::KeyType::kRsa);
  auto thumb = JwkThumbprint(jwk->key.get());
  ASSERT_TRUE(thumb.has_value());
  EXPECT_EQ(*thumb, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(JwkTest, PublicJwkRoundTripsEveryKeyType) {
  std::vector<crypto::EvpPkeyPtr> keys;
  keys.push_back(*crypto::GenerateRsaPkey());
  keys.push_back(*crypto::GenerateEcPkey(crypto::KeyType::kEcP256));
  keys.push_back(*crypto::GenerateEcPkey(crypto::KeyType::kEcP384));
  keys.push_back(*crypto::GenerateEcPkey(crypto::KeyType::kEcP521));
  keys.push_back(*crypto::GenerateEd25519Pkey());
  for (const auto& key : keys) {
    auto j = PublicJwk(key.get(), "k", "X");
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ((*j)["kid"], "k");
    EXPECT_EQ((*j)["use"], "sig");
    EXPECT_FALSE(j->contains("d"));  // never the private part
    auto parsed = ParseJwk(*j);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->type, crypto::KeyTypeOf(key.get()));
    EXPECT_EQ(EVP_PKEY_eq(key.get(), parsed->key.get()), 1);
    EXPECT_TRUE(JwkThumbprint(key.get()).has_value());
  }
}

TEST(JwksTest, ParsesRealWorldShapedSet) {
  // Shaped like Auth0 / Google / Keycloak documents: x5c chains, x5t, an encryption key, a
  // symmetric key, unknown types, an X25519 key.
  auto ec = crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  ASSERT_TRUE(ec.has_value());
  json ec_jwk = *PublicJwk(ec->get(), "ec-1", "ES256");
  json doc = {
      {"keys",
       json::array({
           {{"kty", "RSA"},
            {"use", "sig"},
            {"alg", "RS256"},
            {"kid", "auth0-1"},
            {"n", kRfc7638N},
            {"e", "AQAB"},
            {"x5t", "ZGVhZGJlZWY"},
            {"x5c", json::array({"MIIDDTCCAfWgAwIBAgIJ..."})}},
           {{"kty", "RSA"}, {"use", "enc"}, {"kid", "enc-1"}, {"n", kRfc7638N}, {"e", "AQAB"}},
           {{"kty", "RSA"},
            {"kid", "ops-enc"},
            {"key_ops", json::array({"encrypt"})},
            {"n", kRfc7638N},
            {"e", "AQAB"}},
           {{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}},
           {{"kty", "OKP"}, {"crv", "X25519"}, {"kid", "x"}, {"x", "AAAA"}},
           {{"kty", "foo"}, {"kid", "weird"}},
           ec_jwk,
           "not an object",
       })}};
  auto jwks = Jwks::Parse(doc.dump());
  ASSERT_TRUE(jwks.has_value());
  EXPECT_EQ(jwks->size(), 2u);
  ASSERT_NE(jwks->Find("auth0-1"), nullptr);
  EXPECT_EQ(jwks->Find("auth0-1")->alg, "RS256");
  ASSERT_NE(jwks->Find("ec-1"), nullptr);
  EXPECT_EQ(jwks->Find("ec-1")->type, crypto::KeyType::kEcP256);
  EXPECT_EQ(jwks->Find("enc-1"), nullptr);
  EXPECT_EQ(jwks->Find("hmac"), nullptr);
  EXPECT_EQ(jwks->skipped().size(), 6u);
  for (const std::string& s : jwks->skipped()) {
    EXPECT_EQ(s.find(kRfc7638N), std::string::npos);  // reasons never carry key material
  }
}

TEST(JwksTest, RefusesDocumentsThatAreNotAJwks) {
  for (const char* text :
       {"", "garbage", "[]", "{}", R"({"keys":{}})", R"({"keys":"x"})", "null", R"({"keys":[)"}) {
    auto jwks = Jwks::Parse(text);
    ASSERT_FALSE(jwks.has_value()) << text;
    EXPECT_EQ(jwks.error().code, Code::kInvalidArgument);
  }
  const std::string deep =
      R"({"keys":[],"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(Jwks::Parse(deep).error().code, Code::kInvalidArgument);
  auto empty = Jwks::Parse(R"({"keys":[]})");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(JwksTest, SkipsKeysWithMissingOrBadMembers) {
  json doc = {
      {"keys", json::array({
                   {{"kty", "RSA"}, {"kid", "no-n"}, {"e", "AQAB"}},
                   {{"kty", "RSA"}, {"kid", "no-e"}, {"n", kRfc7638N}},
                   {{"kty", "RSA"}, {"kid", "bad-b64"}, {"n", "!!!"}, {"e", "AQAB"}},
                   {{"kty", "RSA"}, {"kid", 7}, {"n", kRfc7638N}, {"e", "AQAB"}},
                   {{"kty", "EC"}, {"kid", "no-y"}, {"crv", "P-256"}, {"x", "AAAA"}},
                   {{"kty", "EC"}, {"kid", "bad-crv"}, {"crv", "P-192"}, {"x", "A"}, {"y", "A"}},
                   {{"kid", "no-kty"}},
                   {{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "short"}, {"x", "AAAA"}},
               })}};
  auto jwks = Jwks::Parse(doc.dump());
  ASSERT_TRUE(jwks.has_value());
  EXPECT_TRUE(jwks->empty());
  EXPECT_EQ(jwks->skipped().size(), 8u);
}

TEST(JwksTest, SkipsSmallRsaKeysAndDuplicateKids) {
  crypto::EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_TRUE(small);
  json small_jwk = *PublicJwk(small.get(), "small");
  json a = {{"kty", "RSA"}, {"kid", "dup"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"}};
  json b = a;
  b["alg"] = "RS512";
  auto jwks = Jwks::Parse(json{{"keys", json::array({small_jwk, a, b})}}.dump());
  ASSERT_TRUE(jwks.has_value());
  ASSERT_EQ(jwks->size(), 1u);
  EXPECT_EQ(jwks->Find("dup")->alg, "RS256");  // the first wins
  EXPECT_EQ(jwks->Find("small"), nullptr);
}

TEST(JwksTest, ARepeatedMemberRefusesTheDocument) {
  // Two "n" in one key: which modulus the IdP meant is not for us to pick.
  const std::string doc = std::string(R"({"keys":[{"kty":"RSA","kid":"a","n":")") + kRfc7638N +
                          R"(","e":"AQAB","n":"AQAB"}]})";
  auto jwks = Jwks::Parse(doc);
  ASSERT_FALSE(jwks.has_value());
  EXPECT_EQ(jwks.error().message, R"(JWKS has the key "keys"[]."n" twice)");
}

TEST(JwksTest, CapsTheNumberOfKeys) {
  json keys = json::array();
  for (size_t i = 0; i < kMaxJwksKeys + 5; ++i) {
    keys.push_back(
        {{"kty", "RSA"}, {"kid", "k" + std::to_string(i)}, {"n", kRfc7638N}, {"e", "AQAB"}});
  }
  auto jwks = Jwks::Parse(json{{"keys", keys}}.dump());
  ASSERT_TRUE(jwks.has_value());
  EXPECT_EQ(jwks->size(), kMaxJwksKeys);
  EXPECT_EQ(jwks->skipped().size(), 5u);
}

}  // namespace
}  // namespace natstack::jwt
