#include "callout/handler.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "callout/authorizer.hpp"
#include "callout/identity.hpp"
#include "callout/policy.hpp"
#include "core/base64.hpp"
#include "crypto/evp.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"
#include "natsjwt/natsjwt.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;
constexpr int64_t kNow = 1796314575;
constexpr char kIssuerUrl[] = "https://idp.example/";

/// A server, a callout and an IdP, all with fresh keys; builds sealed requests the way
/// nats-server 2.10.27 does and opens the callout's answers the way the server would.
class HandlerTest : public ::testing::Test {
  // Public: the table-driven cases below build their tokens from these.
 public:
  HandlerTest()
      : server_(nkeys::KeyPair::Generate(nkeys::Role::kServer)),
        server_x_(nkeys::XKey::Generate()),
        user_nkey_(nkeys::KeyPair::Generate(nkeys::Role::kUser).PublicKey()),
        clock_(kNow) {
    rsa_ = std::move(*crypto::GenerateRsaPkey(2048));
    kid_ = *jwt::JwkThumbprint(rsa_.get());
    json jwks = {{"keys", json::array({*jwt::PublicJwk(rsa_.get(), kid_, "RS256")})}};
    keys_.Replace(*jwt::Jwks::Parse(jwks.dump()));
    config_.servers = {"nats://127.0.0.1:4222"};
    config_.accounts = {"AUTH"};
    config_.default_account = "AUTH";
    config_.max_user_ttl_s = 3600;
    IssuerSettings idp;
    idp.name = "idp";
    idp.issuer = kIssuerUrl;
    idp.audiences = {"natstack"};
    config_.issuers = {idp};
    config_.templates["default"].pub_allow = {"user.{userId}.>"};
    config_.templates["default"].sub_allow = {"user.{userId}.>", "_INBOX_{userId}.>"};
    issuer_ = nkeys::KeyPair::Generate(nkeys::Role::kAccount);
    callout_x_ = nkeys::XKey::Generate();
    Rebuild();
  }

  /// Compiles config_ into a handler (call again after changing config_).
  void Rebuild() {
    auto valid = ValidateCalloutConfig(config_, "test");
    ASSERT_TRUE(valid) << valid.error().message;
    identities_ = std::make_unique<IdentityVerifier>(
        config_, std::vector<const jwt::KeySource*>{&keys_}, clock_);
    auto policy = Policy::Build(config_);
    ASSERT_TRUE(policy) << policy.error().message;
    policy_ = std::make_unique<Policy>(std::move(*policy));
    authorizer_ = std::make_unique<Authorizer>(config_, *identities_, *policy_, revoked_, clock_);
    std::vector<nkeys::XKey> xkeys;
    xkeys.push_back(*nkeys::XKey::FromSeed(callout_x_.Seed().view()));
    handler_ = std::make_unique<RequestHandler>(
        config_, *nkeys::KeyPair::FromSeed(issuer_.Seed().view()), std::move(xkeys),
        *authorizer_, nullptr, nullptr, clock_);
    issuer_public_ = issuer_.PublicKey();
    callout_x_public_ = callout_x_.PublicKey();
  }

  json Claims(const std::string& sub, int64_t exp_in = 600) const {
    return {{"iss", kIssuerUrl}, {"sub", sub}, {"aud", "natstack"}, {"iat", kNow},
            {"exp", kNow + exp_in}};
  }

