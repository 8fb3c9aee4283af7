// The callout configured the ways operators will configure it, on a real stack whose own
// callout is off (--callout-replicas 0): the original design's environment variables, a
// registered service signing its own tokens, a full worker pool, accounts the servers lack, and
// `natstack callout explain`.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster/process.hpp"
#include "core/file.hpp"
#include "crypto/evp.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "idp/dev_issuer.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"
#include "nats_client/connection.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;
using nats_client::Connection;
using nlohmann::json;
using testing::Stack;
using Steady = std::chrono::steady_clock;

class CalloutConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack();
    up_ = new testing::CommandResult(stack_->Up({"--callout-replicas", "0"}));
    if (up_->exit_code != 0) return;
    auto issuer = idp::DevIssuer::LoadOrCreate(stack_->IdpKeyFile(), stack_->IdpIssuer(), "natstack");
    if (issuer) issuer_ = new idp::DevIssuer(std::move(*issuer));
  }
  static void TearDownTestSuite() {
    delete issuer_;
    delete up_;
    delete stack_;
  }
  void SetUp() override {
    ASSERT_EQ(up_->exit_code, 0) << up_->output;
    ASSERT_NE(issuer_, nullptr);
  }
  void TearDown() override {
    if (callout_) callout_->Stop();
    callout_.reset();
  }

  static std::string State(const std::string& name) { return stack_->state_dir() + "/" + name; }
  static json BaseConfig() {
    auto text = ReadFile(State("callout.json"));
    EXPECT_TRUE(text);
    return json::parse(text ? *text : "{}");
  }
  static std::string Secret(const std::string& file) {
    auto text = ReadFile(State(file));
    EXPECT_TRUE(text);
    std::string s = text ? *text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  /// Starts `natstack callout serve` (config file and/or environment) and waits for ready.
  ::testing::AssertionResult Serve(const json& config, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {NATSTACK_BINARY, "callout", "serve"};
    if (!config.is_null()) {
      const std::string path = State("callout-test.json");
      if (!WriteFileAtomic(path, config.dump(2), 0600))
        return ::testing::AssertionFailure() << "cannot write " << path;
      argv.push_back("--config");
      argv.push_back(path);
    }
    // The environment goes through /usr/bin/env so the secrets never touch argv of natstack;
    // env's own argv is visible for an instant, which this test accepts (it checks natstack).
    std::vector<std::string> full;
    if (!env.empty()) {
      full.push_back("/usr/bin/env");
      full.insert(full.end(), env.begin(), env.end());
    }
    full.insert(full.end(), argv.begin(), argv.end());
    cluster::SpawnOptions so;
    so.argv = full;
    so.log_file = State("logs/callout-test.log");
    so.ready_pipe = true;
    auto child = cluster::ChildProcess::Spawn(so);
    if (!child) return ::testing::AssertionFailure() << child.error().message;
    callout_ = std::make_unique<cluster::ChildProcess>(std::move(*child));
    if (!callout_->WaitReady(30s))
      return ::testing::AssertionFailure() << "callout not ready:\n"
                                           << cluster::TailOfFile(so.log_file);
    return ::testing::AssertionSuccess();
  }

  static Result<std::unique_ptr<Connection>> Connect(
      int node, const std::string& token, std::function<void(const std::string&)> on_error = {}) {
    return stack_->Connect(node, token, 5s, std::move(on_error));
  }

  static Stack* stack_;
  static testing::CommandResult* up_;
  static idp::DevIssuer* issuer_;
  static SystemClock clock_;
  std::unique_ptr<cluster::ChildProcess> callout_;
};

Stack* CalloutConfigTest::stack_ = nullptr;
testing::CommandResult* CalloutConfigTest::up_ = nullptr;
idp::DevIssuer* CalloutConfigTest::issuer_ = nullptr;
SystemClock CalloutConfigTest::clock_;

