#include "idp/dev_issuer.hpp"

#include <gtest/gtest.h>

#include "testing/helpers.hpp"
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "core/file.hpp"
#include "http/client.hpp"
#include "jwt/remote_jwks.hpp"
#include "jwt/verifier.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::idp {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAudience = "natstack-dev";

using testing::WaitFor;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "natstack-idp-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

jwt::VerifierConfig ConfigFor(const DevIssuer& issuer) {
  jwt::VerifierConfig c;
  c.issuer = issuer.issuer();
  c.audiences = {issuer.audience()};
  return c;
}

TEST(DevIssuerTest, KeyFileIsCreated0600AndReused) {
  TempDir dir;
  const std::string key_file = dir.File("state/idp/issuer.pem");  // parents are created
  auto first = DevIssuer::LoadOrCreate(key_file, "http://127.0.0.1:9400/", kAudience);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(ModeOf(key_file), 0600u);
  EXPECT_EQ(ModeOf(dir.File("state/idp")), 0700u);
  auto pem = ReadFile(key_file);
  ASSERT_TRUE(pem.has_value());
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);

  auto second = DevIssuer::LoadOrCreate(key_file, "http://127.0.0.1:9400/", kAudience);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->kid(), second->kid());
  EXPECT_EQ(first->JwksJson(), second->JwksJson());
  // No temporary files are left behind.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.File("state/idp"))) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  // A token minted by one instance verifies with the other's JWKS.
  testing::FakeClock clock;
  jwt::StaticJwks keys(*jwt::Jwks::Parse(second->JwksJson()));
  jwt::OidcVerifier verifier(ConfigFor(*second), keys, clock);
  EXPECT_TRUE(verifier.Verify(first->Mint("alice", 1h, clock)).has_value());
}

TEST(DevIssuerTest, RefusesUnsafeOrWrongKeyFiles) {
  TempDir dir;
  const std::string key_file = dir.File("issuer.pem");
  ASSERT_TRUE(DevIssuer::LoadOrCreate(key_file, "http://127.0.0.1:1/", kAudience).has_value());
  ::chmod(key_file.c_str(), 0644);
  auto open = DevIssuer::LoadOrCreate(key_file, "http://127.0.0.1:1/", kAudience);
  ASSERT_FALSE(open.has_value());
  EXPECT_EQ(open.error().code, Code::kPermissionDenied);

  const std::string garbage = dir.File("garbage.pem");
  ASSERT_TRUE(WriteFileAtomic(garbage, "not a key", 0600).has_value());
  auto bad = DevIssuer::LoadOrCreate(garbage, "http://127.0.0.1:1/", kAudience);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find(garbage), std::string::npos);

  const std::string ec_file = dir.File("ec.pem");
  auto ec = crypto::GenerateEcPkey(crypto::KeyType::kEcP256);
  ASSERT_TRUE(WriteFileAtomic(ec_file, *crypto::PrivateKeyPem(ec->get()), 0600).has_value());
  auto wrong = DevIssuer::LoadOrCreate(ec_file, "http://127.0.0.1:1/", kAudience);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Code::kFailedPrecondition);

  EXPECT_EQ(DevIssuer::LoadOrCreate(dir.File("k.pem"), "ftp://x/", kAudience).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(DevIssuer::LoadOrCreate(dir.File("k.pem"), "http://x/", "").error().code,
            Code::kInvalidArgument);
  EXPECT_FALSE(FileExists(dir.File("k.pem")));  // settings are checked before a key is made
}

class MintTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto issuer = DevIssuer::FromKey(*crypto::GenerateRsaPkey(), "https://idp.test/", kAudience);
    ASSERT_TRUE(issuer.has_value());
    issuer_ = new DevIssuer(std::move(*issuer));
  }
  static void TearDownTestSuite() { delete issuer_; }
  static DevIssuer* issuer_;
  testing::FakeClock clock_;
};
DevIssuer* MintTest::issuer_ = nullptr;

TEST_F(MintTest, MintedTokenVerifies) {
  jwt::StaticJwks keys(*jwt::Jwks::Parse(issuer_->JwksJson()));
  jwt::OidcVerifier verifier(ConfigFor(*issuer_), keys, clock_);
  const std::string token =
      issuer_->Mint("alice", 15min, clock_, {{"email", "alice@example.test"}});
  auto r = verifier.Verify(token);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->subject, "alice");
  EXPECT_EQ(r->issuer, "https://idp.test/");
  EXPECT_EQ(r->kid, issuer_->kid());
  EXPECT_EQ(r->algorithm, "RS256");
  EXPECT_EQ(r->issued_at, clock_.UnixSeconds());
  EXPECT_EQ(r->expires_at, clock_.UnixSeconds() + 900);
  EXPECT_EQ(r->claims["nbf"], clock_.UnixSeconds());
  EXPECT_EQ(r->claims["email"], "alice@example.test");
  EXPECT_TRUE(r->claims["jti"].is_string());

  auto header = jwt::ParseCompactJws(token);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->header, (json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", issuer_->kid()}}));

  // Two tokens get different jtis.
  auto other = jwt::ParseCompactJws(issuer_->Mint("alice", 15min, clock_));
  EXPECT_NE(other->payload["jti"], r->claims["jti"]);

  clock_.Advance(16min);
  auto expired = verifier.Verify(token);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().reason, jwt::Refusal::kExpired);
}

