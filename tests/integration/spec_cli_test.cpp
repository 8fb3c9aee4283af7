// The cluster spec commands through the real binary: `config validate` and `config default`,
// and `cluster render` into a directory whose node configs pass `nats-server -t`, whose
// secrets are 0600 and whose systemd units hold no secret; and the parts `node` and `logs`
// know from a state directory's layout. Nothing here starts a server: a stack "runs" when its
// lock is held, and a fake supervisor answers on an ephemeral port.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file.hpp"
#include "http/server.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"

namespace natstack {
namespace {

using testing::RunNatstack;
using testing::RunShell;
using testing::TempDir;

std::string SpecDir() { return std::string(NATSTACK_SOURCE_DIR) + "/src/cluster/testdata/spec"; }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  return out;
}

std::string Read(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text) << path;
  return text ? *text : std::string();
}

/// One line of `text` (without the newline) that starts with `prefix`.
std::string LineStarting(const std::string& text, const std::string& prefix) {
  size_t at = text.rfind("\n" + prefix);
  if (at == std::string::npos) return {};
  at += 1;
  return text.substr(at, text.find('\n', at) - at);
}

TEST(SpecCliTest, TheDefaultSpecValidates) {
  TempDir dir;
  auto def = RunNatstack({"config", "default"});
  ASSERT_EQ(def.exit_code, 0) << def.output;
  EXPECT_NE(def.output.find("\nlisten = \"127.0.0.1:9390\"\n"), std::string::npos) << def.output;
  const std::string file = dir.Join("default.toml");
  ASSERT_TRUE(WriteFileAtomic(file, def.output, 0644));
  auto r = RunNatstack({"config", "validate", file});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind(file + ": ok (3 nodes, 2 callout replicas (account AUTH), TLS from the "
                                  "local CA, IdP on 127.0.0.1:9400, supervisor on 127.0.0.1:9390)\n",
                           0),
            0u)
      << r.output;
  r = RunNatstack({"config", "validate", "--up", file});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Validating writes nothing.
  EXPECT_EQ(FilesIn(dir.path()).size(), 1u);
}

