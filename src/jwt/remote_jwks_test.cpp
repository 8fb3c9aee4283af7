#include "jwt/remote_jwks.hpp"

#include <vector>
#include <gtest/gtest.h>

#include "testing/helpers.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "http/server.hpp"
#include "testing/capturing_logger.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::jwt {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using testing::WaitFor;

/// Captures log lines (to check what is and is not logged).

/// A JWKS endpoint whose document and status the test controls, counting hits.
class JwksEndpoint {
 public:
  JwksEndpoint() {
    server_.Get("/jwks.json", [this](const http::Request&) {
      ++hits_;
      if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
      std::lock_guard<std::mutex> lock(mu_);
      http::Response r = http::Json(status_, body_);
      for (const auto& [k, v] : headers_) r.headers[k] = v;
      return r;
    });
    server_.Get("/.well-known/openid-configuration", [this](const http::Request&) {
      std::lock_guard<std::mutex> lock(mu_);
      return http::Json(200, discovery_);
    });
    EXPECT_TRUE(server_.Start().has_value());
  }
  void Set(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
    headers_ = std::move(headers);
  }
  /// Delays every JWKS answer (a slow IdP).
  void SetDelay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
  void SetDiscovery(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    discovery_ = std::move(body);
  }
  std::string Url() const { return server_.BaseUrl() + "/jwks.json"; }
  std::string Base() const { return server_.BaseUrl(); }
  int hits() const { return hits_.load(); }
  void Stop() { server_.Stop(); }

 private:
  http::Server server_;
  std::mutex mu_;
  int status_ = 200;
  std::string body_ = R"({"keys":[]})";
  std::string discovery_ = "{}";
  std::map<std::string, std::string> headers_;
  std::atomic<int> hits_{0};
  std::atomic<int> delay_ms_{0};
};

const crypto::EvpPkeyPtr& KeyA() {
  static crypto::EvpPkeyPtr key = *crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  return key;
}
const crypto::EvpPkeyPtr& KeyB() {
  static crypto::EvpPkeyPtr key = *crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  return key;
}

std::string JwksOf(std::vector<std::pair<const EVP_PKEY*, std::string>> keys) {
  json doc = {{"keys", json::array()}};
  for (const auto& [key, kid] : keys) doc["keys"].push_back(*PublicJwk(key, kid, "ES256"));
  return doc.dump();
}

class RemoteJwksTest : public ::testing::Test {
 protected:
  RemoteJwksOptions Options() {
    RemoteJwksOptions o;
    o.url = endpoint_.Url();
    o.request.timeout = 2s;
    return o;
  }
  JwksEndpoint endpoint_;
  http::CurlClient client_;
  testing::FakeClock clock_;
  testing::CapturingLogger logger_;
};

TEST_F(RemoteJwksTest, LoadFetchesKeys) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  EXPECT_TRUE(jwks.Keys()->empty());
  EXPECT_FALSE(jwks.LastSuccess().has_value());
  ASSERT_TRUE(jwks.Load().has_value());
  ASSERT_NE(jwks.Keys()->Find("a"), nullptr);
  EXPECT_EQ(jwks.LastSuccess(), clock_.Now());
  const RemoteJwksStats stats = jwks.Stats();
  EXPECT_EQ(stats.fetches, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.key_count, 1u);
  EXPECT_EQ(endpoint_.hits(), 1);
}

