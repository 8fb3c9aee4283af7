// A non-default spec (testdata/spec/prod.toml) through the whole rendering: node configs and
// systemd units against golden files, every node config through `nats-server -t`, the callout
// settings into callout.json, and the units through `systemd-analyze verify`.
#include "cluster/systemd.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "callout/config.hpp"
#include "cluster/render.hpp"
#include "cluster/spec.hpp"
#include "cluster/stack.hpp"
#include "cluster/supervisor.hpp"
#include "cluster/testdata/golden_keys.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"
#include "pki/local_ca.hpp"
#include "testing/helpers.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunShell;
using testing::TempDir;

// Golden files: src/cluster/testdata/spec/*.golden, rewritten with NATSTACK_UPDATE_GOLDEN=1.
using namespace golden;
constexpr const char* kRoutePassword = "route-password";

std::string SpecDir() { return std::string(NATSTACK_SOURCE_DIR) + "/src/cluster/testdata/spec"; }

StackLayout ProdLayout(const std::string& state_dir = "/var/lib/natstack") {
  auto text = ReadFile(SpecDir() + "/prod.toml");
  EXPECT_TRUE(text) << text.error().message;
  auto layout = ParseSpec(*text, "prod.toml", state_dir);
  EXPECT_TRUE(layout) << layout.error().message;
  return *layout;
}

UnitOptions FixedUnitOptions() {
  UnitOptions o;
  o.natstack_exe = "/usr/bin/natstack";
  o.nats_server = "/usr/sbin/nats-server";
  o.user = "natstack";
  return o;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = SpecDir() + "/" + name + ".golden";
  if (std::getenv(kUpdateGoldenEnv) != nullptr) {
    ASSERT_TRUE(WriteFileAtomic(path, actual, 0644));
    return;
  }
  auto want = ReadFile(path);
  ASSERT_TRUE(want) << want.error().ToString() << " (run with " << kUpdateGoldenEnv
                    << "=1 to create)";
  EXPECT_EQ(actual, *want) << path;
}

std::string SelfPath() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(SpecRenderTest, NodeConfigsOfANonDefaultSpecMatchGoldenFiles) {
  RenderInput in = NodeRenderInput(ProdLayout());
  in.issuer_account_public = kIssuer;
  in.callout_xkey_public = kXkey;
  in.callout_password_hash = kCalloutHash;
  in.sys_password_hash = kSysHash;
  in.route_password = kRoutePassword;
  auto rendered = Render(in);
  ASSERT_TRUE(rendered) << rendered.error().ToString();
  ASSERT_EQ(rendered->size(), 3u);
  for (const RenderedNode& node : *rendered) {
    ExpectGolden(ConfigFileName(node.name), node.config);
    ExpectGolden(SecretsFileName(node.name), node.secrets);
    ExpectGolden(RoutesFileName(node.name), node.routes);
  }
  // What the spec changed, in the configs.
  const std::string& a1 = (*rendered)[0].config;
  EXPECT_THAT(a1, HasSubstr("server_tags: [\"node:a1\", \"region:eu\", \"az:1\"]"));
  EXPECT_THAT(a1, HasSubstr("domain: \"eu\""));
  EXPECT_THAT(a1, HasSubstr("allowed_origins: [\"https://app.example.test\", \"http://localhost:3000\"]"));
  EXPECT_THAT(a1, HasSubstr("  timeout: 5\n"));
  EXPECT_THAT(a1, HasSubstr("    account: \"APP\"\n"));
  EXPECT_THAT(a1, HasSubstr("cert_file: \"/var/lib/natstack/certs/server.pem\""));
  EXPECT_THAT((*rendered)[2].config, HasSubstr("listen: \"nats-3.example.test:443\""));
}

TEST(SystemdUnitsTest, MatchGoldenFiles) {
  auto units = RenderSystemdUnits(ProdLayout(), FixedUnitOptions());
  ASSERT_TRUE(units) << units.error().ToString();
  std::vector<std::string> names;
  for (const auto& u : *units) {
    names.push_back(u.name);
    ExpectGolden(u.name, u.text);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"natstack-a1.service", "natstack-a2.service",
                                             "natstack-a3.service", "natstack-callout-1.service",
                                             "natstack-idp.service"}));
}