  std::string Token(const std::string& sub, int64_t exp_in = 600, json extra = json::object()) {
    json payload = Claims(sub, exp_in);
    payload.update(extra);
    return *jwt::SignJws({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid_}}, payload, rsa_.get());
  }

  /// A token signed over the header and payload texts as given (repeated keys survive, which
  /// a json object would fold).
  std::string SignText(const std::string& header, const std::string& payload) {
    const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
    auto sig = crypto::SignMessage(rsa_.get(), crypto::Digest::kSha256, input, crypto::Padding::kPkcs1);
    return input + "." + Base64UrlEncode(*sig);
  }

  /// A request as a server makes it: with a fresh user key each time (kept in user_nkey_).
  json RequestClaims(const std::string& token) {
    user_nkey_ = nkeys::KeyPair::Generate(nkeys::Role::kUser).PublicKey();
    json connect = {{"protocol", 1}, {"lang", "C"}, {"version", "3.4.1"}};
    if (!token.empty()) connect["auth_token"] = token;
    return {{"aud", "nats-authorization-request"},
            {"exp", kNow + 3},
            {"iat", kNow},
            {"iss", server_.PublicKey()},
            {"sub", issuer_public_},
            {"nats",
             {{"server_id",
               {{"name", "n1"}, {"host", "127.0.1.1"}, {"id", server_.PublicKey()},
                {"version", "2.10.27"}, {"xkey", server_x_.PublicKey()}}},
              {"user_nkey", user_nkey_},
              {"client_info", {{"host", "127.0.0.1"}, {"id", 7}, {"kind", "Client"}, {"type", "nats"}}},
              {"connect_opts", connect},
              {"type", "authorization_request"},
              {"version", 2}}}};
  }

  std::string Seal(const json& claims, const nkeys::KeyPair& signer) {
    const std::string jwt = natsjwt::SignCompact(natsjwt::kHeaderJson, claims.dump(), signer);
    return *server_x_.Seal(jwt, callout_x_public_);
  }

  Outcome HandleClaims(const json& claims) {
    return handler_->Handle(Seal(claims, server_), server_x_.PublicKey());
  }

  /// Opens a response as the server would; returns its claims payload.
  json OpenResponse(const Outcome& outcome) {
    auto jwt = server_x_.Open(outcome.response, callout_x_public_);
    EXPECT_TRUE(jwt) << "response does not open with the server's xkey";
    if (!jwt) return {};
    auto decoded = natsjwt::DecodeAndVerify(*jwt);
    EXPECT_TRUE(decoded) << decoded.error().message;
    if (!decoded) return {};
    return decoded->payload;
  }

  nkeys::KeyPair server_;
  nkeys::XKey server_x_;
  std::string user_nkey_;
  testing::FakeClock clock_;
  crypto::EvpPkeyPtr rsa_;
  std::string kid_;
  jwt::StaticJwks keys_;
  CalloutConfig config_;
  nkeys::KeyPair issuer_ = nkeys::KeyPair::Generate(nkeys::Role::kAccount);
  nkeys::XKey callout_x_ = nkeys::XKey::Generate();
  RevocationCheck revoked_;
  std::unique_ptr<IdentityVerifier> identities_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
  std::string issuer_public_;
  std::string callout_x_public_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(HandlerTest, AdmitsAValidTokenWithTheTemplatePermissions) {
  const Outcome o = HandleClaims(RequestClaims(Token("alice", 600)));
  ASSERT_EQ(o.kind, Outcome::Kind::kAdmitted) << o.reason;
  EXPECT_EQ(o.user_id, "alice");
  EXPECT_EQ(o.server, "n1");
  const json response = OpenResponse(o);
  EXPECT_EQ(response["iss"], issuer_public_);
  EXPECT_EQ(response["sub"], user_nkey_);                // bound to the one-time user key
  EXPECT_EQ(response["aud"], server_.PublicKey());      // for the requesting server
  EXPECT_EQ(response["nats"]["type"], "authorization_response");
  EXPECT_FALSE(response["nats"].contains("error"));
  auto user = natsjwt::DecodeAndVerify(response["nats"]["jwt"].get<std::string>());
  ASSERT_TRUE(user) << user.error().message;
  const json& u = user->payload;
  EXPECT_EQ(u["iss"], issuer_public_);
  EXPECT_EQ(u["sub"], user_nkey_);
  EXPECT_EQ(u["aud"], "AUTH");
  EXPECT_EQ(u["name"], "alice");
  EXPECT_EQ(u["exp"], kNow + 600);  // the token's expiry
  EXPECT_EQ(u["nats"]["pub"]["allow"], json({"user.alice.>"}));
  EXPECT_EQ(u["nats"]["sub"]["allow"], json({"user.alice.>", "_INBOX_alice.>"}));
  EXPECT_FALSE(u["nats"].contains("resp"));  // no allow_responses unless configured
}