TEST_F(MintTest, ExtraClaimsCannotOverrideRegisteredOnes) {
  const json extra = {{"iss", "https://evil/"},
                      {"sub", "root"},
                      {"aud", "other"},
                      {"iat", 1},
                      {"nbf", 1},
                      {"exp", 99999999999},
                      {"jti", "fixed"},
                      {"groups", json::array({"admins"})}};
  auto parsed = jwt::ParseCompactJws(issuer_->Mint("bob", 60s, clock_, extra));
  ASSERT_TRUE(parsed.has_value());
  const json& c = parsed->payload;
  EXPECT_EQ(c["iss"], "https://idp.test/");
  EXPECT_EQ(c["sub"], "bob");
  EXPECT_EQ(c["aud"], kAudience);
  EXPECT_EQ(c["iat"], clock_.UnixSeconds());
  EXPECT_EQ(c["nbf"], clock_.UnixSeconds());
  EXPECT_EQ(c["exp"], clock_.UnixSeconds() + 60);
  EXPECT_EQ(c["jti"], "fixed");
  EXPECT_EQ(c["groups"], json::array({"admins"}));
  // A non-object extra is ignored.
  EXPECT_TRUE(
      jwt::ParseCompactJws(issuer_->Mint("bob", 60s, clock_, json::array({1}))).has_value());
}

TEST_F(MintTest, JwksAndDiscoveryDocuments) {
  const json jwks = json::parse(issuer_->JwksJson());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const json& key = jwks["keys"][0];
  EXPECT_EQ(key["kty"], "RSA");
  EXPECT_EQ(key["kid"], issuer_->kid());
  EXPECT_EQ(key["use"], "sig");
  EXPECT_EQ(key["alg"], "RS256");
  EXPECT_TRUE(key.contains("n"));
  EXPECT_EQ(key["e"], "AQAB");
  EXPECT_FALSE(key.contains("d"));
  EXPECT_EQ(issuer_->kid().size(), 43u);  // base64url SHA-256

  const json discovery = json::parse(issuer_->DiscoveryJson());
  EXPECT_EQ(discovery["issuer"], "https://idp.test/");
  EXPECT_EQ(discovery["jwks_uri"], "https://idp.test/jwks.json");
  EXPECT_EQ(discovery["id_token_signing_alg_values_supported"], json::array({"RS256"}));

  auto no_slash =
      DevIssuer::FromKey(*crypto::GenerateRsaPkey(), "https://idp.test/tenant", kAudience);
  ASSERT_TRUE(no_slash.has_value());
  EXPECT_EQ(no_slash->JwksUri(), "https://idp.test/tenant/jwks.json");
}

// One RSA key for the server tests (generation is the slow part); LoadOrCreate loads it.
const std::string& SharedKeyPem() {
  static const std::string pem = *crypto::PrivateKeyPem(crypto::GenerateRsaPkey()->get());
  return pem;
}

class DevIssuerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DevIssuerServerOptions options;
    options.key_file = dir_.File("issuer.pem");
    ASSERT_TRUE(WriteFileAtomic(options.key_file, SharedKeyPem(), 0600).has_value());
    options.audience = kAudience;
    auto server = DevIssuerServer::Start(options);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
  }
  jwt::RemoteJwksOptions RemoteOptions(const std::string& url) {
    jwt::RemoteJwksOptions o;
    o.url = url;
    o.request.timeout = 2s;
    return o;
  }

  TempDir dir_;
  std::unique_ptr<DevIssuerServer> server_;
  http::CurlClient client_;
  testing::FakeClock clock_;
  NullLogger logger_;
};

