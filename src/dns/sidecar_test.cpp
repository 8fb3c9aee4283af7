#include "dns/sidecar.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <thread>

#include "core/file.hpp"
#include "http/server.hpp"
#include "testing/capturing_logger.hpp"
#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::dns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kMinimal = R"({
  "zone": "example.test",
  "tsig_key_file": "/state/dns/tsig.key",
  "name": "nats.example.test",
  "nodes": [
    {"name": "n1", "address": "203.0.113.1", "health_url": "http://10.0.0.1:8222/healthz?js-enabled-only=true"},
    {"name": "n2", "address": "203.0.113.2", "health_url": "http://10.0.0.2:8222/healthz?js-enabled-only=true"}
  ]
})";

TEST(SidecarConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  auto c = ParseSidecarConfig(kMinimal, "dns.json");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server, "127.0.0.1");
  EXPECT_EQ(c->port, 53);
  EXPECT_EQ(c->zone, "example.test.");
  EXPECT_EQ(c->name, "nats.example.test.");
  EXPECT_EQ(c->ttl, 60u);
  ASSERT_EQ(c->nodes.size(), 2u);
  EXPECT_EQ(c->nodes[1].address, "203.0.113.2");
  EXPECT_EQ(c->interval, seconds(2));
  EXPECT_EQ(c->probe_timeout, seconds(1));
  EXPECT_EQ(c->down_after, 2);
  EXPECT_EQ(c->up_after, 2);
  EXPECT_EQ(c->when_none, WhenNone::kKeep);
  EXPECT_EQ(c->reconcile_interval, seconds(30));
  EXPECT_EQ(c->dns_timeout, seconds(2));
  EXPECT_EQ(c->http_listen, "");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->events_token_file, "");
}

TEST(SidecarConfigTest, ParsesEveryKey) {
  auto c = ParseSidecarConfig(R"({
    "server": "::1", "port": 5353, "zone": "Example.Test.", "tsig_key_file": "k",
    "name": "NATS.example.test.", "ttl": 30,
    "nodes": [{"name": "a", "address": "127.0.1.1", "health_url": "http://127.0.0.1:8222/healthz"}],
    "interval": "500ms", "probe_timeout": 0.25, "down_after": 3, "up_after": 1,
    "when_none": "delete", "reconcile_interval": "1m", "dns_timeout": "3s",
    "http_listen": "127.0.0.1:9400", "log_level": "debug", "events_token_file": "t"
  })",
                              "dns.json");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server, "::1");
  EXPECT_EQ(c->port, 5353);
  EXPECT_EQ(c->zone, "Example.Test.");
  EXPECT_EQ(c->name, "NATS.example.test.");
  EXPECT_EQ(c->ttl, 30u);
  EXPECT_EQ(c->interval, milliseconds(500));
  EXPECT_EQ(c->probe_timeout, milliseconds(250));
  EXPECT_EQ(c->down_after, 3);
  EXPECT_EQ(c->up_after, 1);
  EXPECT_EQ(c->when_none, WhenNone::kDelete);
  EXPECT_EQ(c->reconcile_interval, seconds(60));
  EXPECT_EQ(c->dns_timeout, seconds(3));
  EXPECT_EQ(c->http_listen, "127.0.0.1:9400");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->events_token_file, "t");
  const KeeperOptions o = KeeperOptionsOf(*c);
  EXPECT_EQ(o.name, "NATS.example.test.");
  EXPECT_EQ(o.interval, milliseconds(500));
  EXPECT_EQ(o.when_none, WhenNone::kDelete);
  EXPECT_EQ(o.nodes.size(), 1u);
}

/// Replaces `"key": old` in the minimal config, or adds a key.
std::string With(const std::string& replace, const std::string& by) {
  std::string text(kMinimal);
  const auto at = text.find(replace);
  EXPECT_NE(at, std::string::npos) << replace;
  return text.replace(at, replace.size(), by);
}
std::string Adding(const std::string& member) { return With("{\n", "{\n  " + member + ",\n"); }