TEST_F(HandlerTest, AllowResponsesWhenConfigured) {
  config_.templates["default"].allow_responses = true;
  Rebuild();
  const Outcome o = HandleClaims(RequestClaims(Token("alice", 600)));
  ASSERT_EQ(o.kind, Outcome::Kind::kAdmitted);
  auto user = natsjwt::DecodeAndVerify(OpenResponse(o)["nats"]["jwt"].get<std::string>());
  ASSERT_TRUE(user);
  EXPECT_EQ(user->payload["nats"]["resp"]["max"], 1);
}

TEST_F(HandlerTest, ATokenWithoutKidIsVerifiedWithTheOnlyFittingKey) {
  // RFC 7515 makes kid optional; with exactly one key of the right type there is no doubt.
  const std::string token = *jwt::SignJws({{"alg", "RS256"}}, Claims("alice"), rsa_.get());
  EXPECT_EQ(HandleClaims(RequestClaims(token)).kind, Outcome::Kind::kAdmitted);
}

TEST_F(HandlerTest, UserJwtLifetimeIsCappedByConfiguration) {
  const Outcome o = HandleClaims(RequestClaims(Token("alice", 86400)));
  ASSERT_EQ(o.kind, Outcome::Kind::kAdmitted);
  auto user = natsjwt::DecodeAndVerify(OpenResponse(o)["nats"]["jwt"].get<std::string>());
  EXPECT_EQ(user->payload["exp"], kNow + 3600);
}

struct RefusalCase {
  const char* name;
  std::function<std::string(HandlerTest&)> token;
  const char* reason;
};

