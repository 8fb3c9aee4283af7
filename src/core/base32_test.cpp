#include "core/base32.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/file.hpp"

namespace natstack {
namespace {

nlohmann::json LoadNkeysVectors() {
  auto text = ReadFile(NATSTACK_SHARED_DIR "/vectors/auth-callout/nkeys.json");
  EXPECT_TRUE(text.has_value());
  return nlohmann::json::parse(text.value_or("{}"));
}

TEST(Base32Test, SharedVectors) {
  const auto vectors = LoadNkeysVectors()["base32"];
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    const std::string input = v["input_ascii"];
    const std::string output = v["output"];
    EXPECT_EQ(Base32Encode(input), output);
    auto decoded = Base32Decode(output);
    ASSERT_TRUE(decoded.has_value()) << output;
    EXPECT_EQ(*decoded, input);
  }
}

TEST(Base32Test, Rfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(*Base32Decode(""), "");
  EXPECT_EQ(*Base32Decode("MZXW6YQ"), "foob");
}

TEST(Base32Test, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(Base32Encode(data).size(), Base32EncodedLength(data.size()));
    EXPECT_EQ(*Base32Decode(Base32Encode(data)), data);
    data.push_back(static_cast<char>(i * 37 + 200));
  }
}

TEST(Base32Test, RejectsMalformedInput) {
  EXPECT_EQ(Base32Decode("my").error().code, Code::kInvalidArgument);        // lower case
  EXPECT_EQ(Base32Decode("MY======").error().code, Code::kInvalidArgument);  // padding
  EXPECT_EQ(Base32Decode("M1").error().code, Code::kInvalidArgument);        // not in alphabet
  EXPECT_EQ(Base32Decode("MZ").error().code, Code::kInvalidArgument);        // trailing bits
  EXPECT_EQ(Base32Decode("M").error().code, Code::kInvalidArgument);         // 1 char: 5 spare bits
  EXPECT_EQ(Base32Decode("MZX").error().code, Code::kInvalidArgument);       // 3 chars
  EXPECT_EQ(Base32Decode("MZXW6Y").error().code, Code::kInvalidArgument);    // 6 chars
}

}  // namespace
}  // namespace natstack