TEST(SidecarConfigTest, EachBadConfigGetsOneErrorNamingTheKey) {
  const std::string n1 = R"("name": "n1", "address": "203.0.113.1")";
  struct Case {
    std::string text;
    std::string expected;  // in the message
  };
  const std::vector<Case> cases = {
      {"[]", "dns.json: expected a JSON object"},
      {"{", "dns.json:1:"},
      {Adding(R"("intervl": "2s")"), "dns.json: intervl: unknown key"},
      {With(n1, n1 + R"(, "weight": 1)"), "dns.json: nodes[0].weight: unknown key"},
      {With(R"("zone": "example.test",)", ""), "dns.json: zone: is required"},
      {With(R"("tsig_key_file": "/state/dns/tsig.key",)", ""), "tsig_key_file: is required"},
      {With(R"("name": "nats.example.test",)", ""), "dns.json: name: is required"},
      {With("nats.example.test", "nats.example.org"),
       "name: nats.example.org. is not inside the zone example.test."},
      {With("nats.example.test", "badexample.test"), "is not inside the zone"},
      {With("nats.example.test", "nats..example.test"), "name: \"nats..example.test\" is not"},
      {With(R"("zone": "example.test")", R"("zone": "exa mple.test")"), "zone: \"exa mple.test\""},
      {With("203.0.113.1", "203.0.113.01"), "nodes[0].address: expected an IPv4 address"},
      {With("203.0.113.1", "2001:db8::1"), "nodes[0].address: expected an IPv4 address"},
      {With("203.0.113.2", "203.0.113.1"), "nodes[1].address: 203.0.113.1 is also nodes[0]'s"},
      {With(R"("name": "n2")", R"("name": "n1")"), "nodes[1].name: \"n1\" is also nodes[0]'s"},
      {With(R"("name": "n2")", R"("name": "n 2")"), "nodes[1].name: expected 1-64"},
      {With("http://10.0.0.1:8222", "10.0.0.1:8222"), "nodes[0].health_url: expected an http(s)"},
      {With(R"(, "health_url": "http://10.0.0.2:8222/healthz?js-enabled-only=true")", ""),
       "nodes[1].health_url: is required"},
      {R"({"zone": "example.test", "tsig_key_file": "k", "name": "example.test", "nodes": []})",
       "dns.json: nodes: lists no node"},
      {Adding(R"("nodes2": 1)"), "nodes2: unknown key"},
      {Adding(R"("when_none": "drop")"), "when_none: must be \"keep\" or \"delete\", got \"drop\""},
      {Adding(R"("interval": "2x")"), "interval: expected a duration such as"},
      {Adding(R"("interval": "s")"), "interval: expected a duration"},
      {Adding(R"("interval": true)"), "interval: expected a duration"},
      {Adding(R"("interval": 0)"), "interval: must be between 100ms and 3600s"},
      {Adding(R"("probe_timeout": "3s")"), "probe_timeout: must not be longer than interval"},
      {Adding(R"("reconcile_interval": "500ms")"), "reconcile_interval: must be between 1s"},
      {Adding(R"("ttl": 0)"), "ttl:"},
      {Adding(R"("port": 70000)"), "port:"},
      {Adding(R"("down_after": 0)"), "down_after:"},
      {Adding(R"("up_after": "2")"), "up_after:"},
      {Adding(R"("server": "localhost")"), "server: expected the DNS server's IPv4 or IPv6"},
      {Adding(R"("http_listen": "9400")"), "http_listen: expected HOST:PORT"},
      {Adding(R"("log_level": "loud")"), "log_level: must be debug, info, warn or error"},
      {Adding(R"("events_token_file": "/state/keys/dns-events.token")"),
       "events_token_file: needs http_listen"},
      {With("203.0.113.1", "0.0.0.0"), "nodes[0].address: 0.0.0.0 is in 0.0.0.0/8"},
      {With("203.0.113.1", "255.255.255.255"), "nodes[0].address: 255.255.255.255 is reserved or"},
      {With("203.0.113.1", "224.0.0.1"), "nodes[0].address: 224.0.0.1 is a multicast address"},
      {With("203.0.113.1", "240.0.0.1"), "nodes[0].address: 240.0.0.1 is reserved"},
      {With(R"("name": "n2")", R"("name": "N1")"), "nodes[1].name: \"N1\" is also nodes[0]'s"},
      {With("http://10.0.0.2:8222", "http://10.0.0.1:8222"),
       "nodes[1].health_url: names the same endpoint as nodes[0]'s"},
      {With("http://10.0.0.2:8222/healthz?js-enabled-only=true", "HTTP://10.0.0.1:08222/other"),
       "nodes[1].health_url: names the same endpoint as nodes[0]'s"},
      {With("http://10.0.0.2:8222", "http://u:p@ss@10.0.0.2:8222"),
       "nodes[1].health_url: expected an http(s) URL"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseSidecarConfig(c.text, "dns.json");
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << c.text;
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos)
        << "got: " << parsed.error().message << "\nwant: " << c.expected;
  }
}

TEST(SidecarConfigTest, AtMostAThousandNodes) {
  auto nodes = [](int n) {
    std::string list;
    for (int i = 0; i < n; ++i)
      list += std::string(i ? "," : "") + R"({"name": "n)" + std::to_string(i) +
              R"(", "address": "10.1.)" + std::to_string(i / 250) + "." +
              std::to_string(i % 250 + 1) + R"(", "health_url": "http://10.1.0.1:)" +
              std::to_string(1000 + i) + R"(/healthz"})";
    return R"({"zone": "example.test", "tsig_key_file": "k", "name": "nats.example.test", "nodes": [)" +
           list + "]}";
  };
  EXPECT_TRUE(ParseSidecarConfig(nodes(1000), "dns.json"));
  auto many = ParseSidecarConfig(nodes(1001), "dns.json");
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message.find("nodes: 1001 nodes, more than 1000"), std::string::npos)
      << many.error().message;
}

