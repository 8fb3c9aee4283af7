#include "cluster/spec.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "cluster/render.hpp"
#include "cluster/stack.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"
#include "pki/local_ca.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::cluster {
namespace {

/// `text` with a second node appended (a spec needs two): the cases below are about other keys,
/// and the appended node comes last, so their lines and node indexes stay as written.
std::string WithPeer(const std::string& text) {
  return text + "\n[[nodes]]\nname = \"peer\"\nhost = \"127.0.0.99\"\n";
}

using testing::TempDir;

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
  EXPECT_EQ(spec->websocket_same_origin, def.websocket_same_origin);
  EXPECT_EQ(spec->websocket_allowed_origins, def.websocket_allowed_origins);
  EXPECT_EQ(spec->jetstream_domain, def.jetstream_domain);
  EXPECT_EQ(spec->callout_account, def.callout_account);
  EXPECT_EQ(spec->callout_max_user_ttl_s, def.callout_max_user_ttl_s);
  EXPECT_EQ(spec->callout_auth_timeout_s, def.callout_auth_timeout_s);
  EXPECT_EQ(spec->callout_permissions.pub_allow, def.callout_permissions.pub_allow);
  EXPECT_EQ(spec->callout_permissions.sub_allow, def.callout_permissions.sub_allow);
  EXPECT_EQ(spec->callout_permissions.pub_deny, def.callout_permissions.pub_deny);
  EXPECT_EQ(spec->callout_permissions.sub_deny, def.callout_permissions.sub_deny);
  EXPECT_EQ(spec->callout_permissions.allow_responses, def.callout_permissions.allow_responses);
  EXPECT_EQ(spec->tls_source, def.tls_source);
  EXPECT_EQ(spec->tls_cert_lifetime_h, def.tls_cert_lifetime_h);
  EXPECT_EQ(spec->tls_root_lifetime_h, def.tls_root_lifetime_h);
  EXPECT_EQ(spec->tls_intermediate_lifetime_h, def.tls_intermediate_lifetime_h);
  EXPECT_EQ(spec->supervisor_host, def.supervisor_host);
  EXPECT_EQ(spec->supervisor_port, def.supervisor_port);
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
  auto spec = ParseSpec(WithPeer("[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n"), "min.toml", "/s");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->cluster_name, "natstack");
  ASSERT_EQ(spec->nodes.size(), 2u);
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
account = "APP"
max_user_ttl = "15m"
auth_timeout = 5
[callout.permissions]
pub_allow = ["app.{userId}.>"]
pub_deny = ["app.{userId}.admin"]
sub_allow = ["app.{userId}.>", "news.> workers"]
sub_deny = ["app.{claim:tenant}.secret"]
allow_responses = true
[tls]
source = "local"
cert_lifetime = "720h"
root_lifetime = "20y"
[idp]
listen = "127.0.0.5:9500"
audience = "api"
[supervisor]
listen = "127.0.0.9:9391"
)";
  auto bad = ParseSpec(kText, "prod.toml", "/s");
  ASSERT_FALSE(bad);  // "20y": no such unit
  EXPECT_EQ(bad.error().message.substr(0, 38), "prod.toml:37: tls.root_lifetime: \"20y\"");
  std::string text = kText;
  text.replace(text.find("\"20y\""), 5, "\"7300d\"");
  auto spec = ParseSpec(text, "prod.toml", "/s");
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
  EXPECT_EQ(spec->callout_account, "APP");
  EXPECT_EQ(spec->callout_max_user_ttl_s, 900);
  EXPECT_EQ(spec->callout_auth_timeout_s, 5);
  EXPECT_EQ(spec->callout_permissions.pub_allow, std::vector<std::string>{"app.{userId}.>"});
  EXPECT_EQ(spec->callout_permissions.pub_deny, std::vector<std::string>{"app.{userId}.admin"});
  EXPECT_EQ(spec->callout_permissions.sub_allow.size(), 2u);
  EXPECT_EQ(spec->callout_permissions.sub_deny,
            std::vector<std::string>{"app.{claim:tenant}.secret"});
  EXPECT_TRUE(spec->callout_permissions.allow_responses);
  EXPECT_EQ(spec->tls_source, TlsSource::kLocalCa);
  EXPECT_EQ(spec->tls_cert_lifetime_h, 720);
  EXPECT_EQ(spec->tls_root_lifetime_h, 7300 * 24);
  EXPECT_EQ(spec->tls_intermediate_lifetime_h, 1825 * 24);
  EXPECT_EQ(spec->supervisor_host, "127.0.0.9");
  EXPECT_EQ(spec->supervisor_port, 9391);
}

