#include "core/text.hpp"

#include <cstdio>

#include <gtest/gtest.h>

#include "core/logger.hpp"

namespace natstack {
namespace {

TEST(TextTest, DecodesUtf8AndRefusesWhatIsNot) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  size_t i = 0;
  EXPECT_EQ(NextCodePoint(s, i), 0x61u);
  EXPECT_EQ(NextCodePoint(s, i), 0xE9u);
  EXPECT_EQ(NextCodePoint(s, i), 0x20ACu);
  EXPECT_EQ(NextCodePoint(s, i), 0x1F600u);
  EXPECT_EQ(i, s.size());
  for (const char* bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                "\x80", "\xC3", "\xE2\x82", "\xFF"}) {
    size_t k = 0;
    EXPECT_FALSE(NextCodePoint(bad, k)) << testing::PrintToString(std::string(bad));
    EXPECT_EQ(k, 1u);
  }
}

TEST(TextTest, InvisibleAndSpaceLikeCharactersAreNotVisibleText) {
  EXPECT_TRUE(IsVisibleText("alice"));
  EXPECT_TRUE(IsVisibleText("auth0|alice"));
  EXPECT_TRUE(IsVisibleText("J\xC3\xBCrgen"));        // Jürgen
  EXPECT_TRUE(IsVisibleText("\xE5\xB1\xB1\xE7\x94\xB0"));  // 山田
  for (const std::string& bad : {
           std::string("al ice"), std::string("a\tb"), std::string("a\nb"), std::string("a\x7f"),
           std::string("a\xC2\x85"),           // NEL
           std::string("a\xC2\xA0" "b"),       // no-break space
           std::string("a\xC2\xAD" "b"),       // soft hyphen
           std::string("alice\xE2\x80\x8B"),   // zero-width space
           std::string("a\xE2\x80\xA8" "b"),   // line separator
           std::string("a\xE2\x80\xAE" "b"),   // right-to-left override
           std::string("a\xE2\x81\xA6" "b"),   // left-to-right isolate
           std::string("a\xE3\x80\x80" "b"),   // ideographic space
           std::string("\xEF\xBB\xBF" "a"),    // BOM
           std::string("a\xF3\xA0\x80\x81"),   // tag character
           std::string("a\xFF"),               // not UTF-8
           std::string("a\0b", 3)}) {
    EXPECT_FALSE(IsVisibleText(bad)) << testing::PrintToString(bad);
  }
}

TEST(TextTest, EscapedTextIsOneVisibleLine) {
  EXPECT_EQ(EscapeText("user=alice"), "user=alice");
  EXPECT_EQ(EscapeText("x\n2099-01-01 INFO admitted"), "x\\n2099-01-01 INFO admitted");
  EXPECT_EQ(EscapeText("\x1b[2J"), "\\x1B[2J");
  EXPECT_EQ(EscapeText("a\\b"), "a\\\\b");  // a literal backslash-n cannot pass for a newline
  EXPECT_EQ(EscapeText("a\xE2\x80\xAE" "b"), "a\\u{202E}b");
  EXPECT_EQ(EscapeText("a\xC2\x9B" "b"), "a\\u{009B}b");  // C1 CSI
  EXPECT_EQ(EscapeText("\xFF"), "\\xFF");
  EXPECT_EQ(EscapeText("J\xC3\xBCrgen says hi"), "J\xC3\xBCrgen says hi");
  const std::string all = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  const std::string escaped = EscapeText(all);
  for (unsigned char c : escaped) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

TEST(TextTest, TheLoggerWritesEveryEntryOnOneLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  StreamLogger log(f);
  log.Info("callout", "refused user=x\n2099-01-01T00:00:00.000Z INFO  callout: admitted user=root");
  log.Warn("bad\ncomponent", "\x1b[2Jcleared");
  std::rewind(f);
  char buf[512];
  int lines = 0;
  std::string all;
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    ++lines;
    all += buf;
  }
  std::fclose(f);
  EXPECT_EQ(lines, 2) << all;
  EXPECT_NE(all.find("user=x\\n2099"), std::string::npos) << all;
  EXPECT_EQ(all.find('\x1b'), std::string::npos) << all;
}

TEST(TextTest, JwtShapedRunsAreRedacted) {
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
  EXPECT_EQ(RedactJwts("token " + jwt + " refused"), "token [jwt redacted] refused");
  EXPECT_EQ(RedactJwts(jwt), "[jwt redacted]");
  EXPECT_EQ(RedactJwts("a=" + jwt + ",b=" + jwt), "a=[jwt redacted],b=[jwt redacted]");
  EXPECT_EQ(RedactJwts("unsigned eyJhbGciOiJub25lIn0.e30."), "unsigned [jwt redacted]");
  EXPECT_EQ(RedactJwts("JWE eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn!"), "JWE [jwt redacted]!");
  // Not a token: a kid or id that merely contains "eyJ", or one segment and a full stop.
  for (const char* keep : {"kid NGCSpK-eyJkwCu-1bK7YU4BlEPg", "eyJ", "eyJabc. Next", "",
                           "heyJude.mp3", "an eyJ.x"}) {
    EXPECT_EQ(RedactJwts(keep), keep);
  }
}

TEST(TextTest, TheLoggerNeverWritesAWholeJwt) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  StreamLogger log(f);
  log.Warn("callout", "reply failed: Parse Error [7]: 'MSG a 1 5\r\neyJ0eXAiOiJKV1QifQ.eyJ9.sig'");
  std::rewind(f);
  char buf[512];
  ASSERT_NE(std::fgets(buf, sizeof buf, f), nullptr);
  std::fclose(f);
  EXPECT_EQ(std::string(buf).find("eyJ0"), std::string::npos) << buf;
  EXPECT_NE(std::string(buf).find("[jwt redacted]"), std::string::npos) << buf;
}

}  // namespace
}  // namespace natstack
