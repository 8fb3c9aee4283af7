// natstack against a real OpenID Provider that nobody here wrote: the npm package oidc-provider
// (tests/oidc/provider.mjs), started by the test on a loopback address, issuing RS256 JWT access
// tokens (RFC 9068) to a client_credentials client for a resource server (RFC 8707).
//
// - `natstack callout explain` admits its tokens and refuses, with the right reason, a token for
//   another audience, a tampered one and one whose key the provider no longer publishes.
// - The service's JWKS machinery (jwt::RemoteJwks + callout::IdentityVerifier, wired as
//   CalloutService wires them, settings from a parsed callout config) follows key rotations at
//   the provider without a restart and without refusing a valid token: an abrupt rotation (the
//   new key signs from the moment it is published) through the bounded unknown-kid refresh, and
//   oidc-provider's documented staged rotation through the periodic refresh.
// - The whole path: `natstack up --callout-replicas 0`, the test's own `natstack callout serve`
//   with the provider as a second issuer, real nats.c clients with the provider's tokens, and an
//   abrupt rotation at the provider picked up by the running callout.
//
// The provider, HTTP, discovery, JWKS fetches and the refresh thread are real. The verifier's
// clock is a FakeClock starting at the real time: it stands for "the last fetch was a while ago"
// (jwks_min_refresh_s) and "the periodic refresh is due" (jwks_refresh_s) without waiting
// seconds or minutes. Each test has its own provider process, stopped even when an assertion
// fails (and killed with the test process: PR_SET_PDEATHSIG).
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "callout/config.hpp"
#include "callout/identity.hpp"
#include "cluster/process.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"
#include "core/logger.hpp"
#include "http/client.hpp"
#include "jwt/remote_jwks.hpp"
#include "nats_client/connection.hpp"
#include "testing/fake_clock.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"
#include "testing/temp_dir.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr char kClientId[] = "natstack-it";
constexpr char kResource[] = "urn:natstack:nats";            // the audience natstack accepts
constexpr char kOtherResource[] = "urn:natstack:other-api";  // another API's audience
constexpr char kUserPrefix[] = "op_";
constexpr char kIssuerName[] = "oidc-provider";

const std::string& ProviderDir() {
  static const std::string dir = std::string(NATSTACK_SOURCE_DIR) + "/tests/oidc";
  return dir;
}

/// The first executable `name` on $PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

/// The decoded JSON of part 0 (header) or 1 (payload) of a compact JWS; null when unparsable.
json JwsPart(const std::string& token, int part) {
  size_t begin = 0;
  for (int i = 0; i < part; ++i) begin = token.find('.', begin) + 1;
  const size_t end = token.find('.', begin);
  if (begin == 0 && part > 0) return nullptr;
  auto text = Base64UrlDecode(token.substr(begin, end - begin));
  if (!text) return nullptr;
  return json::parse(*text, nullptr, false);
}

std::string KidOf(const std::string& token) {
  const json h = JwsPart(token, 0);
  return h.is_object() && h.contains("kid") && h["kid"].is_string() ? h["kid"].get<std::string>()
                                                                    : "";
}

/// application/x-www-form-urlencoded value.
std::string FormEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/// One tests/oidc/provider.mjs process. Stopped (SIGTERM, then SIGKILL after 5 s) when
/// destroyed.
class OidcProvider {
 public:
  /// Starts it on 127.0.B.20 (B random; the kernel picks both ports) with `keys` (private JWKs;
  /// the first one signs), one client_credentials client, and two resource servers: kResource
  /// and kOtherResource, whose tokens live an hour. Returns once it answers discovery.
  static Result<std::unique_ptr<OidcProvider>> Start(const std::string& dir,
                                                     const std::vector<json>& keys) {
    const std::string node = FindOnPath("node");
    if (node.empty()) return Fail(Code::kNotFound, "node is not on PATH: run scripts/setup.sh");
    if (!FileExists(ProviderDir() + "/node_modules/oidc-provider/package.json"))
      return Fail(Code::kNotFound,
                  ProviderDir() + "/node_modules has no oidc-provider: run scripts/setup.sh");
    std::random_device rd;
    const std::string host = "127.0." + std::to_string(10 + rd() % 240) + ".20";
    std::string secret;
    for (int i = 0; i < 32; ++i)
      secret.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[rd() % 36]);

