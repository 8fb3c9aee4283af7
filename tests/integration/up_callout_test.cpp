// natstack up on real processes: 3 nats-server nodes, the C++ auth callout and the development
// IdP, exercised with the real nats.c client.
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/file.hpp"
#include "core/text.hpp"
#include "http/client.hpp"
#include "idp/dev_issuer.hpp"
#include "nats_client/connection.hpp"
#include "testing/fake_clock.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"
#include "testing/temp_dir.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;
using nats_client::Connection;
using testing::Stack;

/// Async errors of a connection (permission violations), collected for assertions.
struct Errors {
  std::mutex mu;
  std::vector<std::string> list;
  void Add(const std::string& e) {
    std::lock_guard<std::mutex> l(mu);
    list.push_back(e);
  }
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> l(mu);
        for (const auto& e : list)
          if (e.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

class UpCalloutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack();
    up_ = new testing::CommandResult(stack_->Up());
    if (up_->exit_code != 0) return;
    auto issuer = idp::DevIssuer::LoadOrCreate(stack_->IdpKeyFile(), stack_->IdpIssuer(), "natstack");
    if (issuer) issuer_ = new idp::DevIssuer(std::move(*issuer));
  }
  static void TearDownTestSuite() {
    delete issuer_;
    delete up_;
    delete stack_;  // natstack down
  }
  void SetUp() override {
    ASSERT_EQ(up_->exit_code, 0) << up_->output;
    ASSERT_NE(issuer_, nullptr);
  }

  static std::string Token(const std::string& user, std::chrono::seconds ttl = 600s) {
    return issuer_->Mint(user, ttl, clock_);
  }

  static Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                                     const std::string& token,
                                                     Errors* errors = nullptr,
                                                     const std::string& inbox_prefix = "") {
    nats_client::ConnectOptions co;
    co.servers = {url};
    co.token = token;
    co.ca_file = stack_->CaFile();
    co.allow_reconnect = false;
    co.ignore_discovered_servers = true;  // exactly the node asked for
    co.timeout = 5s;
    co.inbox_prefix = inbox_prefix;
    if (errors != nullptr) co.on_error = [errors](const std::string& e) { errors->Add(e); };
    return Connection::Connect(std::move(co));
  }

  static std::string ReplicaMetricsUrl(int port) {
    return "http://127.0." + std::to_string(stack_->block()) + ".4:" + std::to_string(port) +
           "/metrics";
  }

  /// Waits (bounded) until every callout replica holds the deny-list as it is on disk: each
  /// polls the file on its own (every 1 s), so one replica closing a connection says nothing
  /// about the other, which may still admit until its next poll.
  static void WaitEveryReplicaHoldsTheDenyList() {
    auto text = ReadFile(stack_->state_dir() + "/revoked.json");
    ASSERT_TRUE(text);
    const auto list = nlohmann::json::parse(*text);
    const size_t entries = list.value("users", nlohmann::json::array()).size() +
                           list.value("token_ids", nlohmann::json::array()).size();
    const std::string want = "natstack_callout_revoked_entries " + std::to_string(entries) + "\n";
    for (int port : {9401, 9402}) {
      EXPECT_TRUE(testing::WaitFor(
          [&] {
            auto m = http::CurlClient().Get(ReplicaMetricsUrl(port));
            return m && m->body.find(want) != std::string::npos;
          },
          5s))
          << "replica on " << port << " did not load the deny-list (" << entries
          << " entries) within its poll interval";
    }
  }

  /// Connects with `token` and expects a refusal that comes back well before the server's
  /// auth timeout (3 s with TLS): proof of a signed error response, not silence.
  static void ExpectRefusedQuickly(const std::string& token, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    auto conn = Connect(stack_->ClientUrl(2), token);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(conn) << what << " was admitted";
    EXPECT_EQ(conn.error().code, Code::kUnauthenticated) << what << ": " << conn.error().message;
    EXPECT_NE(conn.error().message.find("Authorization Violation"), std::string::npos)
        << conn.error().message;
    EXPECT_LT(seconds, 1.5) << what << " took " << seconds << " s: the callout did not answer";
  }

  /// A token with the dev issuer's claims for `user` under a header of our choosing, signed by
  /// `sign` (which gets the signing input): for alg confusion attacks.
  static std::string Forge(const std::string& user, const nlohmann::json& header,
                           const std::function<std::string(const std::string&)>& sign) {
    const std::string real = Token(user);
    const auto a = real.find('.');
    const auto b = real.find('.', a + 1);
    const std::string payload = real.substr(a + 1, b - a - 1);
    const std::string input = Base64UrlEncode(header.dump()) + "." + payload;
    return input + "." + Base64UrlEncode(sign(input));
  }

  static nlohmann::json RealHeader() {
    const std::string real = Token("alice");
    return nlohmann::json::parse(*Base64UrlDecode(real.substr(0, real.find('.'))));
  }

  static Stack* stack_;
  static testing::CommandResult* up_;
  static idp::DevIssuer* issuer_;
  static SystemClock clock_;
};