TEST_F(HandlerTest, EveryBadTokenGetsASignedErrorResponseNamingTheReason) {
  const std::vector<RefusalCase> cases = {
      {"missing", [](HandlerTest&) { return std::string(); }, "no_token"},
      {"garbage", [](HandlerTest&) { return std::string("garbage"); }, "malformed"},
      {"too large", [](HandlerTest& t) { return t.Token("alice", 600, {{"pad", std::string(40000, 'p')}}); }, "too_large"},
      {"expired", [](HandlerTest& t) { return t.Token("alice", -120); }, "expired"},
      // Inside the verifier's 30 s leeway, but the user JWT would be born expired.
      {"expired within leeway", [](HandlerTest& t) { return t.Token("alice", -10); }, "expired"},
      {"expiring now", [](HandlerTest& t) { return t.Token("alice", 0); }, "expired"},
      {"audience", [](HandlerTest& t) { return t.Token("alice", 600, {{"aud", "other"}}); }, "wrong_audience"},
      {"issuer", [](HandlerTest& t) { return t.Token("alice", 600, {{"iss", "https://evil/"}}); }, "unknown_issuer"},
      {"none",
       [](HandlerTest& t) {
         return jwt::UnsignedJws({{"alg", "none"}, {"kid", t.kid_}},
                                 {{"iss", kIssuerUrl}, {"sub", "alice"}, {"aud", "natstack"}, {"exp", kNow + 60}});
       },
       "algorithm_not_allowed"},
      {"hs256",
       [](HandlerTest& t) {
         return *jwt::HmacJws({{"alg", "HS256"}, {"kid", t.kid_}},
                              {{"iss", kIssuerUrl}, {"sub", "alice"}, {"aud", "natstack"}, {"exp", kNow + 60}},
                              *crypto::PublicKeyPem(t.rsa_.get()));
       },
       "algorithm_not_allowed"},
      {"signature",
       [](HandlerTest& t) {
         std::string tok = t.Token("alice");
         tok[tok.size() - 10] = tok[tok.size() - 10] == 'A' ? 'B' : 'A';
         return tok;
       },
       "bad_signature"},
      {"dotted user", [](HandlerTest& t) { return t.Token("alice.admin"); }, "template_rejected"},
      {"wildcard user", [](HandlerTest& t) { return t.Token(">"); }, "template_rejected"},
      // Subject injection through sub.
      {"star user", [](HandlerTest& t) { return t.Token("*"); }, "template_rejected"},
      {"space in user", [](HandlerTest& t) { return t.Token("al ice"); }, "template_rejected"},
      {"tab in user", [](HandlerTest& t) { return t.Token("al\tice"); }, "template_rejected"},
      {"newline in user", [](HandlerTest& t) { return t.Token("alice\r\nPUB x"); }, "template_rejected"},
      {"empty user", [](HandlerTest& t) { return t.Token(""); }, "missing_claim"},
      {"zero-width space in user", [](HandlerTest& t) { return t.Token("alice\xE2\x80\x8B"); }, "template_rejected"},
      {"no-break space in user", [](HandlerTest& t) { return t.Token("al\xC2\xA0ice"); }, "template_rejected"},
      {"right-to-left override in user", [](HandlerTest& t) { return t.Token("ali\xE2\x80\xAE" "ce"); }, "template_rejected"},
      {"line separator in user", [](HandlerTest& t) { return t.Token("a\xE2\x80\xA8INFO admitted"); }, "template_rejected"},
      {"trailing dot user", [](HandlerTest& t) { return t.Token("alice."); }, "template_rejected"},
      {"subject-shaped user", [](HandlerTest& t) { return t.Token("bob.>"); }, "template_rejected"},
      {"long user", [](HandlerTest& t) { return t.Token(std::string(300, 'a')); }, "template_rejected"},
      // Header games.
      {"kid unknown",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", "nope"}}, t.Claims("alice"), t.rsa_.get());
       },
       "unknown_key"},
      {"alg missing",
       [](HandlerTest& t) {
         return *jwt::SignJwsAs("RS256", {{"kid", t.kid_}}, t.Claims("alice"), t.rsa_.get());
       },
       "malformed"},
      {"alg RS512 not allowed",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS512"}, {"kid", t.kid_}}, t.Claims("alice"), t.rsa_.get());
       },
       "algorithm_not_allowed"},
      {"alg PS256 with an RS256-only list",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "PS256"}, {"kid", t.kid_}}, t.Claims("alice"), t.rsa_.get());
       },
       "algorithm_not_allowed"},
      // typ names another kind of token.
      {"typ of a DPoP proof",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}, {"typ", "dpop+jwt"}},
                              t.Claims("alice"), t.rsa_.get());
       },
       "wrong_type"},
      {"typ of a logout token",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}, {"typ", "logout+jwt"}},
                              t.Claims("alice"), t.rsa_.get());
       },
       "wrong_type"},
      {"typ not a string",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}, {"typ", 1}}, t.Claims("alice"),
                              t.rsa_.get());
       },
       "malformed"},
      {"crit header",
       [](HandlerTest& t) {
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}, {"crit", {"exp"}}},
                              t.Claims("alice"), t.rsa_.get());
       },
       "malformed"},
      {"header not an object",
       [](HandlerTest& t) {
         const std::string tok = t.Token("alice");
         return Base64UrlEncode("[1]") + tok.substr(tok.find('.'));
       },
       "malformed"},
      {"two segments", [](HandlerTest& t) {
         const std::string tok = t.Token("alice");
         return tok.substr(0, tok.rfind('.'));
       }, "malformed"},
      {"four segments", [](HandlerTest& t) { return t.Token("alice") + ".x"; }, "malformed"},
      {"not base64url",
       [](HandlerTest& t) {
         std::string tok = t.Token("alice");
         tok[tok.find('.') + 3] = '+';
         return tok;
       },
       "malformed"},
      {"deeply nested claim",
       [](HandlerTest& t) {
         json deep = json::array();
         for (int i = 0; i < 100; ++i) deep = json::array({deep});
         return t.Token("alice", 600, {{"x", deep}});
       },
       "malformed"},
      {"huge token", [](HandlerTest& t) { return t.Token("alice", 600, {{"pad", std::string(40000, 'p')}}); }, "too_large"},
      // Claim types and values.
      {"exp as a string", [](HandlerTest& t) { return t.Token("alice", 600, {{"exp", "tomorrow"}}); }, "malformed"},
      {"exp missing",
       [](HandlerTest& t) {
         json c = t.Claims("alice");
         c.erase("exp");
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}}, c, t.rsa_.get());
       },
       "missing_claim"},
      {"sub missing",
       [](HandlerTest& t) {
         json c = t.Claims("alice");
         c.erase("sub");
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}}, c, t.rsa_.get());
       },
       "missing_claim"},
      {"sub not a string", [](HandlerTest& t) { return t.Token("alice", 600, {{"sub", 42}}); }, "malformed"},
      {"aud array without ours",
       [](HandlerTest& t) { return t.Token("alice", 600, {{"aud", {"a", "b"}}}); },
       "wrong_audience"},
      {"aud missing",
       [](HandlerTest& t) {
         json c = t.Claims("alice");
         c.erase("aud");
         return *jwt::SignJws({{"alg", "RS256"}, {"kid", t.kid_}}, c, t.rsa_.get());
       },
       "missing_claim"},
      {"nbf in the future", [](HandlerTest& t) { return t.Token("alice", 600, {{"nbf", kNow + 300}}); }, "not_yet_valid"},
      {"iat in the future", [](HandlerTest& t) { return t.Token("alice", 600, {{"iat", kNow + 300}}); }, "not_yet_valid"},
      {"iss with a trailing difference",
       [](HandlerTest& t) { return t.Token("alice", 600, {{"iss", std::string(kIssuerUrl) + "x"}}); },
       "unknown_issuer"},
      // Repeated keys: one parser takes the first copy, another the last; neither is trusted.
      {"sub twice",
       [](HandlerTest& t) {
         const std::string claims = t.Claims("alice").dump();
         return t.SignText(R"({"alg":"RS256","kid":")" + t.kid_ + "\"}",
                           claims.substr(0, claims.size() - 1) + R"(,"sub":"admin"})");
       },
       "malformed"},
      {"iss twice",
       [](HandlerTest& t) {
         const std::string claims = t.Claims("alice").dump();
         return t.SignText(R"({"alg":"RS256","kid":")" + t.kid_ + "\"}",
                           R"({"iss":"https://evil/",)" + claims.substr(1));
       },
       "malformed"},
      {"alg twice in the header",
       [](HandlerTest& t) {
         return t.SignText(R"({"alg":"none","kid":")" + t.kid_ + R"(","alg":"RS256"})",
                           t.Claims("alice").dump());
       },
       "malformed"},
      {"kid twice in the header",
       [](HandlerTest& t) {
         return t.SignText(R"({"alg":"RS256","kid":"other","kid":")" + t.kid_ + "\"}",
                           t.Claims("alice").dump());
       },
       "malformed"},
      {"payload swapped onto a valid signature",
       [](HandlerTest& t) {
         const std::string good = t.Token("alice");
         const std::string other = t.Token("admin");
         const auto a = good.find('.'), b = good.rfind('.');
         const auto oa = other.find('.'), ob = other.rfind('.');
         return good.substr(0, a) + other.substr(oa, ob - oa) + good.substr(b);
       },
       "bad_signature"},
  };
  for (const auto& c : cases) {
    const Outcome o = HandleClaims(RequestClaims(c.token(*this)));
    EXPECT_EQ(o.kind, Outcome::Kind::kRefused) << c.name;
    EXPECT_EQ(o.reason, c.reason) << c.name;
    const json response = OpenResponse(o);
    EXPECT_EQ(response["sub"], user_nkey_) << c.name;
    EXPECT_EQ(response["aud"], server_.PublicKey()) << c.name;
    EXPECT_EQ(response["nats"]["error"], std::string("natstack: refused: ") + c.reason) << c.name;
    EXPECT_FALSE(response["nats"].contains("jwt")) << c.name;
  }
}