    auto provider = std::unique_ptr<OidcProvider>(new OidcProvider(dir, secret));
    NATSTACK_TRY(provider->WriteKeys(keys));
    const json config = {
        {"listen", host + ":0"},
        {"admin_listen", host + ":0"},
        {"jwks_file", provider->jwks_file_},
        {"clients", {{{"client_id", kClientId}, {"client_secret", secret}}}},
        {"resources",
         {{kResource, {{"scope", "nats"}, {"access_token_ttl_s", 3600}}},
          {kOtherResource, {{"scope", "other"}, {"access_token_ttl_s", 3600}}}}},
    };
    const std::string config_file = dir + "/provider.json";
    NATSTACK_TRY(WriteFileAtomic(config_file, config.dump(), 0600));

    cluster::SpawnOptions spawn;
    spawn.argv = {node, ProviderDir() + "/provider.mjs", "serve", "--config", config_file};
    spawn.log_file = provider->log_file_;
    spawn.ready_pipe = true;
    auto child = cluster::ChildProcess::Spawn(spawn);
    if (!child) return Fail(child.error());
    provider->child_ = std::make_unique<cluster::ChildProcess>(std::move(*child));
    if (!provider->child_->WaitReady(20s)) {
      return Fail(Code::kUnavailable, "oidc-provider did not report ready (" +
                                          provider->child_->ExitDescription().value_or("running") +
                                          "): " + cluster::TailOfFile(provider->log_file_, 20));
    }
    // The ready line: {"event":"ready","issuer":...,"admin":...}.
    auto log = ReadFile(provider->log_file_);
    if (!log) return Fail(log.error());
    std::istringstream lines(*log);
    for (std::string line; std::getline(lines, line);) {
      const json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == "ready") {
        provider->issuer_ = j.value("issuer", "");
        provider->admin_ = j.value("admin", "");
      }
    }
    if (provider->issuer_.empty() || provider->admin_.empty())
      return Fail(Code::kInternal, "no ready line in " + provider->log_file_ + ": " + *log);
    auto discovery = provider->http_.Get(provider->issuer_ + "/.well-known/openid-configuration");
    if (!discovery) return Fail(discovery.error());
    provider->discovery_ = json::parse(discovery->body, nullptr, false);
    if (discovery->status != 200 || !provider->discovery_.contains("token_endpoint"))
      return Fail(Code::kUnavailable,
                  "discovery: HTTP " + std::to_string(discovery->status) + ": " + discovery->body);
    return provider;
  }

  const std::string& issuer() const { return issuer_; }
  const json& discovery() const { return discovery_; }
  std::string LogTail() const { return cluster::TailOfFile(log_file_, 20); }

  /// Replaces the key set (the first key signs) and has the running process reload it; returns
  /// once the provider serves it (published JWKS and signer of new tokens).
  Status Publish(const std::vector<json>& keys) {
    NATSTACK_TRY(WriteKeys(keys));
    auto r = http_.Post(admin_ + "/reload", "", "application/json");
    if (!r) return Fail(r.error());
    if (r->status != 200)
      return Fail(Code::kInternal, "reload: HTTP " + std::to_string(r->status) + ": " + r->body);
    const json answer = json::parse(r->body, nullptr, false);
    json want = json::array();
    for (const auto& k : keys) want.push_back(k["kid"]);
    if (!answer.is_object() || answer["published"] != want)
      return Fail(Code::kInternal, "reload answered " + r->body + ", expected kids " + want.dump());
    return Ok();
  }

  /// An access token from the token endpoint (client_credentials, client_secret_basic) for
  /// `resource`.
  Result<std::string> Token(const std::string& resource = kResource) {
    http::RequestOptions o;
    o.timeout = 5s;
    o.headers = {
        {"Authorization", "Basic " + Base64Encode(std::string(kClientId) + ":" + secret_)}};
    auto r = http_.Post(discovery_["token_endpoint"].get<std::string>(),
                        "grant_type=client_credentials&resource=" + FormEncode(resource),
                        "application/x-www-form-urlencoded", o);
    if (!r) return Fail(r.error());
    const json body = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !body.is_object() || !body.contains("access_token"))
      return Fail(Code::kUnavailable, "token endpoint: HTTP " + std::to_string(r->status) + ": " +
                                          r->body.substr(0, 300));
    return body["access_token"].get<std::string>();
  }

 private:
  OidcProvider(const std::string& dir, std::string secret)
      : jwks_file_(dir + "/provider-jwks.json"),
        log_file_(dir + "/provider.log"),
        secret_(std::move(secret)) {}

  Status WriteKeys(const std::vector<json>& keys) {
    return WriteFileAtomic(jwks_file_, json{{"keys", keys}}.dump(), 0600);
  }

  std::string jwks_file_;
  std::string log_file_;
  std::string secret_;
  std::string issuer_;
  std::string admin_;
  json discovery_;
  http::CurlClient http_;
  std::unique_ptr<cluster::ChildProcess> child_;  // last: stopped first
};

