#include "core/toml_config.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

constexpr const char* kSpec = R"(# a cluster
name = "prod"
ratio = 0.5
enabled = true
created = 2026-12-04T10:00:00Z

[websocket]
port = 8443
allowed_origins = ["https://app.example.test"]

[[nodes]]
name = "n1"
tags = ["az:1"]

[[nodes]]
name = "n2"
cluster_port = 70000
)";

TEST(TomlConfigTest, ValuesBecomeTheJsonTreeConfigReaderReads) {
  auto doc = ParseTomlDocument(kSpec, "spec.toml");
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->root["name"], "prod");
  EXPECT_EQ(doc->root["ratio"], 0.5);
  EXPECT_EQ(doc->root["enabled"], true);
  EXPECT_EQ(doc->root["created"], "2026-12-04T10:00:00Z");
  EXPECT_EQ(doc->root["websocket"]["port"], 8443);
  EXPECT_TRUE(doc->root["websocket"]["port"].is_number_integer());
  ASSERT_EQ(doc->root["nodes"].size(), 2u);
  EXPECT_EQ(doc->root["nodes"][0]["tags"][0], "az:1");
}

TEST(TomlConfigTest, EveryKeyHasItsLine) {
  auto doc = ParseTomlDocument(kSpec, "spec.toml");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->lines.at("name"), 2);
  EXPECT_EQ(doc->lines.at("websocket"), 7);
  EXPECT_EQ(doc->lines.at("websocket.allowed_origins"), 9);
  EXPECT_EQ(doc->lines.at("websocket.allowed_origins[0]"), 9);
  EXPECT_EQ(doc->lines.at("nodes[1].cluster_port"), 17);
}

TEST(TomlConfigTest, ReaderErrorsNameTheLineOfTheKeyOrItsTable) {
  auto doc = ParseTomlDocument(kSpec, "spec.toml");
  ASSERT_TRUE(doc);
  Status seen;
  ConfigReader r(doc->root, "spec.toml", "", &doc->lines);
  seen = r.ObjectList("nodes", Required::kYes, [](ConfigReader& n, size_t) -> Status {
    int64_t port = 6222;
    std::string name;
    NATSTACK_TRY(n.String("name", name));
    (void)n.Raw("tags");
    NATSTACK_TRY(n.Int("cluster_port", port, 1, 65535));
    return n.Finish();
  });
  ASSERT_FALSE(seen);
  EXPECT_EQ(seen.error().message, "spec.toml:17: nodes[1].cluster_port: must be between 1 and 65535");
  // A missing key has no line of its own: its table's stands in.
  ConfigReader ws(doc->root["websocket"], "spec.toml", "websocket.", &doc->lines);
  std::string origin_mode;
  auto missing = ws.String("mode", origin_mode, Required::kYes);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "spec.toml:7: websocket.mode: is required");
}

TEST(TomlConfigTest, SyntaxErrorsAndRepeatsNameLineAndColumn) {
  auto bad = ParseTomlDocument("name = \"x\"\nport = \n", "spec.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("spec.toml:2:", 0), 0u) << bad.error().message;
  auto twice = ParseTomlDocument("name = \"a\"\nname = \"b\"\n", "spec.toml");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message.rfind("spec.toml:2:", 0), 0u) << twice.error().message;
  auto table_twice = ParseTomlDocument("[a]\nx = 1\n[a]\ny = 2\n", "spec.toml");
  ASSERT_FALSE(table_twice);
  EXPECT_EQ(table_twice.error().message.rfind("spec.toml:3:", 0), 0u)
      << table_twice.error().message;
}

TEST(TomlConfigTest, HostileNestingIsRefused) {
  const std::string deep = "x = " + std::string(40, '[') + std::string(40, ']') + "\n";
  auto r = ParseTomlDocument(deep, "spec.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "spec.toml: nested more than 32 levels deep");
  // Brackets in comments and literal strings are not nesting.
  auto fine = ParseTomlDocument("# " + std::string(40, '[') + "\nx = '" + std::string(40, '[') + "'\n",
                                "spec.toml");
  EXPECT_TRUE(fine) << fine.error().message;
  auto huge = ParseTomlDocument("x = " + std::string(5000, '[') + "\n", "spec.toml");
  EXPECT_FALSE(huge);
}

}  // namespace
}  // namespace natstack
