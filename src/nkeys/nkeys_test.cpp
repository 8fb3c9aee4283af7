#include "nkeys/nkeys.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "core/base32.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack::nkeys {
namespace {

nlohmann::json Load(const std::string& name) {
  auto text = ReadFile(std::string(NATSTACK_SHARED_DIR "/vectors/auth-callout/") + name);
  EXPECT_TRUE(text.has_value()) << name;
  return nlohmann::json::parse(text.value_or("{}"));
}

std::string Hex(std::string_view hex) { return HexDecode(hex).value(); }

std::string HexOf(const RawKey& key) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

Role RoleOfKind(const std::string& kind) {
  if (kind == "operator") return Role::kOperator;
  if (kind == "account") return Role::kAccount;
  if (kind == "user") return Role::kUser;
  if (kind == "server") return Role::kServer;
  if (kind == "cluster") return Role::kCluster;
  EXPECT_EQ(kind, "curve");
  return Role::kCurve;
}

// ---- nkeys.json ---------------------------------------------------------------------------

TEST(NkeysVectorTest, EveryKindDecodesAndReencodes) {
  const auto keys = Load("nkeys.json")["keys"];
  ASSERT_EQ(keys.size(), 6u);
  for (const auto& v : keys) {
    SCOPED_TRACE(v["kind"].get<std::string>());
    const Role role = RoleOfKind(v["kind"]);
    const std::string seed = v["seed"], pub = v["public"];
    EXPECT_EQ(RoleName(role), v["kind"].get<std::string>());
    EXPECT_EQ(std::string(1, RoleLetter(role)), v["public_letter"].get<std::string>());
    EXPECT_EQ(static_cast<int>(role), v["prefix_byte"].get<int>());
    EXPECT_EQ(RoleFromPrefix(v["prefix_byte"].get<uint8_t>()), role);

    // Seed: header bytes, role, raw seed, and back.
    EXPECT_EQ(HexEncode(Base32Decode(seed).value().substr(0, 2)),
              v["seed_first_two_bytes_hex"].get<std::string>());
    auto decoded = DecodeSeed(seed);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(decoded->role, role);
    EXPECT_EQ(HexEncode(decoded->raw.view()), v["raw_seed_hex"].get<std::string>());
    auto reencoded = EncodeSeed(role, Hex(v["raw_seed_hex"].get<std::string>()));
    ASSERT_TRUE(reencoded.has_value());
    EXPECT_EQ(reencoded->view(), seed);

    // Public key: raw bytes, role, and back.
    auto raw_public = DecodePublicKey(pub, role);
    ASSERT_TRUE(raw_public.has_value()) << raw_public.error().message;
    EXPECT_EQ(HexOf(*raw_public), v["raw_public_hex"].get<std::string>());
    EXPECT_EQ(RoleOfPublicKey(pub).value(), role);
    EXPECT_TRUE(IsValidPublicKey(pub, role));
    EXPECT_EQ(EncodePublicKey(role, *raw_public), pub);

    if (role == Role::kCurve) {
      auto xkey = XKey::FromSeed(seed);
      ASSERT_TRUE(xkey.has_value()) << xkey.error().message;
      EXPECT_EQ(xkey->PublicKey(), pub);
      EXPECT_EQ(xkey->Seed().view(), seed);
      EXPECT_EQ(XKey::FromRawSeed(Hex(v["raw_seed_hex"].get<std::string>()))->PublicKey(), pub);
      auto signer = KeyPair::FromSeed(seed);
      ASSERT_FALSE(signer.has_value());
      EXPECT_EQ(signer.error().code, Code::kInvalidArgument);
      EXPECT_NE(signer.error().message.find("an xkey seed cannot sign"), std::string::npos);
    } else {
      auto pair = KeyPair::FromSeed(seed);
      ASSERT_TRUE(pair.has_value()) << pair.error().message;
      EXPECT_EQ(pair->role(), role);
      EXPECT_EQ(pair->PublicKey(), pub);
      EXPECT_EQ(HexOf(pair->RawPublicKey()), v["raw_public_hex"].get<std::string>());
      EXPECT_EQ(pair->Seed().view(), seed);
      EXPECT_EQ(pair->PrivateKey().view(), v["private"].get<std::string>());
      EXPECT_EQ(XKey::FromSeed(seed).error().code, Code::kInvalidArgument);
    }
  }
}

TEST(NkeysVectorTest, InvalidInputsSection) {
  const auto invalid = Load("nkeys.json")["invalid"];
  ASSERT_EQ(invalid.size(), 3u);
  // Checksum mismatch (last character changed).
  const std::string bad_crc = invalid[0]["value"];
  EXPECT_EQ(DecodePublicKey(bad_crc).error().code, Code::kInvalidArgument);
  EXPECT_FALSE(RoleOfPublicKey(bad_crc).has_value());
  // A user key: valid as a user, invalid as an account.
  const std::string user = invalid[1]["value"];
  EXPECT_TRUE(DecodePublicKey(user, Role::kUser).has_value());
  EXPECT_EQ(DecodePublicKey(user, Role::kAccount).error().code, Code::kInvalidArgument);
  EXPECT_FALSE(IsValidPublicKey(user, Role::kAccount));
  // A seed is not a public key.
  const std::string seed = invalid[2]["value"];
  EXPECT_EQ(DecodePublicKey(seed).error().code, Code::kInvalidArgument);
  EXPECT_FALSE(Verify(seed, "m", std::string(64, '\0')));
}

// ---- malformed input ----------------------------------------------------------------------

TEST(NkeysTest, RejectsMalformedPublicKeys) {
  const std::string good = "ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF";
  ASSERT_TRUE(DecodePublicKey(good).has_value());
  const std::vector<std::string> bad = {
      "",
      "A",
      good.substr(0, 55),                                          // too short
      good + "A",                                                  // too long
      "acycjhiharndzjzwmdhacn6yc6timle5i4elhldd32ijbbgl5alghdrf",  // lower case
      std::string(56, '!'),                                        // garbage
      "PAZZSU6BVCVS4X3VWKCQSMN7NOUGFV3GY54NPH5YYANHS5KKWCA45MBETUDQIWR4U43GBTQBG7MBPJUGFSOUOCFTV"
      "RR55EEQQTF6QFTDTRRQ",  // a private key
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    auto decoded = DecodePublicKey(text);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_EQ(decoded.error().code, Code::kInvalidArgument);
    EXPECT_FALSE(Verify(text, "m", std::string(64, '\0')));
  }
  // 56 'A's is a well-formed account key of 32 zero bytes (the CRC of zeros is zero), but
  // that point is not a usable Ed25519 key.
  EXPECT_TRUE(DecodePublicKey(std::string(56, 'A'), Role::kAccount).has_value());
  EXPECT_FALSE(Verify(std::string(56, 'A'), "m", std::string(64, '\0')));
  // Swapped characters keep the length and alphabet but break the checksum.
  std::string swapped = good;
  std::swap(swapped[10], swapped[11]);
  EXPECT_EQ(DecodePublicKey(swapped).error().code, Code::kInvalidArgument);
}

TEST(NkeysTest, RejectsAPublicKeyWithAnUnknownPrefix) {
  // 'Z' (25 << 3) is not a public role even with a correct checksum.
  RawKey raw{};
  const std::string as_account = EncodePublicKey(Role::kAccount, raw);
  std::string bytes = Base32Decode(as_account).value();
  bytes[0] = static_cast<char>(25 << 3);
  bytes.resize(33);
  const uint16_t crc = [&] {
    uint16_t c = 0;
    for (unsigned char b : bytes) {
      c ^= static_cast<uint16_t>(b << 8);
      for (int i = 0; i < 8; ++i)
        c = (c & 0x8000) ? static_cast<uint16_t>(c << 1 ^ 0x1021) : static_cast<uint16_t>(c << 1);
    }
    return c;
  }();
  bytes.push_back(static_cast<char>(crc & 0xFF));
  bytes.push_back(static_cast<char>(crc >> 8));
  const std::string text = Base32Encode(bytes);
  ASSERT_EQ(text[0], 'Z');
  EXPECT_EQ(DecodePublicKey(text).error().code, Code::kInvalidArgument);
}

TEST(NkeysTest, RejectsMalformedSeeds) {
  const std::string good = "SAADHGKTYGUKWLS7OWZIKCJRX5V2QYWXM3DXRV47XDABU6LVJKYIDTWY3E";
  ASSERT_TRUE(KeyPair::FromSeed(good).has_value());
  std::string bad_crc = good;
  bad_crc.back() = bad_crc.back() == 'A' ? 'B' : 'A';
  for (const std::string& text :
       {std::string(), good.substr(1), good + "A", bad_crc, std::string(58, '7'),
        std::string("ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF")}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(DecodeSeed(text).error().code, Code::kInvalidArgument);
    EXPECT_EQ(KeyPair::FromSeed(text).error().code, Code::kInvalidArgument);
    EXPECT_EQ(XKey::FromSeed(text).error().code, Code::kInvalidArgument);
  }
  EXPECT_EQ(EncodeSeed(Role::kUser, "short").error().code, Code::kInvalidArgument);
  EXPECT_EQ(KeyPair::FromRawSeed(Role::kCurve, std::string(32, 'a')).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(KeyPair::FromRawSeed(Role::kUser, std::string(31, 'a')).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(XKey::FromRawSeed(std::string(33, 'a')).error().code, Code::kInvalidArgument);
}

TEST(NkeysTest, ErrorMessagesNeverContainTheSeed) {
  const std::string seed = "SAADHGKTYGUKWLS7OWZIKCJRX5V2QYWXM3DXRV47XDABU6LVJKYIDTWY3F";
  auto result = KeyPair::FromSeed(seed);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message.find("SAADHG"), std::string::npos);
}

// ---- generation, signing --------------------------------------------------------------------

TEST(KeyPairTest, GeneratedKeysRoundTripThroughTheirSeed) {
  for (const Role role :
       {Role::kOperator, Role::kAccount, Role::kUser, Role::kServer, Role::kCluster}) {
    const KeyPair pair = KeyPair::Generate(role);
    EXPECT_EQ(pair.role(), role);
    EXPECT_EQ(pair.PublicKey()[0], RoleLetter(role));
    EXPECT_EQ(pair.Seed().view().substr(0, 2), std::string({'S', RoleLetter(role)}));
    EXPECT_EQ(pair.PrivateKey().view()[0], 'P');
    auto again = KeyPair::FromSeed(pair.Seed().view());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->PublicKey(), pair.PublicKey());
    const std::string sig = pair.Sign("hello");
    EXPECT_EQ(sig.size(), 64u);
    EXPECT_EQ(again->Sign("hello"), sig);  // deterministic
    EXPECT_TRUE(Verify(pair.PublicKey(), "hello", sig));
    EXPECT_TRUE(pair.Verify("hello", sig));
    EXPECT_FALSE(Verify(pair.PublicKey(), "hellO", sig));
  }
  EXPECT_NE(KeyPair::Generate(Role::kUser).PublicKey(), KeyPair::Generate(Role::kUser).PublicKey());
}

TEST(KeyPairDeathTest, GenerateCurveAborts) {
  EXPECT_DEATH(KeyPair::Generate(Role::kCurve), "XKey::Generate");
}

TEST(SignatureVectorTest, SignReproducesAndVerifies) {
  const auto v = Load("signature.json");
  auto signer = KeyPair::FromSeed(v["signer_seed"].get<std::string>());
  ASSERT_TRUE(signer.has_value());
  const std::string pub = v["signer_public"];
  EXPECT_EQ(signer->PublicKey(), pub);
  ASSERT_EQ(v["vectors"].size(), 2u);
  for (const auto& vector : v["vectors"]) {
    const std::string message = vector["message_ascii"];
    const std::string sig = signer->Sign(message);
    EXPECT_EQ(HexEncode(sig), vector["signature_hex"].get<std::string>());
    EXPECT_EQ(Base64UrlEncode(sig), vector["signature_base64url"].get<std::string>());
    EXPECT_TRUE(Verify(pub, message, sig));
  }
  const auto& negative = v["negative"];
  EXPECT_FALSE(Verify(pub, negative["message_ascii"].get<std::string>(),
                      Hex(negative["signature_hex"].get<std::string>())));
}

TEST(SignatureVectorTest, VerifyRejectsWrongKeysAndShapes) {
  const auto v = Load("signature.json");
  const std::string pub = v["signer_public"];
  const std::string message = v["vectors"][0]["message_ascii"];
  const std::string sig = Hex(v["vectors"][0]["signature_hex"].get<std::string>());
  ASSERT_TRUE(Verify(pub, message, sig));
  EXPECT_FALSE(Verify(pub, message, sig.substr(0, 63)));
  EXPECT_FALSE(Verify(pub, message, ""));
  EXPECT_FALSE(Verify("", message, sig));
  EXPECT_FALSE(Verify("UCSLO75LEBCGMHYPHUGBWN7NB44FCPUTURSJGFNKAS3FDAXDYGTMCX54", message, sig));
  // The same 32 bytes presented as a curve key must not verify: xkeys cannot sign.
  const RawKey raw = DecodePublicKey(pub).value();
  EXPECT_FALSE(Verify(EncodePublicKey(Role::kCurve, raw), message, sig));
  EXPECT_TRUE(Verify(EncodePublicKey(Role::kUser, raw), message, sig));  // role is a label only
}

// ---- xkeys ----------------------------------------------------------------------------------

class XKeyVectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = Load("xkey.json");
    sender_ = std::make_unique<XKey>(XKey::FromSeed(v_["sender_seed"].get<std::string>()).value());
    recipient_ =
        std::make_unique<XKey>(XKey::FromSeed(v_["recipient_seed"].get<std::string>()).value());
  }
  nlohmann::json v_;
  std::unique_ptr<XKey> sender_, recipient_;
};