/// The service's verifying half, in process: the issuer's settings from a parsed callout config,
/// a RemoteJwks with the options CalloutService derives from them (discovery, refresh intervals,
/// rate limit), loaded and refreshing in the background, and an IdentityVerifier over it.
struct Verifier {
  callout::CalloutConfig config;
  testing::FakeClock clock;
  StreamLogger log{stderr, LogLevel::kInfo};
  http::CurlClient http;
  std::unique_ptr<jwt::RemoteJwks> jwks;
  std::unique_ptr<callout::IdentityVerifier> identities;

  const callout::IssuerSettings& issuer() const { return config.issuers.at(0); }

  /// "admitted", or the refusal reason.
  std::string Verdict(const std::string& token) const {
    auto id = identities->Verify(token);
    return id ? std::string("admitted") : id.error().reason;
  }
};

/// Two private RS256 JWKs (kids natstack-it-1 and -2), made once by the provider script itself
/// (node's crypto); fewer when that failed.
const std::vector<json>& TestKeys() {
  static const std::vector<json> keys = [] {
    std::vector<json> out;
    const std::string node = FindOnPath("node");
    for (const char* kid : {"natstack-it-1", "natstack-it-2"}) {
      if (node.empty()) break;
      auto text = cluster::RunAndCapture(
          {node, ProviderDir() + "/provider.mjs", "keygen", "--kid", kid}, 30s);
      const json key = text ? json::parse(*text, nullptr, false) : json();
      if (key.is_object() && key.contains("d")) out.push_back(key);
    }
    return out;
  }();
  return keys;
}
const json& Key(int n) { return TestKeys().at(static_cast<size_t>(n - 1)); }
std::string Kid(int n) { return Key(n)["kid"].get<std::string>(); }
constexpr char kNoKeys[] = "could not make RS256 keys with tests/oidc/provider.mjs keygen";

class OidcProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(TestKeys().size(), 2u) << kNoKeys;
    auto p = OidcProvider::Start(dir_.path(), {Key(1)});
    ASSERT_TRUE(p) << p.error().message;
    provider_ = std::move(*p);
  }

  /// A callout config accepting the provider's tokens for kResource (the issuer's JWKS found by
  /// discovery). explain and the in-process verifier never connect to `servers` nor read the
  /// secret files.
  std::string CalloutConfigFile() const {
    const json config = {
        {"servers", {"nats://127.0.0.1:4222"}},
        {"password_file", dir_.Join("unused.password")},
        {"issuer_seed_file", dir_.Join("unused.seed")},
        {"xkey_seed_file", dir_.Join("unused.xkey")},
        {"issuers",
         {{{"name", kIssuerName},
           {"issuer", provider_->issuer()},
           {"audiences", {kResource}},
           {"user_prefix", kUserPrefix}}}},
        {"templates",
         {{"default", {{"pub_allow", {"user.{userId}.>"}}, {"sub_allow", {"user.{userId}.>"}}}}}},
    };
    const std::string path = dir_.Join("callout.json");
    EXPECT_TRUE(WriteFileAtomic(path, config.dump(2), 0600));
    return path;
  }

  struct Explained {
    int exit_code = -1;
    json j;  ///< the JSON document explain printed
  };
  /// `natstack callout explain --json` of `token` (on standard input).
  Explained Explain(const std::string& token) const {
    auto r = testing::RunNatstack({"callout", "explain", "--json", "--config", CalloutConfigFile()},
                                  30s, {}, token + "\n");
    // stdout is the JSON document; warnings (stderr, same pipe) may come before it.
    const size_t start = r.output.rfind('{', 0) == 0 ? 0 : r.output.find("\n{");
    Explained e{r.exit_code, start == std::string::npos
                                 ? json()
                                 : json::parse(r.output.substr(start), nullptr, false)};
    if (!e.j.is_object()) ADD_FAILURE() << "explain printed no JSON: " << r.output;
    return e;
  }

  /// The verifying half of the service, loaded from the provider (as CalloutService::Start does
  /// before it reports ready) and refreshing in the background.
  std::unique_ptr<Verifier> StartVerifier() const {
    auto v = std::make_unique<Verifier>();
    auto text = ReadFile(CalloutConfigFile());
    if (!text) {
      ADD_FAILURE() << text.error().message;
      return nullptr;
    }
    auto config = callout::ParseCalloutConfig(*text, "callout.json");
    if (!config) {
      ADD_FAILURE() << config.error().message;
      return nullptr;
    }
    v->config = std::move(*config);
    v->clock.SetUnixSeconds(static_cast<int64_t>(std::time(nullptr)));
    const callout::IssuerSettings& is = v->issuer();
    // As CalloutService::Start makes them.
    v->jwks = std::make_unique<jwt::RemoteJwks>(callout::JwksOptionsOf(is), v->http, v->clock,
                                                v->log);
    if (auto st = v->jwks->Load(); !st) {
      ADD_FAILURE() << st.error().message;
      return nullptr;
    }
    v->jwks->Start();
    v->identities = std::make_unique<callout::IdentityVerifier>(
        v->config, std::vector<const jwt::KeySource*>{v->jwks.get()}, v->clock);
    return v;
  }

  /// Advances the verifier's clock to when its periodic refresh is due and waits (real time,
  /// bounded) until that fetch has finished; true when it succeeded.
  static bool RunPeriodicRefresh(Verifier& v) {
    const auto before = v.jwks->Stats();
    v.clock.Advance(before.refresh_interval + 1s);
    // `fetches` counts attempts as they start; a success moves last_success (the clock moved).
    testing::WaitFor(
        [&] {
          const auto now = v.jwks->Stats();
          return now.last_success != before.last_success || now.failures > before.failures;
        },
        5s);
    return v.jwks->Stats().last_success != before.last_success;
  }

  testing::TempDir dir_;
  std::unique_ptr<OidcProvider> provider_;
};

TEST_F(OidcProviderTest, IssuesRs256JwtAccessTokensForTheResource) {
  const json& d = provider_->discovery();
  EXPECT_EQ(d["issuer"], provider_->issuer());
  EXPECT_EQ(d["jwks_uri"], provider_->issuer() + "/jwks");
  auto token = provider_->Token();
  ASSERT_TRUE(token) << token.error().message;
  const json header = JwsPart(*token, 0);
  const json claims = JwsPart(*token, 1);
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["typ"], "at+jwt");  // RFC 9068
  EXPECT_EQ(header["kid"], Kid(1));
  EXPECT_EQ(claims["iss"], provider_->issuer());
  EXPECT_EQ(claims["aud"], kResource);
  EXPECT_EQ(claims["sub"], kClientId);
  EXPECT_EQ(claims["client_id"], kClientId);
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 3600);
  auto other = provider_->Token(kOtherResource);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(JwsPart(*other, 1)["aud"], kOtherResource);
  EXPECT_FALSE(provider_->Token("urn:natstack:unknown")) << "an unknown resource got a token";
}

