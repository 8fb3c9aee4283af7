#include "callout/config.hpp"

#include <gtest/gtest.h>

namespace natstack::callout {
namespace {

constexpr char kMinimal[] = R"({
  "servers": ["tls://127.0.1.1:4222"],
  "password_file": "/p", "issuer_seed_file": "/i", "xkey_seed_file": "/x",
  "oidc": {"issuer": "http://idp/", "audiences": ["natstack"]}
})";

TEST(CalloutConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  auto c = ParseCalloutConfig(kMinimal, "c.json");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->user, "callout");
  EXPECT_EQ(c->subject, "$SYS.REQ.USER.AUTH");
  EXPECT_EQ(c->queue_group, "natstack-callout");
  EXPECT_EQ(c->target_account, "AUTH");
  EXPECT_EQ(c->max_user_ttl_s, 3600);
  EXPECT_EQ(c->oidc.algorithms, std::vector<std::string>{"RS256"});
  EXPECT_EQ(c->oidc.leeway_s, 30);
  EXPECT_FALSE(c->permissions.allow_responses);  // a publish bypass: off unless asked for
}

TEST(CalloutConfigTest, RoundTripsThroughSerialize) {
  auto c = ParseCalloutConfig(kMinimal, "c.json");
  ASSERT_TRUE(c);
  c->permissions.pub_allow = {"user.{userId}.>"};
  c->allowed_servers = {"NABC"};
  auto again = ParseCalloutConfig(SerializeCalloutConfig(*c), "again.json");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->permissions.pub_allow, c->permissions.pub_allow);
  EXPECT_EQ(again->allowed_servers, c->allowed_servers);
}

TEST(CalloutConfigTest, ErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"servers": []})", "c.json: password_file: is required"},
      {R"({"servers": "x"})", "c.json: servers: expected a list of strings"},
      {R"({"servers": ["a", 1]})", "c.json: servers[1]: expected a string"},
      {R"({"servers":["a"],"password_file":"/p","issuer_seed_file":"/i","xkey_seed_file":"/x",
          "oidc":{"issuer":"i","audiences":[]}})",
       "c.json: oidc.audiences: needs at least one audience"},
      {R"({"servers":["a"],"password_file":"/p","issuer_seed_file":"/i","xkey_seed_file":"/x",
          "oidc":{"issuer":"i","audiences":["a"],"leeway":5}})",
       "c.json: oidc.leeway: unknown key"},
      {R"({"servers":["a"],"password_file":"/p","issuer_seed_file":"/i","xkey_seed_file":"/x",
          "max_user_ttl_s": 0, "oidc":{"issuer":"i","audiences":["a"]}})",
       "c.json: max_user_ttl_s: must be between 1 and 604800"},
      {R"({"servers":["a"],"password_file":"/p","issuer_seed_file":"/i","xkey_seed_file":"/x",
          "log_level":"loud", "oidc":{"issuer":"i","audiences":["a"]}})",
       "c.json: log_level: must be debug, info, warn or error"},
  };
  for (const auto& c : cases) {
    auto r = ParseCalloutConfig(c.json, "c.json");
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

}  // namespace
}  // namespace natstack::callout