TEST_F(CalloutConfigTest, TheOriginalDesignsEnvironmentVariablesDriveTheCallout) {
  // A deployment of the original design swaps its callout for natstack's: the same variables,
  // secrets as values. A small file says what that design did not have (the TLS trust, the
  // metrics port, the user name this stack uses).
  json file = {{"user", "callout"},
               {"ca_file", stack_->CaFile()},
               {"http_listen", stack_->NodeHost(4) + ":9401"}};
  const std::string issuer_seed = Secret("keys/issuer.seed");
  const std::string xkey_seed = Secret("keys/xkey.seed");
  const std::string password = Secret("keys/callout.password");
  ASSERT_TRUE(Serve(file, {"NATS_SERVERS=" + stack_->ClientUrl(2) + "," + stack_->ClientUrl(3),
                           "NATS_AUTH_NKEY_ISSUER_SEED=" + issuer_seed,
                           "NATS_AUTH_XKEY_ISSUER_SEED=" + xkey_seed,
                           "NATS_AUTH_ACCOUNT=AUTH",
                           "AUTH0_DOMAIN=http://" + stack_->NodeHost(4) + ":9400",
                           "AUTH0_API_IDENTIFIER=natstack",
                           "NATS_REGULAR_USER_PASSWORD=" + password}));
  auto alice = Connect(1, issuer_->Mint("alice", 600s, clock_));
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_TRUE((*alice)->Publish("user.alice.x", "hi"));
  // The secrets were read, then scrubbed: not in the process's environment or command line.
  for (const char* what : {"environ", "cmdline"}) {
    auto text = ReadFile("/proc/" + std::to_string(callout_->pid()) + "/" + what);
    ASSERT_TRUE(text) << what;
    for (const std::string& secret : {issuer_seed, xkey_seed, password})
      EXPECT_EQ(text->find(secret), std::string::npos) << "a secret is in /proc/PID/" << what;
    if (std::string(what) == "environ") {
      EXPECT_NE(text->find("AUTH0_DOMAIN="), std::string::npos);  // non-secrets stay
    }
  }
}

TEST_F(CalloutConfigTest, ARegisteredServiceSignsItsOwnTokenAndGetsItsFixedPermissions) {
  auto key = testing::RunNatstack({"keys", "generate", "user", "--out", State("billing.seed")});
  ASSERT_EQ(key.exit_code, 0) << key.output;
  std::string public_key = key.output;
  while (!public_key.empty() && public_key.back() == '\n') public_key.pop_back();
  json config = BaseConfig();
  config["templates"]["billing"] = {{"pub_allow", {"billing.>"}},
                                    {"sub_allow", {"billing.requests"}},
                                    {"allow_responses", true}};
  config["services"] = {{{"name", "billing"}, {"public_key", public_key}, {"template", "billing"}}};
  ASSERT_TRUE(Serve(config));
  auto token = testing::RunNatstack({"token", "billing", "--seed-file", State("billing.seed"),
                                     "--ttl", "10m", "--state-dir", stack_->state_dir()});
  ASSERT_EQ(token.exit_code, 0) << token.output;
  std::string t = token.output;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  std::mutex mu;
  std::vector<std::string> errors;
  auto svc = Connect(2, t, [&](const std::string& e) {
    std::lock_guard<std::mutex> l(mu);
    errors.push_back(e);
  });
  ASSERT_TRUE(svc) << svc.error().message;
  // Its fixed permissions: billing.> to publish, nothing of user.* .
  auto sub = (*svc)->SubscribeSync("billing.requests");
  ASSERT_TRUE(sub);
  ASSERT_TRUE((*svc)->Publish("billing.requests", "x"));
  EXPECT_TRUE((*sub)->Next(2s));
  ASSERT_TRUE((*svc)->Publish("user.alice.x", "not allowed"));
  (void)(*svc)->Flush(2s);
  EXPECT_TRUE(testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& e : errors)
      if (e.find("Permissions Violation") != std::string::npos) return true;
    return false;
  }, 5s));
  // The same token signed by another key is refused.
  ASSERT_EQ(testing::RunNatstack({"keys", "generate", "user", "--out", State("mallory.seed")}).exit_code, 0);
  auto forged = testing::RunNatstack({"token", "billing", "--seed-file", State("mallory.seed"),
                                      "--state-dir", stack_->state_dir()});
  ASSERT_EQ(forged.exit_code, 0);
  std::string f = forged.output;
  while (!f.empty() && f.back() == '\n') f.pop_back();
  EXPECT_FALSE(Connect(2, f)) << "a service token signed by an unregistered key was admitted";
}

