#include "cluster/render.hpp"
#include "cluster/testdata/golden_keys.hpp"

#include <arpa/inet.h>
#include <crypt.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/helpers.hpp"
#include "testing/temp_dir.hpp"
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/file.hpp"
#include "pki/local_ca.hpp"

namespace natstack::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Golden files: src/cluster/testdata/*.golden, rewritten with NATSTACK_UPDATE_GOLDEN=1.
using namespace golden;
// Every character nats-server's config lexer or a URL could trip over.
constexpr const char* kNastyPassword = "r\"o\\ute pw$X#1//2{3}[4],5:6;7=8'9@%/?&+\xc3\xa9";

RenderInput GoldenInput() {
  RenderInput in;
  in.cluster_name = "natstack";
  for (int i = 1; i <= 3; ++i) {
    NodeSpec node;
    node.name = "n" + std::to_string(i);
    node.host = "127.0.1." + std::to_string(i);
    in.nodes.push_back(node);
  }
  in.state_dir = "/var/lib/natstack";
  in.cert_file = "/var/lib/natstack/certs/server.pem";
  in.key_file = "/var/lib/natstack/certs/server.key";
  in.issuer_account_public = kIssuer;
  in.callout_xkey_public = kXkey;
  in.callout_password_hash = kCalloutHash;
  in.sys_password_hash = kSysHash;
  in.route_password = kNastyPassword;
  in.websocket_allowed_origins = {"https://nats.example.test", "https://app.example.test:8443"};
  in.nodes[1].tags = {"az:2", "ssd"};
  in.jetstream_domain = "hub";
  return in;
}

std::string TestDataDir() { return std::string(NATSTACK_SOURCE_DIR) + "/src/cluster/testdata"; }

using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// ---------------------------------------------------------------------------------------------
// Rendering

TEST(RenderTest, MatchesGoldenFiles) {
  auto rendered = Render(GoldenInput());
  ASSERT_TRUE(rendered) << rendered.error().ToString();
  ASSERT_EQ(rendered->size(), 3u);
  const bool update = std::getenv(kUpdateGoldenEnv) != nullptr;
  for (const RenderedNode& node : *rendered) {
    const std::string conf_golden = TestDataDir() + "/" + node.name + ".conf.golden";
    const std::string secrets_golden = TestDataDir() + "/" + node.name + ".secrets.conf.golden";
    const std::string routes_golden = TestDataDir() + "/" + node.name + ".routes.conf.golden";
    if (update) {
      ASSERT_TRUE(WriteFileAtomic(conf_golden, node.config, 0644));
      ASSERT_TRUE(WriteFileAtomic(secrets_golden, node.secrets, 0644));
      ASSERT_TRUE(WriteFileAtomic(routes_golden, node.routes, 0644));
      continue;
    }
    auto want_conf = ReadFile(conf_golden);
    ASSERT_TRUE(want_conf) << want_conf.error().ToString() << " (run with " << kUpdateGoldenEnv
                           << "=1 to create)";
    EXPECT_EQ(node.config, *want_conf) << conf_golden;
    auto want_secrets = ReadFile(secrets_golden);
    ASSERT_TRUE(want_secrets) << want_secrets.error().ToString();
    EXPECT_EQ(node.secrets, *want_secrets) << secrets_golden;
    auto want_routes = ReadFile(routes_golden);
    ASSERT_TRUE(want_routes) << want_routes.error().ToString();
    EXPECT_EQ(node.routes, *want_routes) << routes_golden;
  }
}

TEST(RenderTest, MainConfigHoldsNoSecret) {
  auto rendered = Render(GoldenInput());
  ASSERT_TRUE(rendered);
  for (const RenderedNode& node : *rendered) {
    EXPECT_THAT(node.config, Not(HasSubstr(kCalloutHash)));
    EXPECT_THAT(node.config, Not(HasSubstr(kSysHash)));
    EXPECT_THAT(node.config, Not(HasSubstr("ute pw")));  // part of the route password
    EXPECT_THAT(node.config, Not(HasSubstr("nats-route://")));
    EXPECT_THAT(node.config, HasSubstr("include \"" + node.name + ".secrets.conf\"\n"));
    EXPECT_THAT(node.config, HasSubstr("include \"" + node.name + ".routes.conf\"\n"));
    EXPECT_THAT(node.secrets, HasSubstr(kCalloutHash));
    EXPECT_THAT(node.secrets, HasSubstr(kSysHash));
  }
}

TEST(RenderTest, EachNodeRoutesToEveryOtherNode) {
  auto rendered = Render(GoldenInput());
  ASSERT_TRUE(rendered);
  for (size_t i = 0; i < rendered->size(); ++i) {
    const std::string& routes = (*rendered)[i].routes;
    for (size_t j = 0; j < rendered->size(); ++j) {
      const std::string peer = "@127.0.1." + std::to_string(j + 1) + ":6222\"";
      if (i == j) {
        EXPECT_THAT(routes, Not(HasSubstr(peer)));
      } else {
        EXPECT_THAT(routes, HasSubstr(peer));
      }
    }
    EXPECT_THAT((*rendered)[i].secrets, Not(HasSubstr("nats-route://")));
    EXPECT_THAT((*rendered)[i].config,
                HasSubstr("advertise: \"127.0.1." + std::to_string(i + 1) + ":6222\""));
  }
}

TEST(RenderTest, RouteUrlCredentialsArePercentEncoded) {
  RenderInput in = GoldenInput();
  in.route_user = "ro ute";
  in.route_password = "a:b@c/d%e\"f";
  auto rendered = Render(in);
  ASSERT_TRUE(rendered);
  EXPECT_THAT((*rendered)[0].routes,
              HasSubstr("\"nats-route://ro%20ute:a%3Ab%40c%2Fd%25e%22f@127.0.1.2:6222\""));
  EXPECT_THAT((*rendered)[0].secrets, HasSubstr("NATSTACK_ROUTE_PASSWORD: \"a:b@c/d%e\\\"f\"\n"));
}

TEST(RenderTest, SingleNodeHasAnEmptyRouteList) {
  RenderInput in = GoldenInput();
  in.nodes.resize(1);
  auto rendered = Render(in);
  ASSERT_TRUE(rendered);
  EXPECT_THAT((*rendered)[0].config, HasSubstr("routes: $NATSTACK_ROUTES\n"));
  EXPECT_THAT((*rendered)[0].routes, HasSubstr("NATSTACK_ROUTES: [\n]\n"));
  EXPECT_THAT((*rendered)[0].routes, Not(HasSubstr("nats-route://")));
}

// ---------------------------------------------------------------------------------------------
// The route seed's routes

std::set<std::string> Seed(std::initializer_list<const char*> addresses) {
  return {addresses.begin(), addresses.end()};
}
std::vector<std::string> Names(const SeedRoutes& route_peers) {
  std::vector<std::string> out;
  for (const auto& n : route_peers.peers) out.push_back(n.name);
  return out;
}

TEST(RouteSeedTest, PeersAreTheOtherSeededNodesInSpecOrder) {
  const RenderInput in = GoldenInput();  // n1..n3 on 127.0.1.1-3
  const SeedRoutes all = RouteSeedPeers(in, "n1", Seed({"127.0.1.3", "127.0.1.2", "127.0.1.1"}));
  EXPECT_EQ(Names(all), (std::vector<std::string>{"n2", "n3"}));
  EXPECT_TRUE(all.from_seed);
  EXPECT_EQ(Names(RouteSeedPeers(in, "n2", Seed({"127.0.1.1", "127.0.1.2"}))),
            (std::vector<std::string>{"n1"}));
  // A node not (or no longer) registered gets no route, itself included.
  EXPECT_EQ(Names(RouteSeedPeers(in, "n3", Seed({"127.0.1.3", "127.0.1.1"}))),
            (std::vector<std::string>{"n1"}));
}

TEST(RouteSeedTest, ANodeAloneInTheSeedDialsEveryOtherNodeOfTheSpec) {
  // nats-server will not start a JetStream cluster without a route ("JetStream cluster requires
  // configured routes"), and the first node back must find the others as they come.
  const RenderInput in = GoldenInput();
  const SeedRoutes alone = RouteSeedPeers(in, "n1", Seed({"127.0.1.1"}));
  EXPECT_EQ(Names(alone), (std::vector<std::string>{"n2", "n3"}));
  EXPECT_FALSE(alone.from_seed);
  EXPECT_EQ(Names(RouteSeedPeers(in, "n2", {})), (std::vector<std::string>{"n1", "n3"}));
  EXPECT_EQ(Names(RouteSeedPeers(in, "n1", Seed({"127.0.0.99"}))),
            (std::vector<std::string>{"n2", "n3"}));
}

TEST(RouteSeedTest, AnAddressThatIsNoNodeGetsNoRoute) {
  // A route URL carries the route credentials: a stray record must not make a node dial it.
  const RenderInput in = GoldenInput();
  EXPECT_EQ(Names(RouteSeedPeers(in, "n1", Seed({"127.0.1.2", "127.0.0.99", "10.0.0.1", "junk"}))),
            (std::vector<std::string>{"n2"}));
  EXPECT_EQ(Names(RouteSeedPeers(in, "n1", Seed({"127.0.1.3", "127.0.0.99"}))),
            (std::vector<std::string>{"n3"}));
}

TEST(RouteSeedTest, AddressesCompareInCanonicalForm) {
  RenderInput in = GoldenInput();
  in.nodes[1].host = "::1";
  EXPECT_EQ(Names(RouteSeedPeers(in, "n1", Seed({"0:0:0:0:0:0:0:1", "127.0.1.3"}))),
            (std::vector<std::string>{"n2", "n3"}));
}

TEST(RouteSeedTest, NodesSharingAHostAreAllPeers) {
  RenderInput in = GoldenInput();
  in.nodes[2].host = in.nodes[1].host;  // n2 and n3 on one address, different ports
  in.nodes[2].cluster_port = 6223;
  const auto peers = RouteSeedPeers(in, "n1", Seed({"127.0.1.2"}));
  ASSERT_EQ(Names(peers), (std::vector<std::string>{"n2", "n3"}));
  EXPECT_TRUE(peers.from_seed);
  auto routes = RenderRoutes(in, "n1", peers.peers);
  ASSERT_TRUE(routes) << routes.error().ToString();
  EXPECT_THAT(*routes, HasSubstr("@127.0.1.2:6222\""));
  EXPECT_THAT(*routes, HasSubstr("@127.0.1.2:6223\""));
}

TEST(RouteSeedTest, RenderRoutesOfEveryPeerIsWhatRenderWrites) {
  const RenderInput in = GoldenInput();
  auto rendered = Render(in);
  ASSERT_TRUE(rendered);
  for (const RenderedNode& node : *rendered) {
    auto routes = RenderRoutes(
        in, node.name,
        RouteSeedPeers(in, node.name, Seed({"127.0.1.1", "127.0.1.2", "127.0.1.3"})).peers);
    ASSERT_TRUE(routes) << routes.error().ToString();
    EXPECT_EQ(*routes, node.routes);
  }
}

TEST(RouteSeedTest, RenderRoutesRefusesBadInput) {
  RenderInput in = GoldenInput();
  auto peers = RouteSeedPeers(in, "n1", Seed({"127.0.1.2"})).peers;
  EXPECT_FALSE(RenderRoutes(in, "../n1", peers));
  in.route_password = "";
  EXPECT_FALSE(RenderRoutes(in, "n1", peers));
  in = GoldenInput();
  peers[0].cluster_port = 0;
  auto bad_port = RenderRoutes(in, "n1", peers);
  ASSERT_FALSE(bad_port);
  EXPECT_THAT(bad_port.error().message, HasSubstr("peers[0].cluster_port"));
  peers[0].cluster_port = 6222;
  peers[0].host = "not a host";
  auto bad_host = RenderRoutes(in, "n1", peers);
  ASSERT_FALSE(bad_host);
  EXPECT_THAT(bad_host.error().message, HasSubstr("peers[0].host"));
}

TEST(RenderTest, Ipv6HostsAreBracketedAndDnsHostsLowerCased) {
  RenderInput in = GoldenInput();
  in.nodes[0].host = "::1";
  in.nodes[1].host = "Node2.Example.Test";
  auto rendered = Render(in);
  ASSERT_TRUE(rendered) << rendered.error().ToString();
  EXPECT_THAT((*rendered)[0].config, HasSubstr("listen: \"[::1]:4222\""));
  EXPECT_THAT((*rendered)[0].config, HasSubstr("http: \"[::1]:8222\""));
  EXPECT_THAT((*rendered)[1].routes, HasSubstr("@[::1]:6222\""));
  EXPECT_THAT((*rendered)[0].routes, HasSubstr("@node2.example.test:6222\""));
}

TEST(RenderTest, StateDirTrailingSlashIsIgnored) {
  RenderInput in = GoldenInput();
  in.state_dir = "/var/lib/natstack/";
  auto rendered = Render(in);
  ASSERT_TRUE(rendered);
  EXPECT_THAT((*rendered)[1].config,
              HasSubstr("store_dir: \"/var/lib/natstack/nodes/n2\"\n"));
}

TEST(QuoteConfigStringTest, EscapesWhatTheLexerTreatsSpecially) {
  EXPECT_EQ(QuoteConfigString("plain"), "\"plain\"");
  EXPECT_EQ(QuoteConfigString("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(QuoteConfigString("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(QuoteConfigString("$2b$11$x#//y"), "\"$2b$11$x#//y\"");
  EXPECT_EQ(QuoteConfigString("t\tn\nr\r"), "\"t\\tn\\nr\\r\"");
  EXPECT_EQ(QuoteConfigString(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(QuoteConfigString("\xc3\xa9"), "\"\xc3\xa9\"");
}

// ---------------------------------------------------------------------------------------------
// Validation

struct BadInputCase {
  const char* description;
  std::function<void(RenderInput&)> mutate;
  const char* field;  // must appear in the error message
};

TEST(RenderValidationTest, RejectsBadInputNamingTheField) {
  const std::vector<BadInputCase> cases = {
      {"empty cluster name", [](RenderInput& in) { in.cluster_name = ""; }, "cluster_name"},
      {"cluster name with space", [](RenderInput& in) { in.cluster_name = "a b"; }, "cluster_name"},
      {"cluster name with dot", [](RenderInput& in) { in.cluster_name = "a.b"; }, "cluster_name"},
      {"no nodes", [](RenderInput& in) { in.nodes.clear(); }, "nodes"},
      {"empty node name", [](RenderInput& in) { in.nodes[1].name = ""; }, "nodes[1].name"},
      {"node name with dot", [](RenderInput& in) { in.nodes[1].name = "n.2"; }, "nodes[1]"},
      {"node name with wildcard", [](RenderInput& in) { in.nodes[1].name = "n*"; }, "nodes[1]"},
      {"node name with >", [](RenderInput& in) { in.nodes[1].name = "n>"; }, "nodes[1]"},
      {"node name with slash", [](RenderInput& in) { in.nodes[1].name = "../x"; }, "nodes[1]"},
      {"node name too long", [](RenderInput& in) { in.nodes[1].name = std::string(64, 'n'); },
       "nodes[1]"},
      {"duplicate node name", [](RenderInput& in) { in.nodes[2].name = "n1"; }, "nodes[2]"},
      {"duplicate node name by case", [](RenderInput& in) { in.nodes[2].name = "N1"; }, "nodes[2]"},
      {"empty host", [](RenderInput& in) { in.nodes[0].host = ""; }, "nodes[0] (\"n1\").host"},
      {"bad host", [](RenderInput& in) { in.nodes[0].host = "bad host"; },
       "nodes[0] (\"n1\").host"},
      {"partial IPv4", [](RenderInput& in) { in.nodes[0].host = "127.0.1"; }, ".host"},
      {"IPv4 with port", [](RenderInput& in) { in.nodes[0].host = "127.0.1.1:4222"; }, ".host"},
      {"unspecified IPv4", [](RenderInput& in) { in.nodes[0].host = "0.0.0.0"; }, ".host"},
      {"unspecified IPv6", [](RenderInput& in) { in.nodes[0].host = "::"; }, ".host"},
      {"bracketed IPv6", [](RenderInput& in) { in.nodes[0].host = "[::1]"; }, ".host"},
      {"client port 0", [](RenderInput& in) { in.nodes[0].client_port = 0; },
       "nodes[0] (\"n1\").client_port"},
      {"cluster port too big", [](RenderInput& in) { in.nodes[1].cluster_port = 65536; },
       "nodes[1] (\"n2\").cluster_port"},
      {"negative monitor port", [](RenderInput& in) { in.nodes[2].monitor_port = -1; },
       "nodes[2] (\"n3\").monitor_port"},
      {"websocket port 0", [](RenderInput& in) { in.nodes[2].websocket_port = 0; },
       "websocket_port"},
      {"two listeners of one node on a port",
       [](RenderInput& in) { in.nodes[0].monitor_port = in.nodes[0].client_port; },
       "nodes[0] (\"n1\").monitor_port"},
      {"two nodes on one host with the same ports",
       [](RenderInput& in) { in.nodes[1].host = in.nodes[0].host; },
       "nodes[1] (\"n2\").client_port"},
      {"same host spelled differently",
       [](RenderInput& in) {
         in.nodes[0].host = "::1";
         in.nodes[1].host = "0:0:0:0:0:0:0:1";
       },
       "nodes[1] (\"n2\").client_port"},
      {"same DNS host in other case",
       [](RenderInput& in) {
         in.nodes[0].host = "a.example";
         in.nodes[1].host = "A.EXAMPLE";
       },
       "nodes[1]"},
      {"cross-listener clash between nodes",
       [](RenderInput& in) {
         in.nodes[1].host = in.nodes[0].host;
         in.nodes[1].client_port = 5222;
         in.nodes[1].cluster_port = 7222;
         in.nodes[1].monitor_port = 9222;
         in.nodes[1].websocket_port = in.nodes[0].client_port;
       },
       "nodes[1] (\"n2\").websocket_port"},
      {"relative state dir", [](RenderInput& in) { in.state_dir = "state"; }, "state_dir"},
      {"empty state dir", [](RenderInput& in) { in.state_dir = ""; }, "state_dir"},
      {"relative cert", [](RenderInput& in) { in.cert_file = "server.pem"; }, "cert_file"},
      {"empty key file", [](RenderInput& in) { in.key_file = ""; }, "key_file"},
      {"key file with newline", [](RenderInput& in) { in.key_file = "/a\nb"; }, "key_file"},
      {"empty issuer", [](RenderInput& in) { in.issuer_account_public = ""; },
       "issuer_account_public"},
      {"issuer is not an account", [](RenderInput& in) { in.issuer_account_public = kXkey; },
       "issuer_account_public"},
      {"issuer lower case",
       [](RenderInput& in) { in.issuer_account_public = "a" + std::string(kIssuer).substr(1); },
       "issuer_account_public"},
      {"empty xkey", [](RenderInput& in) { in.callout_xkey_public = ""; }, "callout_xkey_public"},
      {"xkey is an account key", [](RenderInput& in) { in.callout_xkey_public = kIssuer; },
       "callout_xkey_public"},
      {"xkey truncated",
       [](RenderInput& in) { in.callout_xkey_public = std::string(kXkey).substr(0, 55); },
       "callout_xkey_public"},
      {"empty callout user", [](RenderInput& in) { in.callout_user = ""; }, "callout_user"},
      {"empty sys user", [](RenderInput& in) { in.sys_user = ""; }, "sys_user"},
      {"sys user equals callout user", [](RenderInput& in) { in.sys_user = in.callout_user; },
       "sys_user"},
      {"empty route user", [](RenderInput& in) { in.route_user = ""; }, "route_user"},
      {"plaintext callout password", [](RenderInput& in) { in.callout_password_hash = "secret"; },
       "callout_password_hash"},
      {"empty sys hash", [](RenderInput& in) { in.sys_password_hash = ""; }, "sys_password_hash"},
      {"bcrypt with unknown minor",
       [](RenderInput& in) { in.sys_password_hash = std::string(kSysHash).replace(2, 1, "c"); },
       "sys_password_hash"},
      {"truncated bcrypt",
       [](RenderInput& in) { in.sys_password_hash = std::string(kSysHash).substr(0, 59); },
       "sys_password_hash"},
      {"empty route password", [](RenderInput& in) { in.route_password = ""; }, "route_password"},
      {"route password with newline", [](RenderInput& in) { in.route_password = "a\nb"; },
       "route_password"},
      {"origin without scheme",
       [](RenderInput& in) { in.websocket_allowed_origins = {"nats.example.test"}; },
       "websocket_allowed_origins[0]"},
      {"origin with path",
       [](RenderInput& in) { in.websocket_allowed_origins = {"https://a.example/x"}; },
       "websocket_allowed_origins[0]"},
      {"origin with bad port",
       [](RenderInput& in) { in.websocket_allowed_origins = {"https://a.example:99999"}; },
       "websocket_allowed_origins[0]"},
      {"origin with empty port",
       [](RenderInput& in) { in.websocket_allowed_origins = {"https://a.example:"}; },
       "websocket_allowed_origins[0]"},
      {"origin with user",
       [](RenderInput& in) { in.websocket_allowed_origins = {"https://u@a.example"}; },
       "websocket_allowed_origins[0]"},
      {"two origins for one host",
       [](RenderInput& in) {
         in.websocket_allowed_origins = {"https://a.example", "http://A.example:8080"};
       },
       "websocket_allowed_origins[1]"},
      {"zero JetStream memory", [](RenderInput& in) { in.jetstream_max_memory = 0; },
       "jetstream_max_memory"},
      {"negative JetStream file", [](RenderInput& in) { in.jetstream_max_file = -5; },
       "jetstream_max_file"},
      {"JetStream domain with dot", [](RenderInput& in) { in.jetstream_domain = "a.b"; },
       "jetstream_domain"},
      {"empty tag", [](RenderInput& in) { in.nodes[1].tags = {""}; }, "nodes[1] (\"n2\").tags[0]"},
      {"tag with space", [](RenderInput& in) { in.nodes[1].tags = {"az 1"}; }, ".tags[0]"},
      {"tag with comma", [](RenderInput& in) { in.nodes[1].tags = {"a,b"}; }, ".tags[0]"},
      {"tag with quote", [](RenderInput& in) { in.nodes[1].tags = {"a\"b"}; }, ".tags[0]"},
      {"tag too long", [](RenderInput& in) { in.nodes[1].tags = {std::string(65, 't')}; }, ".tags[0]"},
      {"the unique tag's prefix", [](RenderInput& in) { in.nodes[1].tags = {"az:1", "Node:n1"}; },
       ".tags[1]"},
  };
  for (const BadInputCase& c : cases) {
    RenderInput in = GoldenInput();
    c.mutate(in);
    auto rendered = Render(in);
    ASSERT_FALSE(rendered) << c.description;
    EXPECT_EQ(rendered.error().code, Code::kInvalidArgument) << c.description;
    EXPECT_THAT(rendered.error().message, HasSubstr(c.field))
        << c.description << ": " << rendered.error().message;
  }
}

TEST(RenderValidationTest, AcceptsEdgeCasesThatAreFine) {
  const std::vector<std::pair<const char*, std::function<void(RenderInput&)>>> cases = {
      {"no allowed origins", [](RenderInput& in) { in.websocket_allowed_origins.clear(); }},
      {"IPv6 and IP origins",
       [](RenderInput& in) {
         in.websocket_allowed_origins = {"https://[::1]:8443", "http://127.0.0.1"};
       }},
      {"all nodes on one host, distinct ports",
       [](RenderInput& in) {
         for (size_t i = 0; i < in.nodes.size(); ++i) {
           in.nodes[i].host = "127.0.0.1";
           const int offset = static_cast<int>(i) * 10;
           in.nodes[i].client_port += offset;
           in.nodes[i].cluster_port += offset;
           in.nodes[i].monitor_port += offset;
           in.nodes[i].websocket_port += offset;
         }
       }},
      {"DNS host names", [](RenderInput& in) { in.nodes[0].host = "nats-1.internal"; }},
      {"one node", [](RenderInput& in) { in.nodes.resize(1); }},
      {"$2a$ and $2y$ hashes",
       [](RenderInput& in) {
         in.callout_password_hash = std::string(kCalloutHash).replace(2, 1, "a");
         in.sys_password_hash = std::string(kSysHash).replace(2, 1, "y");
       }},
  };
  for (const auto& [description, mutate] : cases) {
    RenderInput in = GoldenInput();
    mutate(in);
    auto rendered = Render(in);
    EXPECT_TRUE(rendered) << description << ": " << rendered.error().ToString();
  }
}

// ---------------------------------------------------------------------------------------------
// Files and bcrypt

TEST(WriteRenderedTest, WritesConfigAndSecretsWithModes) {
  TempDir dir;
  auto rendered = Render(GoldenInput());
  ASSERT_TRUE(rendered);
  const std::string out = dir.Join("conf");
  ASSERT_TRUE(WriteRendered(*rendered, out));
  for (const RenderedNode& node : *rendered) {
    EXPECT_EQ(ModeOf(out + "/" + node.name + ".conf"), 0644u);
    EXPECT_EQ(ModeOf(out + "/" + node.name + ".secrets.conf"), 0600u);
    EXPECT_EQ(*ReadFile(out + "/" + ConfigFileName(node.name)), node.config);
    EXPECT_EQ(*ReadSecretFile(out + "/" + SecretsFileName(node.name)), node.secrets);
    EXPECT_EQ(ModeOf(out + "/" + RoutesFileName(node.name)), 0600u);
    EXPECT_EQ(*ReadSecretFile(out + "/" + RoutesFileName(node.name)), node.routes);
  }
  // Rewriting keeps the modes.
  ASSERT_TRUE(WriteRendered(*rendered, out));
  EXPECT_EQ(ModeOf(out + "/n1.secrets.conf"), 0600u);
  // A node taken out: its config and secrets go, its data directory and other files stay.
  ASSERT_TRUE(MakeDirs(out + "/n3", 0700));
  ASSERT_TRUE(WriteFileAtomic(out + "/notes.txt", "x", 0644));
  rendered->pop_back();
  ASSERT_TRUE(WriteRendered(*rendered, out));
  EXPECT_FALSE(FileExists(out + "/n3.conf"));
  EXPECT_FALSE(FileExists(out + "/n3.secrets.conf"));
  EXPECT_FALSE(FileExists(out + "/n3.routes.conf"));
  EXPECT_TRUE(FileExists(out + "/n3"));
  EXPECT_TRUE(FileExists(out + "/notes.txt"));
  EXPECT_TRUE(FileExists(out + "/n2.conf"));
}

TEST(WriteRenderedTest, RefusesNamesThatAreNotFileNames) {
  TempDir dir;
  for (const std::string name : {"", "../evil", "a/b", "."}) {
    auto status = WriteRendered({RenderedNode{name, "x", "y", "z"}}, dir.path());
    ASSERT_FALSE(status) << name;
    EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  }
}

bool BcryptMatches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof *data);
  return out != nullptr && hash == out;
}

TEST(BcryptHashTest, ProducesA2bHashThatVerifies) {
  auto hash = BcryptHash("pa$$ \"word\"\\", 4);
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_EQ(hash->substr(0, 7), "$2b$04$");
  EXPECT_EQ(hash->size(), 60u);
  EXPECT_TRUE(BcryptMatches("pa$$ \"word\"\\", *hash));
  EXPECT_FALSE(BcryptMatches("pa$$ \"word\"", *hash));
  auto again = BcryptHash("pa$$ \"word\"\\", 4);
  ASSERT_TRUE(again);
  EXPECT_NE(*hash, *again);  // fresh salt each time
}

TEST(BcryptHashTest, DefaultCostIs11) {
  auto hash = BcryptHash("x");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->substr(0, 7), "$2b$11$");
}

TEST(BcryptHashTest, GoldenHashesVerify) {
  EXPECT_TRUE(BcryptMatches(kCalloutPassword, kCalloutHash));
  EXPECT_TRUE(BcryptMatches(kSysPassword, kSysHash));
}

TEST(BcryptHashTest, RejectsPasswordsBcryptWouldMangle) {
  for (const std::string& password :
       {std::string(), std::string("a\0b", 3), std::string(73, 'x')}) {
    auto hash = BcryptHash(password, 4);
    ASSERT_FALSE(hash);
    EXPECT_EQ(hash.error().code, Code::kInvalidArgument);
  }
  EXPECT_TRUE(BcryptHash(std::string(72, 'x'), 4));
  for (const int cost : {3, 32}) {
    auto hash = BcryptHash("x", cost);
    ASSERT_FALSE(hash);
    EXPECT_EQ(hash.error().code, Code::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------------------------
// Process tests: real nats-server 2.10 (and openssl s_client) against the rendered files.

constexpr const char* kNatsServer = "/usr/sbin/nats-server";

using testing::RunShell;
using CommandResult = testing::ShellResult;

// A CA, a server certificate for the given names/IPs, written under dir/certs.
struct TestPki {
  std::string root_pem, cert_file, key_file;
};

TestPki MakePki(const TempDir& dir, const std::vector<std::string>& ips, const Clock& clock) {
  pki::CaOptions ca_options;
  ca_options.dir = dir.Join("ca");
  auto ca = pki::LocalCa::LoadOrCreate(ca_options, clock);
  EXPECT_TRUE(ca) << ca.error().ToString();
  pki::LeafOptions leaf;
  leaf.common_name = "nats.localhost";
  leaf.dns_names = {"nats.localhost", "localhost"};
  leaf.ip_addresses = ips;
  auto issued = ca->Issue(leaf);
  EXPECT_TRUE(issued) << issued.error().ToString();
  TestPki out{ca->RootPemPath(), dir.Join("certs/server.pem"), dir.Join("certs/server.key")};
  EXPECT_TRUE(MakeDirs(dir.Join("certs"), 0700));
  EXPECT_TRUE(pki::WriteCertAndKey(*issued, out.cert_file, out.key_file));
  return out;
}

TEST(RenderProcessTest, NatsServerAcceptsEveryRenderedConfig) {
  TempDir dir;
  SystemClock clock;
  const TestPki pki = MakePki(dir, {"127.0.1.1", "127.0.1.2", "127.0.1.3"}, clock);
  RenderInput in = GoldenInput();
  in.state_dir = dir.Join("state");
  in.cert_file = pki.cert_file;
  in.key_file = pki.key_file;
  auto rendered = Render(in);
  ASSERT_TRUE(rendered) << rendered.error().ToString();
  const std::string conf_dir = dir.Join("conf");
  ASSERT_TRUE(WriteRendered(*rendered, conf_dir));
  for (const RenderedNode& node : *rendered) {
    const std::string path = conf_dir + "/" + ConfigFileName(node.name);
    const CommandResult check = RunShell(std::string(kNatsServer) + " -t -c " + path);
    EXPECT_EQ(check.exit_code, 0) << path << ": " << check.output;
    EXPECT_THAT(check.output, HasSubstr("is valid"));
  }

  // The check is meaningful: without the secrets file the same config is refused ...
  ASSERT_EQ(::unlink((conf_dir + "/n1.secrets.conf").c_str()), 0);
  EXPECT_NE(RunShell(std::string(kNatsServer) + " -t -c " + conf_dir + "/n1.conf").exit_code, 0);
  // ... and so is a secrets file with a variable the config does not use ("unknown field").
  ASSERT_TRUE(WriteFileAtomic(conf_dir + "/n2.secrets.conf",
                              (*rendered)[1].secrets + "NATSTACK_EXTRA: \"x\"\n", 0600));
  const CommandResult extra =
      RunShell(std::string(kNatsServer) + " -t -c " + conf_dir + "/n2.conf");
  EXPECT_NE(extra.exit_code, 0);
  EXPECT_THAT(extra.output, HasSubstr("unknown field"));
}

TEST(RenderProcessTest, NatsServerAcceptsSingleNodeAndIpv6Configs) {
  TempDir dir;
  SystemClock clock;
  const TestPki pki = MakePki(dir, {"::1"}, clock);
  RenderInput in = GoldenInput();
  in.nodes.resize(2);
  in.nodes[0].host = "::1";
  in.nodes[1].host = "localhost";
  in.state_dir = dir.Join("state");
  in.cert_file = pki.cert_file;
  in.key_file = pki.key_file;
  in.websocket_allowed_origins = {"https://[::1]:8443"};
  for (const size_t count : {size_t{2}, size_t{1}}) {
    in.nodes.resize(count);
    auto rendered = Render(in);
    ASSERT_TRUE(rendered) << rendered.error().ToString();
    const std::string conf_dir = dir.Join("conf" + std::to_string(count));
    ASSERT_TRUE(WriteRendered(*rendered, conf_dir));
    for (const RenderedNode& node : *rendered) {
      const CommandResult check = RunShell(std::string(kNatsServer) + " -t -c " + conf_dir + "/" +
                                           ConfigFileName(node.name));
      EXPECT_EQ(check.exit_code, 0) << node.name << ": " << check.output;
    }
  }
}

// A nats-server child process; SIGTERM on destruction.
class NatsServer {
 public:
  NatsServer(const std::string& config, const std::string& log_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::execl(kNatsServer, kNatsServer, "-c", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~NatsServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Waits for `condition` with a deadline, polling; no fixed sleeps.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return condition();
}

// Free TCP ports on `host`: bound together (so they differ) and released.
std::vector<int> FreePorts(const std::string& host, size_t count) {
  std::vector<int> fds, ports;
  for (size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "cannot bind " << host << ": " << std::strerror(errno);
      if (fd >= 0) ::close(fd);
      break;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ports.push_back(ntohs(addr.sin_port));
    fds.push_back(fd);
  }
  for (const int fd : fds) ::close(fd);
  return ports;
}

// Plain HTTP/1.0 GET; returns the body or "" on any failure.
std::string HttpGet(const std::string& host, int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::set<std::string> RoutedPeers(const std::string& host, int monitor_port) {
  const std::string body = HttpGet(host, monitor_port, "/routez");
  std::set<std::string> peers;
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("routes") || !json["routes"].is_array()) return peers;
  for (const auto& route : json["routes"]) {
    if (route.contains("remote_name") && route["remote_name"].is_string())
      peers.insert(route["remote_name"].get<std::string>());
  }
  return peers;
}

struct NatsConnection {
  natsConnection* conn = nullptr;
  natsOptions* opts = nullptr;
  natsStatus status = NATS_ERR;
  NatsConnection(const std::string& url, const std::string& user, const std::string& password,
                 const std::string& ca_file) {
    if (natsOptions_Create(&opts) != NATS_OK) return;
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetUserInfo(opts, user.c_str(), password.c_str());
    natsOptions_SetSecure(opts, true);
    natsOptions_LoadCATrustedCertificates(opts, ca_file.c_str());
    natsOptions_SetTimeout(opts, 5000);
    natsOptions_SetMaxReconnect(opts, 0);
    status = natsConnection_Connect(&conn, opts);
  }
  ~NatsConnection() {
    if (conn != nullptr) natsConnection_Destroy(conn);
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;
};

struct NatsSubscription {
  natsSubscription* sub = nullptr;
  ~NatsSubscription() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
  }
};

// Three nodes on 127.0.77.1-3 with free ports: full route mesh, TLS with the pki chain on the
// client and WebSocket ports, bcrypt users through the rendered secrets, messages across routes,
// and a config reload (which re-reads the relative include).
TEST(RenderProcessTest, ThreeNodesFormAFullMeshWithTlsAndBcryptUsers) {
  TempDir dir;
  SystemClock clock;
  const std::vector<std::string> hosts = {"127.0.77.1", "127.0.77.2", "127.0.77.3"};
  const TestPki pki = MakePki(dir, hosts, clock);

  RenderInput in = GoldenInput();
  in.state_dir = dir.Join("state");
  in.cert_file = pki.cert_file;
  in.key_file = pki.key_file;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::vector<int> ports = FreePorts(hosts[i], 4);
    ASSERT_EQ(ports.size(), 4u);
    in.nodes[i].host = hosts[i];
    in.nodes[i].client_port = ports[0];
    in.nodes[i].cluster_port = ports[1];
    in.nodes[i].monitor_port = ports[2];
    in.nodes[i].websocket_port = ports[3];
  }
  auto rendered = Render(in);
  ASSERT_TRUE(rendered) << rendered.error().ToString();
  const std::string conf_dir = dir.Join("conf");
  ASSERT_TRUE(WriteRendered(*rendered, conf_dir));

  std::vector<std::unique_ptr<NatsServer>> servers;
  for (const RenderedNode& node : *rendered) {
    servers.push_back(std::make_unique<NatsServer>(conf_dir + "/" + ConfigFileName(node.name),
                                                   dir.Join(node.name + ".log")));
  }
  auto log_of = [&](size_t i) {
    auto text = ReadFile(dir.Join((*rendered)[i].name + ".log"));
    return text ? *text : std::string();
  };

  // Full mesh: every node has routes to exactly the two others (routes authenticate with the
  // route password from the secrets file, special characters and all).
  for (size_t i = 0; i < hosts.size(); ++i) {
    std::set<std::string> want;
    for (size_t j = 0; j < hosts.size(); ++j) {
      if (j != i) want.insert(in.nodes[j].name);
    }
    std::set<std::string> got;
    const bool meshed = WaitFor(
        [&] {
          got = RoutedPeers(hosts[i], in.nodes[i].monitor_port);
          return got == want;
        },
        std::chrono::seconds(15));
    EXPECT_TRUE(meshed) << in.nodes[i].name << " routes to " << ::testing::PrintToString(got)
                        << "\nlog:\n"
                        << log_of(i);
  }

  // bcrypt users over TLS verified against the local root (nats.c checks the IP SAN too).
  auto url = [&](size_t i) {
    return "tls://" + hosts[i] + ":" + std::to_string(in.nodes[i].client_port);
  };
  NatsConnection sys(url(1), "sys", kSysPassword, pki.root_pem);
  EXPECT_EQ(sys.status, NATS_OK) << natsStatus_GetText(sys.status);
  NatsConnection wrong(url(1), "sys", "not-the-password", pki.root_pem);
  EXPECT_NE(wrong.status, NATS_OK);

  // A message published on node 3 reaches a subscriber on node 1 (callout user, AUTH account).
  NatsConnection subscriber(url(0), "callout", kCalloutPassword, pki.root_pem);
  NatsConnection publisher(url(2), "callout", kCalloutPassword, pki.root_pem);
  ASSERT_EQ(subscriber.status, NATS_OK) << natsStatus_GetText(subscriber.status);
  ASSERT_EQ(publisher.status, NATS_OK) << natsStatus_GetText(publisher.status);
  NatsSubscription sub;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub.sub, subscriber.conn, "natstack.render.test"),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(subscriber.conn), NATS_OK);
  const bool delivered = WaitFor(
      [&] {
        natsConnection_PublishString(publisher.conn, "natstack.render.test", "hello");
        natsConnection_Flush(publisher.conn);
        natsMsg* msg = nullptr;
        if (natsSubscription_NextMsg(&msg, sub.sub, 100) != NATS_OK) return false;
        natsMsg_Destroy(msg);
        return true;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(delivered);

  // The WebSocket port serves the chain: verify it with only the root trusted.
  const CommandResult ws =
      RunShell("openssl s_client -connect " + hosts[0] + ":" +
               std::to_string(in.nodes[0].websocket_port) + " -CAfile " + pki.root_pem +
               " -verify_return_error -verify_hostname nats.localhost -brief </dev/null");
  EXPECT_EQ(ws.exit_code, 0) << ws.output;
  EXPECT_THAT(ws.output, HasSubstr("Verification: OK"));

  // Reload re-reads the config and its relative include.
  ASSERT_EQ(::kill(servers[0]->pid(), SIGHUP), 0);
  EXPECT_TRUE(
      WaitFor([&] { return log_of(0).find("Reloaded server configuration") != std::string::npos; },
              std::chrono::seconds(10)))
      << log_of(0);
  EXPECT_THAT(log_of(0), Not(HasSubstr("[ERR] Failed to reload")));
}

}  // namespace
}  // namespace natstack::cluster