TEST(SpecCliTest, ABadSpecGetsOneErrorNamingFileLineAndKey) {
  TempDir dir;
  const std::string file = dir.Join("bad.toml");
  ASSERT_TRUE(WriteFileAtomic(file,
                              "name = \"c\"\n[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n"
                              "[[nodes]]\nname = \"b\"\nhost = \"10.0.0.2\"\n"
                              "cluster_port = 70000\n",
                              0644));
  auto r = RunNatstack({"config", "validate", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, file + ":8: nodes[1].cluster_port: must be between 1 and 65535\n");

  ASSERT_TRUE(WriteFileAtomic(file, "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\nprot = 1\n", 0644));
  r = RunNatstack({"config", "validate", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, file + ":4: nodes[0].prot: unknown key\n");

  // One node: nats-server would not start a JetStream cluster without routes.
  ASSERT_TRUE(WriteFileAtomic(file, "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n", 0644));
  r = RunNatstack({"config", "validate", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(file + ":1: nodes: needs at least two nodes"), std::string::npos) << r.output;

  // Fine to render, but `up` runs nodes here only.
  ASSERT_TRUE(WriteFileAtomic(
      file, "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n[[nodes]]\nname = \"b\"\nhost = \"10.0.0.2\"\n",
      0644));
  EXPECT_EQ(RunNatstack({"config", "validate", file}).exit_code, 0);
  r = RunNatstack({"config", "validate", "--up", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(file + ":3: nodes[0].host: \"10.0.0.1\" is not a loopback"),
            std::string::npos)
      << r.output;

  r = RunNatstack({"config", "validate", dir.Join("missing.toml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("missing.toml"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(SpecCliTest, RenderWritesConfigsSecretsAndUnitsThatNatsServerAccepts) {
  TempDir dir;
  const std::string out = dir.Join("deploy");
  auto r = RunNatstack({"cluster", "render", SpecDir() + "/prod.toml", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ModeOf(out), 0700u);

  // Every secret natstack made, to look for where it must not be.
  std::vector<std::string> secrets;
  for (const auto& f : FilesIn(out + "/keys")) {
    EXPECT_EQ(ModeOf(f), 0600u) << f;
    const std::string text = Read(f);
    if (f.size() > 6 && (f.compare(f.size() - 9, 9, ".password") == 0 ||
                         f.compare(f.size() - 5, 5, ".seed") == 0))
      secrets.push_back(text.substr(0, text.find('\n')));
  }
  ASSERT_GE(secrets.size(), 5u);  // issuer and xkey seeds, callout, sys and route passwords
  EXPECT_EQ(ModeOf(out + "/certs/server.key"), 0600u);
  EXPECT_EQ(ModeOf(out + "/callout.json"), 0600u);
  EXPECT_EQ(r.output.find(secrets[0]), std::string::npos);  // nor in the output

  for (const char* node : {"a1", "a2", "a3"}) {
    const std::string conf = out + "/nodes/" + node + ".conf";
    EXPECT_EQ(ModeOf(out + "/nodes/" + node + ".secrets.conf"), 0600u);
    const std::string text = Read(conf);
    for (const auto& s : secrets) EXPECT_EQ(text.find(s), std::string::npos) << conf;
    // The unit's own command line, checked: ExecStart plus -t.
    const std::string unit = Read(out + "/systemd/natstack-" + node + ".service");
    const std::string exec = LineStarting(unit, "ExecStart=").substr(10);
    ASSERT_EQ(exec.find("/nats-server -c " + conf), exec.size() - conf.size() - 16) << exec;
    const auto check = RunShell(exec + " -t 2>&1");
    EXPECT_EQ(check.exit_code, 0) << exec << ": " << check.output;
  }
  const std::vector<std::string> units = FilesIn(out + "/systemd");
  EXPECT_EQ(units.size(), 5u);  // a1, a2, a3, callout-1, idp
  for (const auto& u : units) {
    EXPECT_EQ(ModeOf(u), 0644u) << u;
    const std::string text = Read(u);
    EXPECT_EQ(text.find("Environment"), std::string::npos) << u;
    for (const auto& s : secrets) EXPECT_EQ(text.find(s), std::string::npos) << u;
    // Absolute paths to this very binary and to nats-server.
    const std::string exec = LineStarting(text, "ExecStart=");
    EXPECT_TRUE(exec.rfind("ExecStart=/", 0) == 0) << exec;
    if (exec.find("/nats-server -c ") == std::string::npos) {
      EXPECT_EQ(exec.rfind("ExecStart=" + std::string(NATSTACK_BINARY) + " ", 0), 0u) << exec;
    }
  }
  if (::access("/usr/bin/systemd-analyze", X_OK) == 0) {
    const auto verify = RunShell("cd " + out + "/systemd && systemd-analyze verify --man=no "
                                 "natstack-*.service 2>&1");
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
  }

  // A second render reuses keys, CA and certificate; the units come out the same.
  const std::string seed = Read(out + "/keys/issuer.seed");
  const std::string cert = Read(out + "/certs/server.pem");
  const std::string root = Read(out + "/ca/root.pem");
  const std::string unit = Read(out + "/systemd/natstack-a1.service");
  r = RunNatstack({"cluster", "render", SpecDir() + "/prod.toml", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Read(out + "/keys/issuer.seed"), seed);
  EXPECT_EQ(Read(out + "/certs/server.pem"), cert);
  EXPECT_EQ(Read(out + "/ca/root.pem"), root);
  EXPECT_EQ(Read(out + "/systemd/natstack-a1.service"), unit);
}

TEST(SpecCliTest, RenderRefusesADirectoryOthersMayWriteAndABadSpec) {
  TempDir dir;
  const std::string open_dir = dir.Join("open");
  ASSERT_TRUE(MakeDirs(open_dir, 0700));
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  auto r = RunNatstack({"cluster", "render", SpecDir() + "/prod.toml", "--out", open_dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("group or others may write to it (mode 0777)"), std::string::npos)
      << r.output;
  EXPECT_TRUE(FilesIn(open_dir).empty());

  const std::string bad = dir.Join("bad.toml");
  ASSERT_TRUE(WriteFileAtomic(bad, "[[nodes]]\nname = \"a\"\n", 0644));
  r = RunNatstack({"cluster", "render", bad, "--out", dir.Join("never")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, bad + ":1: nodes[0].host: is required\n");
  EXPECT_FALSE(FileExists(dir.Join("never")));
}

/// A state directory that looks like a running stack to the CLI: its layout (two nodes, DNS on
/// or off), its control token, its lock held by this process, and a fake supervisor that
/// answers /v1/status with `parts` and records every command it is sent.
class FakeRunningStack {
 public:
  explicit FakeRunningStack(bool dns_enabled) {
    EXPECT_TRUE(server_.Start());
    server_.Get("/v1/status", [this](const http::Request&) {
      std::lock_guard<std::mutex> lock(mu_);
      return http::Json(
          200, nlohmann::json{{"parts", parts_}, {"nodes", nlohmann::json::array()}}.dump());
    });
    server_.Post("/v1/parts/*", [this](const http::Request& r) {
      std::lock_guard<std::mutex> lock(mu_);
      const auto auth = r.headers.find("authorization");
      commands_.push_back(r.path + (auth != r.headers.end() && auth->second == "Bearer t0ken"
                                        ? ""
                                        : " (no token)"));
      return http::Json(200, R"({"ok": true})");
    });
    const nlohmann::json state = {
        {"nodes",
         {{{"name", "n1"}, {"host", "127.0.0.1"}}, {{"name", "n2"}, {"host", "127.0.0.2"}}}},
        {"supervisor_host", "127.0.0.1"},
        {"supervisor_port", server_.BoundPort()},
        {"dns_enabled", dns_enabled}};
    EXPECT_TRUE(WriteFileAtomic(dir_.Join("state.json"), state.dump(), 0644));
    EXPECT_TRUE(MakeDirs(dir_.Join("keys"), 0700));
    EXPECT_TRUE(WriteFileAtomic(dir_.Join("keys/control.token"), "t0ken\n", 0600));
    lock_fd_ = ::open(dir_.Join("natstack.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(lock_fd_, 0);
    EXPECT_EQ(::flock(lock_fd_, LOCK_EX | LOCK_NB), 0);
  }
  ~FakeRunningStack() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  FakeRunningStack(const FakeRunningStack&) = delete;
  FakeRunningStack& operator=(const FakeRunningStack&) = delete;

  const std::string& state_dir() const { return dir_.path(); }
  void SetParts(nlohmann::json parts) {
    std::lock_guard<std::mutex> lock(mu_);
    parts_ = std::move(parts);
  }
  std::vector<std::string> Commands() {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }

 private:
  TempDir dir_;
  http::Server server_;
  int lock_fd_ = -1;
  std::mutex mu_;
  nlohmann::json parts_ = nlohmann::json::array();
  std::vector<std::string> commands_;
};

// The supervisor runs Knot as part "dns" and the record sidecar as "dns-sidecar"; a crash loop
// gives them up like any part, so `node start` must reach them (it used to answer "there is no
// node or part named 'dns-sidecar'", exit 2).
TEST(SpecCliTest, NodeAndLogsKnowTheDnsPartsWhenDnsIsOn) {
  FakeRunningStack stack(/*dns_enabled=*/true);
  const std::string dir = stack.state_dir();
  auto r = RunNatstack({"node", "restart", "dns-sidecar", "--no-wait", "--state-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dns-sidecar: restart requested"), std::string::npos) << r.output;
  r = RunNatstack({"node", "stop", "dns", "--no-wait", "--state-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Waiting on a DNS part: it is back once it runs and is healthy.
  stack.SetParts({{{"name", "dns"}, {"state", "running"}, {"healthy", true}, {"pid", 42}}});
  r = RunNatstack({"node", "start", "dns", "--timeout", "20", "--state-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dns: running and healthy in "), std::string::npos) << r.output;
  EXPECT_EQ(stack.Commands(),
            (std::vector<std::string>{"/v1/parts/dns-sidecar/restart", "/v1/parts/dns/stop",
                                      "/v1/parts/dns/start"}));

  // An unknown part is still refused, and the list names the DNS parts.
  r = RunNatstack({"node", "start", "knot", "--state-dir", dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("there is no node or part named 'knot' (parts: idp, n1, n2, dns, "
                          "dns-sidecar, callout-1, callout-2)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(stack.Commands().size(), 3u);

  ASSERT_TRUE(MakeDirs(dir + "/logs", 0700));
  ASSERT_TRUE(WriteFileAtomic(dir + "/logs/dns-sidecar.log", "sidecar line\n", 0644));
  r = RunNatstack({"logs", "dns-sidecar", "--state-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sidecar line"), std::string::npos) << r.output;
}

TEST(SpecCliTest, NodeRefusesTheDnsPartsWhenDnsIsOff) {
  FakeRunningStack stack(/*dns_enabled=*/false);
  for (const char* part : {"dns", "dns-sidecar"}) {
    auto r = RunNatstack({"node", "restart", part, "--no-wait", "--state-dir", stack.state_dir()});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(std::string("there is no node or part named '") + part +
                            "' (parts: idp, n1, n2, callout-1, callout-2)"),
              std::string::npos)
        << r.output;
  }
  EXPECT_TRUE(stack.Commands().empty());
}

}  // namespace
}  // namespace natstack
