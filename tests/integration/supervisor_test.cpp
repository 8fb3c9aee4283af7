// The supervisor on real processes: a node killed with SIGKILL is restarted and re-joins; a node
// that cannot start fails `up` with its log; a rolling restart of every node under a publishing
// JetStream client (R3 stream) loses no acknowledged message and no admitted client for longer
// than its reconnect time; status, logs and the control endpoint's token.
#include <nats/nats.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file.hpp"
#include "http/client.hpp"
#include "idp/dev_issuer.hpp"
#include "core/clock.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<testing::Stack>("state");
    auto up = stack_->Up();
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }
  void TearDown() override {
    if (stack_) {
      auto down = stack_->Down();
      EXPECT_EQ(down.exit_code, 0) << down.output;
      EXPECT_TRUE(testing::ProcessesMentioning(stack_->state_dir()).empty());
    }
  }
  nlohmann::json Status() {
    auto r = testing::RunNatstack({"status", "--json", "--state-dir", stack_->state_dir()}, 30s);
    auto doc = nlohmann::json::parse(r.output, nullptr, false);
    return doc.is_object() ? doc : nlohmann::json::object();
  }
  static const nlohmann::json& Node(const nlohmann::json& status, const std::string& name) {
    for (const auto& n : status["nodes"])
      if (n["name"] == name) return n;
    static const nlohmann::json none = nlohmann::json::object();
    return none;
  }
  std::string Token(const std::string& user) {
    auto issuer = idp::DevIssuer::LoadOrCreate(stack_->IdpKeyFile(), stack_->IdpIssuer(), "natstack");
    EXPECT_TRUE(issuer) << issuer.error().message;
    return issuer->Mint(user, std::chrono::minutes(10), clock_);
  }
  SystemClock clock_;
  std::unique_ptr<testing::Stack> stack_;
};

