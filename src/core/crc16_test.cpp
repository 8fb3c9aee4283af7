#include "core/crc16.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack {
namespace {

TEST(Crc16Test, SharedVectors) {
  auto text = ReadFile(NATSTACK_SHARED_DIR "/vectors/auth-callout/nkeys.json");
  ASSERT_TRUE(text.has_value());
  const auto vectors = nlohmann::json::parse(*text)["crc16"];
  ASSERT_EQ(vectors.size(), 2u);
  for (const auto& v : vectors) {
    std::string input;
    if (v.contains("input_ascii")) {
      input = v["input_ascii"];
    } else {
      auto decoded = HexDecode(v["input_hex"].get<std::string>());
      ASSERT_TRUE(decoded.has_value());
      input = *decoded;
    }
    EXPECT_EQ(Crc16(input), v["crc"].get<uint16_t>());
  }
}

TEST(Crc16Test, CheckValueAndEmpty) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

}  // namespace
}  // namespace natstack
