#include "natsjwt/go_json.hpp"

#include <gtest/gtest.h>

namespace natstack::natsjwt {
namespace {

std::string Quote(std::string_view s) {
  std::string out;
  AppendGoJsonString(out, s);
  return out;
}

TEST(GoJsonTest, EscapesLikeEncodingJson) {
  EXPECT_EQ(Quote(""), R"("")");
  EXPECT_EQ(Quote("plain auth0|alice"), R"("plain auth0|alice")");
  EXPECT_EQ(Quote("_INBOX.>"), R"("_INBOX.\u003e")");
  EXPECT_EQ(Quote("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(Quote("q\"b\\s/"), R"("q\"b\\s/")");  // '/' is not escaped
  EXPECT_EQ(Quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(Quote(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(GoJsonTest, HandlesUnicode) {
  EXPECT_EQ(Quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");  // valid UTF-8 is kept
  EXPECT_EQ(Quote("a\xe2\x80\xa8"
                  "b\xe2\x80\xa9"),
            R"("a\u2028b\u2029")");
  EXPECT_EQ(Quote("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");  // a real U+FFFD stays as is
}

TEST(GoJsonTest, ReplacesEachInvalidUtf8Byte) {
  EXPECT_EQ(Quote("\xff"), R"("\ufffd")");
  EXPECT_EQ(Quote("a\xe2\x82"), R"("a\ufffd\ufffd")");                    // truncated sequence
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate U+D800
  EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
}

TEST(GoJsonTest, ObjectKeepsOrderAndOmitsEmpty) {
  GoJsonObject inner;
  GoJsonObject object;
  object.StringOmitEmpty("a", "")
      .String("b", "")
      .IntOmitEmpty("c", 0)
      .Int("d", -1)
      .StringListOmitEmpty("e", {})
      .StringListOmitEmpty("f", {"x", "<"})
      .Object("g", inner)
      .Raw("h", "[1]");
  EXPECT_EQ(object.Json(), R"({"b":"","d":-1,"f":["x","\u003c"],"g":{},"h":[1]})");
  EXPECT_EQ(GoJsonObject().Json(), "{}");
}

}  // namespace
}  // namespace natstack::natsjwt