TEST_F(OidcProviderTest, ExplainAdmitsAProviderToken) {
  auto token = provider_->Token();
  ASSERT_TRUE(token) << token.error().message;
  const Explained e = Explain(*token);
  EXPECT_EQ(e.exit_code, 0) << e.j.dump(2);
  EXPECT_EQ(e.j["verdict"], "admitted") << e.j.dump(2);
  EXPECT_EQ(e.j["source"], kIssuerName);
  EXPECT_EQ(e.j["user_id"], std::string(kUserPrefix) + kClientId);
  EXPECT_EQ(e.j["permissions"]["pub"]["allow"],
            json({"user." + std::string(kUserPrefix) + kClientId + ".>"}))
      << e.j.dump(2);
}

TEST_F(OidcProviderTest, ExplainRefusesAnotherAudienceATamperedTokenAndAnUnpublishedKey) {
  auto other = provider_->Token(kOtherResource);
  ASSERT_TRUE(other) << other.error().message;
  Explained e = Explain(*other);
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_EQ(e.j["verdict"], "refused");
  EXPECT_EQ(e.j["reason"], "wrong_audience") << e.j.dump(2);

  // The provider's own signature over claims changed afterwards: another subject.
  auto token = provider_->Token();
  ASSERT_TRUE(token) << token.error().message;
  json claims = JwsPart(*token, 1);
  claims["sub"] = "admin";
  const size_t a = token->find('.');
  const size_t b = token->rfind('.');
  const std::string tampered =
      token->substr(0, a + 1) + Base64UrlEncode(claims.dump()) + token->substr(b);
  e = Explain(tampered);
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_EQ(e.j["reason"], "bad_signature") << e.j.dump(2);

  // The provider replaces the key of a token it issued: the new key's tokens are admitted, the
  // old token is refused once its key is no longer published.
  ASSERT_TRUE(provider_->Publish({Key(2)}));
  auto fresh = provider_->Token();
  ASSERT_TRUE(fresh) << fresh.error().message;
  ASSERT_EQ(KidOf(*fresh), Kid(2));
  e = Explain(*fresh);
  EXPECT_EQ(e.j["verdict"], "admitted") << e.j.dump(2);
  e = Explain(*token);
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_EQ(e.j["reason"], "unknown_key") << e.j.dump(2);
}

