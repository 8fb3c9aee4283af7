#include "cluster/spec.hpp"

#include <gtest/gtest.h>

#include "cluster/render.hpp"

namespace natstack::cluster {
namespace {

TEST(SpecTest, TheEmbeddedDefaultIsTheDefaultLayout) {
  auto spec = ParseSpec(DefaultSpecText(), "default", "/tmp/x");
  ASSERT_TRUE(spec) << spec.error().message;
  const StackLayout def = DefaultLayout("/tmp/x");
  EXPECT_EQ(spec->cluster_name, def.cluster_name);
  EXPECT_EQ(spec->endpoint_name, def.endpoint_name);
  EXPECT_EQ(spec->idp_host, def.idp_host);
  EXPECT_EQ(spec->idp_port, def.idp_port);
  EXPECT_EQ(spec->audience, def.audience);
  EXPECT_EQ(spec->callout_replicas, def.callout_replicas);
  EXPECT_EQ(spec->jetstream_max_memory, def.jetstream_max_memory);
  EXPECT_EQ(spec->jetstream_max_file, def.jetstream_max_file);
  EXPECT_EQ(spec->websocket_compression, def.websocket_compression);
  ASSERT_EQ(spec->nodes.size(), def.nodes.size());
  for (size_t i = 0; i < def.nodes.size(); ++i) {
    EXPECT_EQ(spec->nodes[i].name, def.nodes[i].name);
    EXPECT_EQ(spec->nodes[i].host, def.nodes[i].host);
    EXPECT_EQ(spec->nodes[i].client_port, def.nodes[i].client_port);
    EXPECT_EQ(spec->nodes[i].cluster_port, def.nodes[i].cluster_port);
    EXPECT_EQ(spec->nodes[i].monitor_port, def.nodes[i].monitor_port);
    EXPECT_EQ(spec->nodes[i].websocket_port, def.nodes[i].websocket_port);
    EXPECT_TRUE(spec->nodes[i].tags.empty());
  }
}

TEST(SpecTest, AMinimalSpecTakesEveryDefault) {
  auto spec = ParseSpec("[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n", "min.toml", "/s");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->cluster_name, "natstack");
  ASSERT_EQ(spec->nodes.size(), 1u);
  EXPECT_EQ(spec->nodes[0].client_port, 4222);
  EXPECT_EQ(spec->state_dir, "/s");
}

TEST(SpecTest, EveryKeyIsRead) {
  constexpr const char* kText = R"(
name = "prod"
endpoint = "nats.example.test"
[node_defaults]
client_port = 14222
tags = ["region:eu"]
[[nodes]]
name = "a"
host = "10.0.0.1"
[[nodes]]
name = "b"
host = "10.0.0.2"
cluster_port = 16222
tags = ["az:2"]
[websocket]
allowed_origins = ["https://app.example.test"]
same_origin = true
compression = false
[jetstream]
max_memory = "1GiB"
max_file = 4096
domain = "hub"
[callout]
replicas = 3
[idp]
listen = "127.0.0.5:9500"
audience = "api"
)";
  auto spec = ParseSpec(kText, "prod.toml", "/s");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->cluster_name, "prod");
  EXPECT_EQ(spec->endpoint_name, "nats.example.test");
  EXPECT_EQ(spec->nodes[0].client_port, 14222);
  EXPECT_EQ(spec->nodes[1].client_port, 14222);
  EXPECT_EQ(spec->nodes[0].cluster_port, 6222);
  EXPECT_EQ(spec->nodes[1].cluster_port, 16222);
  EXPECT_EQ(spec->nodes[0].tags, std::vector<std::string>{"region:eu"});
  EXPECT_EQ(spec->nodes[1].tags, std::vector<std::string>{"az:2"});  // a node's own list wins
  EXPECT_EQ(spec->websocket_allowed_origins, std::vector<std::string>{"https://app.example.test"});
  EXPECT_TRUE(spec->websocket_same_origin);
  EXPECT_FALSE(spec->websocket_compression);
  EXPECT_EQ(spec->jetstream_max_memory, 1LL << 30);
  EXPECT_EQ(spec->jetstream_max_file, 4096);
  EXPECT_EQ(spec->jetstream_domain, "hub");
  EXPECT_EQ(spec->callout_replicas, 3);
  EXPECT_EQ(spec->idp_host, "127.0.0.5");
  EXPECT_EQ(spec->idp_port, 9500);
  EXPECT_EQ(spec->audience, "api");
}

