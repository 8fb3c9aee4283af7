#include "crypto/sha.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack::crypto {
namespace {

TEST(ShaTest, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha512("abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(HexEncode(Sha512_256("abc")),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
}

TEST(ShaTest, Sha512_256OfTheJtiVector) {
  auto text = ReadFile(NATSTACK_SHARED_DIR "/vectors/auth-callout/jwt.json");
  ASSERT_TRUE(text.has_value());
  const auto derivation = nlohmann::json::parse(*text)["go_jti_derivation"];
  EXPECT_EQ(HexEncode(Sha512_256(derivation["claims_data_json"].get<std::string>())),
            derivation["sha512_256_hex"].get<std::string>());
}

}  // namespace
}  // namespace natstack::crypto