TEST(SpecTest, APermissionsTableReplacesTheDefaultListsItNames) {
  auto spec = ParseSpec(
      WithPeer("[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n[callout.permissions]\npub_allow = []\n"),
      "p.toml", "/s");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_TRUE(spec->callout_permissions.pub_allow.empty());
  EXPECT_EQ(spec->callout_permissions.sub_allow, callout::DefaultTemplate().sub_allow);
}

// Each bad spec gets one error naming the file, the line and the key.
TEST(SpecTest, ErrorsNameFileLineAndKey) {
  const std::string node_a = "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n";
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "s.toml: nodes: is required"},
      {"nodes = []\n", "s.toml:1: nodes: needs at least two nodes"},
      {"[[nodes]]\nname = \"a\"\nhost = \"127.0.0.1\"\n", "s.toml:1: nodes: needs at least two nodes"},
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
      // TOML syntax errors name the key of their line too (toml++ gives a line and column).
      {"name = \"a\"\nname = \"b\"\n" + node_a,
       "s.toml:2: name: error while parsing key-value pair: cannot redefine existing string 'name'"},
      {node_a + "[dns]\nttl = 99999999999999999999\n",
       "s.toml:5: dns.ttl: error while parsing decimal integer: '99999999999999999999' is not representable in 64 bits"},
      {node_a + "[[nodes]]\nname = \"b\"\nhost = \"10.0.0.2\"\n  cluster_port =  1e\n",
       "s.toml:7: nodes[1].cluster_port: error while parsing "},
      {node_a + "[callout . permissions]  # comment\nallow_responses = yes\n",
       "s.toml:5: callout.permissions.allow_responses: error while parsing "},
      {node_a + "[dns\nttl = 1\n", "s.toml:4:5: Error while parsing table header"},
      // Wrong types.
      {"name = 3\n" + node_a, "s.toml:1: name: expected a string"},
      {node_a + "client_port = \"4222\"\n", "s.toml:4: nodes[0].client_port: expected an integer"},
      {node_a + "tags = \"az:1\"\n", "s.toml:4: nodes[0].tags: expected a list of strings"},
      {"nodes = \"a\"\n", "s.toml:1: nodes: expected a list of objects"},
      {node_a + "[websocket]\ncompression = \"yes\"\n", "s.toml:5: websocket.compression: expected true or false"},
      {node_a + "[jetstream]\nmax_memory = 1.5\n",
       "s.toml:5: jetstream.max_memory: expected a size such as \"64MiB\" or bytes"},
      {node_a + "[callout]\nreplicas = \"2\"\n", "s.toml:5: callout.replicas: expected an integer"},
      {"callout = 2\n" + node_a, "s.toml:1: callout: expected an object"},
      // Ports clashing: within a node, and the services against the nodes.
      {"[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\nmonitor_port = 4222\n",
       "s.toml:4: nodes[0].monitor_port: 10.0.0.1:4222 is already the listener of nodes[0] (\"a\").client_port"},
      {"[[nodes]]\nname = \"a\"\nhost = \"127.0.0.1\"\nclient_port = 9400\n",
       "s.toml:4: nodes[0].client_port: 127.0.0.1:9400 is also idp.listen (by default)"},
      {"[[nodes]]\nname = \"a\"\nhost = \"127.0.0.1\"\nmonitor_port = 9402\n",
       "s.toml:4: nodes[0].monitor_port: 127.0.0.1:9402 is also callout replica 2's metrics port (the IdP port + 2) of idp.listen (by default)"},
      {"[[nodes]]\nname = \"a\"\nhost = \"127.0.0.1\"\nmonitor_port = 9402\n[idp]\nlisten = \"127.0.0.1:9400\"\n",
       "s.toml:6: idp.listen: callout replica 2's metrics port (the IdP port + 2) 127.0.0.1:9402 is already the listener of nodes[0].monitor_port"},
      {node_a + "[supervisor]\nlisten = \"127.0.0.1:9401\"\n",
       "s.toml:5: supervisor.listen: 127.0.0.1:9401 is already the listener of callout replica 1's metrics port (the IdP port + 1) of idp.listen"},
      {node_a + "[idp]\nlisten = \"0.0.0.0:9400\"\n",
       "s.toml:5: idp.listen: 0.0.0.0 cannot be dialled; use the address to listen on"},
      // Non-loopback where it matters.
      {node_a + "[supervisor]\nlisten = \"10.0.0.1:9390\"\n",
       "s.toml:5: supervisor.listen: \"10.0.0.1:9390\" is not a loopback address (127.0.0.0/8): it serves this machine only"},
      {node_a + "[supervisor]\nlisten = \"localhost\"\n",
       "s.toml:5: supervisor.listen: \"localhost\" is not IPV4:PORT (e.g. 127.0.0.1:9390)"},
      {node_a + "[supervisor]\nport = 9390\n", "s.toml:5: supervisor.port: unknown key"},
      // Sizes and durations.
      {node_a + "[jetstream]\nmax_file = \"10GB\"\n",
       "s.toml:5: jetstream.max_file: \"10GB\" is not a size (an integer, or one with KiB, MiB, GiB or TiB)"},
      {node_a + "[jetstream]\nmax_memory = \"0MiB\"\n", "s.toml:5: jetstream.max_memory: \"0MiB\" is zero"},
      {node_a + "[callout]\nmax_user_ttl = \"1w\"\n",
       "s.toml:5: callout.max_user_ttl: \"1w\" is not a duration (an integer with s, m, h or d, such as \"30s\" or \"90d\")"},
      {node_a + "[callout]\nmax_user_ttl = 30\n", "s.toml:5: callout.max_user_ttl: must be between 1m and 30d"},
      {node_a + "[callout]\nauth_timeout = \"2m\"\n", "s.toml:5: callout.auth_timeout: must be between 1s and 1m"},
      {node_a + "[callout]\nauth_timeout = true\n",
       "s.toml:5: callout.auth_timeout: expected a duration such as \"90d\", \"1h\" or \"30s\", or seconds"},
      // Callout settings.
      {node_a + "[callout]\naccount = \"SYS\"\n",
       "s.toml:5: callout.account: \"SYS\" is the system account, which clients never join"},
      {node_a + "[callout]\naccount = \"my app\"\n", "s.toml:5: callout.account: \"my app\" must be 1-63 of [A-Za-z0-9_-]"},
      {node_a + "[callout.permissions]\npub_allow = [\"user..x\"]\n",
       "s.toml:5: callout.permissions.pub_allow: \"user..x\" is not a valid NATS subject"},
      {node_a + "[callout.permissions]\nsub_allow = [\"a.{nope}\"]\n", "s.toml:5: callout.permissions.sub_allow: "},
      {node_a + "[callout.permissions]\nresponses_max = 2\n", "s.toml:5: callout.permissions.responses_max: unknown key"},
      // TLS.
      {node_a + "[tls]\nsource = \"acme\"\n",
       "s.toml:5: tls.source: \"acme\" is neither \"local\" (natstack's CA) nor \"files\""},
      {node_a + "[tls]\ncert_file = \"/x.pem\"\n", "s.toml:5: tls.cert_file: applies only to source = \"files\""},
      {node_a + "[tls]\nsource = \"files\"\ncert_lifetime = \"90d\"\n",
       "s.toml:6: tls.cert_lifetime: applies only to source = \"local\""},
      {node_a + "[tls]\nsource = \"files\"\ncert_file = \"/x.pem\"\n", "s.toml:4: tls.key_file: is required with source = \"files\""},
      {node_a + "[tls]\nsource = \"files\"\ncert_file = \"x.pem\"\nkey_file = \"/k\"\nca_file = \"/c\"\n",
       "s.toml:6: tls.cert_file: \"x.pem\" is not absolute"},
      {node_a + "[tls]\nsource = \"files\"\ncert_file = \"/nonexistent/x.pem\"\nkey_file = \"/k\"\nca_file = \"/c\"\n",
       "s.toml:6: tls.cert_file: "},
      {node_a + "[tls]\ncert_lifetime = \"90m\"\n", "s.toml:5: tls.cert_lifetime: must be a whole number of hours"},
      {node_a + "[tls]\ncert_lifetime = \"30m\"\n", "s.toml:5: tls.cert_lifetime: must be between 1h and 3650d"},
      {node_a + "[tls]\ncert_lifetime = \"2000d\"\n", "s.toml:5: tls.cert_lifetime: is longer than intermediate_lifetime"},
      {node_a + "[tls]\nintermediate_lifetime = \"4000d\"\n",
       "s.toml:5: tls.intermediate_lifetime: is longer than root_lifetime"},
      // No DNS or ACME keys yet: later issues add them with their features.
      {node_a + "[dns]\nzone = \"example.test\"\n", "s.toml:5: dns.zone: unknown key"},
      {node_a + "[dns]\nroute_name = \"routes.example.test\"\n",
       "s.toml:5: dns.route_name: \"routes.example.test\" is not a name inside private_zone \"cluster.internal\""},
      {node_a + "[dns]\nprivate_zone = \"example.test\"\n",
       "s.toml:5: dns.private_zone: is the public zone too"},
      // DNS names ignore case and one trailing dot: these are the same zone.
      {node_a + "[dns]\nprivate_zone = \"EXAMPLE.test\"\nroute_name = \"routes.example.test\"\n",
       "s.toml:5: dns.private_zone: is the public zone too: the route seed is not public"},
      {node_a + "[dns]\npublic_zone = \"Cluster.Internal.\"\npublic_name = \"nats.cluster.internal\"\n",
       "s.toml:4: dns.private_zone: is the public zone too"},
      // Nested zones: the route seed would be public, or the public zone part of a private one.
      {node_a + "[dns]\nprivate_zone = \"sub.Example.test\"\nroute_name = \"routes.sub.example.test\"\n",
       "s.toml:5: dns.private_zone: \"sub.Example.test\" is inside public_zone \"example.test\": the "
       "route seed is not public, so its zone must not be part of the public one"},
      {node_a + "[dns]\npublic_zone = \"pub.cluster.internal\"\npublic_name = \"nats.pub.cluster.internal\"\n",
       "s.toml:5: dns.public_zone: \"pub.cluster.internal\" is inside private_zone \"cluster.internal\": "
       "the route seed's zone is not public, so the public zone cannot be part of it"},
      {node_a + "[dns]\npublic_zone = \"test\"\npublic_name = \"nats.test\"\nprivate_zone = \"x.internal.test.\"\n"
       "route_name = \"routes.x.internal.test\"\n",
       "s.toml:7: dns.private_zone: \"x.internal.test.\" is inside public_zone \"test\""},
      {node_a + "[dns]\npublic_name = \"example.test\"\n",
       "s.toml:5: dns.public_name: \"example.test\" is not a name inside public_zone \"example.test\""},
      {node_a + "[dns]\npublic_name = \"nats.example.test..\"\n",
       "s.toml:5: dns.public_name: \"nats.example.test..\" is not a DNS name"},
      {node_a + "[dns]\npublic_name = \"nats.notexample.test\"\n",
       "s.toml:5: dns.public_name: \"nats.notexample.test\" is not a name inside public_zone"},
      {node_a + "[dns]\nroute_name = \"routes cluster.internal\"\n",
       "s.toml:5: dns.route_name: \"routes cluster.internal\" is not a DNS name"},
      {node_a + "[dns]\nwhen_none = \"drop\"\n",
       "s.toml:5: dns.when_none: \"drop\" is neither \"keep\" nor \"delete\""},
      {node_a + "[dns]\npublic_name = \"nats.other.test\"\n",
       "s.toml:5: dns.public_name: \"nats.other.test\" is not a name inside public_zone \"example.test\""},
      {node_a + "[dns]\nlisten = \"127.0.0.1:9390\"\n",
       "s.toml:5: dns.listen: 127.0.0.1:9390 is already the listener of supervisor.listen"},
      {node_a + "[dns]\nsidecar_port = 9401\n",
       "s.toml:5: dns.sidecar_port: 127.0.0.1:9401 is already the listener of callout replica 1's"},
      {node_a + "[tls]\nacme_email = \"a@b.test\"\n", "s.toml:5: tls.acme_email: unknown key"},
  };
  for (const Case& c : cases) {
    // Cases about the nodes list itself get no peer.
    const bool about_count = c.error.find(": nodes: ") != std::string::npos;
    auto spec = ParseSpec(about_count ? c.text : WithPeer(c.text), "s.toml", "/s");
    ASSERT_FALSE(spec) << c.text;
    EXPECT_EQ(spec.error().code, Code::kInvalidArgument);
    EXPECT_EQ(spec.error().message.substr(0, c.error.size()), c.error) << c.text;
  }
}

