#include "dns/events.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.hpp"

namespace natstack::dns {
namespace {

using std::chrono::milliseconds;

const std::chrono::system_clock::time_point kAt{milliseconds(1764892800123)};

TEST(ProcessEventTest, JsonRoundTrips) {
  for (auto kind : {ProcessEventKind::kExited, ProcessEventKind::kStopping}) {
    const ProcessEvent e{"n-3_a.b", kind, kAt, "killed by signal 9; restarting in 0.5s"};
    const std::string body = ProcessEventJson(e);
    auto back = ParseProcessEvent(body);
    ASSERT_TRUE(back) << back.error().message << "\n" << body;
    EXPECT_EQ(back->node, e.node);
    EXPECT_EQ(back->kind, kind);
    EXPECT_EQ(back->at, kAt);
    EXPECT_EQ(back->detail, e.detail);
  }
  EXPECT_EQ(ProcessEventJson({"n1", ProcessEventKind::kExited, kAt, ""}),
            R"({"at_unix_ms":1764892800123,"event":"exited","node":"n1"})");
}

TEST(ProcessEventTest, ALongDetailIsCutToTheLimitAndStillParses) {
  const ProcessEvent e{"n1", ProcessEventKind::kExited, kAt, std::string(2000, 'x')};
  auto back = ParseProcessEvent(ProcessEventJson(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->detail.size(), kMaxEventDetailBytes);
}

TEST(ProcessEventTest, EachBadBodyGetsOneErrorNamingTheKey) {
  struct Case {
    std::string body, expected;
  };
  const std::vector<Case> cases = {
      {"", "process event:"},
      {"[]", "expected a JSON object"},
      {"{", "process event:1:"},
      {R"({"event": "exited", "at_unix_ms": 1})", "node: is required"},
      {R"({"node": "n1", "at_unix_ms": 1})", "event: is required"},
      {R"({"node": "n1", "event": "exited"})", "at_unix_ms: is required"},
      {R"({"node": "n1", "event": "started", "at_unix_ms": 1})",
       "event: must be \"exited\" or \"stopping\""},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 0})", "at_unix_ms:"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": -5})", "at_unix_ms:"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 1.5})", "at_unix_ms:"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": "1"})", "at_unix_ms:"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 99999999999999999999})", "at_unix_ms:"},
      {R"({"node": "", "event": "exited", "at_unix_ms": 1})", "node: must not be empty"},
      {R"({"node": "../n1", "event": "exited", "at_unix_ms": 1})", "node: expected 1-64"},
      {R"({"node": ")" + std::string(65, 'n') + R"(", "event": "exited", "at_unix_ms": 1})",
       "node: expected 1-64"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 1, "detail": 5})", "detail:"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 1, "detail": "a\nb"})",
       "detail: contains control characters"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 1, "detail": ")" +
           std::string(513, 'x') + R"("})",
       "detail: is longer than 512 bytes"},
      {R"({"node": "n1", "event": "exited", "at_unix_ms": 1, "pid": 7})", "pid: unknown key"},
      {std::string(5000, ' '), "larger than 4096 bytes"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseProcessEvent(c.body);
    ASSERT_FALSE(parsed) << c.body;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << c.body;
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos)
        << c.body << "\n  got: " << parsed.error().message << "\n  want: " << c.expected;
  }
}

/// A sidecar's endpoint as the notifier sees it: records what arrives, answers `status`.
class Receiver {
 public:
  Receiver() {
    server_.Post("/v1/events", [this](const http::Request& r) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(r.body);
      auto auth = r.headers.find("authorization");
      auths_.push_back(auth == r.headers.end() ? "" : auth->second);
      return http::Text(status.load(), status.load() == 202 ? "accepted\n" : "no\n");
    });
    EXPECT_TRUE(server_.Start());
  }
  std::string Url() { return server_.BaseUrl() + "/v1/events"; }
  std::vector<std::string> Bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> Auths() {
    std::lock_guard<std::mutex> lock(mu_);
    return auths_;
  }
  std::atomic<int> status{202};

 private:
  http::Server server_;
  std::mutex mu_;
  std::vector<std::string> bodies_, auths_;
};

TEST(EventNotifierTest, PostsEachEventWithTheToken) {
  Receiver receiver;
  EventNotifier notifier(receiver.Url(), "tok");
  notifier.Post({"n1", ProcessEventKind::kExited, kAt, "killed by signal 9"});
  notifier.Post({"n2", ProcessEventKind::kStopping, kAt, ""});
  ASSERT_TRUE(notifier.Flush(milliseconds(5000)));
  EXPECT_EQ(notifier.Sent(), 2u);
  EXPECT_EQ(notifier.Failed(), 0u);
  const auto bodies = receiver.Bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(ParseProcessEvent(bodies[0])->node, "n1");
  EXPECT_EQ(ParseProcessEvent(bodies[1])->kind, ProcessEventKind::kStopping);
  EXPECT_EQ(receiver.Auths(), (std::vector<std::string>{"Bearer tok", "Bearer tok"}));
}

TEST(EventNotifierTest, AFailureIsReportedOnceUntilAPostSucceedsAgainWithoutTheToken) {
  Receiver receiver;
  std::mutex mu;
  std::vector<std::string> failures;
  EventNotifier notifier(receiver.Url(), "tok-secret", [&](const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(why);
  });
  receiver.status = 409;
  notifier.Post({"n1", ProcessEventKind::kExited, kAt, ""});
  notifier.Post({"n1", ProcessEventKind::kExited, kAt, ""});
  ASSERT_TRUE(notifier.Flush(milliseconds(5000)));
  receiver.status = 202;
  notifier.Post({"n1", ProcessEventKind::kExited, kAt, ""});
  ASSERT_TRUE(notifier.Flush(milliseconds(5000)));
  receiver.status = 401;
  notifier.Post({"n2", ProcessEventKind::kExited, kAt, ""});
  ASSERT_TRUE(notifier.Flush(milliseconds(5000)));
  EXPECT_EQ(notifier.Sent(), 1u);
  EXPECT_EQ(notifier.Failed(), 3u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_NE(failures[0].find("n1 exited"), std::string::npos) << failures[0];
  EXPECT_NE(failures[0].find("HTTP 409: no"), std::string::npos) << failures[0];
  EXPECT_NE(failures[1].find("HTTP 401"), std::string::npos) << failures[1];
  for (const auto& f : failures) EXPECT_EQ(f.find("tok-secret"), std::string::npos) << f;
}

TEST(EventNotifierTest, ASidecarThatIsNotThereCostsTheCallerNothing) {
  // A port nothing listens on: bind one, note it, close it.
  uint16_t port = 0;
  {
    http::Server gone;
    ASSERT_TRUE(gone.Start());
    port = gone.BoundPort();
  }
  std::atomic<int> failures{0};
  EventNotifier notifier("http://127.0.0.1:" + std::to_string(port) + "/v1/events", "t",
                         [&](const std::string&) { ++failures; });
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) notifier.Post({"n1", ProcessEventKind::kExited, kAt, ""});
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500)) << "Post waited";
  ASSERT_TRUE(notifier.Flush(milliseconds(10000)));
  EXPECT_EQ(notifier.Sent(), 0u);
  EXPECT_EQ(notifier.Failed(), 100u) << "each one sent and failed, or dropped past the queue";
  EXPECT_EQ(failures.load(), 1);
}

}  // namespace
}  // namespace natstack::dns