TEST_F(RemoteJwksTest, LoadErrorsNameTheUrlAndCause) {
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  endpoint_.Set(500, "oops");
  auto st = jwks.Load();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_NE(st.error().message.find(endpoint_.Url()), std::string::npos);
  EXPECT_NE(st.error().message.find("500"), std::string::npos);

  endpoint_.Set(200, "<html>");
  st = jwks.Load();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_NE(st.error().message.find(endpoint_.Url()), std::string::npos);

  endpoint_.Set(200, R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  st = jwks.Load();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(jwks.Stats().failures, 3u);
}

TEST_F(RemoteJwksTest, LoadAgainstAClosedPortIsUnavailable) {
  endpoint_.Stop();
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  auto st = jwks.Load();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_NE(st.error().message.find(endpoint_.Url()), std::string::npos) << st.error().message;
}

TEST_F(RemoteJwksTest, UnknownKidRefreshIsRateLimited) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();

  // The IdP rotates in key b.
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}, {KeyB().get(), "b"}}));

  // Right after a fetch: the hint is deferred to the end of the rate limit's window, not
  // dropped (a key rotated in just after a fetch must not be refused for the whole window).
  jwks.OnUnknownKid("b");
  EXPECT_EQ(jwks.Stats().hints_deferred, 1u);
  EXPECT_EQ(jwks.Keys()->Find("b"), nullptr);
  EXPECT_EQ(endpoint_.hits(), 1);

  // At the window's end the deferred refresh runs by itself: one fetch.
  clock_.Advance(11s);
  ASSERT_TRUE(WaitFor([&] { return jwks.Keys()->Find("b") != nullptr; }));
  EXPECT_EQ(endpoint_.hits(), 2);

  // A storm of unknown kids right after it: one deferred fetch for all of them.
  for (int i = 0; i < 100; ++i) jwks.OnUnknownKid("forged-" + std::to_string(i));
  EXPECT_EQ(jwks.Stats().hints_accepted, 0u);
  EXPECT_EQ(jwks.Stats().hints_deferred, 2u);
  EXPECT_EQ(jwks.Stats().hints_dropped, 99u);
  EXPECT_EQ(endpoint_.hits(), 2);
  clock_.Advance(11s);
  ASSERT_TRUE(WaitFor([&] { return endpoint_.hits() == 3; }));
  // Past the window with no new hint: nothing more until the schedule says so.
  clock_.Advance(11s);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(endpoint_.hits(), 3);
  jwks.Stop();
}

TEST_F(RemoteJwksTest, AWaitInsideTheWindowGetsTheDeferredRefreshWhenItFitsTheBudget) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwksOptions options = Options();
  options.min_refresh_interval = 10s;
  RemoteJwks jwks(options, client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}, {KeyB().get(), "b"}}));
  // 10 s left in the window, 1 s of budget: waiting cannot help, so it returns at once.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(jwks.AwaitRefresh("b", std::chrono::milliseconds(1000)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  // 0.5 s left: the wait sees the refresh that runs when the window ends.
  clock_.Advance(std::chrono::milliseconds(9500));
  std::thread advance([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    clock_.Advance(std::chrono::milliseconds(600));
  });
  EXPECT_TRUE(jwks.AwaitRefresh("b", std::chrono::milliseconds(3000)));
  advance.join();
  EXPECT_NE(jwks.Keys()->Find("b"), nullptr);
  jwks.Stop();
}

TEST_F(RemoteJwksTest, RefreshesPeriodically) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwksOptions options = Options();
  options.refresh_interval = 300s;
  RemoteJwks jwks(options, client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();
  endpoint_.Set(200, JwksOf({{KeyB().get(), "b"}}));
  clock_.Advance(299s);
  clock_.Advance(1s);
  ASSERT_TRUE(WaitFor([&] { return jwks.Keys()->Find("b") != nullptr; }));
  EXPECT_EQ(jwks.Keys()->Find("a"), nullptr);  // a key removed by the IdP goes away
  EXPECT_EQ(jwks.Stats().fetches, 2u);
}

TEST_F(RemoteJwksTest, StartWithoutKeysFetchesAtOnce) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  jwks.Start();
  ASSERT_TRUE(WaitFor([&] { return !jwks.Keys()->empty(); }));
}

