#include "core/json_config.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

TEST(JsonConfigTest, SyntaxErrorNamesLineAndColumn) {
  auto r = ParseJsonDocument("{\n  \"a\": 1,\n  \"b\": }\n", "x.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("x.json:3:"), std::string::npos) << r.error().message;
}

TEST(JsonConfigTest, TopLevelMustBeObject) {
  EXPECT_FALSE(ParseJsonDocument("[1]", "x.json"));
}

TEST(JsonConfigTest, UnknownKeyAndWrongTypesAreNamed) {
  auto doc = *ParseJsonDocument(R"({"name":"n","count":5,"nested":{"flag":true,"typo":1}})", "c");
  ConfigReader r(doc, "c", "");
  std::string name;
  int64_t count = 0;
  ASSERT_TRUE(r.String("name", name));
  ASSERT_TRUE(r.Int("count", count, 0, 10));
  auto nested = r.Object("nested", Required::kYes, [](ConfigReader& sub) -> Status {
    bool flag = false;
    NATSTACK_TRY(sub.Bool("flag", flag));
    return sub.Finish();
  });
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message, "c: nested.typo: unknown key");

  ConfigReader r2(doc, "c", "");
  int64_t small = 0;
  auto out_of_range = r2.Int("count", small, 0, 3);
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(out_of_range.error().message, "c: count: must be between 0 and 3");
  std::string s;
  EXPECT_EQ(r2.String("count", s).error().message, "c: count: expected a string");
  EXPECT_EQ(r2.String("missing", s, Required::kYes).error().message, "c: missing: is required");

  // A number that is not an integer in range says so, whatever its size.
  auto nums = *ParseJsonDocument(R"({"huge":1e30,"half":2.5,"u":18446744073709551615})", "c");
  ConfigReader r3(nums, "c", "");
  int64_t n = 0;
  EXPECT_EQ(r3.Int("huge", n, 1, 100).error().message, "c: huge: expected an integer between 1 and 100");
  EXPECT_EQ(r3.Int("half", n, 1, 100).error().message, "c: half: expected an integer between 1 and 100");
  EXPECT_EQ(r3.Int("u", n, 1, 100).error().message, "c: u: must be between 1 and 100");
}

TEST(JsonConfigTest, ObjectListNamesTheItem) {
  auto doc = *ParseJsonDocument(R"({"rules":[{"a":"x"},{"a":"y","b":1}],"bad":[1]})", "c");
  ConfigReader r(doc, "c", "");
  std::vector<std::string> seen;
  auto parse = [&](ConfigReader& sub, size_t) -> Status {
    std::string a;
    NATSTACK_TRY(sub.String("a", a, Required::kYes));
    seen.push_back(a);
    return sub.Finish();
  };
  auto st = r.ObjectList("rules", Required::kYes, parse);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "c: rules[1].b: unknown key");
  EXPECT_EQ(seen, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r.ObjectList("bad", Required::kNo, parse).error().message,
            "c: bad[0]: expected an object");
  EXPECT_TRUE(r.ObjectList("absent", Required::kNo, parse));
}

TEST(JsonConfigTest, NumbersAndObjectMaps) {
  auto doc = *ParseJsonDocument(
      R"({"rate":2.5,"n":3,"s":"x","big":1e300,"m":{"b":{"v":1},"a":{"v":2}},"bad":{"x":1}})", "c");
  ConfigReader r(doc, "c", "");
  double d = 0;
  EXPECT_TRUE(r.Number("rate", d, 0, 10));
  EXPECT_EQ(d, 2.5);
  EXPECT_TRUE(r.Number("n", d, 0, 10));
  EXPECT_EQ(d, 3);
  EXPECT_EQ(r.Number("s", d, 0, 10).error().message, "c: s: expected a number");
  EXPECT_EQ(r.Number("big", d, 0, 1000.5).error().message, "c: big: must be between 0 and 1000.5");
  std::vector<std::string> names;
  auto parse = [&](const std::string& name, ConfigReader& sub) -> Status {
    int64_t v = 0;
    NATSTACK_TRY(sub.Int("v", v, 0, 9, Required::kYes));
    names.push_back(name + "=" + std::to_string(v));
    return sub.Finish();
  };
  EXPECT_TRUE(r.ObjectMap("m", Required::kYes, parse));
  EXPECT_EQ(names, (std::vector<std::string>{"a=2", "b=1"}));
  EXPECT_EQ(r.ObjectMap("bad", Required::kNo, parse).error().message,
            "c: bad.x: expected an object");
}

TEST(JsonConfigTest, AbsentKeysKeepDefaults) {
  auto doc = *ParseJsonDocument("{}", "c");
  ConfigReader r(doc, "c", "");
  std::string s = "default";
  ASSERT_TRUE(r.String("x", s));
  EXPECT_EQ(s, "default");
  EXPECT_TRUE(r.Finish());
}

}  // namespace
}  // namespace natstack

namespace natstack {
namespace {

TEST(JsonConfigTest, HostileNestingIsRefusedBeforeParsing) {
  const std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  auto r = ParseJsonDocument(deep, "deep.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "deep.json: nested more than 32 levels deep");
}

}  // namespace
}  // namespace natstack

namespace natstack {
namespace {

TEST(JsonConfigTest, ARepeatedKeyIsNamedNotSilentlyOverwritten) {
  auto r = ParseJsonDocument(R"({"issuers":[{"issuer":"https://a/","audiences":["x"],"audiences":["y"]}]})",
                             "callout.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, R"(callout.json: the key "issuers"[]."audiences" appears twice)");
}

}  // namespace
}  // namespace natstack