// DNS names are case-insensitive and may be written absolute ("name."): the spec keeps them
// lower-case without the dot, so every comparison, config and the certificate use one form.
TEST(SpecTest, DnsNamesIgnoreCaseAndOneTrailingDot) {
  auto spec = ParseSpec(WithPeer(R"(endpoint = "NATS.Example.Test."
[[nodes]]
name = "a"
host = "10.0.0.1"
[dns]
public_zone = "Example.TEST."
public_name = "NATS.Example.Test"
private_zone = "Cluster.Internal."
route_name = "routes.CLUSTER.internal."
)"),
                        "s.toml", "/s");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->endpoint_name, "nats.example.test");
  EXPECT_EQ(spec->dns_public_zone, "example.test");
  EXPECT_EQ(spec->dns_public_name, "nats.example.test");
  EXPECT_EQ(spec->dns_private_zone, "cluster.internal");
  EXPECT_EQ(spec->dns_route_name, "routes.cluster.internal");
  // The endpoint and the public name are one name on the certificate.
  const CertificateNames names = RequiredCertificateNames(*spec);
  EXPECT_EQ(std::count(names.dns.begin(), names.dns.end(), "nats.example.test"), 1);
  EXPECT_EQ(names.dns.size(), 2u) << "nats.example.test and localhost";

  for (const char* name : {"nats.example.test.", "Nats.Example.Test", "NATS.EXAMPLE.TEST."}) {
    auto other = ParseSpec(WithPeer("[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n[dns]\n"
                                    "public_name = \"" + std::string(name) + "\"\n"),
                           "s.toml", "/s");
    ASSERT_TRUE(other) << name << ": " << other.error().message;
    EXPECT_EQ(other->dns_public_name, "nats.example.test");
  }
}