TEST(SidecarConfigTest, HealthEndpointsCompareAsEndpoints) {
  const std::string n1 = "http://10.0.0.1:8222/healthz?js-enabled-only=true";
  const std::string n2 = "http://10.0.0.2:8222/healthz?js-enabled-only=true";
  auto with = [&](const std::string& a, const std::string& b) {
    return ParseSidecarConfig(With(n2, b).replace(std::string(kMinimal).find(n1), n1.size(), a),
                              "dns.json");
  };
  // Schemes are case-insensitive; an '@' in a password is percent-encoded.
  EXPECT_TRUE(with(n1, "HTTP://user:p%40ss@10.0.0.2:8222/healthz"));
  EXPECT_TRUE(with(n1, "http://10.0.0.1:80/healthz")) << "another port is another endpoint";
  EXPECT_FALSE(with("http://10.0.0.9/healthz", "http://10.0.0.9:80/other"))
      << "port 80 implicit and explicit";
  EXPECT_FALSE(with("https://10.0.0.9/healthz", "HTTPS://10.0.0.9:443/"));
  EXPECT_TRUE(with("http://10.0.0.9/healthz", "https://10.0.0.9/healthz"));
}

TEST(SidecarConfigTest, RelativeFilesAreRelativeToTheConfig) {
  testing::TempDir dir;
  const std::string path = dir.Join("dns.json");
  ASSERT_TRUE(WriteFileAtomic(
      path, With(R"("tsig_key_file": "/state/dns/tsig.key")", R"("tsig_key_file": "keys/tsig.key")"),
      0600));
  auto c = LoadSidecarConfig(path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tsig_key_file, dir.path() + "/keys/tsig.key");
  EXPECT_EQ(c->events_token_file, "");
}

TEST(SidecarConfigTest, LoadNamesAMissingFile) {
  auto c = LoadSidecarConfig("/nonexistent/dns.json");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kNotFound);
}

/// A server in memory; every call can be made to fail with one code.
class FakeProvider final : public Provider {
 public:
  Status Replace(const RecordSet& set) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail != Code::kOk) return Fail(fail, "no");
    ++writes;
    record = set;
    return Ok();
  }
  Status Delete(const std::string&, RecordType) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail != Code::kOk) return Fail(fail, "no");
    ++writes;
    record.reset();
    return Ok();
  }
  Result<std::optional<RecordSet>> Read(const std::string&, RecordType) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads;
    if (fail != Code::kOk) return Fail(fail, "127.0.0.1 port 53: no answer");
    return record;
  }
  std::string Zone() const override { return "example.test."; }
  Status CheckZone() override {
    if (zone_error != Code::kOk) return Fail(zone_error, "example.test. is not a zone there");
    return Ok();
  }
  void SetFail(Code code) {
    std::lock_guard<std::mutex> lock(mu_);
    fail = code;
  }
  int Reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads;
  }

  std::optional<RecordSet> record;
  Code fail = Code::kOk;
  std::atomic<Code> zone_error{Code::kOk};
  int reads = 0, writes = 0;

 private:
  std::mutex mu_;
};