TEST_F(OidcProviderTest, AbruptRotationIsPickedUpWithoutARestartOrARefusedToken) {
  auto v = StartVerifier();
  ASSERT_TRUE(v);
  auto old_token = provider_->Token();
  ASSERT_TRUE(old_token) << old_token.error().message;
  ASSERT_EQ(KidOf(*old_token), Kid(1));
  ASSERT_EQ(v->Verdict(*old_token), "admitted");

  // Some time after the last fetch (past the rate limit of unknown-kid refreshes) the provider
  // rotates abruptly: the new key signs from the moment it is first published.
  v->clock.Advance(std::chrono::seconds(v->issuer().jwks_min_refresh_s) + 1s);
  const auto before = v->jwks->Stats();
  ASSERT_EQ(before.key_count, 1u);

  // Traffic through the rotation: a client keeps getting tokens, the service keeps verifying.
  std::mutex mu;
  std::vector<std::string> refusals;
  std::atomic<int> admitted_old{0}, admitted_new{0};
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    for (int n = 0; n < 5000 && !stop; ++n) {  // bounded in count, and in time by the waits below
      auto t = provider_->Token();
      if (!t) {
        std::lock_guard<std::mutex> l(mu);
        refusals.push_back("no token: " + t.error().message);
        continue;
      }
      auto id = v->identities->Verify(*t);
      if (!id) {
        std::lock_guard<std::mutex> l(mu);
        refusals.push_back("kid " + KidOf(*t) + ": " + id.error().reason + " (" +
                           id.error().detail + ")");
      } else {
        ++(KidOf(*t) == Kid(1) ? admitted_old : admitted_new);
      }
    }
  });
  const bool flowing = testing::WaitFor([&] { return admitted_old >= 3; }, 10s);
  const Status rotated = flowing ? provider_->Publish({Key(2), Key(1)}) : Ok();
  const bool switched = rotated && testing::WaitFor([&] { return admitted_new >= 5; }, 10s);
  stop = true;
  traffic.join();
  ASSERT_TRUE(flowing) << "no old-key token was admitted before the rotation: " << refusals.size()
                       << " refusals, first: " << (refusals.empty() ? "" : refusals[0]);
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_TRUE(switched) << "new-key tokens admitted: " << admitted_new;
  EXPECT_TRUE(refusals.empty()) << refusals.size() << " refused, first: " << refusals[0];

  // Exactly one refresh, asked for by the first unknown kid; the old key is still published.
  const auto after = v->jwks->Stats();
  EXPECT_EQ(after.hints_accepted - before.hints_accepted, 1u);
  EXPECT_EQ(after.fetches - before.fetches, 1u);
  EXPECT_EQ(after.failures, before.failures);
  EXPECT_EQ(after.key_count, 2u);
  // A token the provider signed with the old key before the rotation is still valid and its key
  // still published: still admitted.
  EXPECT_EQ(v->Verdict(*old_token), "admitted");

  // The provider retires the old key; the next periodic refresh follows it. The old token is now
  // refused (the admissions above came from the published set, not a stale cache), new ones are
  // not.
  ASSERT_TRUE(provider_->Publish({Key(2)}));
  ASSERT_TRUE(RunPeriodicRefresh(*v));
  EXPECT_EQ(v->jwks->Stats().key_count, 1u);
  EXPECT_EQ(v->Verdict(*old_token), "unknown_key");
  auto fresh = provider_->Token();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(v->Verdict(*fresh), "admitted");
}

TEST_F(OidcProviderTest, StagedRotationIsKnownBeforeTheNewKeySigns) {
  // oidc-provider's documented rotation: the new key at the end of the set (published, not
  // used), reload; later the new key in front (it signs), reload.
  auto v = StartVerifier();
  ASSERT_TRUE(v);
  auto old_token = provider_->Token();
  ASSERT_TRUE(old_token);
  ASSERT_EQ(v->Verdict(*old_token), "admitted");

  ASSERT_TRUE(provider_->Publish({Key(1), Key(2)}));
  auto still_old = provider_->Token();
  ASSERT_TRUE(still_old);
  EXPECT_EQ(KidOf(*still_old), Kid(1)) << "the key at the end must not sign yet";
  EXPECT_EQ(v->Verdict(*still_old), "admitted");
  ASSERT_TRUE(RunPeriodicRefresh(*v));
  ASSERT_EQ(v->jwks->Stats().key_count, 2u);

  ASSERT_TRUE(provider_->Publish({Key(2), Key(1)}));
  const auto before = v->jwks->Stats();
  for (int i = 0; i < 5; ++i) {
    auto t = provider_->Token();
    ASSERT_TRUE(t);
    ASSERT_EQ(KidOf(*t), Kid(2)) << "the key in front signs";
    EXPECT_EQ(v->Verdict(*t), "admitted");
  }
  EXPECT_EQ(v->Verdict(*old_token), "admitted");
  // The new key was known before its first token: no unknown-kid hint, no fetch.
  const auto after = v->jwks->Stats();
  EXPECT_EQ(after.fetches, before.fetches);
  EXPECT_EQ(after.hints_accepted + after.hints_dropped,
            before.hints_accepted + before.hints_dropped);
}