TEST(SpecTest, UpNeedsLoopbackNodesAndIdp) {
  const std::string node_a = "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n";
  ASSERT_TRUE(ParseSpec(WithPeer(node_a), "s.toml", "/s", SpecUse::kAny));
  auto local = ParseSpec(WithPeer(node_a), "s.toml", "/s", SpecUse::kLocal);
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().message.rfind(
                "s.toml:3: nodes[0].host: \"10.0.0.1\" is not a loopback IPv4 address "
                "(127.0.0.0/8): `natstack up` runs every node on this machine",
                0),
            0u)
      << local.error().message;
  auto idp = ParseSpec(WithPeer("[[nodes]]\nname = \"a\"\nhost = \"127.0.0.2\"\n[idp]\nlisten = \"10.0.0.1:9400\"\n"),
                       "s.toml", "/s", SpecUse::kLocal);
  ASSERT_FALSE(idp);
  EXPECT_EQ(idp.error().message.rfind("s.toml:5: idp.listen: \"10.0.0.1\" is not a loopback", 0),
            0u)
      << idp.error().message;
  EXPECT_TRUE(ParseSpec(DefaultSpecText(), "default", "/s", SpecUse::kLocal));
}

TEST(SpecTest, Durations) {
  EXPECT_EQ(*ParseDuration("1s"), 1);
  EXPECT_EQ(*ParseDuration("15m"), 900);
  EXPECT_EQ(*ParseDuration("2h"), 7200);
  EXPECT_EQ(*ParseDuration("90d"), 90 * 86400);
  for (const char* bad : {"", "0s", "1", "1.5h", "-1s", "1 h", "1H", "1w", "1ms", "9999999999999d"})
    EXPECT_FALSE(ParseDuration(bad)) << bad;
}