TEST(SystemdUnitsTest, HardenedWithoutSecretsAndLameDuckStop) {
  auto units = RenderSystemdUnits(ProdLayout(), FixedUnitOptions());
  ASSERT_TRUE(units);
  for (const auto& u : *units) {
    EXPECT_THAT(u.text, Not(HasSubstr("Environment"))) << u.name;
    EXPECT_THAT(u.text, Not(HasSubstr("password"))) << u.name;
    for (const char* line : {"\nUser=natstack\n", "\nNoNewPrivileges=yes\n",
                             "\nProtectSystem=strict\n", "\nPrivateTmp=yes\n",
                             "\nRestart=on-failure\n", "\nProtectHome=yes\n"})
      EXPECT_THAT(u.text, HasSubstr(line)) << u.name;
  }
  const std::string& a1 = (*units)[0].text;
  EXPECT_THAT(a1, HasSubstr("\nExecStart=/usr/sbin/nats-server -c /var/lib/natstack/nodes/a1.conf\n"));
  EXPECT_THAT(a1, HasSubstr("\nExecReload=/usr/sbin/nats-server --signal reload=$MAINPID\n"));
  EXPECT_THAT(a1, HasSubstr("\nKillSignal=SIGUSR2\n"));
  EXPECT_THAT(a1, HasSubstr("\nReadWritePaths=/var/lib/natstack/nodes/a1\n"));
  EXPECT_THAT(a1, HasSubstr("\nCapabilityBoundingSet=\n"));
  // a3's WebSocket port is 443.
  EXPECT_THAT((*units)[2].text, HasSubstr("\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"));
  const std::string& callout = (*units)[3].text;
  EXPECT_THAT(callout, HasSubstr("\nExecStart=/usr/bin/natstack callout serve --config "
                                 "/var/lib/natstack/callout.json\n"));
  EXPECT_THAT(callout, HasSubstr("\nKillSignal=SIGTERM\n"));
  EXPECT_THAT(callout, HasSubstr("\nRestartPreventExitStatus=2\n"));
  EXPECT_THAT(callout, Not(HasSubstr("ReadWritePaths")));
  EXPECT_THAT((*units)[4].text, HasSubstr("\nExecStart=/usr/bin/natstack idp serve --state-dir "
                                          "/var/lib/natstack\n"));
}

TEST(SystemdUnitsTest, NoCalloutUnitWithoutReplicas) {
  StackLayout layout = ProdLayout();
  layout.callout_replicas = 0;
  auto units = RenderSystemdUnits(layout, FixedUnitOptions());
  ASSERT_TRUE(units);
  ASSERT_EQ(units->size(), 4u);
  EXPECT_EQ(units->back().name, "natstack-idp.service");
}

TEST(SystemdUnitsTest, OddPathsAreQuotedAndSpecifiersEscaped) {
  StackLayout layout = ProdLayout("/srv/nat stack/%h$HOME");
  auto units = RenderSystemdUnits(layout, FixedUnitOptions());
  ASSERT_TRUE(units) << units.error().ToString();
  EXPECT_THAT((*units)[0].text,
              HasSubstr("\nExecStart=/usr/sbin/nats-server -c \"/srv/nat stack/%%h$$HOME/nodes/a1.conf\"\n"));
  EXPECT_THAT((*units)[0].text,
              HasSubstr("\nReadWritePaths=\"/srv/nat stack/%%h$$HOME/nodes/a1\"\n"));
}

TEST(SystemdUnitsTest, HomeIsReadOnlyRatherThanHiddenWhenTheFilesLiveThere) {
  auto units = RenderSystemdUnits(ProdLayout("/home/ops/natstack"), FixedUnitOptions());
  ASSERT_TRUE(units);
  for (const auto& u : *units) EXPECT_THAT(u.text, HasSubstr("\nProtectHome=read-only\n"));
}

TEST(SystemdUnitsTest, BadInputsAreRefused) {
  UnitOptions o = FixedUnitOptions();
  o.natstack_exe = "natstack";
  EXPECT_EQ(RenderSystemdUnits(ProdLayout(), o).error().code, Code::kInvalidArgument);
  o = FixedUnitOptions();
  o.user = "nat stack";
  EXPECT_EQ(RenderSystemdUnits(ProdLayout(), o).error().code, Code::kInvalidArgument);
  o = FixedUnitOptions();
  o.nats_server = "/usr/sbin/nats-server\n";
  EXPECT_EQ(RenderSystemdUnits(ProdLayout(), o).error().code, Code::kInvalidArgument);
}

TEST(SystemdUnitsTest, WriteUnitsRemovesUnitsOfPartsThatAreGone) {
  TempDir dir;
  auto units = RenderSystemdUnits(ProdLayout(), FixedUnitOptions());
  ASSERT_TRUE(units);
  ASSERT_TRUE(MakeDirs(dir.Join("u"), 0700));
  ASSERT_TRUE(WriteFileAtomic(dir.Join("u/natstack-old.service"), "x", 0644));
  ASSERT_TRUE(WriteFileAtomic(dir.Join("u/other.service"), "x", 0644));
  auto written = WriteUnits(*units, dir.Join("u"));
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(written->size(), units->size());
  EXPECT_FALSE(FileExists(dir.Join("u/natstack-old.service")));
  EXPECT_TRUE(FileExists(dir.Join("u/other.service")));  // not ours
  EXPECT_EQ(ModeOf(dir.Join("u/natstack-a1.service")), 0644u);
}