TEST_F(HandlerTest, DropReasonsAnswerWithSilenceOthersStillGetASignedRefusal) {
  config_.drop_reasons = {"unknown_issuer", "overloaded"};
  Rebuild();
  const Outcome evil = HandleClaims(RequestClaims(Token("alice", 600, {{"iss", "https://evil/"}})));
  EXPECT_EQ(evil.kind, Outcome::Kind::kDropped);
  EXPECT_EQ(evil.reason, "unknown_issuer");  // still counted under its reason
  EXPECT_TRUE(evil.response.empty());
  const Outcome expired = HandleClaims(RequestClaims(Token("alice", -120)));
  EXPECT_EQ(expired.kind, Outcome::Kind::kRefused);
  EXPECT_FALSE(expired.response.empty());
  // Refuse() (the full-queue path) follows the same setting.
  auto opened = handler_->Open(Seal(RequestClaims(Token("alice")), server_), server_x_.PublicKey());
  ASSERT_TRUE(opened);
  EXPECT_EQ(handler_->Refuse(*opened, "overloaded", "full").kind, Outcome::Kind::kDropped);
  EXPECT_EQ(handler_->Refuse(*opened, "rate_limited", "x").kind, Outcome::Kind::kRefused);
}

TEST_F(HandlerTest, RefusalsNameTheConfiguredIssuerTheTokenClaims) {
  // Before verification the source is the configured issuer its iss names (a label a client
  // cannot make up), so refusals can be told apart by issuer in the metrics.
  EXPECT_EQ(HandleClaims(RequestClaims(Token("alice", -120))).source, "idp");
  EXPECT_EQ(HandleClaims(RequestClaims(Token("alice", 600, {{"aud", "x"}}))).source, "idp");
  const Outcome evil = HandleClaims(RequestClaims(Token("alice", 600, {{"iss", "https://evil/"}})));
  EXPECT_EQ(evil.reason, "unknown_issuer");
  EXPECT_EQ(evil.source, "");
  EXPECT_EQ(HandleClaims(RequestClaims("garbage")).source, "");
}

