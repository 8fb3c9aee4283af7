// The callout under failure, on real processes: a replica killed while clients connect, the
// node a replica uses killed, and the IdP's JWKS endpoint down for a minute.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "callout/config.hpp"
#include "cluster/process.hpp"
#include "core/file.hpp"
#include "crypto/evp.hpp"
#include "http/client.hpp"
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
using testing::Stack;
using Steady = std::chrono::steady_clock;

SystemClock g_clock;

Result<std::unique_ptr<Connection>> Connect(const Stack& stack, int node, const std::string& token) {
  return stack.Connect(node, token);
}

/// The one live process whose command line holds `needle` and `also` (0 when none or several).
int OnlyProcess(const std::string& needle, const std::string& also) {
  int found = 0;
  for (int pid : testing::ProcessesMentioning(needle)) {
    auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline || cmdline->find(also) == std::string::npos) continue;
    if (found != 0) return 0;
    found = pid;
  }
  return found;
}

std::string Metrics(const Stack& stack, int port) {
  auto r = http::CurlClient().Get("http://" + stack.NodeHost(4) + ":" + std::to_string(port) +
                                  "/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

/// The value of the first sample line starting with `prefix` ("name{labels} "), or -1.
double Sample(const std::string& metrics, const std::string& prefix) {
  const auto at = metrics.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + 1 + prefix.size()));
}

struct Attempt {
  Steady::time_point at;
  bool valid_token = false;
  bool admitted = false;
  double seconds = 0;
  std::string error;
};