TEST_F(RemoteJwksTest, FailuresKeepTheLastGoodKeys) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  const auto loaded_at = *jwks.LastSuccess();
  jwks.Start();

  endpoint_.Set(200, R"({"keys":[]})");  // an IdP that suddenly publishes nothing usable
  clock_.Advance(11s);
  jwks.OnUnknownKid("x");
  ASSERT_TRUE(WaitFor([&] { return jwks.Stats().failures == 1; }));
  EXPECT_NE(jwks.Keys()->Find("a"), nullptr);

  endpoint_.Stop();  // the IdP goes away
  clock_.Advance(11s);
  jwks.OnUnknownKid("x");
  ASSERT_TRUE(WaitFor([&] { return jwks.Stats().failures == 2; }));
  EXPECT_NE(jwks.Keys()->Find("a"), nullptr);
  EXPECT_EQ(*jwks.LastSuccess(), loaded_at);
  EXPECT_FALSE(jwks.Stats().last_error.empty());
  EXPECT_NE(logger_.All().find("WARN"), std::string::npos);
  EXPECT_NE(logger_.All().find("still serving the last 1 good keys"), std::string::npos);
  jwks.Stop();
}

TEST_F(RemoteJwksTest, StopIsPrompt) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  auto jwks = std::make_unique<RemoteJwks>(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks->Load().has_value());
  jwks->Start();
  const auto start = std::chrono::steady_clock::now();
  jwks.reset();  // destructor stops and joins
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(RemoteJwksTest, VerifierPicksUpARotatedKey) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();
  VerifierConfig config;
  config.issuer = "https://issuer.test/";
  config.audiences = {"natstack"};
  config.algorithms = {"ES256"};
  OidcVerifier verifier(config, jwks, clock_);
  const json claims = {{"iss", config.issuer},
                       {"aud", "natstack"},
                       {"sub", "alice"},
                       {"exp", clock_.UnixSeconds() + 3600}};
  auto token = SignJws({{"alg", "ES256"}, {"kid", "b"}}, claims, KeyB().get());
  ASSERT_TRUE(token.has_value());

  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}, {KeyB().get(), "b"}}));
  clock_.Advance(11s);
  auto first = verifier.Verify(*token);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().reason, Refusal::kUnknownKey);
  ASSERT_TRUE(WaitFor([&] { return jwks.Keys()->Find("b") != nullptr; }));
  EXPECT_TRUE(verifier.Verify(*token).has_value());
  EXPECT_EQ(logger_.All().find(*token), std::string::npos);
}

TEST(FreshnessLifetimeTest, CacheHeaders) {
  const auto now = *ParseHttpDate("Fri, 04 Dec 2026 10:00:00 GMT");
  struct Case {
    std::map<std::string, std::string> headers;
    std::optional<int64_t> seconds;
  };
  for (const Case& c : std::vector<Case>{
           {{}, std::nullopt},
           {{{"cache-control", "public, max-age=300"}}, 300},
           {{{"cache-control", "max-age=\"60\""}}, 60},
           {{{"cache-control", "max-age=300, s-maxage=120"}}, 120},
           {{{"cache-control", "Public, Max-Age=300"}}, 300},
           {{{"cache-control", "max-age=300"}, {"age", "100"}}, 200},
           {{{"cache-control", "max-age=300"}, {"age", "400"}}, 0},
           {{{"cache-control", "no-cache"}}, 0},
           {{{"cache-control", "no-store, max-age=300"}}, 0},
           {{{"cache-control", "max-age=abc"}}, std::nullopt},
           {{{"cache-control", "max-age=-5"}}, std::nullopt},
           {{{"cache-control", "max-age-ish=5"}}, std::nullopt},
           {{{"expires", "Fri, 04 Dec 2026 11:00:00 GMT"}}, 3600},
           {{{"expires", "Fri, 04 Dec 2026 11:00:00 GMT"}, {"date", "Fri, 04 Dec 2026 10:30:00 GMT"}},
            1800},
           {{{"expires", "Fri, 04 Dec 2026 09:00:00 GMT"}}, 0},
           {{{"expires", "0"}}, 0},
           {{{"cache-control", "max-age=10"}, {"expires", "Fri, 04 Dec 2026 11:00:00 GMT"}}, 10},
       }) {
    http::Response r;
    r.headers = c.headers;
    auto got = FreshnessLifetime(r, now);
    std::string label;
    for (const auto& [k, v] : c.headers) label += k + ": " + v + "; ";
    ASSERT_EQ(got.has_value(), c.seconds.has_value()) << label;
    if (got) {
      EXPECT_EQ(got->count(), *c.seconds) << label;
    }
  }
}