// ---------------------------------------------------------------------------------------------
// tls.source = "files"

struct OperatorTls {
  std::string cert, key, ca, other_ca, other_key;
};

// A CA and a leaf for nats.example.test, plus an unrelated CA and key.
OperatorTls MakeOperatorTls(const TempDir& dir) {
  SystemClock clock;
  pki::CaOptions options;
  options.dir = dir.Join("ca");
  auto ca = pki::LocalCa::LoadOrCreate(options, clock);
  EXPECT_TRUE(ca) << ca.error().message;
  pki::LeafOptions leaf;
  leaf.dns_names = {"nats.example.test", "*.nodes.example.test"};
  auto cert = ca->Issue(leaf);
  EXPECT_TRUE(cert);
  OperatorTls t{dir.Join("server.pem"), dir.Join("server.key"), dir.Join("ca/root.pem"),
                dir.Join("other/root.pem"), dir.Join("other.key")};
  EXPECT_TRUE(pki::WriteCertAndKey(*cert, t.cert, t.key));
  pki::CaOptions other_options;
  other_options.dir = dir.Join("other");
  auto other = pki::LocalCa::LoadOrCreate(other_options, clock);
  EXPECT_TRUE(other);
  auto other_cert = other->Issue(leaf);
  EXPECT_TRUE(other_cert);
  EXPECT_TRUE(WriteFileAtomic(t.other_key, other_cert->key_pem, 0600));
  return t;
}