/// The whole path: `natstack up --callout-replicas 0` (three nodes, no callout), and the test's
/// own `natstack callout serve` with the stack's callout.json plus the provider as a second
/// issuer; real nats.c clients connect with the provider's tokens. One stack for the suite.
class OidcProviderClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(SetUpCluster()); }
  static void TearDownTestSuite() {
    delete callout_;  // first: it is connected to the nodes
    delete stack_;    // natstack down
    delete provider_;
    delete dir_;
    delete setup_error_;
  }
  void SetUp() override { ASSERT_EQ(*setup_error_, "") << *setup_error_; }

  /// "" when the stack, the provider and the callout run; else what went wrong.
  static std::string SetUpCluster() {
    if (TestKeys().size() != 2) return kNoKeys;
    dir_ = new testing::TempDir();
    auto p = OidcProvider::Start(dir_->path(), {Key(1)});
    if (!p) return p.error().message;
    provider_ = p->release();
    signing_ = 1;

    stack_ = new testing::Stack();
    const auto up = stack_->Up({"--callout-replicas", "0"});
    if (up.exit_code != 0) return "natstack up --callout-replicas 0 failed: " + up.output;

    // The stack's own callout config (dev issuer, templates, keys, system user) plus the provider.
    auto text = ReadFile(stack_->state_dir() + "/callout.json");
    if (!text) return text.error().message;
    json config = json::parse(*text, nullptr, false);
    if (!config.is_object() || !config["issuers"].is_array())
      return "unexpected callout.json: " + *text;
    config["issuers"].push_back({{"name", kIssuerName},
                                 {"issuer", provider_->issuer()},
                                 {"audiences", {kResource}},
                                 {"user_prefix", kUserPrefix}});
    const std::string config_file = dir_->Join("callout-oidc.json");
    if (auto st = WriteFileAtomic(config_file, config.dump(2), 0600); !st)
      return st.error().message;

    cluster::SpawnOptions spawn;
    spawn.argv = {NATSTACK_BINARY, "callout", "serve", "--config", config_file};
    spawn.log_file = dir_->Join("callout.log");
    spawn.ready_pipe = true;
    auto child = cluster::ChildProcess::Spawn(spawn);
    if (!child) return child.error().message;
    callout_ = new cluster::ChildProcess(std::move(*child));
    if (!callout_->WaitReady(30s))
      return "natstack callout serve did not report ready: " +
             cluster::TailOfFile(spawn.log_file, 20);
    // Its JWKS was fetched before it reported ready: the last fetch happened about now.
    last_fetch_ = std::chrono::steady_clock::now();
    return "";
  }

  static Result<std::unique_ptr<nats_client::Connection>> Connect(int node,
                                                                  const std::string& token) {
    return stack_->Connect(node, token);
  }

  static std::string UserSubjects() { return "user." + std::string(kUserPrefix) + kClientId; }

  static testing::TempDir* dir_;
  static OidcProvider* provider_;
  static int signing_;  // which of TestKeys() the provider signs with
  static testing::Stack* stack_;
  static cluster::ChildProcess* callout_;
  static std::chrono::steady_clock::time_point last_fetch_;
  static std::string* setup_error_;
};

testing::TempDir* OidcProviderClusterTest::dir_ = nullptr;
OidcProvider* OidcProviderClusterTest::provider_ = nullptr;
int OidcProviderClusterTest::signing_ = 1;
testing::Stack* OidcProviderClusterTest::stack_ = nullptr;
cluster::ChildProcess* OidcProviderClusterTest::callout_ = nullptr;
std::chrono::steady_clock::time_point OidcProviderClusterTest::last_fetch_;
std::string* OidcProviderClusterTest::setup_error_ = nullptr;