Stack* UpCalloutTest::stack_ = nullptr;
testing::CommandResult* UpCalloutTest::up_ = nullptr;
idp::DevIssuer* UpCalloutTest::issuer_ = nullptr;
SystemClock UpCalloutTest::clock_;

TEST_F(UpCalloutTest, ReadyBlockNamesUrlsCaAndATryItCommand) {
  const std::string& out = up_->output;
  EXPECT_NE(out.find("natstack is ready"), std::string::npos) << out;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_NE(out.find(stack_->ClientUrl(i)), std::string::npos) << out;
    EXPECT_NE(out.find("wss://" + stack_->NodeHost(i) + ":8443"), std::string::npos) << out;
    EXPECT_NE(out.find(stack_->MonitorUrl(i)), std::string::npos) << out;
  }
  EXPECT_NE(out.find(stack_->CaFile()), std::string::npos) << out;
  EXPECT_NE(out.find("token alice |"), std::string::npos) << out;
  EXPECT_NE(out.find("keys ready"), std::string::npos) << out;  // steps with their times
}

TEST_F(UpCalloutTest, InfoJsonDescribesTheStack) {
  auto r = testing::RunNatstack({"info", "--json", "--state-dir", stack_->state_dir()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["state_dir"], stack_->state_dir());
  EXPECT_EQ(j["ca_file"], stack_->CaFile());
  EXPECT_EQ(j["clients"], nlohmann::json(stack_->ClientUrls()));
  EXPECT_EQ(j["websocket"].size(), 3u);
  EXPECT_EQ(j["monitoring"][0], stack_->MonitorUrl(1));
  EXPECT_EQ(j["running"], true);
}

TEST_F(UpCalloutTest, EveryNodeServesWebSocketTlsAndJetStreamWithItsOwnTag) {
  http::CurlClient client;
  for (int i = 1; i <= 3; ++i) {
    // The WebSocket port speaks TLS with the cluster certificate (verified against our CA
    // for the node's IP); a plain GET without an upgrade is answered, and refused, by NATS.
    http::RequestOptions tls;
    tls.ca_file = stack_->CaFile();
    tls.timeout = 5s;
    auto ws = client.Get("https://" + stack_->NodeHost(i) + ":8443/", tls);
    ASSERT_TRUE(ws) << ws.error().message;
    EXPECT_GE(ws->status, 400) << ws->body;
    auto varz = client.Get(stack_->MonitorUrl(i) + "/varz");
    ASSERT_TRUE(varz && varz->status == 200);
    const auto v = nlohmann::json::parse(varz->body);
    EXPECT_EQ(v["server_name"], "n" + std::to_string(i));
    EXPECT_EQ(v["tags"], nlohmann::json({"node:n" + std::to_string(i)}));
    EXPECT_EQ(v["jetstream"]["config"]["unique_tag"], "node:");
    EXPECT_EQ(v["websocket"]["port"], 8443);
    EXPECT_EQ(v["websocket"]["compression"], true);
    EXPECT_TRUE(v["tls_required"].get<bool>());
  }
}

TEST_F(UpCalloutTest, ValidTokenIsAdmittedThroughEveryNode) {
  for (int i = 1; i <= 3; ++i) {
    auto conn = Connect(stack_->ClientUrl(i), Token("alice"));
    ASSERT_TRUE(conn) << stack_->ClientUrl(i) << ": " << conn.error().message;
    EXPECT_NE((*conn)->ConnectedUrl().find(stack_->NodeHost(i)), std::string::npos);
    EXPECT_TRUE((*conn)->Flush(2s));
  }
}

TEST_F(UpCalloutTest, ALargeTokenIsAdmitted) {
  // IdP tokens with group or role claims outgrow nats-server's default 4 KB control line.
  const std::string token =
      issuer_->Mint("alice", 600s, clock_, {{"groups", std::string(8000, 'g')}});
  ASSERT_GT(token.size(), 8000u);
  auto conn = Connect(stack_->ClientUrl(1), token);
  EXPECT_TRUE(conn) << conn.error().message;
}

TEST_F(UpCalloutTest, PublishAndSubscribeWithinTheTemplateAcrossNodes) {
  auto sub = Connect(stack_->ClientUrl(1), Token("alice"));
  auto pub = Connect(stack_->ClientUrl(3), Token("alice"));
  ASSERT_TRUE(sub && pub);
  auto s = (*sub)->SubscribeSync("user.alice.>");
  ASSERT_TRUE(s);
  ASSERT_TRUE((*sub)->Flush(2s));
  // Interest crosses the routes shortly after the flush; retry the publish until it lands.
  Result<nats_client::Message> got = Fail(Code::kDeadlineExceeded, "nothing received");
  for (int attempt = 0; attempt < 20 && !got; ++attempt) {
    ASSERT_TRUE((*pub)->Publish("user.alice.greeting", "hello"));
    ASSERT_TRUE((*pub)->Flush(2s));
    got = (*s)->Next(250ms);
  }
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->Subject(), "user.alice.greeting");
  EXPECT_EQ(got->Data(), "hello");
}