TEST_F(DevIssuerServerTest, ServesDiscoveryJwksAndHealth) {
  const std::string issuer = server_->issuer().issuer();
  EXPECT_EQ(issuer, "http://127.0.0.1:" + std::to_string(server_->BoundPort()) + "/");
  auto discovery = client_.Get(issuer + ".well-known/openid-configuration");
  ASSERT_TRUE(discovery.has_value());
  EXPECT_EQ(discovery->status, 200);
  EXPECT_EQ(discovery->headers["content-type"], "application/json");
  EXPECT_EQ(discovery->headers["cache-control"], "max-age=300");
  EXPECT_EQ(json::parse(discovery->body)["issuer"], issuer);

  auto jwks = client_.Get(issuer + "jwks.json");
  ASSERT_TRUE(jwks.has_value());
  EXPECT_EQ(jwks->status, 200);
  EXPECT_EQ(jwks->headers["cache-control"], "max-age=300");
  EXPECT_EQ(jwks->body, server_->issuer().JwksJson());
  // Auth0's JWKS path, which the original design's callout derives from AUTH0_DOMAIN.
  auto auth0 = client_.Get(issuer + ".well-known/jwks.json");
  ASSERT_TRUE(auth0.has_value());
  EXPECT_EQ(auth0->status, 200);
  EXPECT_EQ(auth0->body, server_->issuer().JwksJson());

  auto health = client_.Get(server_->BaseUrl() + "/healthz");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->body, "ok");
}

TEST_F(DevIssuerServerTest, DiscoveryAndRemoteJwksVerifyMintedTokens) {
  const DevIssuer& issuer = server_->issuer();
  auto uri = jwt::DiscoverJwksUri(client_, issuer.issuer());
  ASSERT_TRUE(uri.has_value()) << uri.error().ToString();
  EXPECT_EQ(*uri, issuer.JwksUri());

  jwt::RemoteJwks jwks(RemoteOptions(*uri), client_, clock_, logger_);
  ASSERT_TRUE(jwks.Load().has_value());
  ASSERT_NE(jwks.Keys()->Find(issuer.kid()), nullptr);
  jwks.Start();

  jwt::OidcVerifier verifier(ConfigFor(issuer), jwks, clock_);
  auto r = verifier.Verify(issuer.Mint("carol", 5min, clock_));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->subject, "carol");

  // Unknown kids: refreshes are rate-limited (one at the end of the window, for any number of
  // hints inside it).
  jwks.OnUnknownKid("nope");
  jwks.OnUnknownKid("nope");
  EXPECT_EQ(jwks.Stats().hints_deferred, 1u);
  EXPECT_EQ(jwks.Stats().hints_dropped, 1u);
  EXPECT_EQ(jwks.Stats().fetches, 1u);
  clock_.Advance(11s);
  ASSERT_TRUE(WaitFor([&] { return jwks.Stats().fetches == 2; }));
  jwks.OnUnknownKid("nope");
  EXPECT_EQ(jwks.Stats().hints_deferred, 2u);
  EXPECT_EQ(jwks.Stats().fetches, 2u);

  // The issuer goes away: the last good keys keep verifying.
  server_->Stop();
  clock_.Advance(11s);
  ASSERT_TRUE(WaitFor([&] { return jwks.Stats().failures == 1; }));
  EXPECT_NE(jwks.Keys()->Find(issuer.kid()), nullptr);
  EXPECT_TRUE(verifier.Verify(issuer.Mint("carol", 5min, clock_)).has_value());
  jwks.Stop();
}

TEST_F(DevIssuerServerTest, LoadAgainstAStoppedIssuerIsUnavailable) {
  const std::string url = server_->issuer().JwksUri();
  server_->Stop();
  jwt::RemoteJwks jwks(RemoteOptions(url), client_, clock_, logger_);
  auto st = jwks.Load();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_NE(st.error().message.find(url), std::string::npos) << st.error().message;
}

TEST_F(DevIssuerServerTest, PortInUseIsAlreadyExists) {
  DevIssuerServerOptions options;
  options.port = server_->BoundPort();
  options.key_file = dir_.File("issuer.pem");
  options.audience = kAudience;
  auto second = DevIssuerServer::Start(options);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Code::kAlreadyExists);
  EXPECT_EQ(second.error().message,
            "127.0.0.1:" + std::to_string(server_->BoundPort()) + " is already in use");
}

TEST(DevIssuerServerPathTest, IssuerWithAPathServesUnderIt) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("k.pem"), SharedKeyPem(), 0600).has_value());
  auto issuer =
      DevIssuer::LoadOrCreate(dir.File("k.pem"), "http://127.0.0.1:1/realms/dev", kAudience);
  ASSERT_TRUE(issuer.has_value());
  auto server = DevIssuerServer::Start(*issuer, "127.0.0.1", 0);
  ASSERT_TRUE(server.has_value());
  http::CurlClient client;
  const std::string base = (*server)->BaseUrl();
  auto doc = client.Get(base + "/realms/dev/.well-known/openid-configuration");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->status, 200);
  auto jwks = client.Get(base + "/realms/dev/jwks.json");
  ASSERT_TRUE(jwks.has_value());
  EXPECT_EQ(jwks->status, 200);
  auto root = client.Get(base + "/jwks.json");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->status, 404);
}

}  // namespace
}  // namespace natstack::idp