class AlwaysHealthy final : public HealthProbe {
 public:
  Status Probe(const Node&, milliseconds) override {
    ++probes;
    return Ok();
  }
  std::atomic<int> probes{0};
};

class SidecarTest : public ::testing::Test {
 protected:
  SidecarConfig Config() {
    auto c = ParseSidecarConfig(kMinimal, "dns.json");
    EXPECT_TRUE(c);
    return *c;
  }
  testing::FakeClock clock_;
  FakeProvider provider_;
  AlwaysHealthy probe_;
  NullLogger log_;
};

TEST_F(SidecarTest, StepRunsARoundEachIntervalAndRetriesInBetween) {
  Sidecar sidecar(Config(), provider_, probe_, clock_, log_);
  provider_.SetFail(Code::kUnavailable);
  auto next = sidecar.Step();  // round 1 at t=0: its read fails, the retry is due in 1 s
  EXPECT_EQ(probe_.probes.load(), 2);
  EXPECT_EQ(next - clock_.Monotonic(), seconds(1));
  EXPECT_EQ(provider_.Reads(), 1);
  clock_.Advance(seconds(1));
  next = sidecar.Step();  // the retry, not a round; the next wait is 2 s, past the round
  EXPECT_EQ(probe_.probes.load(), 2);
  EXPECT_EQ(provider_.Reads(), 2);
  EXPECT_EQ(next - clock_.Monotonic(), seconds(1)) << "round 2 is due at t=2";
  clock_.Advance(seconds(1));
  provider_.SetFail(Code::kOk);
  sidecar.Step();  // round 2 at t=2 (the read waits for its backoff, until t=3)
  EXPECT_EQ(probe_.probes.load(), 4);
  EXPECT_FALSE(sidecar.Ready());
  clock_.Advance(seconds(1));
  sidecar.Step();
  EXPECT_TRUE(sidecar.Ready());
  // Both nodes passed two probes: they are in the record.
  ASSERT_TRUE(provider_.record.has_value());
  EXPECT_EQ(provider_.record->values.size(), 2u);
}

