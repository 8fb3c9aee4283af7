#include "core/base64.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
}

TEST(Base64Test, UrlRoundTripWithoutPadding) {
  const std::string data("\xfb\xff\xfe\x00\x01", 5);
  const std::string enc = Base64UrlEncode(data);
  EXPECT_EQ(enc, "-__-AAE");
  EXPECT_EQ(*Base64UrlDecode(enc), data);
  EXPECT_EQ(*Base64UrlDecode("-__-AAE="), data);  // padded input is accepted
}

TEST(Base64Test, RejectsMalformedInput) {
  EXPECT_EQ(Base64UrlDecode("a").error().code, Code::kInvalidArgument);       // truncated
  EXPECT_EQ(Base64UrlDecode("ab+c").error().code, Code::kInvalidArgument);    // std alphabet
  EXPECT_EQ(Base64UrlDecode("ab c").error().code, Code::kInvalidArgument);    // space
  EXPECT_EQ(Base64UrlDecode("Zh").error().code, Code::kInvalidArgument);      // trailing bits
  EXPECT_EQ(Base64Decode("Zm9").error().code, Code::kInvalidArgument);        // std needs padding
}

TEST(HexTest, RoundTrip) {
  EXPECT_EQ(HexEncode(std::string("\x00\xab", 2)), "00ab");
  EXPECT_EQ(*HexDecode("00AB"), std::string("\x00\xab", 2));
  EXPECT_FALSE(HexDecode("0g").has_value());
  EXPECT_FALSE(HexDecode("abc").has_value());
}

}  // namespace
}  // namespace natstack