// A template that allows everything, for identities in the callout's own account: they still
// cannot see the sealed requests or answer them in the callout's place.
TEST_F(CalloutConfigTest, AnAllowEverythingTemplateNeverReachesTheCalloutsTraffic) {
  json config = BaseConfig();
  config["templates"]["admin"] = {{"pub_allow", {">"}}, {"sub_allow", {">"}}};
  config["rules"] = {{{"name", "root"}, {"claims", {{"sub", "root"}}}, {"template", "admin"}}};
  ASSERT_TRUE(Serve(config));
  std::mutex mu;
  std::vector<std::string> errors;
  auto root = Connect(1, issuer_->Mint("root", 600s, clock_), [&](const std::string& e) {
    std::lock_guard<std::mutex> l(mu);
    errors.push_back(e);
  });
  ASSERT_TRUE(root) << root.error().message;
  auto requests = (*root)->SubscribeSync("$SYS.REQ.USER.AUTH");
  auto answers = (*root)->SubscribeSync("$SYS._INBOX.>");
  ASSERT_TRUE(requests && answers);
  ASSERT_TRUE((*root)->Flush(2s));
  // Others log in meanwhile; root sees none of it.
  for (int i = 0; i < 3; ++i) {
    auto alice = Connect(1 + i, issuer_->Mint("alice", 600s, clock_));
    EXPECT_TRUE(alice) << alice.error().message;
  }
  EXPECT_FALSE((*requests)->Next(300ms)) << "root read a sealed request";
  EXPECT_FALSE((*answers)->Next(100ms)) << "root read the callout's answer";
  std::lock_guard<std::mutex> l(mu);
  int violations = 0;
  for (const auto& e : errors) violations += e.find("Permissions Violation") != std::string::npos;
  EXPECT_EQ(violations, 2) << "both subscriptions refused by the server";
  // Everything else stays allowed.
  auto own = (*root)->SubscribeSync("anything.at.all");
  EXPECT_TRUE(own);
}

TEST_F(CalloutConfigTest, AFullWorkerPoolRefusesAtOnceWithOverloaded) {
  // An IdP of our own whose JWKS becomes slow: a token with an unknown kid then holds the only
  // worker for unknown_kid_wait_ms while the refresh hangs.
  auto rsa = crypto::GenerateRsaPkey(2048);
  ASSERT_TRUE(rsa);
  const json jwks = {{"keys", json::array({*jwt::PublicJwk(rsa->get(), "k1", "RS256")})}};
  std::atomic<bool> slow{false};
  http::ServerOptions so;
  so.host = stack_->NodeHost(4);
  so.port = 0;
  http::Server idp(so);
  idp.Get("/jwks.json", [&](const http::Request&) {
    for (int i = 0; i < 40 && slow; ++i) std::this_thread::sleep_for(100ms);
    return http::Json(200, jwks.dump());
  });
  ASSERT_TRUE(idp.Start());
  const std::string iss = idp.BaseUrl() + "/";
  json config = BaseConfig();
  config["workers"] = 1;
  config["queue_size"] = 1;
  config["issuers"].push_back({{"name", "slow"},
                               {"issuer", iss},
                               {"audiences", {"natstack"}},
                               {"jwks_uri", idp.BaseUrl() + "/jwks.json"},
                               {"unknown_kid_wait_ms", 1500},
                               {"user_prefix", "slow_"},
                               {"jwks_timeout_ms", 5000}});
  ASSERT_TRUE(Serve(config));
  slow = true;
  const int64_t now = clock_.UnixSeconds();
  const std::string unknown_kid = *jwt::SignJws(
      {{"alg", "RS256"}, {"kid", "k2"}},
      {{"iss", iss}, {"sub", "x"}, {"aud", "natstack"}, {"iat", now}, {"exp", now + 600}},
      rsa->get());
  constexpr int kClients = 8;
  std::vector<double> seconds(kClients);
  std::vector<bool> admitted(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const auto t0 = Steady::now();
      admitted[i] = static_cast<bool>(Connect(1 + i % 3, unknown_kid));
      seconds[i] = std::chrono::duration<double>(Steady::now() - t0).count();
    });
  }
  for (auto& t : threads) t.join();
  slow = false;
  int fast = 0;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_FALSE(admitted[i]);
    if (seconds[i] < 1.0) ++fast;
  }
  // One running, one queued; the rest are told at once instead of waiting out the auth timeout.
  EXPECT_GE(fast, kClients - 3);
  auto metrics = http::CurlClient().Get("http://" + stack_->NodeHost(4) + ":9401/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("reason=\"overloaded\""), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("natstack_callout_queue_capacity 1\n"), std::string::npos);
  // Known keys are unaffected once the pool drains.
  EXPECT_TRUE(testing::WaitFor([&] { return static_cast<bool>(Connect(2, issuer_->Mint("bob", 600s, clock_))); }, 10s));
}