TEST_F(SidecarTest, ServesHealthReadinessAndMetrics) {
  SidecarConfig c = Config();
  c.http_listen = "127.0.0.1:0";
  provider_.record = RecordSet{c.name, RecordType::kA, 60, {"203.0.113.1", "203.0.113.2"}};
  int ready_calls = 0;
  Sidecar sidecar(c, provider_, probe_, clock_, log_, [&] { ++ready_calls; });
  ASSERT_TRUE(sidecar.Start());
  EXPECT_EQ(ready_calls, 1);
  http::CurlClient client;
  auto healthz = client.Get(sidecar.BaseUrl() + "/healthz");
  ASSERT_TRUE(healthz) << healthz.error().message;
  EXPECT_EQ(healthz->status, 200);
  auto readyz = client.Get(sidecar.BaseUrl() + "/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);
  auto metrics = client.Get(sidecar.BaseUrl() + "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->headers["content-type"].find("version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics->body.find("natstack_dns_ready 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("natstack_dns_record_size 2\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("natstack_dns_healthy_nodes 2\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("natstack_dns_probe_failures_total{node=\"n1\"} 0\n"),
            std::string::npos);
  sidecar.Stop();
  EXPECT_EQ(ready_calls, 1);
  EXPECT_EQ(provider_.writes, 0) << "a restart leaves a healthy record alone";
}

TEST_F(SidecarTest, NotReadyWhileTheServerDoesNotAnswer) {
  SidecarConfig c = Config();
  c.http_listen = "127.0.0.1:0";
  provider_.SetFail(Code::kUnavailable);
  int ready_calls = 0;
  testing::CapturingLogger log;
  Sidecar sidecar(c, provider_, probe_, clock_, log, [&] { ++ready_calls; });
  ASSERT_TRUE(sidecar.Start()) << "a DNS server that is not up yet is retried";
  EXPECT_TRUE(log.Contains("the DNS server does not answer yet")) << log.All();
  http::CurlClient client;
  auto readyz = client.Get(sidecar.BaseUrl() + "/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 503);
  EXPECT_NE(readyz->body.find("no answer"), std::string::npos) << readyz->body;
  EXPECT_EQ(ready_calls, 0);
}

TEST_F(SidecarTest, StartFailsWhenTheKeyIsRefused) {
  provider_.SetFail(Code::kPermissionDenied);
  testing::CapturingLogger log;
  Sidecar sidecar(Config(), provider_, probe_, clock_, log);
  auto started = sidecar.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Code::kPermissionDenied);
  EXPECT_NE(started.error().message.find("nats.example.test."), std::string::npos);
  // One message, the fatal one: no "retrying" line before an exit.
  EXPECT_FALSE(log.Contains("retrying")) << log.All();
}

TEST_F(SidecarTest, StartFailsWhenTheServerDoesNotHoldTheZone) {
  provider_.zone_error = Code::kNotFound;
  Sidecar sidecar(Config(), provider_, probe_, clock_, log_);
  auto started = sidecar.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Code::kNotFound);
  EXPECT_NE(started.error().message.find("not a zone there"), std::string::npos)
      << started.error().message;
  EXPECT_EQ(provider_.Reads(), 0) << "the zone is checked before anything else";
}

TEST_F(SidecarTest, AZoneCheckThatGetsNoAnswerIsRetried) {
  provider_.zone_error = Code::kUnavailable;
  Sidecar sidecar(Config(), provider_, probe_, clock_, log_);
  sidecar.Step();
  EXPECT_FALSE(sidecar.Ready());
  provider_.zone_error = Code::kOk;
  clock_.Advance(seconds(1));
  sidecar.Step();
  EXPECT_TRUE(sidecar.Ready());
}

TEST_F(SidecarTest, StartFailsWhenTheListenAddressIsTaken) {
  http::ServerOptions so;
  so.host = "127.0.0.1";
  http::Server other(so);
  ASSERT_TRUE(other.Start());
  SidecarConfig c = Config();
  c.http_listen = "127.0.0.1:" + std::to_string(other.BoundPort());
  Sidecar sidecar(c, provider_, probe_, clock_, log_);
  auto started = sidecar.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Code::kAlreadyExists);
  EXPECT_NE(started.error().message.find("http_listen"), std::string::npos);
}

class SidecarEventsTest : public SidecarTest {
 protected:
  void SetUp() override {
    token_file_ = dir_.Join("events.token");
    ASSERT_TRUE(WriteFileAtomic(token_file_, "s3cret-token-0123456789\n", 0600));
    config_ = Config();
    config_.http_listen = "127.0.0.1:0";
    config_.events_token_file = token_file_;
    provider_.record = RecordSet{config_.name, RecordType::kA, 60, {"203.0.113.1", "203.0.113.2"}};
  }
  http::Response PostEvent(Sidecar& sidecar, const std::string& body,
                           const std::string& token = "s3cret-token-0123456789") {
    http::RequestOptions o;
    if (!token.empty()) o.headers = {{"Authorization", "Bearer " + token}};
    auto r = http::CurlClient().Post(sidecar.BaseUrl() + "/v1/events", body, "application/json", o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : http::Response{};
  }
  std::string Event(const std::string& node, std::chrono::system_clock::time_point at,
                    const std::string& kind = "exited") {
    return R"({"node": ")" + node + R"(", "event": ")" + kind + R"(", "at_unix_ms": )" +
           std::to_string(std::chrono::duration_cast<milliseconds>(at.time_since_epoch()).count()) +
           R"(, "detail": "killed by signal 9"})";
  }
  testing::TempDir dir_;
  std::string token_file_;
  SidecarConfig config_;
};

TEST_F(SidecarEventsTest, AnExitReportedByTheSupervisorTakesTheNodeOutAtTheNextStep) {
  Sidecar sidecar(config_, provider_, probe_, clock_, log_);
  ASSERT_TRUE(sidecar.Start());
  auto r = PostEvent(sidecar, Event("n2", clock_.Now()));
  EXPECT_EQ(r.status, 202) << r.body;
  // The sidecar's own thread applies it; wait (bounded) for the record to change.
  for (int i = 0; i < 200 && provider_.record && provider_.record->values.size() != 1; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(provider_.record.has_value());
  EXPECT_EQ(provider_.record->values, std::vector<std::string>{"203.0.113.1"});
  EXPECT_EQ(sidecar.Keeper().Stats().nodes[1].health, NodeHealth::kUnhealthy);
  auto metrics = http::CurlClient().Get(sidecar.BaseUrl() + "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("natstack_dns_process_events_total{node=\"n2\",event=\"exited\"} 1\n"),
            std::string::npos)
      << metrics->body;
}

TEST_F(SidecarEventsTest, RefusesEventsWithoutTheTokenMalformedUnknownOrStale) {
  Sidecar sidecar(config_, provider_, probe_, clock_, log_);
  ASSERT_TRUE(sidecar.Start());
  const auto now = clock_.Now();
  // Whoever lacks the token learns nothing.
  auto r = PostEvent(sidecar, Event("n2", now), "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "unauthorized\n");
  EXPECT_EQ(PostEvent(sidecar, Event("n2", now), "s3cret-token-012345678N").status, 401);
  EXPECT_EQ(PostEvent(sidecar, Event("n2", now), "s3cret-token-012345678").status, 401);
  r = PostEvent(sidecar, R"({"node": "n2", "event": "exited"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("at_unix_ms"), std::string::npos) << r.body;
  EXPECT_EQ(PostEvent(sidecar, "not json").status, 400);
  r = PostEvent(sidecar, Event("n9", now));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("no node named n9"), std::string::npos) << r.body;
  // stale_after is 3 intervals (6 s): an event older, or further ahead, says nothing now.
  r = PostEvent(sidecar, Event("n2", now - seconds(7)));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("stale"), std::string::npos) << r.body;
  r = PostEvent(sidecar, Event("n2", now + seconds(7)));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("7.0 s in the future"), std::string::npos) << r.body;
  EXPECT_EQ(PostEvent(sidecar, Event("n2", now - seconds(5))).status, 202) << "within the bound";
  auto metrics = http::CurlClient().Get(sidecar.BaseUrl() + "/metrics");
  ASSERT_TRUE(metrics);
  for (const char* line : {"natstack_dns_process_event_refusals_total{reason=\"unauthorized\"} 3\n",
                           "natstack_dns_process_event_refusals_total{reason=\"malformed\"} 2\n",
                           "natstack_dns_process_event_refusals_total{reason=\"unknown_node\"} 1\n",
                           "natstack_dns_process_event_refusals_total{reason=\"stale\"} 2\n"})
    EXPECT_NE(metrics->body.find(line), std::string::npos) << line << metrics->body;
  // Other methods and paths are not events.
  auto get = http::CurlClient().Get(sidecar.BaseUrl() + "/v1/events");
  ASSERT_TRUE(get);
  EXPECT_NE(get->status, 202);
}

TEST_F(SidecarEventsTest, AShortTokenStopsTheStart) {
  ASSERT_TRUE(WriteFileAtomic(token_file_, "short\n", 0600));
  Sidecar sidecar(config_, provider_, probe_, clock_, log_);
  auto started = sidecar.Start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("holds 5 characters; a token needs at least 16"),
            std::string::npos)
      << started.error().message;
}

TEST_F(SidecarEventsTest, NoEndpointWithoutAToken) {
  config_.events_token_file.clear();
  Sidecar sidecar(config_, provider_, probe_, clock_, log_);
  ASSERT_TRUE(sidecar.Start());
  EXPECT_EQ(PostEvent(sidecar, Event("n2", clock_.Now())).status, 404);
  auto metrics = http::CurlClient().Get(sidecar.BaseUrl() + "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("process_event"), std::string::npos);
}

TEST_F(SidecarEventsTest, ATokenFileOthersCanReadStopsTheStart) {
  ASSERT_EQ(::chmod(token_file_.c_str(), 0644), 0);
  Sidecar sidecar(config_, provider_, probe_, clock_, log_);
  auto started = sidecar.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Code::kPermissionDenied);
  EXPECT_NE(started.error().message.find("events_token_file"), std::string::npos)
      << started.error().message;
}

TEST(SidecarMetricsTest, RendersEveryFamily) {
  KeeperStats s;
  s.ready = true;
  s.nodes = {{"n1", "203.0.113.1", NodeHealth::kHealthy, 10, 1},
             {"n2", "203.0.113.2", NodeHealth::kUnhealthy, 10, 7}};
  s.healthy_nodes = 1;
  s.record_size = 1;
  s.in_sync = true;
  s.rounds = 10;
  s.stale_rounds = 1;
  s.changes = 3;
  s.drift_repairs = 1;
  s.provider_errors[{"replace", "unavailable"}] = 4;
  const auto now = std::chrono::steady_clock::time_point(seconds(100));
  s.last_write_ok = now - seconds(12);
  s.last_read_ok = now - milliseconds(1500);
  const std::string m = RenderMetrics(s, now);
  for (const char* line : {
           "natstack_dns_ready 1\n",
           "natstack_dns_rounds_total 10\n",
           "natstack_dns_stale_rounds_total 1\n",
           "natstack_dns_record_changes_total 3\n",
           "natstack_dns_drift_repairs_total 1\n",
           "natstack_dns_provider_errors_total{op=\"replace\",code=\"unavailable\"} 4\n",
           "natstack_dns_probes_total{node=\"n2\"} 10\n",
           "natstack_dns_probe_failures_total{node=\"n2\"} 7\n",
           "natstack_dns_node_healthy{node=\"n1\",address=\"203.0.113.1\"} 1\n",
           "natstack_dns_node_healthy{node=\"n2\",address=\"203.0.113.2\"} 0\n",
           "natstack_dns_healthy_nodes 1\n",
           "natstack_dns_nodes 2\n",
           "natstack_dns_record_size 1\n",
           "natstack_dns_record_in_sync 1\n",
           "natstack_dns_last_write_age_seconds 12\n",
           "natstack_dns_last_read_age_seconds 1.5\n",
           "# TYPE natstack_dns_record_changes_total counter\n",
       }) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
  // Before the first read and write there is no size or age to report.
  const std::string empty = RenderMetrics(KeeperStats{}, now);
  EXPECT_EQ(empty.find("natstack_dns_record_size"), std::string::npos);
  EXPECT_EQ(empty.find("natstack_dns_last_write_age_seconds"), std::string::npos);
  EXPECT_NE(empty.find("natstack_dns_ready 0\n"), std::string::npos);
}

TEST(SidecarProbeTest, HealthyOnlyOn200AndSaysWhyNot) {
  http::Server server(http::ServerOptions{});
  std::atomic<int> status{200};
  server.Get("/healthz", [&](const http::Request&) {
    return status.load() == 200
               ? http::Json(200, R"({"status":"ok"})")
               : http::Json(
                     status.load(),
                     R"({"status":"unavailable","error":"JetStream has not established contact with a meta leader"})");
  });
  ASSERT_TRUE(server.Start());
  http::CurlClient client;
  HttpHealthProbe probe(client);
  const Node node{"n1", "203.0.113.1", server.BaseUrl() + "/healthz"};
  EXPECT_TRUE(probe.Probe(node, milliseconds(2000)));
  status = 503;
  auto failed = probe.Probe(node, milliseconds(2000));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Code::kUnavailable);
  EXPECT_NE(failed.error().message.find("HTTP 503"), std::string::npos);
  EXPECT_NE(failed.error().message.find("meta leader"), std::string::npos);
  // Credentials in the URL (userinfo, a query token) never reach a message, whichever way the
  // probe fails.
  const std::string with_secrets = "http://admin:S3CRETPW@127.0.0.1:" +
                                   std::to_string(server.BoundPort()) + "/healthz?token=TOPSECRET";
  auto secret_503 = probe.Probe({"n1", "203.0.113.1", with_secrets}, milliseconds(2000));
  ASSERT_FALSE(secret_503);
  EXPECT_NE(secret_503.error().message.find("HTTP 503"), std::string::npos);
  for (const char* secret : {"S3CRETPW", "TOPSECRET", "admin"})
    EXPECT_EQ(secret_503.error().message.find(secret), std::string::npos)
        << secret_503.error().message;
  const uint16_t port = server.BoundPort();
  server.Stop();
  auto refused =
      probe.Probe({"n1", "203.0.113.1", "http://127.0.0.1:" + std::to_string(port) + "/healthz"},
                  milliseconds(2000));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("GET http://127.0.0.1:"), std::string::npos);
  auto secret_refused = probe.Probe(
      {"n1", "203.0.113.1",
       "http://admin:S3CRETPW@127.0.0.1:" + std::to_string(port) + "/healthz?token=TOPSECRET"},
      milliseconds(2000));
  ASSERT_FALSE(secret_refused);
  for (const char* secret : {"S3CRETPW", "TOPSECRET"})
    EXPECT_EQ(secret_refused.error().message.find(secret), std::string::npos)
        << secret_refused.error().message;
}

}  // namespace
}  // namespace natstack::dns