TEST_F(UpCalloutTest, EverythingOutsideTheTemplateIsRefused) {
  Errors errors;
  auto alice = Connect(stack_->ClientUrl(1), Token("alice"), &errors);
  ASSERT_TRUE(alice);
  ASSERT_TRUE((*alice)->Publish("user.bob.secret", "x"));
  EXPECT_TRUE(errors.WaitFor("Permissions Violation for Publish to \"user.bob.secret\"", 3s));
  ASSERT_TRUE((*alice)->Publish("public.news", "x"));
  EXPECT_TRUE(errors.WaitFor("Permissions Violation for Publish to \"public.news\"", 3s));
  for (const char* subject : {"user.bob.>", "_INBOX.>", "_INBOX_bob.>", "$SYS.>", ">"}) {
    auto s = (*alice)->SubscribeSync(subject);
    ASSERT_TRUE(s);
    EXPECT_TRUE(errors.WaitFor(std::string("Permissions Violation for Subscription to \"") +
                                   subject + "\"",
                               3s))
        << subject;
  }
}

TEST_F(UpCalloutTest, AnotherUserDoesNotSeeMessagesOutsideItsSubjects) {
  auto bob = Connect(stack_->ClientUrl(2), Token("bob"));
  auto alice = Connect(stack_->ClientUrl(1), Token("alice"));
  ASSERT_TRUE(bob && alice);
  auto s = (*bob)->SubscribeSync("user.bob.>");
  ASSERT_TRUE(s);
  ASSERT_TRUE((*bob)->Flush(2s));
  ASSERT_TRUE((*alice)->Publish("user.bob.inbox", "should not arrive"));
  ASSERT_TRUE((*alice)->Flush(2s));
  EXPECT_FALSE((*s)->Next(500ms));
}

