#include "core/json_strict.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

using Failure = StrictJsonResult::Failure;

TEST(StrictJsonTest, ParsesOrdinaryDocuments) {
  auto r = ParseStrictJson(R"({"a":1,"b":[{"a":2},{"a":3}],"c":{"a":{"b":4}}})", 8);
  ASSERT_TRUE(r.ok()) << r.Describe(8);
  EXPECT_EQ(r.value["c"]["a"]["b"], 4);
  // The same key in sibling and nested objects is no repetition.
  EXPECT_TRUE(ParseStrictJson(R"([{"k":1},{"k":2},{"k":{"k":3}}])", 8).ok());
  EXPECT_TRUE(ParseStrictJson("\"just a string\"", 8).ok());
}

TEST(StrictJsonTest, ARepeatedKeyAnywhereIsRefusedAndNamed) {
  struct Case {
    const char* text;
    const char* where;
  } cases[] = {
      {R"({"sub":"alice","sub":"admin"})", R"("sub")"},
      {R"({"a":{"b":1,"c":2,"b":3}})", R"("a"."b")"},
      {R"({"issuers":[{"aud":"x"},{"aud":"y","aud":"z"}]})", R"("issuers"[]."aud")"},
      {R"([[{"k":1,"k":1}]])", R"([].[]."k")"},
      // Escapes that decode to the same key are the same key.
      {R"({"sub":"a","s\u0075b":"b"})", R"("sub")"},
  };
  for (const Case& c : cases) {
    auto r = ParseStrictJson(c.text, 8);
    EXPECT_EQ(r.failure, Failure::kDuplicateKey) << c.text;
    EXPECT_EQ(r.duplicate, c.where) << c.text;
    EXPECT_TRUE(r.value.is_discarded()) << c.text;
    EXPECT_EQ(r.Describe(8), std::string("has the key ") + c.where + " twice");
  }
}

TEST(StrictJsonTest, KeysInErrorsArePrintableAndBounded) {
  const std::string key = "\\u001b[2J" + std::string(100, 'k');  // ESC once decoded
  auto r = ParseStrictJson("{\"" + key + "\":1,\"" + key + "\":2}", 8);
  ASSERT_EQ(r.failure, Failure::kDuplicateKey);
  EXPECT_EQ(r.duplicate.find('\x1b'), std::string::npos);
  EXPECT_LT(r.duplicate.size(), 50u);
}

TEST(StrictJsonTest, SyntaxAndDepthFailuresAreTheirOwnKinds) {
  EXPECT_EQ(ParseStrictJson(R"({"a":)", 8).failure, Failure::kSyntax);
  EXPECT_EQ(ParseStrictJson("", 8).failure, Failure::kSyntax);
  // Broken after a repeated key: the syntax error is what is reported.
  EXPECT_EQ(ParseStrictJson(R"({"a":1,"a":2,)", 8).failure, Failure::kSyntax);
  const std::string deep = std::string(9, '[') + std::string(9, ']');
  auto r = ParseStrictJson(deep, 8);
  EXPECT_EQ(r.failure, Failure::kTooDeep);
  EXPECT_EQ(r.Describe(8), "is nested more than 8 levels deep");
  EXPECT_TRUE(ParseStrictJson(std::string(8, '[') + std::string(8, ']'), 8).ok());
}

TEST(StrictJsonTest, ManyKeysInOneObjectStayLinear) {
  std::string text = "{";
  for (int i = 0; i < 20000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  text += ",\"k19999\":1}";
  auto r = ParseStrictJson(text, 8);
  EXPECT_EQ(r.failure, Failure::kDuplicateKey);
  EXPECT_EQ(r.duplicate, "\"k19999\"");
}

}  // namespace
}  // namespace natstack