TEST_F(HandlerTest, UntrustworthyRequestsAreDropped) {
  const std::string token = Token("alice");
  // Unsealed, or sealed without the sender's key.
  EXPECT_EQ(handler_->Handle("eyJ...", std::nullopt).reason, "unsealed_request");
  // Sealed to somebody else.
  {
    const std::string jwt = natsjwt::SignCompact(natsjwt::kHeaderJson, RequestClaims(token).dump(), server_);
    auto other = nkeys::XKey::Generate();
    EXPECT_EQ(handler_->Handle(*server_x_.Seal(jwt, other.PublicKey()), server_x_.PublicKey()).reason,
              "undecryptable_request");
  }
  // Signed by another server than the one it names.
  {
    auto impostor = nkeys::KeyPair::Generate(nkeys::Role::kServer);
    json claims = RequestClaims(token);
    claims["iss"] = impostor.PublicKey();
    const Outcome o = handler_->Handle(Seal(claims, impostor), server_x_.PublicKey());
    EXPECT_EQ(o.kind, Outcome::Kind::kDropped);
    EXPECT_EQ(o.reason, "bad_request");
    EXPECT_TRUE(o.response.empty());
  }
  // Wrong audience, expired request, not an authorization request.
  for (auto mutate : std::vector<std::function<void(json&)>>{
           [](json& c) { c["aud"] = "someone"; },
           [](json& c) { c["exp"] = kNow - 60; },
           [](json& c) { c["nats"]["type"] = "user"; },
           [](json& c) { c["nats"]["user_nkey"] = "not-a-key"; }}) {
    json claims = RequestClaims(token);
    mutate(claims);
    EXPECT_EQ(HandleClaims(claims).kind, Outcome::Kind::kDropped) << claims.dump();
  }
  // A repeated key in the signed request: which user_nkey the server meant is not guessed.
  {
    const std::string claims = RequestClaims(token).dump();
    const std::string twice = claims.substr(0, claims.size() - 1) + R"(,"aud":"nats-authorization-request"})";
    const std::string jwt = natsjwt::SignCompact(natsjwt::kHeaderJson, twice, server_);
    const Outcome o = handler_->Handle(*server_x_.Seal(jwt, callout_x_public_), server_x_.PublicKey());
    EXPECT_EQ(o.kind, Outcome::Kind::kDropped);
    EXPECT_EQ(o.reason, "bad_request");
  }
  // The header's xkey differs from the signed one.
  {
    auto other = nkeys::XKey::Generate();
    const std::string jwt = natsjwt::SignCompact(natsjwt::kHeaderJson, RequestClaims(token).dump(), server_);
    const Outcome o = handler_->Handle(*other.Seal(jwt, callout_x_public_), other.PublicKey());
    EXPECT_EQ(o.reason, "xkey_mismatch");
  }
}