TEST_F(UpCalloutTest, RequestReplyWorksOnTheUsersOwnInbox) {
  auto responder = Connect(stack_->ClientUrl(3), Token("alice"));
  auto requester = Connect(stack_->ClientUrl(1), Token("alice"), nullptr, "_INBOX_alice");
  ASSERT_TRUE(responder && requester);
  Connection* r = responder->get();
  auto sub = r->Subscribe("user.alice.echo", [r](nats_client::Message&& m) {
    (void)r->Respond(m.Reply(), std::string("echo: ") + std::string(m.Data()));
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(r->Flush(2s));
  Result<nats_client::Message> reply = Fail(Code::kDeadlineExceeded, "no reply");
  for (int attempt = 0; attempt < 20 && !reply; ++attempt) {
    reply = (*requester)->Request("user.alice.echo", "ping", 500ms);
  }
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->Data(), "echo: ping");
}

TEST_F(UpCalloutTest, AReplySubjectCannotCarryAUserOutsideItsSubjects) {
  // Alice answers her own request; the request names another user's subject, or the
  // JetStream API, as its reply subject. With allow_responses that reply would go through.
  Errors responder_errors;
  auto responder = Connect(stack_->ClientUrl(1), Token("alice"), &responder_errors);
  auto requester = Connect(stack_->ClientUrl(2), Token("alice"));
  auto bob = Connect(stack_->ClientUrl(3), Token("bob"));
  ASSERT_TRUE(responder && requester && bob);
  auto bob_sub = (*bob)->SubscribeSync("user.bob.>");
  ASSERT_TRUE(bob_sub);
  ASSERT_TRUE((*bob)->Flush(2s));
  Connection* r = responder->get();
  auto sub = r->Subscribe("user.alice.svc", [r](nats_client::Message&& m) {
    (void)r->Respond(m.Reply(), "{\"name\":\"SPY\",\"subjects\":[\"user.bob.>\"]}");
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(r->Flush(2s));
  ASSERT_TRUE((*requester)->Publish("user.alice.svc", "x", "user.bob.inbox"));
  EXPECT_TRUE(responder_errors.WaitFor("Permissions Violation for Publish to \"user.bob.inbox\"", 3s));
  EXPECT_FALSE((*bob_sub)->Next(300ms)) << "bob received a message alice relayed";
  ASSERT_TRUE((*requester)->Publish("user.alice.svc", "x", "$JS.API.STREAM.CREATE.SPY"));
  EXPECT_TRUE(responder_errors.WaitFor("Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.SPY\"", 3s));
}

TEST_F(UpCalloutTest, ExpiredTokenIsRefusedQuickly) {
  testing::FakeClock past(clock_.UnixSeconds() - 7200);
  ExpectRefusedQuickly(issuer_->Mint("alice", 3600s, past), "an expired token");
}

TEST_F(UpCalloutTest, WrongAudienceIsRefusedQuickly) {
  auto other = idp::DevIssuer::LoadOrCreate(stack_->IdpKeyFile(), stack_->IdpIssuer(), "someone-else");
  ASSERT_TRUE(other);
  ExpectRefusedQuickly(other->Mint("alice", 600s, clock_), "a token for another audience");
}

TEST_F(UpCalloutTest, WrongIssuerIsRefusedQuickly) {
  auto other = idp::DevIssuer::LoadOrCreate(stack_->IdpKeyFile(), "https://evil.example/", "natstack");
  ASSERT_TRUE(other);
  ExpectRefusedQuickly(other->Mint("alice", 600s, clock_), "a token from another issuer");
}

TEST_F(UpCalloutTest, WrongSignatureIsRefusedQuickly) {
  std::string token = Token("alice");
  // Flip one bit in the middle of the signature.
  const auto sig = token.rfind('.') + 1;
  char& c = token[sig + (token.size() - sig) / 2];
  c = (c == 'A') ? 'B' : 'A';
  ExpectRefusedQuickly(token, "a token with a broken signature");

  testing::TempDir dir;
  auto stranger = idp::DevIssuer::LoadOrCreate(dir.path() + "/other.pem", stack_->IdpIssuer(), "natstack");
  ASSERT_TRUE(stranger);
  ExpectRefusedQuickly(stranger->Mint("alice", 600s, clock_), "a token signed by an unknown key");
}

TEST_F(UpCalloutTest, AlgNoneIsRefusedQuickly) {
  nlohmann::json header = {{"alg", "none"}, {"typ", "JWT"}};
  ExpectRefusedQuickly(Forge("alice", header, [](const std::string&) { return std::string(); }),
                       "an alg:none token");
  header["kid"] = RealHeader()["kid"];
  ExpectRefusedQuickly(Forge("alice", header, [](const std::string&) { return std::string(); }),
                       "an alg:none token with the real kid");
}

TEST_F(UpCalloutTest, Hs256SignedWithThePublicKeyIsRefusedQuickly) {
  // The classic confusion attack: HMAC keyed with the public key the verifier holds.
  const std::string jwks = issuer_->JwksJson();
  nlohmann::json header = RealHeader();
  header["alg"] = "HS256";
  auto hmac = [&jwks](const std::string& input) {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), jwks.data(), static_cast<int>(jwks.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
  };
  ExpectRefusedQuickly(Forge("alice", header, hmac), "an HS256 token");
}

TEST_F(UpCalloutTest, MissingAndGarbageTokensAreRefusedQuickly) {
  ExpectRefusedQuickly("", "a connection without a token");
  ExpectRefusedQuickly("not-a-jwt", "a token that is not a JWT");
  ExpectRefusedQuickly("eyJhbGciOiJSUzI1NiJ9.e30.", "an empty-claims token");
}

TEST_F(UpCalloutTest, UnsafeUserIdIsRefused) {
  // A sub with '.' would let "a.b" act in "a_b"'s or another user's subjects: refused.
  ExpectRefusedQuickly(issuer_->Mint("alice.admin", 600s, clock_), "a user id with a dot");
  ExpectRefusedQuickly(issuer_->Mint("*", 600s, clock_), "a wildcard user id");
}

TEST_F(UpCalloutTest, UserJwtExpiryDisconnectsTheClient) {
  std::atomic<bool> closed{false};
  std::chrono::steady_clock::time_point closed_at;
  nats_client::ConnectOptions co;
  co.servers = {stack_->ClientUrl(1)};
  co.token = Token("alice", 3s);
  co.ca_file = stack_->CaFile();
  co.allow_reconnect = false;
  co.on_closed = [&] {
    closed_at = std::chrono::steady_clock::now();
    closed = true;
  };
  const auto start = std::chrono::steady_clock::now();
  auto conn = Connection::Connect(std::move(co));
  ASSERT_TRUE(conn) << conn.error().message;
  ASSERT_TRUE((*conn)->Flush(2s));
  for (int i = 0; i < 100 && !closed; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(closed) << "still connected 10 s after a 3 s token";
  const double after = std::chrono::duration<double>(closed_at - start).count();
  EXPECT_GT(after, 1.0);
  EXPECT_LT(after, 6.0);
  EXPECT_NE((*conn)->LastError().find("Expired"), std::string::npos) << (*conn)->LastError();
}

// The reconnect contract of docs/callout.md: a client whose library asks for a fresh token on
// every (re)connect survives each expiry, and its subscriptions come back with it.
TEST_F(UpCalloutTest, AClientWithATokenHandlerSurvivesExpiryAndKeepsItsSubscription) {
  std::atomic<int> tokens{0}, reconnects{0};
  nats_client::ConnectOptions co;
  co.servers = {stack_->ClientUrl(1)};
  co.ignore_discovered_servers = true;  // the same node each time: nats.c's "same auth error
                                        // twice" rule must not close it either
  co.ca_file = stack_->CaFile();
  co.token_handler = [&] {
    ++tokens;
    return Token("alice", 3s);
  };
  co.allow_reconnect = true;
  co.reconnect_wait = 100ms;
  co.on_reconnected = [&] { ++reconnects; };
  auto conn = Connection::Connect(std::move(co));
  ASSERT_TRUE(conn) << conn.error().message;
  auto sub = (*conn)->SubscribeSync("user.alice.renew");
  ASSERT_TRUE(sub);
  ASSERT_TRUE((*conn)->Flush(2s));

  auto sender = Connect(stack_->ClientUrl(2), Token("alice"));
  ASSERT_TRUE(sender) << sender.error().message;
  // Two expiries, each followed by a message the renewed connection must receive.
  for (int cycle = 1; cycle <= 2; ++cycle) {
    for (int i = 0; i < 120 && reconnects < cycle; ++i) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(reconnects.load(), cycle) << "no re-admission after expiry " << cycle << ": "
                                        << (*conn)->LastError();
    ASSERT_TRUE((*conn)->Flush(2s));  // the subscription is back on the server
    const std::string body = "after expiry " + std::to_string(cycle);
    ASSERT_TRUE((*sender)->Publish("user.alice.renew", body));
    ASSERT_TRUE((*sender)->Flush(2s));
    auto msg = (*sub)->Next(3s);
    ASSERT_TRUE(msg) << "cycle " << cycle << ": " << msg.error().message;
    EXPECT_EQ(msg->Data(), body);
  }
  EXPECT_FALSE((*conn)->IsClosed());
  EXPECT_GE(tokens.load(), 3);  // the first connect and one per re-admission
}

// natstack client reads a token file again at each reconnect: renewing the file keeps a
// subscriber admitted past its first token's expiry.
TEST_F(UpCalloutTest, ClientCommandRereadsItsTokenFileAtEachReconnect) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/token";
  ASSERT_TRUE(WriteFileAtomic(file, Token("alice", 3s) + "\n", 0600));
  testing::CommandResult sub;
  std::thread subscriber([&] {
    sub = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file", file,
                                "sub", "user.alice.file", "--count", "1"},
                               40s);
  });
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(WriteFileAtomic(file, Token("alice", 600s) + "\n", 0600));
  // Past the first token's expiry: only a client that reconnected with the renewed file is
  // still there to receive.
  std::this_thread::sleep_for(4500ms);
  auto sender = Connect(stack_->ClientUrl(2), Token("alice"));
  ASSERT_TRUE(sender) << sender.error().message;
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (int i = 0; i < 50 && !done; ++i) {
      (void)(*sender)->Publish("user.alice.file", "renewed");
      (void)(*sender)->Flush(1s);
      std::this_thread::sleep_for(200ms);
    }
  });
  subscriber.join();
  done = true;
  publisher.join();
  EXPECT_EQ(sub.exit_code, 0) << sub.output;
  EXPECT_NE(sub.output.find("reconnected"), std::string::npos) << sub.output;
  EXPECT_NE(sub.output.find("[user.alice.file] renewed"), std::string::npos) << sub.output;
}