TEST_F(SupervisorTest, StatusShowsEveryNodeMeshedWithItsCertificateAndTheCallouts) {
  auto table = testing::RunNatstack({"status", "--state-dir", stack_->state_dir()}, 30s);
  EXPECT_EQ(table.exit_code, 0) << table.output;
  for (const char* text : {"n1    running   healthy    2/2", "n2    running   healthy    2/2",
                           "n3    running   healthy    2/2", "callout-1   running   healthy",
                           "callout-2   running   healthy", "dns: nats.example.test A {"})
    EXPECT_NE(table.output.find(text), std::string::npos) << text << "\n" << table.output;
  const auto s = Status();
  ASSERT_EQ(s["nodes"].size(), 3u) << s.dump(2);
  for (const auto& n : s["nodes"]) {
    EXPECT_EQ(n["server_id"].get<std::string>().size(), 56u) << n.dump();
    EXPECT_GT(n["certificate"]["days_left"].get<double>(), 1.0) << n.dump();
    EXPECT_EQ(n["routes"], 2) << n.dump();
  }
  EXPECT_EQ(s["callouts"].size(), 2u);
  // Changes need the token; status does not.
  http::CurlClient http;
  auto denied = http.Post(stack_->SupervisorUrl() + "/v1/parts/n1/stop", "", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  http::RequestOptions ro;
  ro.headers = {{"Authorization", "Bearer wrong"}};
  auto wrong = http.Post(stack_->SupervisorUrl() + "/v1/parts/n1/stop", "", "application/json", ro);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(Node(Status(), "n1")["state"], "running");
  struct stat st {};
  ASSERT_EQ(::stat((stack_->state_dir() + "/keys/control.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SupervisorTest, ANodeKilledWithSigkillIsRestartedAndRejoins) {
  const auto before = Node(Status(), "n2");
  const int pid = before["pid"].get<int>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  nlohmann::json after;
  const bool back = testing::WaitFor(
      [&] {
        after = Status();
        const auto& n2 = Node(after, "n2");
        if (n2.value("state", "") != "running" || !n2.value("healthy", false) ||
            n2.value("pid", -1) == pid)
          return false;
        for (const auto& n : after["nodes"])
          if (n.value("routes", 0) != 2) return false;
        return true;
      },
      30s);
  ASSERT_TRUE(back) << after.dump(2);
  EXPECT_EQ(Node(after, "n2")["restarts"], 1);
  bool event = false;
  for (const auto& e : after["events"])
    event = event || (e["part"] == "n2" && e["message"].get<std::string>().find(
                                               "killed by signal 9") != std::string::npos);
  EXPECT_TRUE(event) << after["events"].dump(2);
  // Clients are admitted through the restarted node again.
  auto conn = stack_->Connect(2, Token("alice"));
  EXPECT_TRUE(conn) << conn.error().message;
  auto logs = testing::RunNatstack({"logs", "supervisor", "-n", "200", "--state-dir", stack_->state_dir()});
  EXPECT_NE(logs.output.find("n2: killed by signal 9 (Killed); restarting in 0.5s"), std::string::npos)
      << logs.output;
}

TEST_F(SupervisorTest, NodeStopIsNotRestartedUntilStarted) {
  auto stop = testing::RunNatstack({"node", "stop", "n3", "--state-dir", stack_->state_dir()}, 90s);
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  std::this_thread::sleep_for(3s);  // longer than any backoff: it stays stopped
  auto s = Status();
  EXPECT_EQ(Node(s, "n3")["state"], "stopped") << s.dump(2);
  auto table = testing::RunNatstack({"status", "--state-dir", stack_->state_dir()}, 30s);
  EXPECT_EQ(table.exit_code, 1) << table.output;  // not everything is running
  auto start = testing::RunNatstack({"node", "start", "n3", "--state-dir", stack_->state_dir()}, 90s);
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_NE(start.output.find("n3: running, healthy and meshed again"), std::string::npos) << start.output;
  auto unknown = testing::RunNatstack({"node", "restart", "n9", "--state-dir", stack_->state_dir()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("there is no node or part named 'n9' (parts: idp, n1, n2, n3, dns, dns-sidecar, callout-1, callout-2)"), std::string::npos)
      << unknown.output;
}

/// A JetStream publisher as the callout's own user (the one identity in the target account
/// with the JetStream API; users get their template's subjects only).
class Publisher {
 public:
  Publisher(const testing::Stack& stack, const std::string& password) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    const auto urls = stack.ClientUrls();
    const char* servers[3] = {urls[0].c_str(), urls[1].c_str(), urls[2].c_str()};
    natsOptions_SetServers(opts, servers, 3);
    natsOptions_SetUserInfo(opts, "callout", password.c_str());
    natsOptions_SetSecure(opts, true);
    natsOptions_LoadCATrustedCertificates(opts, stack.CaFile().c_str());
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, 100);
    natsOptions_SetTimeout(opts, 2000);
    status_ = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    if (status_ == NATS_OK) status_ = natsConnection_JetStream(&js_, nc_, nullptr);
  }
  ~Publisher() {
    Stop();
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  natsStatus status() const { return status_; }
  bool AddStream() {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "ROLLING";
    const char* subjects[] = {"rolling.>"};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Replicas = 3;
    cfg.Storage = js_FileStorage;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(si);
    return s == NATS_OK;
  }
  void Start() {
    thread_ = std::thread([this] {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 3000;
      for (int i = 0; !stop_ && i < 200000; ++i) {
        const std::string data = std::to_string(i);
        jsPubAck* ack = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        if (js_Publish(&ack, js_, "rolling.x", data.data(), static_cast<int>(data.size()), &po,
                       &jerr) == NATS_OK) {
          ++acked_;
        } else {
          ++failed_;
          std::this_thread::sleep_for(50ms);
        }
        jsPubAck_Destroy(ack);
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t StoredMessages() {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    int64_t n = -1;
    for (int attempt = 0; attempt < 50 && n < 0; ++attempt) {
      if (js_GetStreamInfo(&si, js_, "ROLLING", nullptr, &jerr) == NATS_OK) {
        n = static_cast<int64_t>(si->State.Msgs);
        jsStreamInfo_Destroy(si);
      } else {
        std::this_thread::sleep_for(200ms);
      }
    }
    return n;
  }
  int acked() const { return acked_; }
  int failed() const { return failed_; }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsStatus status_ = NATS_ERR;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_{0};
  std::atomic<int> failed_{0};
};

TEST_F(SupervisorTest, ARollingRestartLosesNoAcknowledgedMessageAndNoClient) {
  auto password = ReadSecretValue(stack_->state_dir() + "/keys/callout.password");
  ASSERT_TRUE(password);
  Publisher pub(*stack_, *password);
  ASSERT_EQ(pub.status(), NATS_OK) << natsStatus_GetText(pub.status());
  ASSERT_TRUE(pub.AddStream());

  // An admitted client that follows the cluster, counting its time away.
  std::atomic<int> disconnects{0};
  std::atomic<int> reconnects{0};
  std::mutex mu;
  Steady::time_point down_since{};
  std::chrono::milliseconds longest_away{0};
  nats_client::ConnectOptions co;
  co.servers = stack_->ClientUrls();
  co.token_handler = [this] { return Token("alice"); };
  co.ca_file = stack_->CaFile();
  co.max_reconnect = 200;
  co.reconnect_wait = 100ms;
  co.on_disconnected = [&] {
    ++disconnects;
    std::lock_guard<std::mutex> lock(mu);
    down_since = Steady::now();
  };
  co.on_reconnected = [&] {
    ++reconnects;
    std::lock_guard<std::mutex> lock(mu);
    longest_away = std::max(longest_away,
                            std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - down_since));
  };
  auto client = nats_client::Connection::Connect(co);
  ASSERT_TRUE(client) << client.error().message;
  auto sub = (*client)->SubscribeSync("user.alice.>");
  ASSERT_TRUE(sub);

  pub.Start();
  std::this_thread::sleep_for(1s);
  for (const char* node : {"n1", "n2", "n3"}) {
    auto r = testing::RunNatstack({"node", "restart", node, "--state-dir", stack_->state_dir()}, 150s);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string(node) + ": running, healthy and meshed again"), std::string::npos)
        << r.output;
  }
  std::this_thread::sleep_for(1s);
  pub.Stop();
  const int acked = pub.acked();
  ASSERT_GT(acked, 100) << "failed publishes: " << pub.failed();
  // Every acknowledged message is stored (unacknowledged ones may be too: a publish can land
  // and lose its ack).
  EXPECT_GE(pub.StoredMessages(), acked) << "failed publishes: " << pub.failed();

  // The client is connected and admitted after all three restarts, and was never away long.
  ASSERT_TRUE(testing::WaitFor([&] { return (*client)->IsConnected(); }, 10s));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_LT(longest_away, 5s) << disconnects << " disconnects, " << reconnects << " reconnects";
  }
  EXPECT_EQ(disconnects.load(), reconnects.load());
  ASSERT_TRUE((*client)->Publish("user.alice.after", "still here"));
  auto msg = (*sub)->Next(5s);
  EXPECT_TRUE(msg) << (msg ? "" : msg.error().message);
}

TEST(SupervisorStartTest, ANodeThatCannotStartFailsUpWithItsLog) {
  testing::Stack stack("state");
  auto first = stack.Up();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(stack.Down().exit_code, 0);
  // n2's JetStream directory (nats-server's own, below the store directory natstack checks) is
  // a file now: nats-server refuses to start.
  const std::string store = stack.state_dir() + "/nodes/n2/jetstream";
  ASSERT_EQ(testing::RunShell("rm -rf '" + store + "' && echo not-a-directory > '" + store + "'").exit_code, 0);
  auto up = stack.Up({"--timeout", "30"});
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_NE(up.output.find("n2 exited with status 1 while starting (log " + stack.state_dir() +
                           "/logs/n2.log):"),
            std::string::npos)
      << up.output;
  EXPECT_NE(up.output.find("nothing is left running"), std::string::npos) << up.output;
  EXPECT_TRUE(testing::ProcessesMentioning(stack.state_dir()).empty());
  ::unlink(store.c_str());
}

}  // namespace
}  // namespace natstack

namespace natstack {
namespace {

TEST(SupervisorSpecTest, UpRunsASpecFile) {
  testing::TempDir dir;
  const int b = testing::PickFreeLoopbackBlock();
  const std::string net = "127.0." + std::to_string(b) + ".";
  const std::string spec = dir.path() + "/spec.toml";
  ASSERT_TRUE(WriteFileAtomic(spec,
                              "name = \"speccy\"\n"
                              "[node_defaults]\nclient_port = 4222\ntags = [\"az:test\"]\n"
                              "[[nodes]]\nname = \"alpha\"\nhost = \"" + net + "1\"\n"
                              "[[nodes]]\nname = \"beta\"\nhost = \"" + net + "2\"\n"
                              "[callout]\nreplicas = 1\n"
                              "[idp]\nlisten = \"" + net + "4:9400\"\n"
                              "[supervisor]\nlisten = \"" + net + "4:9390\"\n",
                              0600));
  const std::string state = dir.path() + "/state";
  auto up = testing::RunNatstack({"up", "--detach", "--spec", spec, "--state-dir", state}, 120s);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto status = testing::RunNatstack({"status", "--json", "--state-dir", state}, 30s);
  auto doc = nlohmann::json::parse(status.output, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << status.output;
  EXPECT_EQ(doc["cluster"], "speccy");
  ASSERT_EQ(doc["nodes"].size(), 2u);
  EXPECT_EQ(doc["nodes"][0]["name"], "alpha");
  EXPECT_EQ(doc["nodes"][1]["routes"], 1);
  EXPECT_EQ(doc["callouts"].size(), 1u);
  auto down = testing::RunNatstack({"down", "--state-dir", state}, 90s);
  EXPECT_EQ(down.exit_code, 0) << down.output;
  // A spec with an error names its line and starts nothing.
  ASSERT_TRUE(WriteFileAtomic(spec, "[[nodes]]\nname = \"a\"\nhost = \"10.0.0.1\"\n", 0600));
  auto bad = testing::RunNatstack({"up", "--detach", "--spec", spec, "--state-dir", state}, 60s);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find(spec + ":3: nodes[0].host"), std::string::npos) << bad.output;
  EXPECT_TRUE(testing::ProcessesMentioning(state).empty());
}

}  // namespace
}  // namespace natstack