TEST(FreshnessLifetimeTest, HttpDates) {
  auto t = ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 784111777);
  for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nox 1994 08:49:37 GMT",
                          "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                          "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:3x GMT"}) {
    EXPECT_FALSE(ParseHttpDate(bad).has_value()) << bad;
  }
}

TEST_F(RemoteJwksTest, CacheHeadersChooseTheRefreshInterval) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}), {{"cache-control", "public, max-age=60"}});
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  EXPECT_EQ(jwks.Stats().refresh_interval, 60s);
  jwks.Start();
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}, {KeyB().get(), "b"}}),
                {{"cache-control", "max-age=1"}});  // below the floor: min_cache_lifetime, 30 s
  clock_.Advance(59s);
  std::this_thread::sleep_for(300ms);  // the thread re-reads the clock every 250 ms
  EXPECT_EQ(endpoint_.hits(), 1);
  clock_.Advance(1s);
  ASSERT_TRUE(WaitFor([&] { return jwks.Keys()->Find("b") != nullptr; }));
  EXPECT_TRUE(WaitFor([&] { return jwks.Stats().refresh_interval == 30s; }));
  // no-cache with a short unknown-kid rate limit: still the cache floor, not a fetch a second.
  RemoteJwksOptions eager = Options();
  eager.min_refresh_interval = 1s;
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}), {{"cache-control", "no-cache"}});
  RemoteJwks nocache(eager, client_, clock_, logger_);
  ASSERT_TRUE(nocache.Load().has_value());
  EXPECT_EQ(nocache.Stats().refresh_interval, 30s);

  // A huge max-age is capped at max_refresh_interval.
  RemoteJwksOptions capped = Options();
  capped.max_refresh_interval = 120s;
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}), {{"cache-control", "max-age=86400"}});
  RemoteJwks other(capped, client_, clock_, logger_);
  ASSERT_TRUE(other.Load().has_value());
  EXPECT_EQ(other.Stats().refresh_interval, 120s);
  // No header: refresh_interval.
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks plain(Options(), client_, clock_, logger_);
  ASSERT_TRUE(plain.Load().has_value());
  EXPECT_EQ(plain.Stats().refresh_interval, 300s);
}

TEST_F(RemoteJwksTest, AwaitRefreshFindsARotatedKeyInOneCall) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();
  VerifierConfig config;
  config.issuer = "https://issuer.test/";
  config.audiences = {"natstack"};
  config.algorithms = {"ES256"};
  config.unknown_kid_wait = 5s;
  OidcVerifier verifier(config, jwks, clock_);
  const json claims = {{"iss", config.issuer},
                       {"aud", "natstack"},
                       {"sub", "alice"},
                       {"exp", clock_.UnixSeconds() + 3600}};
  auto token = SignJws({{"alg", "ES256"}, {"kid", "b"}}, claims, KeyB().get());
  ASSERT_TRUE(token.has_value());
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}, {KeyB().get(), "b"}}));
  clock_.Advance(11s);  // past the rate limit of the Load above
  auto verified = verifier.Verify(*token);  // waits for the refresh it asks for
  ASSERT_TRUE(verified.has_value()) << verified.error().detail;
  EXPECT_EQ(endpoint_.hits(), 2);

  // Within the rate limit a made-up kid is refused at once, with no fetch.
  auto forged = SignJws({{"alg", "ES256"}, {"kid", "zzz"}}, claims, KeyB().get());
  const auto start = std::chrono::steady_clock::now();
  auto refused = verifier.Verify(*forged);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().reason, Refusal::kUnknownKey);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(endpoint_.hits(), 2);
}