TEST_F(XKeyVectorTest, SealWithNonceReproducesTheVector) {
  EXPECT_EQ(sender_->PublicKey(), v_["sender_public"].get<std::string>());
  EXPECT_EQ(recipient_->PublicKey(), v_["recipient_public"].get<std::string>());
  auto sealed =
      sender_->SealWithNonce(v_["plaintext_ascii"].get<std::string>(), recipient_->PublicKey(),
                             Hex(v_["nonce_hex"].get<std::string>()));
  ASSERT_TRUE(sealed.has_value()) << sealed.error().message;
  EXPECT_EQ(HexEncode(*sealed), v_["sealed_hex"].get<std::string>());
  EXPECT_EQ(Base64Encode(*sealed), v_["sealed_base64"].get<std::string>());
  EXPECT_EQ(sealed->size(), v_["sealed_length"].get<size_t>());
}

TEST_F(XKeyVectorTest, OpenTheVectorAndRefuseTheTamperedOne) {
  auto opened = recipient_->Open(Hex(v_["sealed_hex"].get<std::string>()), sender_->PublicKey());
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(*opened, v_["plaintext_ascii"].get<std::string>());

  auto tampered =
      recipient_->Open(Hex(v_["negative"]["sealed_hex"].get<std::string>()), sender_->PublicKey());
  ASSERT_FALSE(tampered.has_value());
  EXPECT_EQ(tampered.error().code, Code::kUnauthenticated);
}