std::string FilesSpec(const std::string& endpoint, const std::string& cert, const std::string& key,
                      const std::string& ca) {
  return WithPeer("endpoint = \"" + endpoint + "\"\n[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n"
                  "[tls]\nsource = \"files\"\ncert_file = \"" + cert + "\"\nkey_file = \"" + key +
                  "\"\nca_file = \"" + ca + "\"\n");
}

TEST(SpecTest, OperatorTlsFilesAreCheckedWhenTheSpecIsParsed) {
  TempDir dir;
  const OperatorTls t = MakeOperatorTls(dir);
  auto good = ParseSpec(FilesSpec("nats.example.test", t.cert, t.key, t.ca), "s.toml", "/s");
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->tls_source, TlsSource::kFiles);
  EXPECT_EQ(ServerCertFile(*good), t.cert);
  EXPECT_EQ(ServerKeyFile(*good), t.key);
  EXPECT_EQ(TrustedCaFile(*good), t.ca);
  // A wildcard covers one label.
  EXPECT_TRUE(ParseSpec(FilesSpec("n1.nodes.example.test", t.cert, t.key, t.ca), "s.toml", "/s"));

  ASSERT_TRUE(WriteFileAtomic(dir.Join("junk.pem"), "not a certificate\n", 0600));
  struct Case {
    std::string spec;
    std::string error;
  } cases[] = {
      {FilesSpec("other.example.test", t.cert, t.key, t.ca),
       "s.toml:7: tls.cert_file: " + t.cert + " does not cover the endpoint \"other.example.test\""},
      {FilesSpec("nats.example.test", t.cert, t.other_key, t.ca),
       "s.toml:8: tls.key_file: " + t.other_key + " is not the key of " + t.cert},
      {FilesSpec("nats.example.test", t.cert, t.key, t.other_ca),
       "s.toml:7: tls.cert_file: " + t.cert + " does not verify against " + t.other_ca +
           ": unable to get local issuer certificate"},
      {FilesSpec("nats.example.test", dir.Join("junk.pem"), t.key, t.ca),
       "s.toml:7: tls.cert_file: " + dir.Join("junk.pem") + " holds no PEM certificate"},
      {FilesSpec("nats.example.test", t.cert, dir.Join("junk.pem"), t.ca),
       "s.toml:8: tls.key_file: " + dir.Join("junk.pem") + " holds no usable unencrypted PEM private key"},
      {FilesSpec("nats.example.test", t.cert, t.key, dir.Join("missing.pem")), "s.toml:9: tls.ca_file: "},
  };
  for (const Case& c : cases) {
    auto spec = ParseSpec(c.spec, "s.toml", "/s");
    ASSERT_FALSE(spec) << c.spec;
    EXPECT_EQ(spec.error().code, Code::kInvalidArgument);
    EXPECT_EQ(spec.error().message.substr(0, c.error.size()), c.error);
  }
  // A key others may read is refused like every secret file.
  ASSERT_EQ(::chmod(t.key.c_str(), 0644), 0);
  auto open_key = ParseSpec(FilesSpec("nats.example.test", t.cert, t.key, t.ca), "s.toml", "/s");
  ASSERT_FALSE(open_key);
  EXPECT_EQ(open_key.error().message.substr(0, 22), "s.toml:8: tls.key_file");
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