TEST_F(RemoteJwksTest, AwaitRefreshIsBoundedByItsBudget) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  RemoteJwks jwks(Options(), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  jwks.Start();
  endpoint_.SetDelay(1500ms);  // slower than the budget
  clock_.Advance(11s);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(jwks.AwaitRefresh("b", 200ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1200ms);
  // Known keys keep being served while the slow fetch runs.
  EXPECT_NE(jwks.Keys()->Find("a"), nullptr);
  // Without the background thread, nothing would fetch: no wait at all.
  RemoteJwks idle(Options(), client_, clock_, logger_);
  EXPECT_FALSE(idle.AwaitRefresh("b", 5s));
}

// One bound for every issuer: a flood of made-up kids at any issuer holds at most
// wait_slots->max() decision threads, and the others are refused at once and counted.
TEST_F(RemoteJwksTest, IssuersShareOneBoundOnWaitingThreads) {
  endpoint_.Set(200, JwksOf({{KeyA().get(), "a"}}));
  auto slots = std::make_shared<WaitSlots>(1);
  RemoteJwksOptions shared = Options();
  shared.wait_slots = slots;
  RemoteJwks first(shared, client_, clock_, logger_);
  RemoteJwks second(shared, client_, clock_, logger_);
  ASSERT_TRUE(first.Load().has_value());
  ASSERT_TRUE(second.Load().has_value());
  first.Start();
  second.Start();
  endpoint_.SetDelay(1500ms);  // the refresh the waiter asks for takes a while
  clock_.Advance(11s);
  std::atomic<bool> waiting_done{false};
  std::thread waiter([&] {
    (void)first.AwaitRefresh("x", 3000ms);
    waiting_done = true;
  });
  ASSERT_TRUE(natstack::testing::WaitFor([&] { return slots->in_use() == 1; }, 2s));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(second.AwaitRefresh("y", 3000ms));  // another issuer: no place left
  EXPECT_FALSE(first.AwaitRefresh("z", 3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(second.Stats().waits_refused, 1u);
  EXPECT_EQ(first.Stats().waits_refused, 1u);
  waiter.join();
  EXPECT_TRUE(waiting_done);
  EXPECT_EQ(slots->in_use(), 0u);  // the place is given back
}

TEST(WaitSlotsTest, NeverMoreThanMaxAndZeroMeansOne) {
  WaitSlots one(0);
  EXPECT_EQ(one.max(), 1u);
  EXPECT_TRUE(one.TryAcquire());
  EXPECT_FALSE(one.TryAcquire());
  one.Release();
  EXPECT_TRUE(one.TryAcquire());
  WaitSlots many(3);
  std::atomic<int> got{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k)
        if (many.TryAcquire()) ++got;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(got.load(), 3);
}

TEST_F(RemoteJwksTest, Discovery) {
  const std::string issuer = endpoint_.Base() + "/";
  endpoint_.SetDiscovery(json{{"issuer", issuer}, {"jwks_uri", endpoint_.Url()}}.dump());
  auto uri = DiscoverJwksUri(client_, issuer);
  ASSERT_TRUE(uri.has_value()) << uri.error().ToString();
  EXPECT_EQ(*uri, endpoint_.Url());

  // The document must name exactly the issuer asked for.
  auto mismatch = DiscoverJwksUri(client_, endpoint_.Base());  // no trailing slash
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().code, Code::kFailedPrecondition);

  endpoint_.SetDiscovery(json{{"issuer", issuer}}.dump());
  EXPECT_EQ(DiscoverJwksUri(client_, issuer).error().code, Code::kInvalidArgument);
  endpoint_.SetDiscovery(json{{"issuer", issuer}, {"jwks_uri", "file:///etc/passwd"}}.dump());
  EXPECT_EQ(DiscoverJwksUri(client_, issuer).error().code, Code::kInvalidArgument);
  endpoint_.SetDiscovery("not json");
  EXPECT_EQ(DiscoverJwksUri(client_, issuer).error().code, Code::kInvalidArgument);

  auto not_found = DiscoverJwksUri(client_, endpoint_.Base() + "/tenant/");
  ASSERT_FALSE(not_found.has_value());
  EXPECT_EQ(not_found.error().code, Code::kUnavailable);
  EXPECT_NE(not_found.error().message.find("/tenant/.well-known/openid-configuration"),
            std::string::npos);

  endpoint_.Stop();
  auto down = DiscoverJwksUri(client_, issuer);
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace natstack::jwt