/// Connects in a loop (one client at a time, round robin over the nodes, every fourth with an
/// expired token) until told to stop; bounded by `max_attempts`.
class ConnectLoop {
 public:
  ConnectLoop(const Stack& stack, idp::DevIssuer& issuer, std::vector<int> nodes)
      : stack_(stack), issuer_(issuer), nodes_(std::move(nodes)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ConnectLoop() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t Count() {
    std::lock_guard<std::mutex> l(mu_);
    return attempts_.size();
  }
  std::vector<Attempt> Attempts() {
    std::lock_guard<std::mutex> l(mu_);
    return attempts_;
  }

 private:
  void Run() {
    for (int i = 0; i < 5000 && !stop_; ++i) {
      Attempt a;
      a.at = Steady::now();
      a.valid_token = i % 4 != 3;
      const std::string token = a.valid_token ? issuer_.Mint("u" + std::to_string(i), 600s, g_clock)
                                              : issuer_.Mint("u" + std::to_string(i), -60s, g_clock);
      auto conn = Connect(stack_, nodes_[static_cast<size_t>(i) % nodes_.size()], token);
      a.admitted = static_cast<bool>(conn);
      if (!conn) a.error = conn.error().message;
      a.seconds = std::chrono::duration<double>(Steady::now() - a.at).count();
      std::lock_guard<std::mutex> l(mu_);
      attempts_.push_back(std::move(a));
    }
  }
  const Stack& stack_;
  idp::DevIssuer& issuer_;
  std::vector<int> nodes_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Attempt> attempts_;
  std::thread thread_;
};

class CalloutAvailabilityTest : public ::testing::Test {
 protected:
  void StartStack(const std::vector<std::string>& extra = {}) {
    auto up = stack_.Up(extra);
    ASSERT_EQ(up.exit_code, 0) << up.output;
    auto issuer = idp::DevIssuer::LoadOrCreate(stack_.IdpKeyFile(), stack_.IdpIssuer(), "natstack");
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::make_unique<idp::DevIssuer>(std::move(*issuer));
  }
  Stack stack_;
  std::unique_ptr<idp::DevIssuer> issuer_;
};

TEST_F(CalloutAvailabilityTest, KillingAReplicaWhileClientsConnectLosesOnlyRequestsInFlight) {
  StartStack();
  // Clients admitted before the failure, on every node.
  std::vector<std::unique_ptr<Connection>> admitted;
  for (int node : {1, 2, 3}) {
    auto c = Connect(stack_, node, issuer_->Mint("before" + std::to_string(node), 600s, g_clock));
    ASSERT_TRUE(c) << c.error().message;
    admitted.push_back(std::move(*c));
  }
  const int replica2 = OnlyProcess(stack_.state_dir() + "/callout-2.json", std::string("callout\0serve", 13));
  ASSERT_GT(replica2, 0) << "replica 2 not found";

  ConnectLoop loop(stack_, *issuer_, {1, 2, 3});
  ASSERT_TRUE(testing::WaitFor([&] { return loop.Count() >= 30; }, 60s));
  // Both replicas share the load (the one about to die has answered some requests).
  const std::string m2 = Metrics(stack_, 9402);
  EXPECT_GT(Sample(m2, "natstack_callout_decisions_total{outcome=\"admitted\",reason=\"admitted\",source=\"dev\"} "), 0)
      << m2;
  const auto killed_at = Steady::now();
  ASSERT_EQ(::kill(replica2, SIGKILL), 0);
  const size_t at_kill = loop.Count();
  ASSERT_TRUE(testing::WaitFor([&] { return loop.Count() >= at_kill + 100; }, 90s));
  loop.Stop();

  size_t lost = 0, after = 0, admitted_after = 0;
  for (const Attempt& a : loop.Attempts()) {
    // Never a wrong admission, before, during or after.
    EXPECT_FALSE(!a.valid_token && a.admitted) << "an expired token was admitted";
    if (a.valid_token && !a.admitted) {
      // Only what was in flight to the dead replica may be lost: it started before the kill
      // and waited out the server's auth timeout.
      EXPECT_LT(a.at, killed_at + 500ms) << "a connect after the failover was refused: " << a.error;
      ++lost;
    }
    if (a.at > killed_at + 500ms) ++after;
    if (a.at > killed_at + 500ms && a.admitted) ++admitted_after;
    if (!a.valid_token) {
      EXPECT_LT(a.seconds, a.at < killed_at ? 1.5 : 4.0) << a.error;
    }
  }
  EXPECT_LE(lost, 2u) << "more admissions lost than requests in flight";
  EXPECT_GE(after, 50u);
  // No client that was admitted was dropped.
  for (const auto& c : admitted) EXPECT_TRUE(c->IsConnected());
  // The survivor, and the replica the supervisor restarted (its counters begin at the
  // restart), made every admission after the kill (the loop's expired tokens, refused, are
  // not admissions: counting every attempt here made the test fail whenever they were many).
  const std::string m1 = Metrics(stack_, 9401);
  const std::string m2_after = Metrics(stack_, 9402);
  const char* kAdmitted =
      "natstack_callout_decisions_total{outcome=\"admitted\",reason=\"admitted\",source=\"dev\"} ";
  EXPECT_GE(Sample(m1, kAdmitted) + std::max(0.0, Sample(m2_after, kAdmitted)),
            static_cast<double>(admitted_after))
      << m1 << m2_after;
  EXPECT_NE(OnlyProcess(stack_.state_dir() + "/callout-2.json", std::string("callout\0serve", 13)),
            replica2)
      << "the supervisor restarts a killed replica";
}

TEST_F(CalloutAvailabilityTest, KillingTheNodeOfAReplicaMovesItToAnotherNode) {
  StartStack();
  auto before = Connect(stack_, 3, issuer_->Mint("carol", 600s, g_clock));
  ASSERT_TRUE(before);
  // Replica 2 dials n2 first; take n2 away.
  const int n2 = OnlyProcess(stack_.state_dir() + "/nodes/n2.conf", "nats-server");
  ASSERT_GT(n2, 0);
  ASSERT_EQ(::kill(n2, SIGKILL), 0);
  // Clients of the other nodes keep getting in, through whichever replica gets the request.
  const auto deadline = Steady::now() + 30s;
  int admitted = 0;
  for (int i = 0; i < 200 && admitted < 40 && Steady::now() < deadline; ++i) {
    auto c = Connect(stack_, i % 2 == 0 ? 1 : 3, issuer_->Mint("d" + std::to_string(i), 600s, g_clock));
    if (c) ++admitted;
  }
  EXPECT_EQ(admitted, 40);
  EXPECT_TRUE((*before)->IsConnected());
  // Replica 2 is back on the cluster (through n1 or n3) and ready.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = http::CurlClient().Get("http://" + stack_.NodeHost(4) + ":9402/readyz");
        return r && r->status == 200;
      },
      20s));
}