TEST_F(XKeyVectorTest, RandomNonceRoundTripsBothWays) {
  auto a = sender_->Seal("ping", recipient_->PublicKey());
  auto b = sender_->Seal("ping", recipient_->PublicKey());
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);  // fresh nonces
  EXPECT_EQ(a->size(), 4u + 24u + 16u + 4u);
  EXPECT_EQ(a->substr(0, 4), "xkv1");
  EXPECT_EQ(recipient_->Open(*a, sender_->PublicKey()).value(), "ping");
  auto reply = recipient_->Seal("pong", sender_->PublicKey());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(sender_->Open(*reply, recipient_->PublicKey()).value(), "pong");
  // Empty plaintext is 44 bytes and still opens.
  auto empty = sender_->Seal("", recipient_->PublicKey());
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->size(), 44u);
  EXPECT_EQ(recipient_->Open(*empty, sender_->PublicKey()).value(), "");
}

TEST_F(XKeyVectorTest, OpenRejectsMalformedInput) {
  const std::string sealed = Hex(v_["sealed_hex"].get<std::string>());
  const std::string sender = sender_->PublicKey();
  EXPECT_EQ(recipient_->Open("", sender).error().code, Code::kInvalidArgument);
  EXPECT_EQ(recipient_->Open(sealed.substr(0, 28), sender).error().code, Code::kInvalidArgument);
  EXPECT_EQ(recipient_->Open(sealed.substr(0, 29), sender).error().code, Code::kUnauthenticated);
  EXPECT_EQ(recipient_->Open(sealed.substr(0, 44), sender).error().code, Code::kUnauthenticated);
  EXPECT_EQ(recipient_->Open("xkv2" + sealed.substr(4), sender).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(recipient_->Open(sealed, "").error().code, Code::kInvalidArgument);
  EXPECT_EQ(recipient_->Open(sealed, "XGARBAGE").error().code, Code::kInvalidArgument);
  // A valid key of another role is not a curve key.
  EXPECT_EQ(recipient_->Open(sealed, "UCSLO75LEBCGMHYPHUGBWN7NB44FCPUTURSJGFNKAS3FDAXDYGTMCX54")
                .error()
                .code,
            Code::kInvalidArgument);
  // The right format from the wrong sender does not authenticate.
  EXPECT_EQ(recipient_->Open(sealed, XKey::Generate().PublicKey()).error().code,
            Code::kUnauthenticated);
  // Nor does opening with the wrong recipient key.
  EXPECT_EQ(XKey::Generate().Open(sealed, sender).error().code, Code::kUnauthenticated);
}

TEST_F(XKeyVectorTest, SealRejectsBadRecipientsAndNonces) {
  EXPECT_EQ(sender_->Seal("m", "").error().code, Code::kInvalidArgument);
  EXPECT_EQ(
      sender_->Seal("m", "ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF").error().code,
      Code::kInvalidArgument);
  // A low-order point (all zeros) is a well-formed key libsodium refuses to use.
  EXPECT_EQ(sender_->Seal("m", EncodePublicKey(Role::kCurve, RawKey{})).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(
      sender_->SealWithNonce("m", recipient_->PublicKey(), std::string(23, '\0')).error().code,
      Code::kInvalidArgument);
}

TEST(XKeyTest, GeneratedKeyRoundTripsThroughItsSeed) {
  const XKey key = XKey::Generate();
  EXPECT_EQ(key.PublicKey()[0], 'X');
  EXPECT_EQ(key.Seed().view().substr(0, 2), "SX");
  auto again = XKey::FromSeed(key.Seed().view());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->PublicKey(), key.PublicKey());
}

TEST(XKeyTest, SharedKeyCacheIsBounded) {
  const XKey me = XKey::Generate();
  const XKey peer = XKey::Generate();
  ASSERT_TRUE(me.Seal("a", peer.PublicKey()).has_value());
  ASSERT_TRUE(me.Seal("b", peer.PublicKey()).has_value());
  EXPECT_EQ(me.CachedPeerCount(), 1u);
  for (size_t i = 0; i < XKey::kMaxCachedPeers + 20; ++i)
    ASSERT_TRUE(me.Seal("x", XKey::Generate().PublicKey()).has_value());
  EXPECT_EQ(me.CachedPeerCount(), XKey::kMaxCachedPeers);
  // Still works for the first peer after its entry may have been evicted.
  auto sealed = me.Seal("again", peer.PublicKey());
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(peer.Open(*sealed, me.PublicKey()).value(), "again");
  // Failed derivations are not cached.
  const size_t before = me.CachedPeerCount();
  EXPECT_FALSE(me.Seal("m", EncodePublicKey(Role::kCurve, RawKey{})).has_value());
  EXPECT_EQ(me.CachedPeerCount(), before);
}

TEST(XKeyTest, ConcurrentSealAndOpen) {
  const XKey server = XKey::Generate();
  const XKey callout = XKey::Generate();
  std::vector<XKey> others;
  for (int i = 0; i < 4; ++i) others.push_back(XKey::Generate());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string message = "request " + std::to_string(t) + "/" + std::to_string(i);
        auto sealed = server.Seal(message, callout.PublicKey());
        auto opened = sealed ? callout.Open(*sealed, server.PublicKey()) : sealed;
        if (!opened || *opened != message) ++failures;
        // Also churn a second peer per thread.
        if (!callout.Seal("x", others[t].PublicKey())) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(callout.CachedPeerCount(), 5u);
}

TEST(XKeyTest, MovedKeyStillWorks) {
  XKey a = XKey::Generate();
  const std::string pub = a.PublicKey();
  XKey b = std::move(a);
  EXPECT_EQ(b.PublicKey(), pub);
  const XKey peer = XKey::Generate();
  auto sealed = b.Seal("m", peer.PublicKey());
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(peer.Open(*sealed, pub).value(), "m");
}

}  // namespace
}  // namespace natstack::nkeys

namespace natstack::nkeys {
namespace {

TEST(PublicKeyOfSeedTest, EveryRoleIncludingCurve) {
  auto account = KeyPair::Generate(Role::kAccount);
  EXPECT_EQ(*PublicKeyOfSeed(account.Seed().view()), account.PublicKey());
  auto x = XKey::Generate();
  EXPECT_EQ(*PublicKeyOfSeed(x.Seed().view()), x.PublicKey());
  EXPECT_FALSE(PublicKeyOfSeed("SAnotaseed"));
  EXPECT_FALSE(PublicKeyOfSeed(account.PublicKey()));  // a public key is not a seed
}

}  // namespace
}  // namespace natstack::nkeys
