#include "crypto/ed25519.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/base32.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack::crypto {
namespace {

std::string Hex(std::string_view hex) { return HexDecode(hex).value(); }

std::string PublicOf(const Ed25519KeyPair& pair) {
  return std::string(reinterpret_cast<const char*>(pair.public_key.data()), pair.public_key.size());
}

nlohmann::json Load(const std::string& name) {
  auto text = ReadFile(std::string(NATSTACK_SHARED_DIR "/vectors/auth-callout/") + name);
  EXPECT_TRUE(text.has_value());
  return nlohmann::json::parse(text.value_or("{}"));
}

TEST(Ed25519Test, Rfc8032TestOne) {
  auto pair =
      Ed25519FromSeed(Hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(HexEncode(PublicOf(*pair)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const std::string sig = Ed25519Sign(pair->secret_key.view(), "");
  EXPECT_EQ(HexEncode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
            "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(Ed25519Verify(PublicOf(*pair), "", sig));
}

TEST(Ed25519Test, NkeysVectorsDerivePublicKeys) {
  const nlohmann::json keys = Load("nkeys.json")["keys"];
  ASSERT_EQ(keys.size(), 6u);
  for (const auto& key : keys) {
    if (key["kind"] == "curve") continue;
    auto pair = Ed25519FromSeed(Hex(key["raw_seed_hex"].get<std::string>()));
    ASSERT_TRUE(pair.has_value());
    EXPECT_EQ(HexEncode(PublicOf(*pair)), key["raw_public_hex"].get<std::string>());
  }
}

TEST(Ed25519Test, SignatureVectors) {
  const auto vectors = Load("signature.json");
  // The seed string is an NKey: base32(2 header bytes || 32-byte seed || crc16).
  const std::string seed = Base32Decode(vectors["signer_seed"].get<std::string>()).value();
  auto pair = Ed25519FromSeed(seed.substr(2, 32));
  ASSERT_TRUE(pair.has_value());
  for (const auto& v : vectors["vectors"]) {
    const std::string message = v["message_ascii"];
    const std::string sig = Ed25519Sign(pair->secret_key.view(), message);
    EXPECT_EQ(HexEncode(sig), v["signature_hex"].get<std::string>());
    EXPECT_TRUE(Ed25519Verify(PublicOf(*pair), message, sig));
  }
  const auto& negative = vectors["negative"];
  EXPECT_FALSE(Ed25519Verify(PublicOf(*pair), negative["message_ascii"].get<std::string>(),
                             Hex(negative["signature_hex"].get<std::string>())));
}

TEST(Ed25519Test, VerifyRejectsMalformedInput) {
  auto pair = Ed25519FromSeed(std::string(32, '\x01'));
  ASSERT_TRUE(pair.has_value());
  const std::string pub = PublicOf(*pair);
  const std::string sig = Ed25519Sign(pair->secret_key.view(), "m");
  EXPECT_TRUE(Ed25519Verify(pub, "m", sig));
  EXPECT_FALSE(Ed25519Verify(pub, "m", sig.substr(0, 63)));
  EXPECT_FALSE(Ed25519Verify(pub, "m", sig + "x"));
  EXPECT_FALSE(Ed25519Verify(pub.substr(1), "m", sig));
  EXPECT_FALSE(Ed25519Verify("", "m", ""));
  EXPECT_FALSE(Ed25519Verify(std::string(32, '\0'), "m", std::string(64, '\0')));
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(Ed25519Verify(pub, "m", flipped));
}

TEST(Ed25519Test, SeedMustBe32Bytes) {
  EXPECT_EQ(Ed25519FromSeed(std::string(31, 'a')).error().code, Code::kInvalidArgument);
  EXPECT_EQ(Ed25519FromSeed("").error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace natstack::crypto
