#include "crypto/box.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/base32.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack::crypto {
namespace {

std::string Hex(std::string_view hex) { return HexDecode(hex).value(); }

std::string AsString(const std::array<uint8_t, kX25519KeySize>& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

nlohmann::json Load(const std::string& name) {
  auto text = ReadFile(std::string(NATSTACK_SHARED_DIR "/vectors/auth-callout/") + name);
  EXPECT_TRUE(text.has_value());
  return nlohmann::json::parse(text.value_or("{}"));
}

// Raw 32 bytes of an NKey seed or public key string (layout in auth-callout-protocol.md §1).
std::string RawSeed(const std::string& seed) { return Base32Decode(seed).value().substr(2, 32); }
std::string RawPublic(const std::string& pub) { return Base32Decode(pub).value().substr(1, 32); }

TEST(BoxTest, X25519PublicKeyOfTheCurveVector) {
  const nlohmann::json keys = Load("nkeys.json")["keys"];
  ASSERT_EQ(keys.size(), 6u);
  for (const auto& key : keys) {
    if (key["kind"] != "curve") continue;
    auto pub = X25519PublicKey(Hex(key["raw_seed_hex"].get<std::string>()));
    ASSERT_TRUE(pub.has_value());
    EXPECT_EQ(HexEncode(AsString(*pub)), key["raw_public_hex"].get<std::string>());
  }
  EXPECT_EQ(X25519PublicKey("short").error().code, Code::kInvalidArgument);
}

TEST(BoxTest, SealReproducesTheXkeyVector) {
  const auto v = Load("xkey.json");
  const std::string sender_secret = RawSeed(v["sender_seed"]);
  const std::string recipient_secret = RawSeed(v["recipient_seed"]);
  const std::string sender_public = RawPublic(v["sender_public"]);
  const std::string recipient_public = RawPublic(v["recipient_public"]);
  const std::string nonce = Hex(v["nonce_hex"].get<std::string>());
  const std::string plaintext = v["plaintext_ascii"];
  // sealed = "xkv1" || nonce || box
  const std::string expected_box = Hex(v["sealed_hex"].get<std::string>()).substr(4 + 24);

  auto sealed = BoxSeal(plaintext, nonce, recipient_public, sender_secret);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(*sealed, expected_box);

  auto shared = BoxSharedKey(recipient_public, sender_secret);
  ASSERT_TRUE(shared.has_value());
  auto sealed_nm = BoxSealWithSharedKey(plaintext, nonce, shared->view());
  ASSERT_TRUE(sealed_nm.has_value());
  EXPECT_EQ(*sealed_nm, expected_box);

  auto opened = BoxOpen(expected_box, nonce, sender_public, recipient_secret);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, plaintext);

  auto shared_r = BoxSharedKey(sender_public, recipient_secret);
  ASSERT_TRUE(shared_r.has_value());
  EXPECT_EQ(shared_r->view(), shared->view());  // both sides derive the same key
  auto opened_nm = BoxOpenWithSharedKey(expected_box, nonce, shared_r->view());
  ASSERT_TRUE(opened_nm.has_value());
  EXPECT_EQ(*opened_nm, plaintext);

  const std::string tampered = Hex(v["negative"]["sealed_hex"].get<std::string>()).substr(28);
  EXPECT_EQ(BoxOpen(tampered, nonce, sender_public, recipient_secret).error().code,
            Code::kUnauthenticated);
  EXPECT_EQ(BoxOpenWithSharedKey(tampered, nonce, shared_r->view()).error().code,
            Code::kUnauthenticated);
}

TEST(BoxTest, RejectsBadSizesAndShortCiphertext) {
  const std::string key(32, '\x05'), nonce(24, '\0');
  auto pub = X25519PublicKey(key);
  ASSERT_TRUE(pub.has_value());
  const std::string peer = AsString(*pub);
  EXPECT_EQ(BoxSeal("m", nonce.substr(1), peer, key).error().code, Code::kInvalidArgument);
  EXPECT_EQ(BoxSeal("m", nonce, peer.substr(1), key).error().code, Code::kInvalidArgument);
  EXPECT_EQ(BoxOpen("short", nonce, peer, key).error().code, Code::kUnauthenticated);
  EXPECT_EQ(BoxOpen(std::string(16, '\0'), nonce, peer, key).error().code, Code::kUnauthenticated);
  EXPECT_EQ(BoxSharedKey(peer, key.substr(2)).error().code, Code::kInvalidArgument);
  EXPECT_EQ(BoxOpenWithSharedKey(std::string(40, '\0'), nonce, "k").error().code,
            Code::kInvalidArgument);
}

TEST(BoxTest, RejectsLowOrderPeerKey) {
  // The all-zero point gives an all-zero shared secret, which libsodium refuses.
  const std::string secret(32, '\x07'), nonce(24, '\0'), zero(32, '\0');
  EXPECT_EQ(BoxSharedKey(zero, secret).error().code, Code::kInvalidArgument);
  EXPECT_EQ(BoxSeal("m", nonce, zero, secret).error().code, Code::kInvalidArgument);
  EXPECT_FALSE(BoxOpen(std::string(20, '\0'), nonce, zero, secret).has_value());
}

TEST(BoxTest, EmptyPlaintextRoundTrips) {
  const std::string a(32, '\x01'), b(32, '\x02'), nonce(24, '\x03');
  const std::string a_pub = AsString(*X25519PublicKey(a));
  const std::string b_pub = AsString(*X25519PublicKey(b));
  auto sealed = BoxSeal("", nonce, b_pub, a);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->size(), kBoxMacSize);
  auto opened = BoxOpen(*sealed, nonce, a_pub, b);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, "");
}

}  // namespace
}  // namespace natstack::crypto