// The units as systemd reads them (syntax, directives, executables), where systemd-analyze is
// installed.
TEST(SystemdUnitsTest, SystemdAnalyzeVerifyAcceptsThem) {
  if (::access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "no systemd-analyze";
  TempDir dir;
  UnitOptions o;
  o.natstack_exe = SelfPath();
  o.nats_server = "/bin/true";  // an executable that exists; the unit's syntax is what matters
  o.user = "root";
  auto units = RenderSystemdUnits(ProdLayout(dir.Join("state")), o);
  ASSERT_TRUE(units);
  ASSERT_TRUE(WriteUnits(*units, dir.Join("units")));
  const auto r = RunShell("cd " + dir.Join("units") +
                          " && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "
                          "natstack-*.service 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("Unknown key"))) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("Invalid"))) << r.output;
}

// The whole preparation of a non-default spec in a real directory: every node config passes
// `nats-server -t`, and the callout settings reach callout.json.
TEST(SpecRenderTest, PreparedNodeConfigsPassNatsServerCheckAndCalloutSettingsApply) {
  auto nats_server = FindNatsServer();
  if (!nats_server) GTEST_SKIP() << nats_server.error().message;
  TempDir dir;
  const StackLayout layout = ProdLayout(dir.Join("state"));
  SystemClock clock;
  auto prepared = PrepareStack(layout, clock, [](const std::string&) {});
  ASSERT_TRUE(prepared) << prepared.error().ToString();
  const StatePaths paths(layout.state_dir);
  for (const auto& n : layout.nodes) {
    const auto r = RunShell(*nats_server + " -t -c " + paths.NodeConfig(n.name) + " 2>&1");
    EXPECT_EQ(r.exit_code, 0) << n.name << ": " << r.output;
    EXPECT_EQ(ModeOf(paths.NodesDir() + "/" + SecretsFileName(n.name)), 0600u);
    EXPECT_EQ(ModeOf(paths.NodesDir() + "/" + RoutesFileName(n.name)), 0600u);
  }
  auto text = ReadFile(paths.CalloutConfig(1));
  ASSERT_TRUE(text);
  auto config = callout::ParseCalloutConfig(*text, "callout.json");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->default_account, "APP");
  EXPECT_EQ(config->accounts, std::vector<std::string>{"APP"});
  EXPECT_EQ(config->max_user_ttl_s, 900);
  EXPECT_EQ(config->templates["default"].pub_allow, layout.callout_permissions.pub_allow);
  EXPECT_EQ(config->templates["default"].pub_deny,
            std::vector<std::string>{"app.{userId}.admin.>"});
  EXPECT_EQ(config->templates["default"].sub_allow.back(), "broadcast.>");
  EXPECT_EQ(config->ca_file, paths.RootCa());
  EXPECT_FALSE(FileExists(paths.CalloutConfig(2)));  // one replica
  // The certificate's lifetime is the spec's 30 days, and it names the DNS-named node.
  auto cert = ReadFile(paths.ServerCert());
  ASSERT_TRUE(cert);
  auto info = pki::InspectCertificate(*cert);
  ASSERT_TRUE(info);
  EXPECT_LE(info->not_after - info->not_before, std::chrono::hours(24 * 30 + 1));
  EXPECT_THAT(info->dns_names, ::testing::Contains("nats-3.example.test"));
  EXPECT_THAT(info->ip_addresses, ::testing::Contains("10.1.0.2"));
}

TEST(SpecRenderTest, TheDefaultSpecPassesNatsServerCheck) {
  auto nats_server = FindNatsServer();
  if (!nats_server) GTEST_SKIP() << nats_server.error().message;
  TempDir dir;
  auto layout = ParseSpec(DefaultSpecText(), "default", dir.Join("state"));
  ASSERT_TRUE(layout);
  SystemClock clock;
  ASSERT_TRUE(PrepareStack(*layout, clock, [](const std::string&) {}));
  for (const auto& n : layout->nodes) {
    const auto r = RunShell(*nats_server + " -t -c " +
                            StatePaths(layout->state_dir).NodeConfig(n.name) + " 2>&1");
    EXPECT_EQ(r.exit_code, 0) << n.name << ": " << r.output;
  }
}

}  // namespace
}  // namespace natstack::cluster