namespace natstack::cluster {
namespace {

// What the spec sets survives state.json (a later `up` and `idp serve` read the layout there).
TEST(LayoutTest, StateJsonKeepsTheSpecSettings) {
  TempDir dir;
  auto spec = ParseSpec(R"(
[[nodes]]
name = "a"
host = "127.0.0.2"
[[nodes]]
name = "b"
host = "127.0.0.3"
[callout]
account = "APP"
max_user_ttl = "10m"
auth_timeout = "7s"
[callout.permissions]
pub_allow = ["app.{userId}"]
sub_deny = ["x.>"]
allow_responses = true
[tls]
cert_lifetime = "48h"
root_lifetime = "400d"
intermediate_lifetime = "200d"
[supervisor]
listen = "127.0.0.3:9999"
)",
                        "s.toml", dir.path());
  ASSERT_TRUE(spec) << spec.error().message;
  spec->tls_source = TlsSource::kFiles;  // as a files spec would have it
  spec->tls_cert_file = "/c.pem";
  spec->tls_key_file = "/k.pem";
  spec->tls_ca_file = "/ca.pem";
  ASSERT_TRUE(SaveLayout(*spec));
  auto loaded = LoadLayout(dir.path());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->callout_account, "APP");
  EXPECT_EQ(loaded->callout_max_user_ttl_s, 600);
  EXPECT_EQ(loaded->callout_auth_timeout_s, 7);
  EXPECT_EQ(loaded->callout_permissions.pub_allow, std::vector<std::string>{"app.{userId}"});
  EXPECT_EQ(loaded->callout_permissions.sub_allow, callout::DefaultTemplate().sub_allow);
  EXPECT_EQ(loaded->callout_permissions.sub_deny, std::vector<std::string>{"x.>"});
  EXPECT_TRUE(loaded->callout_permissions.allow_responses);
  EXPECT_EQ(loaded->tls_source, TlsSource::kFiles);
  EXPECT_EQ(ServerCertFile(*loaded), "/c.pem");
  EXPECT_EQ(ServerKeyFile(*loaded), "/k.pem");
  EXPECT_EQ(TrustedCaFile(*loaded), "/ca.pem");
  EXPECT_EQ(InfoJson(*loaded)["ca_file"], "/ca.pem");
  EXPECT_EQ(loaded->tls_cert_lifetime_h, 48);
  EXPECT_EQ(loaded->tls_root_lifetime_h, 400 * 24);
  EXPECT_EQ(loaded->tls_intermediate_lifetime_h, 200 * 24);
  EXPECT_EQ(loaded->supervisor_host, "127.0.0.3");
  EXPECT_EQ(loaded->supervisor_port, 9999);
}

// A state.json written before the spec's settings existed loads with their defaults.
TEST(LayoutTest, AnOlderStateJsonTakesTheNewDefaults) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Join("state.json"), R"({
  "cluster_name": "natstack",
  "nodes": [{"name": "n1", "host": "127.0.1.1"}, {"name": "n2", "host": "127.0.1.2"}]
})",
                              0644));
  auto loaded = LoadLayout(dir.path());
  ASSERT_TRUE(loaded) << loaded.error().message;
  const StackLayout def;
  EXPECT_EQ(loaded->callout_account, def.callout_account);
  EXPECT_EQ(loaded->callout_auth_timeout_s, def.callout_auth_timeout_s);
  EXPECT_EQ(loaded->callout_permissions.pub_allow, callout::DefaultTemplate().pub_allow);
  EXPECT_EQ(loaded->tls_source, TlsSource::kLocalCa);
  EXPECT_EQ(TrustedCaFile(*loaded), dir.Join("ca/root.pem"));
  EXPECT_EQ(loaded->tls_cert_lifetime_h, 24 * 90);
}

}  // namespace
}  // namespace natstack::cluster