TEST_F(HandlerTest, ARequestIsAnsweredOnceAndOnlyWithinItsDeadline) {
  const std::string sealed = Seal(RequestClaims(Token("alice")), server_);
  EXPECT_EQ(handler_->Handle(sealed, server_x_.PublicKey()).kind, Outcome::Kind::kAdmitted);
  // The same request again (captured and re-published): no second answer.
  const Outcome replay = handler_->Handle(sealed, server_x_.PublicKey());
  EXPECT_EQ(replay.kind, Outcome::Kind::kDropped);
  EXPECT_EQ(replay.reason, "replayed_request");
  EXPECT_TRUE(replay.response.empty());
  // A new request that reuses the one-time user key, even signed anew and for another token.
  json again = RequestClaims(Token("bob"));
  EXPECT_EQ(HandleClaims(again).kind, Outcome::Kind::kAdmitted);
  again["nats"]["connect_opts"]["auth_token"] = Token("carol");
  EXPECT_EQ(HandleClaims(again).reason, "replayed_request");
  // A refused request's key is spent too: a replay gets no second refusal to time.
  json refused = RequestClaims(Token("alice", -600));
  EXPECT_EQ(HandleClaims(refused).reason, "expired");
  EXPECT_EQ(HandleClaims(refused).reason, "replayed_request");
  // No deadline, or one too far away to remember: never answered.
  json forever = RequestClaims(Token("alice"));
  forever.erase("exp");
  EXPECT_EQ(HandleClaims(forever).reason, "bad_request");
  json far = RequestClaims(Token("alice"));
  far["exp"] = kNow + RequestHandler::kMaxRequestLifetimeS + 1;
  EXPECT_EQ(HandleClaims(far).reason, "bad_request");
  // Once its deadline (plus leeway) has passed, the key is forgotten and the request expired.
  clock_.Advance(std::chrono::seconds(3 + RequestHandler::kRequestLeewayS + 1));
  EXPECT_EQ(handler_->Handle(sealed, server_x_.PublicKey()).reason, "bad_request");
}

TEST_F(HandlerTest, ServerAllowListIsEnforced) {
  config_.allowed_servers = {nkeys::KeyPair::Generate(nkeys::Role::kServer).PublicKey()};
  Rebuild();
  EXPECT_EQ(HandleClaims(RequestClaims(Token("alice"))).reason, "server_not_allowed");
  config_.allowed_servers.push_back(server_.PublicKey());
  Rebuild();
  EXPECT_EQ(HandleClaims(RequestClaims(Token("alice"))).kind, Outcome::Kind::kAdmitted);
}