TEST_F(CalloutConfigTest, AnAccountTheServersLackIsAStartUpError) {
  json config = BaseConfig();
  config["accounts"] = {"AUTH", "ACME"};
  config["rules"] = {{{"claims", {{"org", "acme"}}}, {"account", "ACME"}}};
  const std::string path = State("callout-acme.json");
  ASSERT_TRUE(WriteFileAtomic(path, config.dump(2), 0600));
  auto r = testing::RunNatstack({"callout", "serve", "--config", path}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("\"ACME\" does not exist on server n"), std::string::npos) << r.output;
}

TEST_F(CalloutConfigTest, SwappedSeedsAreNamedByTheirSourceNeverEchoed) {
  json config = BaseConfig();
  const std::string issuer_file = config["issuer_seed_file"].get<std::string>();
  const std::string xkey_file = config["xkey_seed_file"].get<std::string>();
  config["issuer_seed_file"] = xkey_file;
  config["xkey_seed_file"] = issuer_file;
  const std::string path = State("callout-swapped.json");
  ASSERT_TRUE(WriteFileAtomic(path, config.dump(2), 0600));
  auto r = testing::RunNatstack({"callout", "serve", "--config", path}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("issuer seed (issuer_seed_file " + xkey_file + ")"), std::string::npos)
      << r.output;
  auto seed = ReadSecretValue(xkey_file);
  ASSERT_TRUE(seed);
  EXPECT_EQ(r.output.find(*seed), std::string::npos);
}

TEST_F(CalloutConfigTest, ExplainShowsWhatATokenGetsAndWhy) {
  const auto sd = std::vector<std::string>{"--state-dir", stack_->state_dir()};
  auto run = [&](std::vector<std::string> args, const std::string& in) {
    args.insert(args.end(), sd.begin(), sd.end());
    return testing::RunNatstack(args, 30s, {}, in);
  };
  const std::string token = issuer_->Mint("erin", 600s, clock_);
  auto text = run({"callout", "explain"}, token);
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("admitted"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("user.erin.>"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find(token.substr(token.rfind('.') + 1)), std::string::npos)
      << "explain printed the token's signature";
  auto j = run({"callout", "explain", "--json"}, token);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto parsed = json::parse(j.output.substr(j.output.find('{')), nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << j.output;
  EXPECT_EQ(parsed["verdict"], "admitted");
  EXPECT_EQ(parsed["account"], "AUTH");
  // Refused, with the reason: an expired token, and a revoked user.
  auto expired = run({"callout", "explain"}, issuer_->Mint("erin", -120s, clock_));
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_NE(expired.output.find("expired"), std::string::npos) << expired.output;
  ASSERT_EQ(run({"callout", "revoke", "--user", "erin"}, "").exit_code, 0);
  auto revoked = run({"callout", "explain"}, token);
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_NE(revoked.output.find("revoked"), std::string::npos) << revoked.output;
  ASSERT_EQ(run({"callout", "revoke", "--remove", "--user", "erin"}, "").exit_code, 0);
  // A token on the command line is refused: argv is visible to every user.
  auto argv_token = run({"callout", "explain", token}, "");
  EXPECT_EQ(argv_token.exit_code, 2);
  EXPECT_NE(argv_token.output.find("standard input"), std::string::npos) << argv_token.output;
}

}  // namespace
}  // namespace natstack