TEST_F(UpCalloutTest, ClientCommandPublishesAndRefusesWildcardPublishes) {
  const std::string token = Token("alice") + "\n";
  auto ok = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file", "-",
                                  "pub", "user.alice.cli", "hi"},
                                 30s, {}, token);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto wild = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file",
                                    "-", "pub", "user.alice.*", "hi"},
                                   30s, {}, token);
  EXPECT_EQ(wild.exit_code, 2) << wild.output;
  EXPECT_NE(wild.output.find("wildcards"), std::string::npos) << wild.output;
  auto denied = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file",
                                      "-", "pub", "user.bob.cli", "hi"},
                                     30s, {}, token);
  EXPECT_EQ(denied.exit_code, 1) << denied.output;
  EXPECT_NE(denied.output.find("Permissions Violation"), std::string::npos) << denied.output;
}

TEST_F(UpCalloutTest, ClientCommandRequestsThroughThePrivateInboxOrTheOneGiven) {
  // A responder for alice, on her own subjects.
  auto responder = Connect(stack_->ClientUrl(1), Token("alice"));
  ASSERT_TRUE(responder);
  Connection* r = responder->get();
  auto sub = r->Subscribe("user.alice.echo", [r](nats_client::Message&& m) {
    (void)r->Respond(m.Reply(), "echo");
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(r->Flush(2s));
  const std::string token = Token("alice") + "\n";
  auto ok = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file",
                                  "-", "request", "user.alice.echo", "x"},
                                 30s, {}, token);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("echo"), std::string::npos) << ok.output;
  // Another user's inbox prefix: the reply subscription is refused by the server.
  auto other = testing::RunNatstack({"client", "--state-dir", stack_->state_dir(), "--token-file",
                                     "-", "--inbox-prefix", "_INBOX_bob", "--timeout", "2",
                                     "request", "user.alice.echo", "x"},
                                    30s, {}, token);
  EXPECT_NE(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("Permissions Violation"), std::string::npos) << other.output;
}