TEST_F(HandlerTest, CapturedServerRequestOpensVerifiesAndGetsASignedRefusal) {
  // The real nats-server 2.10.27 request from the shared vectors: its token's key is not ours,
  // so the answer is a refusal, sealed for that server.
  std::ifstream in(NATSTACK_SHARED_DIR "/vectors/auth-callout/authorization-request-captured.json");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const json v = json::parse(ss.str());
  auto issuer = nkeys::KeyPair::FromSeed(v["callout_issuer_account_seed"].get<std::string>());
  auto callout_x = nkeys::XKey::FromSeed(v["callout_xkey_seed"].get<std::string>());
  ASSERT_TRUE(issuer && callout_x);
  testing::FakeClock at_capture(kNow);
  CalloutConfig config = config_;
  config.issuers[0].issuer = "http://127.0.0.1:18999/";
  config.issuers[0].audiences = {"https://api.ref-callout.test"};
  IdentityVerifier identities(config, {&keys_}, at_capture);
  auto policy = Policy::Build(config);
  ASSERT_TRUE(policy);
  Authorizer authorizer(config, identities, *policy, nullptr, at_capture);
  std::vector<nkeys::XKey> xkeys;
  xkeys.push_back(std::move(*callout_x));
  RequestHandler handler(config, std::move(*issuer), std::move(xkeys), authorizer, nullptr,
                         nullptr, at_capture);
  const std::string payload = *Base64Decode(v["request_payload_base64"].get<std::string>());
  const std::string server_x = v["headers"]["Nats-Server-Xkey"];
  const Outcome o = handler.Handle(payload, server_x);
  EXPECT_EQ(o.kind, Outcome::Kind::kRefused);
  EXPECT_EQ(o.reason, "unknown_key");
  EXPECT_EQ(o.server, "A");
  EXPECT_GT(o.response.size(), 4u + 24 + 16);
  EXPECT_EQ(o.response.substr(0, 4), "xkv1");
}

TEST(PolicyTest, SubjectSafeTokens) {
  EXPECT_TRUE(IsSubjectSafeToken("alice"));
  EXPECT_TRUE(IsSubjectSafeToken("auth0|alice"));
  EXPECT_TRUE(IsSubjectSafeToken("user@example.com") == false);  // '.' in the domain
  for (const char* bad : {"", "a.b", "*", ">", "a b", "a\tb", "a\nb", "a\x7f"})
    EXPECT_FALSE(IsSubjectSafeToken(bad)) << bad;
  EXPECT_FALSE(IsSubjectSafeToken(std::string(257, 'a')));
}

TEST(PolicyTest, ValidSubjects) {
  for (const char* ok : {"a", "a.b", "a.*.c", "a.>", ">", "_INBOX_alice.>", "user.auth0|x.>"})
    EXPECT_TRUE(IsValidSubject(ok)) << ok;
  for (const char* bad : {"", ".a", "a.", "a..b", "a.>.b", "a>", "a*", "a b", "a.\t"})
    EXPECT_FALSE(IsValidSubject(bad)) << bad;
}

TEST(PolicyTest, TemplateValidation) {
  PermissionTemplate t;
  t.pub_allow = {"user.{userId}.>"};
  t.sub_allow = {"jobs.{userId} workers"};
  EXPECT_TRUE(ValidateTemplate(t));
  t.pub_allow = {"user.{user}.>"};
  EXPECT_FALSE(ValidateTemplate(t));
  t.pub_allow = {"user.{userId}..x"};
  EXPECT_FALSE(ValidateTemplate(t));
  t.pub_allow = {"a b"};  // queue groups only in subscribe lists
  EXPECT_FALSE(ValidateTemplate(t));
}

TEST(PolicyTest, DecideFillsEveryPlaceholder) {
  CalloutConfig config;
  config.servers = {"nats://127.0.0.1:4222"};
  config.issuers.emplace_back();
  config.issuers[0].name = "idp";
  config.issuers[0].issuer = kIssuerUrl;
  config.issuers[0].audiences = {"natstack"};
  config.templates["default"].pub_allow = {"user.{userId}.{userId}.x", "org.{claim:org}.>"};
  config.templates["default"].sub_deny = {"user.{userId}.admin"};
  auto policy = Policy::Build(config);
  ASSERT_TRUE(policy) << policy.error().message;
  Identity id;
  id.source = "idp";
  id.user_id = "bob";
  id.claims = {{"org", "acme"}};
  auto grant = policy->Decide(id);
  ASSERT_TRUE(grant) << grant.error().detail;
  EXPECT_EQ(grant->account, "AUTH");
  EXPECT_EQ(grant->pub.allow, (std::vector<std::string>{"user.bob.bob.x", "org.acme.>"}));
  EXPECT_EQ(grant->sub.deny,
            (std::vector<std::string>{"user.bob.admin", "$SYS.REQ.USER.AUTH", "$SYS._INBOX.>"}));
  EXPECT_FALSE(grant->resp.has_value());
}

}  // namespace
}  // namespace natstack::callout