// Each bad spec gets one error naming the file, the line and the key.
TEST(SpecTest, ErrorsNameFileLineAndKey) {
  const std::string node_a = "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n";
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "s.toml: nodes: is required"},
      {"nodes = []\n", "s.toml:1: nodes: needs at least one node"},
      {"nmae = \"x\"\n" + node_a, "s.toml:1: nmae: unknown key"},
      {node_a + "cluster_port = 70000\n", "s.toml:4: nodes[0].cluster_port: must be between 1 and 65535"},
      {node_a + "[[nodes]]\nname = \"A\"\nhost = \"10.0.0.2\"\n",
       "s.toml:5: nodes[1].name: duplicates nodes[0] (\"a\").name"},
      {node_a + "[[nodes]]\nname = \"b\"\nhost = \"10.0.0.1\"\n",
       "s.toml:4: nodes[1].client_port: 10.0.0.1:4222 is already the listener of nodes[0] (\"a\").client_port"},
      {"[[nodes]]\nname = \"a.b\"\nhost = \"10.0.0.1\"\n",
       "s.toml:2: nodes[0].name: \"a.b\" must be 1-63 of [A-Za-z0-9_-] (it becomes a subject token and a file name)"},
      {"[[nodes]]\nname = \"a\"\n", "s.toml:1: nodes[0].host: is required"},
      {node_a + "tags = [\"node:x\"]\n",
       "s.toml:4: nodes[0].tags[0]: \"node:\" tags are natstack's: each node has \"node:<name>\" as its unique JetStream tag"},
      {"name = \"my cluster\"\n" + node_a, "s.toml:1: name: \"my cluster\" must be 1-63 of [A-Za-z0-9_-]"},
      {"endpoint = \"10.0.0.9\"\n" + node_a,
       "s.toml:1: endpoint: \"10.0.0.9\" is not a DNS name (the name clients dial, which the certificate must carry)"},
      {node_a + "[jetstream]\nmax_memory = \"64MB\"\n",
       "s.toml:5: jetstream.max_memory: \"64MB\" is not a size (an integer, or one with KiB, MiB, GiB or TiB)"},
      {node_a + "[jetstream]\nmax_file = -1\n", "s.toml:5: jetstream.max_file: must be positive"},
      {node_a + "[jetstream]\ndomain = \"a.b\"\n", "s.toml:5: jetstream.domain: \"a.b\" must be 1-63 of [A-Za-z0-9_-]"},
      {node_a + "[websocket]\nallowed_origins = [\"https://a.test\", \"http://a.test:8080\"]\n",
       "s.toml:5: websocket.allowed_origins[1]: has the same host as websocket_allowed_origins[0] (nats-server keeps only one scheme/port per host)"},
      {node_a + "[callout]\nreplicas = 17\n", "s.toml:5: callout.replicas: must be between 0 and 16"},
      {node_a + "[idp]\nlisten = \"localhost:9400\"\n",
       "s.toml:5: idp.listen: \"localhost:9400\" is not IPV4:PORT (e.g. 127.0.0.1:9400)"},
      {node_a + "[idp]\nlisten = \"127.0.0.1:65535\"\n",
       "s.toml:5: idp.listen: leaves no port above it for the callout replicas' metrics"},
      {node_a + "[idp]\nissuer = \"x\"\n", "s.toml:5: idp.issuer: unknown key"},
      {node_a + "[node_defaults]\nname = \"x\"\n", "s.toml:5: node_defaults.name: unknown key"},
      {"name = \"a\"\nname = \"b\"\n" + node_a, "s.toml:2:8: Error while parsing key-value pair: cannot redefine existing string 'name'"},
  };
  for (const Case& c : cases) {
    auto spec = ParseSpec(c.text, "s.toml", "/s");
    ASSERT_FALSE(spec) << c.text;
    EXPECT_EQ(spec.error().code, Code::kInvalidArgument);
    EXPECT_EQ(spec.error().message.substr(0, c.error.size()), c.error) << c.text;
  }
}

TEST(SpecTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("1"), 1);
  EXPECT_EQ(*ParseByteSize("2KiB"), 2048);
  EXPECT_EQ(*ParseByteSize("64MiB"), 64LL << 20);
  EXPECT_EQ(*ParseByteSize("3TiB"), 3LL << 40);
  for (const char* bad : {"", "0", "1.5GiB", "-1", "1 GiB", "1gib", "1G", "9999999999999999999", "8388608TiB"})
    EXPECT_FALSE(ParseByteSize(bad)) << bad;
}

TEST(SpecTest, TheDefaultSpecRendersWithTagsAndDomain) {
  auto spec = ParseSpec(std::string(DefaultSpecText()), "default", "/tmp/x");
  ASSERT_TRUE(spec);
  RenderInput in;
  in.nodes = spec->nodes;
  in.nodes[0].tags = {"az:1"};
  in.jetstream_domain = "hub";
  ASSERT_TRUE(CheckShape(in));
}

}  // namespace
}  // namespace natstack::cluster