TEST_F(OidcProviderClusterTest, AProviderTokenIsAdmittedAndUsableAcrossNodes) {
  auto token = provider_->Token();
  ASSERT_TRUE(token) << token.error().message;
  auto sub = Connect(1, *token);
  ASSERT_TRUE(sub) << sub.error().message << "\n" << cluster::TailOfFile(dir_->Join("callout.log"));
  auto pub = Connect(3, *token);
  ASSERT_TRUE(pub) << pub.error().message;
  auto s = (*sub)->SubscribeSync(UserSubjects() + ".>");
  ASSERT_TRUE(s);
  ASSERT_TRUE((*sub)->Flush(2s));
  // Interest crosses the routes shortly after the flush; retry the publish until it lands.
  Result<nats_client::Message> got = Fail(Code::kDeadlineExceeded, "nothing received");
  for (int attempt = 0; attempt < 20 && !got; ++attempt) {
    ASSERT_TRUE((*pub)->Publish(UserSubjects() + ".hello", "from oidc-provider"));
    ASSERT_TRUE((*pub)->Flush(2s));
    got = (*s)->Next(250ms);
  }
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->Data(), "from oidc-provider");
}

TEST_F(OidcProviderClusterTest, ATokenForAnotherAudienceIsRefusedQuickly) {
  auto token = provider_->Token(kOtherResource);
  ASSERT_TRUE(token) << token.error().message;
  const auto start = std::chrono::steady_clock::now();
  auto conn = Connect(2, *token);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(conn) << "a token for " << kOtherResource << " was admitted";
  EXPECT_EQ(conn.error().code, Code::kUnauthenticated) << conn.error().message;
  EXPECT_NE(conn.error().message.find("Authorization Violation"), std::string::npos)
      << conn.error().message;
  EXPECT_LT(seconds, 1.5) << "the callout did not answer (" << seconds << " s)";
}

TEST_F(OidcProviderClusterTest, RotationIsPickedUpByTheRunningCalloutWithoutRefusingAValidToken) {
  auto old_token = provider_->Token();
  ASSERT_TRUE(old_token) << old_token.error().message;
  ASSERT_TRUE(Connect(1, *old_token));
  const pid_t callout_pid = callout_->pid();

  // A fetch right now (a token whose kid is not published asks for one), so that the rotation
  // below lands inside the unknown-kid rate limit's window (jwks_min_refresh_s, 1 s by
  // default): the new key's first token must still be admitted, by waiting (within
  // unknown_kid_wait_ms) for the refresh at the window's end.
  std::this_thread::sleep_until(last_fetch_ + 1100ms);
  {
    const std::string& t = *old_token;
    json header = json::parse(*Base64UrlDecode(t.substr(0, t.find('.'))));
    header["kid"] = "not-published";
    const std::string forged = Base64UrlEncode(header.dump()) + t.substr(t.find('.'));
    EXPECT_FALSE(Connect(1, forged)) << "a token with an unpublished kid was admitted";
  }
  const int next = 3 - signing_;
  ASSERT_TRUE(provider_->Publish({Key(next), Key(signing_)}));
  signing_ = next;
  last_fetch_ = std::chrono::steady_clock::now();
  auto new_token = provider_->Token();
  ASSERT_TRUE(new_token) << new_token.error().message;
  ASSERT_EQ(KidOf(*new_token), Kid(next));

  auto conn = Connect(2, *new_token);
  EXPECT_TRUE(conn) << "a token signed with the new key was refused: "
                    << (conn ? "" : conn.error().message) << "\n"
                    << cluster::TailOfFile(dir_->Join("callout.log"));
  // A token signed with the old key before the rotation, whose key is still published.
  auto again = Connect(3, *old_token);
  EXPECT_TRUE(again) << "a valid old-key token was refused after the rotation: "
                     << (again ? "" : again.error().message);
  // The same callout process all along.
  EXPECT_TRUE(callout_->IsRunning());
  EXPECT_EQ(callout_->pid(), callout_pid);
}

}  // namespace
}  // namespace natstack