TEST_F(CalloutAvailabilityTest, JwksDownForAMinuteKnownKeysKeepAdmittingUnknownKidsRefusedFast) {
  // Our own callout, refreshing the JWKS every 10 s, so that a minute without the IdP means
  // several failed refreshes.
  StartStack({"--callout-replicas", "0"});
  auto base = ReadFile(stack_.state_dir() + "/callout.json");
  ASSERT_TRUE(base);
  auto config = nlohmann::json::parse(*base);
  config["issuers"][0]["jwks_refresh_s"] = 10;
  config["issuers"][0]["jwks_min_refresh_s"] = 1;
  config["issuers"][0]["unknown_kid_wait_ms"] = 500;
  const std::string path = stack_.state_dir() + "/callout-test.json";
  ASSERT_TRUE(WriteFileAtomic(path, config.dump(2), 0600));
  cluster::SpawnOptions so;
  so.argv = {NATSTACK_BINARY, "callout", "serve", "--config", path};
  so.log_file = stack_.state_dir() + "/logs/callout-test.log";
  so.ready_pipe = true;
  auto callout = cluster::ChildProcess::Spawn(so);
  ASSERT_TRUE(callout) << callout.error().message;
  ASSERT_TRUE(callout->WaitReady(30s)) << "callout did not become ready";
  ASSERT_TRUE(Connect(stack_, 1, issuer_->Mint("alice", 600s, g_clock)));

  // A token signed by a key the IdP never published: its kid is unknown.
  auto stranger_key = crypto::GenerateRsaPkey(2048);
  ASSERT_TRUE(stranger_key);
  const nlohmann::json claims = {{"iss", stack_.IdpIssuer()},   {"sub", "mallory"},
                                 {"aud", "natstack"},           {"iat", g_clock.UnixSeconds()},
                                 {"exp", g_clock.UnixSeconds() + 600}};
  const std::string stranger =
      *jwt::SignJws({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "not-published"}}, claims,
                    stranger_key->get());

  // Stopped through the supervisor, which would otherwise restart a killed IdP at once.
  ASSERT_EQ(stack_.Control("idp", "stop"), 200);
  ASSERT_TRUE(testing::WaitFor([&] { return OnlyProcess(stack_.state_dir(), std::string("idp\0serve", 9)) <= 0; }, 10s));
  const auto down_until = Steady::now() + 60s;
  int known = 0, refused_fast = 0, rounds = 0;
  while (Steady::now() < down_until && rounds < 100) {
    ++rounds;
    auto ok = Connect(stack_, 1 + rounds % 3, issuer_->Mint("k" + std::to_string(rounds), 600s, g_clock));
    EXPECT_TRUE(ok) << "a token with a known key was refused while the IdP was down: "
                    << (ok ? "" : ok.error().message);
    if (ok) ++known;
    const auto t0 = Steady::now();
    auto bad = Connect(stack_, 1 + rounds % 3, stranger);
    const double s = std::chrono::duration<double>(Steady::now() - t0).count();
    EXPECT_FALSE(bad) << "a token with an unknown kid was admitted";
    if (!bad && s < 1.5) ++refused_fast;
    std::this_thread::sleep_for(1500ms);
  }
  EXPECT_EQ(known, rounds);
  EXPECT_EQ(refused_fast, rounds);
  // The outage shows: failed refreshes, and the keys' age past the refresh interval.
  const std::string m = Metrics(stack_, 9401);
  EXPECT_GE(Sample(m, "natstack_callout_jwks_fetch_failures_total{issuer=\"dev\"} "), 3) << m;
  EXPECT_GE(Sample(m, "natstack_callout_jwks_age_seconds{issuer=\"dev\"} "), 50) << m;
  EXPECT_EQ(Sample(m, "natstack_callout_jwks_keys{issuer=\"dev\"} "), 1) << m;

  // The IdP returns: the next refresh succeeds and the age drops.
  ASSERT_EQ(stack_.Control("idp", "start"), 200);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        const double age =
            Sample(Metrics(stack_, 9401), "natstack_callout_jwks_age_seconds{issuer=\"dev\"} ");
        return age >= 0 && age < 15;
      },
      30s));
  callout->Stop();
}

}  // namespace
}  // namespace natstack
