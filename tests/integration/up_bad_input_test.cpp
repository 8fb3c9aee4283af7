// Bad input and lifecycle of `natstack up` and `natstack callout serve`: each mistake gets one
// clear message and a non-zero exit, and nothing is left running.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "core/file.hpp"
#include "testing/stack_fixture.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;
using testing::RunNatstack;
using testing::Stack;
using testing::TempDir;

void ExpectNothingLeft(const Stack& stack) {
  // Processes exit asynchronously after their parent reaped them; allow a short moment.
  std::vector<int> left;
  for (int i = 0; i < 50; ++i) {
    left = testing::ProcessesMentioning(stack.state_dir());
    if (left.empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(left.empty()) << left.size() << " processes of the stack are still running";
  for (int i = 1; i <= 3; ++i)
    for (int port : {4222, 6222, 8222, 8443})
      EXPECT_TRUE(testing::PortFree(stack.NodeHost(i), port)) << stack.NodeHost(i) << ":" << port << " is still bound";
}

TEST(UpBadInputTest, ClientWithServersButNoStateNeedsACaOnlyForTls) {
  TempDir dir;
  const std::string none = dir.path() + "/no-state";
  const std::string token = dir.path() + "/token";
  ASSERT_TRUE(WriteFileAtomic(token, "x.y.z\n", 0600));
  // tls:// without a CA: the missing CA is the cause, not a missing --server.
  auto tls = RunNatstack({"client", "--state-dir", none, "--server", "tls://127.0.0.9:4222",
                          "--token-file", token, "check"});
  EXPECT_NE(tls.exit_code, 0);
  EXPECT_NE(tls.output.find("tls://127.0.0.9:4222 needs a CA to trust: give --ca-file"), std::string::npos)
      << tls.output;
  EXPECT_EQ(tls.output.find("no --server given"), std::string::npos) << tls.output;
  // nats:// needs no CA: it gets as far as dialling (nothing listens there).
  auto plain = RunNatstack({"client", "--state-dir", none, "--server", "nats://127.0.0.9:4222",
                            "--token-file", token, "check"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_EQ(plain.output.find("no --server given"), std::string::npos) << plain.output;
  EXPECT_EQ(plain.output.find("needs a CA"), std::string::npos) << plain.output;
}

TEST(UpBadInputTest, RevokingAnIdTheCalloutNeverAdmitsIsRefused) {
  TempDir dir;
  for (const std::string& bad : std::vector<std::string>{"a.b", "x y", "tab\there", "bob>", std::string(300, 'a')}) {
    auto r = RunNatstack({"callout", "revoke", "--state-dir", dir.path(), "--user", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("is not a user id the callout admits"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(FileExists(dir.path() + "/revoked.json"));  // nothing written
}

TEST(UpBadInputTest, NatsServerOlderThan2_10_11IsRefused) {
  Stack stack;
  const std::string fake = stack.state_dir() + "/old-nats-server";
  ASSERT_TRUE(WriteFileAtomic(fake, "#!/bin/sh\necho 'nats-server: v2.9.10'\n", 0755));
  auto r = RunNatstack({"up", "--detach", "--state-dir", stack.state_dir(), "--addresses",
                        stack.Addresses(), "--idp-listen", stack.IdpListen()},
                       60s, {"NATSTACK_NATS_SERVER=" + fake});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("2.9.10"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(">= 2.10.11"), std::string::npos) << r.output;
  ExpectNothingLeft(stack);
}

TEST(UpBadInputTest, PortAlreadyInUseIsNamedAndNothingStarts) {
  Stack stack;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(8222);
  ::inet_pton(AF_INET, stack.NodeHost(2).c_str(), &addr.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto r = stack.Up();
  ::close(fd);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(stack.NodeHost(2) + ":8222 is already in use"), std::string::npos) << r.output;
  ExpectNothingLeft(stack);
}

TEST(UpBadInputTest, MalformedAddressesAreRefused) {
  TempDir dir;
  auto r = RunNatstack({"up", "--state-dir", dir.path(), "--addresses", "127.0.1.1,10.1.2.3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("'10.1.2.3' is not a loopback address"), std::string::npos) << r.output;
  r = RunNatstack({"up", "--state-dir", dir.path(), "--addresses", "nonsense,127.0.1.2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("'nonsense' is not an IPv4 address"), std::string::npos) << r.output;
}

TEST(UpBadInputTest, BadLayoutFlagsAreRefused) {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    const char* message;
  } cases[] = {
      {{"--addresses", "127.0.1.1"}, "needs at least two addresses"},
      {{"--idp-listen", "0.0.0.0:9400"}, "expected a loopback IPv4 HOST:PORT"},
      {{"--idp-listen", "127.0.0.1:9400x"}, "expected a loopback IPv4 HOST:PORT"},
      {{"--idp-listen", "localhost:9400"}, "expected a loopback IPv4 HOST:PORT"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"up", "--state-dir", dir.path()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = RunNatstack(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
}

TEST(UpBadInputTest, StateDirWritableByOthersIsRefused) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  for (bool detach : {false, true}) {
    std::vector<std::string> args = {"up", "--state-dir", dir.path()};
    if (detach) args.push_back("--detach");
    auto r = RunNatstack(args);
    EXPECT_EQ(r.exit_code, 2) << (detach ? "--detach: " : "") << r.output;
    EXPECT_NE(r.output.find("chmod 700"), std::string::npos) << r.output;
  }
}

TEST(UpBadInputTest, CorruptStateJsonIsNamed) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/state.json", "{\"nodes\": [", 0644));
  auto r = RunNatstack({"up", "--state-dir", dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("state.json:1:"), std::string::npos) << r.output;
}

/// A callout config whose files exist (seeds, password) and whose JWKS URL is unreachable.
class CalloutConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunNatstack({"keys", "generate", "account", "--out", Path("issuer.seed")}).exit_code, 0);
    ASSERT_EQ(RunNatstack({"keys", "generate", "xkey", "--out", Path("xkey.seed")}).exit_code, 0);
    ASSERT_TRUE(WriteFileAtomic(Path("password"), "pw\n", 0600));
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string Config(const std::string& extra_top = "", const std::string& jwks = "http://127.0.0.1:1/jwks.json") const {
    return "{\n"
           "  \"servers\": [\"tls://127.0.0.1:1\"],\n"
           "  \"password_file\": \"" + Path("password") + "\",\n"
           "  \"issuer_seed_file\": \"" + Path("issuer.seed") + "\",\n"
           "  \"xkey_seed_file\": \"" + Path("xkey.seed") + "\",\n" + extra_top +
           "  \"issuers\": [{\"issuer\": \"http://127.0.0.1:1/\", \"audiences\": [\"natstack\"],\n"
           "               \"jwks_uri\": \"" + jwks + "\"}]\n"
           "}\n";
  }
  testing::CommandResult Serve(const std::string& config_text) {
    EXPECT_TRUE(WriteFileAtomic(Path("callout.json"), config_text, 0600));
    return RunNatstack({"callout", "serve", "--config", Path("callout.json")}, 30s);
  }
  TempDir dir_;
};

TEST(KeysCommandTest, SeedsGoToNewFilesOnly) {
  TempDir dir;
  EXPECT_EQ(RunNatstack({"keys", "generate", "account", "--out", "-"}).exit_code, 2);
  const std::string seed = dir.path() + "/a.seed";
  auto made = RunNatstack({"keys", "generate", "account", "--out", seed});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_EQ(made.output.substr(0, 1), "A");  // the public key, not the seed
  struct stat st {};
  ASSERT_EQ(::stat(seed.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = RunNatstack({"keys", "generate", "account", "--out", seed});
  EXPECT_EQ(again.exit_code, 1);
  auto pub = RunNatstack({"keys", "public", seed});
  EXPECT_EQ(pub.exit_code, 0);
  EXPECT_EQ(pub.output, made.output);
}

TEST_F(CalloutConfigTest, MalformedJsonNamesLineAndColumn) {
  auto r = Serve("{\n  \"servers\": [\"x\",\n}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("callout.json:3:"), std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, UnknownKeyIsNamed) {
  auto r = Serve(Config("  \"sevrers\": [],\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("sevrers: unknown key"), std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, BadTemplateIsNamed) {
  auto r = Serve(Config("  \"templates\": {\"default\": {\"pub_allow\": [\"user.{user}.>\"]}},\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("templates.default.pub_allow"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("only {userId} and {claim:NAME} exist"), std::string::npos) << r.output;
  r = Serve(Config("  \"templates\": {\"default\": {\"sub_allow\": [\"user..x\"]}},\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("not a valid NATS subject"), std::string::npos) << r.output;
  // A rule or issuer naming an account the cluster does not have is a start-up error.
  r = Serve(Config("  \"rules\": [{\"claims\": {\"org\": \"acme\"}, \"account\": \"ACME\"}],\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("rules[0].account: account \"ACME\" is not one of the cluster's accounts"),
            std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, AlgNoneOrHmacInTheAllowListIsRefused) {
  for (const char* alg : {"none", "HS256", "XX999"}) {
    std::string config = Config();
    config.replace(config.find("\"audiences\""), 0, std::string("\"algorithms\": [\"") + alg + "\"], ");
    auto r = Serve(config);
    EXPECT_EQ(r.exit_code, 2) << alg << ": " << r.output;
    EXPECT_NE(r.output.find(alg), std::string::npos) << r.output;
  }
}

TEST_F(CalloutConfigTest, MissingKeyFileIsNamed) {
  ASSERT_EQ(::unlink(Path("issuer.seed").c_str()), 0);
  auto r = Serve(Config());
  EXPECT_EQ(r.exit_code, 2);  // a configuration problem
  EXPECT_NE(r.output.find(Path("issuer.seed")), std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, SeedReadableByOthersIsRefused) {
  ASSERT_EQ(::chmod(Path("xkey.seed").c_str(), 0644), 0);
  auto r = Serve(Config());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("chmod 600"), std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, UnreachableJwksIsNamed) {
  auto r = Serve(Config());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot load its keys"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:1"), std::string::npos) << r.output;
}

TEST(UpLifecycleTest, DownThenUpReusesKeysAndCertificates) {
  Stack stack("not/yet/there");  // up creates a missing state directory (and its parents)
  auto first = stack.Up();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  struct stat st {};
  ASSERT_EQ(::stat(stack.state_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << "the state directory holds secrets: 0700";
  auto issuer1 = ReadFile(stack.state_dir() + "/keys/issuer.seed");
  auto ca1 = ReadFile(stack.CaFile());
  auto cert1 = ReadFile(stack.state_dir() + "/certs/server.pem");
  auto down = stack.Down();
  ASSERT_EQ(down.exit_code, 0) << down.output;
  ExpectNothingLeft(stack);
  auto second = stack.Up();
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(*ReadFile(stack.state_dir() + "/keys/issuer.seed"), *issuer1);
  EXPECT_EQ(*ReadFile(stack.CaFile()), *ca1);
  EXPECT_EQ(*ReadFile(stack.state_dir() + "/certs/server.pem"), *cert1);
  ASSERT_EQ(stack.Down().exit_code, 0);
  ExpectNothingLeft(stack);
  // down on a stopped stack is not an error.
  EXPECT_EQ(stack.Down().exit_code, 0);
}

TEST(UpLifecycleTest, InterruptInTheForegroundStopsEverything) {
  Stack stack;
  const std::string out_path = stack.state_dir() + "-fg.out";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const std::string block = stack.Addresses();
    const std::string idp = stack.IdpListen();
    const std::string dir = stack.state_dir();
    ::execl(NATSTACK_BINARY, NATSTACK_BINARY, "up", "--state-dir", dir.c_str(), "--addresses",
            block.c_str(), "--idp-listen", idp.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {
    std::this_thread::sleep_for(100ms);
    auto text = ReadFile(out_path);
    ready = text && text->find("natstack is ready") != std::string::npos;
  }
  ASSERT_TRUE(ready) << *ReadFile(out_path);
  ::kill(pid, SIGINT);  // what Ctrl-C sends
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(WIFEXITED(status)) << *ReadFile(out_path);
  EXPECT_EQ(WEXITSTATUS(status), 0) << *ReadFile(out_path);
  EXPECT_NE(ReadFile(out_path)->find("stopped"), std::string::npos);
  ExpectNothingLeft(stack);
  ::unlink(out_path.c_str());
}

}  // namespace
}  // namespace natstack