TEST_F(UpCalloutTest, EveryReplicaServesReadinessAndMetricsWithReasons) {
  ASSERT_TRUE(Connect(stack_->ClientUrl(1), Token("alice")));
  ExpectRefusedQuickly("", "a connection without a token");
  http::CurlClient client;
  std::string all;  // the queue group spreads requests: either replica may have answered
  for (int port : {9401, 9402}) {
    const std::string base =
        "http://127.0." + std::to_string(stack_->block()) + ".4:" + std::to_string(port);
    auto ready = client.Get(base + "/readyz");
    ASSERT_TRUE(ready) << ready.error().message;
    EXPECT_EQ(ready->status, 200) << port;
    auto metrics = client.Get(base + "/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200) << port;
    const std::string& m = metrics->body;
    EXPECT_NE(m.find("natstack_callout_decision_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
    EXPECT_NE(m.find("natstack_callout_jwks_keys{issuer=\"dev\"} 1\n"), std::string::npos) << m;
    EXPECT_EQ(m.find("natstack_callout_jwks_age_seconds{issuer=\"dev\"} NaN"), std::string::npos)
        << m;
    all += m;
  }
  EXPECT_NE(all.find("natstack_callout_decisions_total{outcome=\"admitted\",reason=\"admitted\",source=\"dev\"}"),
            std::string::npos) << all;
  EXPECT_NE(all.find("natstack_callout_decisions_total{outcome=\"refused\",reason=\"no_token\",source=\"\"}"),
            std::string::npos) << all;
}

/// Waits (bounded) until `conn` is closed or disconnected.
bool WaitClosed(const Connection& conn, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (conn.IsClosed() || !conn.IsConnected()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST_F(UpCalloutTest, RevokingAUserClosesItsLiveConnectionsAndRefusesItsNextConnect) {
  // mallory is connected to two nodes; trent (not revoked) stays.
  auto m1 = Connect(stack_->ClientUrl(1), Token("mallory"));
  auto m3 = Connect(stack_->ClientUrl(3), Token("mallory"));
  auto trent = Connect(stack_->ClientUrl(2), Token("trent"));
  ASSERT_TRUE(m1 && m3 && trent);
  const auto sd = std::vector<std::string>{"--state-dir", stack_->state_dir()};
  auto args = [&sd](std::vector<std::string> a) {
    a.insert(a.end(), sd.begin(), sd.end());
    return a;
  };
  auto revoked = testing::RunNatstack(args({"callout", "revoke", "--user", "mallory"}));
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  // Every replica reloads the list within its poll interval (1 s) and kicks; bounded wait.
  EXPECT_TRUE(WaitClosed(**m1, 15s)) << "mallory's connection to n1 is still open";
  EXPECT_TRUE(WaitClosed(**m3, 15s)) << "mallory's connection to n3 is still open";
  EXPECT_TRUE((*trent)->IsConnected()) << "a user not on the list was disconnected";
  // The first replica to poll kicks; the other may poll up to its interval later, and until
  // then could still admit. Both hold the list within the bound, then mallory is refused.
  WaitEveryReplicaHoldsTheDenyList();
  ExpectRefusedQuickly(Token("mallory"), "a revoked user");
  // Either replica may have answered; both hold the list.
  std::string all;
  long kicked = 0;
  for (int port : {9401, 9402}) {
    auto metrics = http::CurlClient().Get(ReplicaMetricsUrl(port));
    ASSERT_TRUE(metrics);
    all += metrics->body;
    const std::string key = "\nnatstack_callout_kicked_connections_total ";
    const auto at = metrics->body.find(key);
    ASSERT_NE(at, std::string::npos);
    kicked += std::stol(metrics->body.substr(at + key.size()));
  }
  EXPECT_NE(all.find("reason=\"revoked\""), std::string::npos) << all;
  EXPECT_EQ(kicked, 2) << "mallory had two connections" << all;

  // Off the list: admitted again, without a restart.
  auto restored = testing::RunNatstack(args({"callout", "revoke", "--remove", "--user", "mallory"}));
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  bool admitted = false;
  for (int i = 0; i < 100 && !admitted && std::chrono::steady_clock::now() < deadline; ++i) {
    admitted = static_cast<bool>(Connect(stack_->ClientUrl(2), Token("mallory")));
    if (!admitted) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(admitted) << "mallory is still refused after leaving the deny-list";
}

TEST_F(UpCalloutTest, RevokingATokenIdClosesThatConnectionOnly) {
  const std::string jti = "revoke-me-" + std::to_string(::getpid());
  nlohmann::json extra = {{"jti", jti}};
  auto marked = Connect(stack_->ClientUrl(1), issuer_->Mint("peggy", 600s, clock_, extra));
  auto other = Connect(stack_->ClientUrl(1), Token("peggy"));  // another token of the same user
  ASSERT_TRUE(marked && other);
  auto revoked = testing::RunNatstack({"callout", "revoke", "--token-id", jti, "--state-dir",
                                       stack_->state_dir()});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_TRUE(WaitClosed(**marked, 15s)) << "the connection with the revoked token id is open";
  EXPECT_TRUE((*other)->IsConnected()) << "another token of the same user was disconnected";
  WaitEveryReplicaHoldsTheDenyList();  // the one that kicked says nothing about the other
  auto again = Connect(stack_->ClientUrl(2), issuer_->Mint("peggy", 600s, clock_, extra));
  EXPECT_FALSE(again) << "a revoked token id was admitted";
  EXPECT_TRUE(Connect(stack_->ClientUrl(2), Token("peggy")));
}

TEST_F(UpCalloutTest, SecondUpOnTheSameStateDirIsRefused) {
  auto again = stack_->Up();
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("already running"), std::string::npos) << again.output;
}

TEST_F(UpCalloutTest, NoSecretInLogsArgvOrReadableFiles) {
  const std::string token = Token("alice");
  ASSERT_TRUE(Connect(stack_->ClientUrl(1), token));
  std::vector<std::string> secrets = {token.substr(token.rfind('.') + 1)};
  for (const char* f : {"issuer.seed", "xkey.seed", "callout.password", "sys.password", "route.password"}) {
    const std::string path = stack_->state_dir() + "/keys/" + f;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 077, 0u) << path << " is readable by others";
    auto text = ReadFile(path);
    ASSERT_TRUE(text);
    std::string s = *text;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    secrets.push_back(s);
  }
  // Logs.
  for (const char* log : {"n1", "n2", "n3", "callout-1", "callout-2", "idp", "supervisor"}) {
    auto text = ReadFile(stack_->state_dir() + "/logs/" + log + ".log");
    if (!text) continue;
    for (const auto& secret : secrets)
      EXPECT_EQ(text->find(secret), std::string::npos) << "a secret is in logs/" << log << ".log";
    // No token or request JWT either (every one starts with a base64url '{"'): by now the
    // suite has sent valid, forged, expired and garbage tokens through every node.
    // (A kid or an id may contain "eyJ" by chance; a token has the JWT shape.)
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      const std::string line = text->substr(start, end - start);
      if (RedactJwts(line) != line)
        ADD_FAILURE() << "a JWT is in logs/" << log << ".log, in the line:\n" << line;
      start = end + 1;
    }
  }
  // Command lines of every process of the stack.
  for (int pid : testing::ProcessesMentioning(stack_->state_dir())) {
    auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline) continue;
    for (const auto& secret : secrets)
      EXPECT_EQ(cmdline->find(secret), std::string::npos) << "a secret is in the argv of " << pid;
  }
  // Rendered configs: no password in the main config; the secrets include is 0600.
  for (int i = 1; i <= 3; ++i) {
    const std::string conf = stack_->state_dir() + "/nodes/n" + std::to_string(i) + ".conf";
    auto text = ReadFile(conf);
    ASSERT_TRUE(text) << conf;
    for (const auto& secret : secrets) EXPECT_EQ(text->find(secret), std::string::npos) << conf;
    struct stat st {};
    const std::string secrets_conf = stack_->state_dir() + "/nodes/n" + std::to_string(i) + ".secrets.conf";
    ASSERT_EQ(::stat(secrets_conf.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u);
  }
}

}  // namespace
}  // namespace natstack
