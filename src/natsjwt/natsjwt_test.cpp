#include "natsjwt/natsjwt.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "core/base64.hpp"
#include "core/file.hpp"

namespace natstack::natsjwt {
namespace {

using nlohmann::json;

json Load(const std::string& name) {
  auto text = ReadFile(std::string(NATSTACK_SHARED_DIR "/vectors/auth-callout/") + name);
  EXPECT_TRUE(text.has_value()) << name;
  return json::parse(text.value_or("{}"));
}

nkeys::KeyPair Key(const std::string& seed) { return nkeys::KeyPair::FromSeed(seed).value(); }

std::string Segment(const std::string& jwt, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = jwt.find('.', start) + 1;
  return jwt.substr(start, jwt.find('.', start) - start);
}

std::string SegmentJson(const std::string& jwt, int index) {
  return Base64UrlDecode(Segment(jwt, index)).value();
}

Permission PermissionFrom(const json& object) {
  Permission permission;
  if (object.contains("allow")) permission.allow = object["allow"].get<std::vector<std::string>>();
  if (object.contains("deny")) permission.deny = object["deny"].get<std::vector<std::string>>();
  return permission;
}

// ---- Go-style encoding (jwt.json) -----------------------------------------------------------

class GoStyleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v_ = Load("jwt.json");
    const auto& in = v_["inputs"];
    user_.subject = in["user_nkey_public"];
    user_.audience = in["user_aud_config_mode_account"];
    user_.name = in["user_name"];
    user_.issued_at = in["iat"];
    user_.expires = in["exp"].get<int64_t>();
    user_.pub = PermissionFrom(in["permissions"]["pub"]);
    user_.sub = PermissionFrom(in["permissions"]["sub"]);
  }
  json v_;
  UserClaims user_;
};

TEST_F(GoStyleTest, JtiDerivation) {
  const auto& d = v_["go_jti_derivation"];
  ClaimsData claims;
  claims.audience = user_.audience;
  claims.expires = *user_.expires;
  claims.issued_at = user_.issued_at;
  claims.issuer = v_["inputs"]["issuer_account_public"];
  claims.name = user_.name;
  claims.subject = user_.subject;
  EXPECT_EQ(GoClaimsDataJson(claims), d["claims_data_json"].get<std::string>());
  EXPECT_EQ(GoJti(claims), d["jti"].get<std::string>());
  claims.id = "ignored";  // the jti is computed with jti cleared
  EXPECT_EQ(GoJti(claims), d["jti"].get<std::string>());
}

TEST_F(GoStyleTest, EncodeUserIsByteIdentical) {
  const auto issuer = Key(v_["inputs"]["issuer_account_seed"]);
  EXPECT_EQ(issuer.PublicKey(), v_["inputs"]["issuer_account_public"].get<std::string>());
  ASSERT_TRUE(ValidateUserClaims(user_).has_value());
  const std::string jwt = EncodeUser(user_, issuer);
  const auto& expected = v_["go_style"]["user"];
  EXPECT_EQ(SegmentJson(jwt, 0), expected["header_json"].get<std::string>());
  EXPECT_EQ(SegmentJson(jwt, 1), expected["payload_json"].get<std::string>());
  EXPECT_EQ(HexEncode(Base64UrlDecode(Segment(jwt, 2)).value()),
            expected["signature_hex"].get<std::string>());
  EXPECT_EQ(jwt, v_["go_style"]["user_jwt"].get<std::string>());
}

TEST_F(GoStyleTest, EncodeAuthorizationResponseIsByteIdentical) {
  const auto issuer = Key(v_["inputs"]["issuer_account_seed"]);
  AuthorizationResponse response;
  response.subject = user_.subject;
  response.audience = v_["inputs"]["server_id_public"];
  response.issued_at = user_.issued_at;
  response.user_jwt = v_["go_style"]["user_jwt"];
  const std::string ok = EncodeAuthorizationResponse(response, issuer);
  EXPECT_EQ(SegmentJson(ok, 1),
            v_["go_style"]["authorization_response"]["payload_json"].get<std::string>());
  EXPECT_EQ(ok, v_["go_style"]["authorization_response_jwt"].get<std::string>());

  response.user_jwt.clear();
  response.error = v_["inputs"]["error_text"];
  const std::string denied = EncodeAuthorizationResponse(response, issuer);
  EXPECT_EQ(SegmentJson(denied, 1),
            v_["go_style"]["authorization_response_error"]["payload_json"].get<std::string>());
  EXPECT_EQ(denied, v_["go_style"]["authorization_response_error_jwt"].get<std::string>());
}

TEST_F(GoStyleTest, DecodeAndVerifyAcceptsGoAndJsStyles) {
  for (const char* style : {"go_style", "js_library"}) {
    for (const char* kind : {"user", "authorization_response", "authorization_response_error"}) {
      SCOPED_TRACE(std::string(style) + " " + kind);
      const std::string jwt = v_[style][std::string(kind) + "_jwt"];
      auto decoded = DecodeAndVerify(jwt);
      ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
      EXPECT_EQ(decoded->payload["iss"], v_["inputs"]["issuer_account_public"]);
      EXPECT_EQ(decoded->payload["sub"], v_["inputs"]["user_nkey_public"]);
      EXPECT_EQ(decoded->header, json::parse(v_[style][kind]["header_json"].get<std::string>()));
      EXPECT_EQ(decoded->payload, json::parse(v_[style][kind]["payload_json"].get<std::string>()));
      EXPECT_EQ(HexEncode(decoded->signature), v_[style][kind]["signature_hex"].get<std::string>());
      EXPECT_EQ(decoded->signing_input, jwt.substr(0, jwt.rfind('.')));
    }
  }
}

TEST_F(GoStyleTest, UserLayoutWithRespDenyAndNoExpiry) {
  const auto issuer = Key(v_["inputs"]["issuer_account_seed"]);
  UserClaims claims;
  claims.subject = user_.subject;
  claims.audience = "AUTH";
  claims.issued_at = 1767225600;
  claims.sub.deny = {"secret.>"};
  claims.resp = ResponsePermission{5, 1'000'000'000};
  const std::string payload = SegmentJson(EncodeUser(claims, issuer), 1);
  const std::string jti = json::parse(payload)["jti"];
  EXPECT_EQ(
      payload,
      R"({"aud":"AUTH","jti":")" + jti +
          R"(","iat":1767225600,"iss":"ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF",)"
          R"("sub":"UCSLO75LEBCGMHYPHUGBWN7NB44FCPUTURSJGFNKAS3FDAXDYGTMCX54",)"
          R"("nats":{"pub":{},"sub":{"deny":["secret.\u003e"]},"resp":{"max":5,"ttl":1000000000},)"
          R"("subs":-1,"data":-1,"payload":-1,"type":"user","version":2}})");
  ClaimsData data{"AUTH", 0, "", 1767225600, issuer.PublicKey(), "", 0, claims.subject};
  EXPECT_EQ(jti, GoJti(data));
}

TEST(UserClaimsTest, ValidateUserClaims) {
  UserClaims claims;
  claims.subject = "UCSLO75LEBCGMHYPHUGBWN7NB44FCPUTURSJGFNKAS3FDAXDYGTMCX54";
  claims.pub.allow = {"a.b", "_INBOX.>"};
  claims.sub.allow = {"a.* workers"};
  EXPECT_TRUE(ValidateUserClaims(claims).has_value());

  auto with = [&](auto mutate) {
    UserClaims c = claims;
    mutate(c);
    return ValidateUserClaims(c);
  };
  EXPECT_EQ(with([](UserClaims& c) {
              c.subject = "ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF";
            })
                .error()
                .code,
            Code::kInvalidArgument);
  EXPECT_FALSE(with([](UserClaims& c) { c.pub.allow.push_back(""); }).has_value());
  EXPECT_FALSE(with([](UserClaims& c) { c.pub.deny.push_back(".a"); }).has_value());
  EXPECT_FALSE(with([](UserClaims& c) { c.pub.allow.push_back("a."); }).has_value());
  EXPECT_FALSE(with([](UserClaims& c) { c.sub.allow.push_back("a..b"); }).has_value());
  EXPECT_FALSE(
      with([](UserClaims& c) { c.pub.allow.push_back("a q"); }).has_value());  // no queue in pub
  EXPECT_FALSE(with([](UserClaims& c) { c.sub.allow.push_back("a q r"); }).has_value());
}

// ---- captured requests from nats-server 2.10.27 ------------------------------------------

class CapturedTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { v_ = Load(GetParam()); }
  int64_t Iat() const { return json::parse(v_["request_payload_json"].get<std::string>())["iat"]; }
  json v_;
};

TEST_P(CapturedTest, OpenTheSealedRequest) {
  auto callout = nkeys::XKey::FromSeed(v_["callout_xkey_seed"].get<std::string>());
  ASSERT_TRUE(callout.has_value());
  EXPECT_EQ(callout->PublicKey(), v_["callout_xkey_public"].get<std::string>());
  const std::string sealed = Base64Decode(v_["request_payload_base64"].get<std::string>()).value();
  auto opened = callout->Open(sealed, v_["headers"]["Nats-Server-Xkey"].get<std::string>());
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(*opened, v_["request_jwt"].get<std::string>());
}

TEST_P(CapturedTest, DecodeTheRequest) {
  const std::string jwt = v_["request_jwt"];
  auto request = DecodeAuthorizationRequest(jwt, Iat());
  ASSERT_TRUE(request.has_value()) << request.error().message;
  const json payload = json::parse(v_["request_payload_json"].get<std::string>());
  const json& nats = payload["nats"];
  EXPECT_EQ(request->issuer, payload["iss"]);
  EXPECT_EQ(request->issuer[0], 'N');
  EXPECT_EQ(request->subject, v_["callout_issuer_account_public"]);
  EXPECT_EQ(request->audience, "nats-authorization-request");
  EXPECT_EQ(request->jti, payload["jti"]);
  EXPECT_EQ(request->issued_at, payload["iat"]);
  EXPECT_EQ(request->expires, payload["exp"]);
  EXPECT_EQ(request->server_id.id, request->issuer);
  EXPECT_EQ(request->server_id.name, "A");
  EXPECT_EQ(request->server_id.host, "127.0.0.1");
  EXPECT_EQ(request->server_id.version, "2.10.27");
  EXPECT_EQ(request->server_id.xkey, v_["headers"]["Nats-Server-Xkey"]);  // header is signed
  EXPECT_EQ(request->user_nkey, nats["user_nkey"]);
  EXPECT_EQ(request->client_info.id, nats["client_info"]["id"]);
  EXPECT_EQ(request->client_info.host, "127.0.0.1");
  EXPECT_EQ(request->client_info.kind, "Client");
  EXPECT_EQ(request->client_info.type, "nats");
  EXPECT_EQ(request->client_info.name, "vector-client");
  EXPECT_EQ(request->client_info.user, request->connect_opts.auth_token);  // token auth
  EXPECT_EQ(request->connect_opts.lang, "nats.js");
  EXPECT_EQ(request->connect_opts.version, "3.4.0");
  EXPECT_EQ(request->connect_opts.protocol, 1);
  EXPECT_TRUE(request->client_tls.is_null());

  // The server's jti follows the Go rule.
  auto decoded = DecodeAndVerify(jwt);
  ASSERT_TRUE(decoded.has_value());
  auto claims = ParseClaimsData(decoded->payload);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(GoJti(*claims), request->jti);
  ClaimsData rebuilt{
      request->audience, request->expires, "", request->issued_at, request->issuer, "", 0,
      request->subject};
  EXPECT_EQ(GoJti(rebuilt), request->jti);
}

TEST_P(CapturedTest, DecodeTheAcceptedResponse) {
  const json request = json::parse(v_["request_payload_json"].get<std::string>());
  auto response = DecodeAndVerify(v_["response_jwt"].get<std::string>());
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->payload["iss"], v_["callout_issuer_account_public"]);
  EXPECT_EQ(response->payload["sub"], request["nats"]["user_nkey"]);
  EXPECT_EQ(response->payload["aud"], request["iss"]);
  EXPECT_EQ(response->payload["nats"]["type"], "authorization_response");
  EXPECT_EQ(response->payload["nats"]["jwt"], v_["user_jwt"]);
  auto user = DecodeAndVerify(v_["user_jwt"].get<std::string>());
  ASSERT_TRUE(user.has_value()) << user.error().message;
  EXPECT_EQ(user->payload["aud"], "AUTH");
  EXPECT_EQ(user->payload["sub"], request["nats"]["user_nkey"]);
  // Sealed response length = 4 + 24 + 16 + len(response_jwt).
  EXPECT_EQ(Base64Decode(v_["response_payload_sealed_base64"].get<std::string>())->size(),
            28 + 16 + v_["response_jwt"].get<std::string>().size());
}

INSTANTIATE_TEST_SUITE_P(
    Captures, CapturedTest,
    ::testing::Values("authorization-request-captured.json",
                      "authorization-request-captured-go-style-response.json"));

TEST(CapturedGoStyleTest, ReproduceTheAcceptedResponse) {
  const json v = Load("authorization-request-captured-go-style-response.json");
  const json request = json::parse(v["request_payload_json"].get<std::string>());
  const json user_payload = json::parse(v["user_payload_json"].get<std::string>());
  const auto issuer = Key(v["callout_issuer_account_seed"]);
  const int64_t iat = request["iat"];

  UserClaims user;
  user.subject = request["nats"]["user_nkey"];
  user.audience = user_payload["aud"];
  user.name = user_payload["name"];
  user.issued_at = iat;
  user.expires = user_payload["exp"].get<int64_t>();
  user.pub = PermissionFrom(user_payload["nats"]["pub"]);
  user.sub = PermissionFrom(user_payload["nats"]["sub"]);
  const std::string user_jwt = EncodeUser(user, issuer);
  EXPECT_EQ(user_jwt, v["user_jwt"].get<std::string>());

  AuthorizationResponse response;
  response.subject = request["nats"]["user_nkey"];
  response.audience = request["nats"]["server_id"]["id"];
  response.issued_at = iat;
  response.user_jwt = user_jwt;
  EXPECT_EQ(EncodeAuthorizationResponse(response, issuer), v["response_jwt"].get<std::string>());
}

// ---- negative requests ----------------------------------------------------------------------

// A request shaped like the captured one, re-signed by a server key we hold.
class RequestNegativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const json captured = Load("authorization-request-captured.json");
    payload_ = json::parse(captured["request_payload_json"].get<std::string>());
    const json keys = Load("nkeys.json")["keys"];
    for (const auto& k : keys) {
      if (k["kind"] == "server") server_ = std::make_unique<nkeys::KeyPair>(Key(k["seed"]));
      if (k["kind"] == "account") account_ = std::make_unique<nkeys::KeyPair>(Key(k["seed"]));
    }
    payload_["iss"] = server_->PublicKey();
    payload_["nats"]["server_id"]["id"] = server_->PublicKey();
    now_ = payload_["iat"];
  }
  std::string Sign(const json& payload, const nkeys::KeyPair& key,
                   std::string_view header = kHeaderJson) const {
    return SignCompact(header, payload.dump(), key);
  }
  Code Decode(const std::string& jwt) const {
    auto result = DecodeAuthorizationRequest(jwt, now_);
    return result ? Code::kOk : result.error().code;
  }
  json payload_;
  std::unique_ptr<nkeys::KeyPair> server_, account_;
  int64_t now_ = 0;
};

TEST_F(RequestNegativeTest, ResignedBaselineIsAccepted) {
  EXPECT_EQ(Decode(Sign(payload_, *server_)), Code::kOk);
  json lower_typ_header = {{"typ", "jwt"}, {"alg", "ED25519-NKEY"}};
  EXPECT_EQ(Decode(Sign(payload_, *server_, lower_typ_header.dump())), Code::kOk);
}

TEST_F(RequestNegativeTest, TamperedPayload) {
  const std::string jwt = Sign(payload_, *server_);
  json changed = payload_;
  changed["nats"]["user_nkey"] = "UCSLO75LEBCGMHYPHUGBWN7NB44FCPUTURSJGFNKAS3FDAXDYGTMCX54";
  const std::string forged =
      Segment(jwt, 0) + "." + Base64UrlEncode(changed.dump()) + "." + Segment(jwt, 2);
  EXPECT_EQ(Decode(forged), Code::kUnauthenticated);
  // Also the real capture with one payload character changed.
  std::string captured = Load("authorization-request-captured.json")["request_jwt"];
  const size_t pos = captured.find('.') + 20;
  captured[pos] = captured[pos] == 'A' ? 'B' : 'A';
  auto result = DecodeAndVerify(captured);
  ASSERT_FALSE(result.has_value());
  // Flipping a base64 character may break the JSON first; either way it never verifies.
  EXPECT_TRUE(result.error().code == Code::kUnauthenticated ||
              result.error().code == Code::kInvalidArgument);
  // A flipped signature byte.
  std::string sig = Base64UrlDecode(Segment(jwt, 2)).value();
  sig[0] ^= 1;
  EXPECT_EQ(Decode(jwt.substr(0, jwt.rfind('.') + 1) + Base64UrlEncode(sig)),
            Code::kUnauthenticated);
}

TEST_F(RequestNegativeTest, WrongAlgOrTyp) {
  for (const char* header : {R"({"typ":"JWT","alg":"ed25519"})", R"({"typ":"JWT","alg":"RS256"})",
                             R"({"typ":"JWT","alg":"none"})", R"({"typ":"JWT"})",
                             R"({"typ":"JWT","alg":7})", R"({"typ":"JWS","alg":"ed25519-nkey"})",
                             R"({"alg":"ed25519-nkey"})", R"(["typ","JWT"])", "not json"}) {
    SCOPED_TRACE(header);
    EXPECT_EQ(Decode(Sign(payload_, *server_, header)), Code::kInvalidArgument);
  }
}

TEST_F(RequestNegativeTest, IssuerDoesNotMatchServerId) {
  json p = payload_;
  p["nats"]["server_id"]["id"] = "NDPVWFTYONXSWHINAF7WO6SIA3Q6BWTK4ELUR7IC3BP7PWC7GZ7LWYYL";
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kUnauthenticated);
  p["nats"]["server_id"].erase("id");
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kUnauthenticated);
}

TEST_F(RequestNegativeTest, WrongAudience) {
  json p = payload_;
  p["aud"] = "nats-authorization-response";
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kUnauthenticated);
  p.erase("aud");
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kUnauthenticated);
}

TEST_F(RequestNegativeTest, ExpiredRequest) {
  const std::string jwt = Sign(payload_, *server_);
  const int64_t exp = payload_["exp"];
  EXPECT_TRUE(DecodeAuthorizationRequest(jwt, exp + 2, 2).has_value());  // within leeway
  EXPECT_EQ(DecodeAuthorizationRequest(jwt, exp + 3, 2).error().code, Code::kUnauthenticated);
  EXPECT_EQ(DecodeAuthorizationRequest(jwt, exp + 1, 0).error().code, Code::kUnauthenticated);
  json p = payload_;
  p["nbf"] = now_ + 60;
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kUnauthenticated);
  p.erase("exp");
  p.erase("nbf");
  EXPECT_TRUE(DecodeAuthorizationRequest(Sign(p, *server_), now_ + 1'000'000).has_value())
      << "no exp means no expiry";
}

TEST_F(RequestNegativeTest, NonServerIssuer) {
  json p = payload_;
  p["iss"] = account_->PublicKey();
  p["nats"]["server_id"]["id"] = account_->PublicKey();
  EXPECT_EQ(Decode(Sign(p, *account_)), Code::kUnauthenticated);
  // iss says server but an account key signed it.
  EXPECT_EQ(Decode(Sign(payload_, *account_)), Code::kUnauthenticated);
  // iss is not a key at all.
  p["iss"] = "not-a-key";
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kInvalidArgument);
  p.erase("iss");
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kInvalidArgument);
}

TEST_F(RequestNegativeTest, MissingOrInvalidUserNkey) {
  json p = payload_;
  p["nats"].erase("user_nkey");
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kInvalidArgument);
  p["nats"]["user_nkey"] = account_->PublicKey();
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kInvalidArgument);
  p["nats"]["user_nkey"] = 42;
  EXPECT_EQ(Decode(Sign(p, *server_)), Code::kInvalidArgument);
}

TEST_F(RequestNegativeTest, WrongClaimTypeVersionOrShape) {
  auto code_with = [&](auto mutate) {
    json p = payload_;
    mutate(p);
    return Decode(Sign(p, *server_));
  };
  EXPECT_EQ(code_with([](json& p) { p["nats"]["type"] = "authorization_response"; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["version"] = 3; }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["version"] = 1; }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["version"] = "2"; }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p.erase("nats"); }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"] = "x"; }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"].erase("server_id"); }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["server_id"]["xkey"] = "XGARBAGE"; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["client_info"]["id"] = "7"; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["client_info"]["id"] = -1; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["client_info"]["id"] = 1.5; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) {
              p["nats"]["client_info"]["tags"] = {1, 2};
            }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["connect_opts"] = json::array(); }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["nats"]["connect_opts"]["protocol"] = 1LL << 40; }),
            Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["exp"] = "soon"; }), Code::kInvalidArgument);
  EXPECT_EQ(code_with([](json& p) { p["iss"] = 12; }), Code::kInvalidArgument);
  // Nulls and absent optional parts are fine, as in Go.
  EXPECT_EQ(code_with([](json& p) {
              p["nats"]["client_info"] = nullptr;
              p["nats"].erase("connect_opts");
              p["nats"]["client_tls"] = {{"version", "1.3"}, {"certs", {"PEM"}}};
            }),
            Code::kOk);
}

TEST_F(RequestNegativeTest, ClientTlsIsKept) {
  json p = payload_;
  p["nats"]["client_tls"] = {{"version", "1.3"}, {"cipher", "TLS_AES_128_GCM_SHA256"}};
  auto request = DecodeAuthorizationRequest(Sign(p, *server_), now_);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->client_tls["cipher"], "TLS_AES_128_GCM_SHA256");
}

// ---- hostile input ----------------------------------------------------------------------------

TEST(DecodeAndVerifyTest, RejectsMalformedTokens) {
  const std::string good = Load("jwt.json")["go_style"]["user_jwt"];
  ASSERT_TRUE(DecodeAndVerify(good).has_value());
  const std::string h = Segment(good, 0), p = Segment(good, 1), s = Segment(good, 2);
  const std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "...",
      "a.b.c",
      good + ".",
      good + ".x",
      h + "." + p,
      h + ".." + s,
      "." + p + "." + s,
      h + "." + p + ".",
      h + "." + p + "." + s + "=",
      "!" + good,
      h + "." + Base64UrlEncode("[1,2]") + "." + s,
      h + "." + Base64UrlEncode("null") + "." + s,
      h + "." + Base64UrlEncode("{\"iss\":") + "." + s,
      h + "." + Base64UrlEncode("{\"iss\":\"\xff\"}") + "." + s,
      Base64UrlEncode("{}") + "." + p + "." + s,
      h + "." + p + "." + s.substr(0, 40),
  };
  for (const auto& token : bad) {
    SCOPED_TRACE(token.substr(0, 80));
    auto result = DecodeAndVerify(token);
    ASSERT_FALSE(result.has_value());
    EXPECT_TRUE(result.error().code == Code::kInvalidArgument ||
                result.error().code == Code::kUnauthenticated);
  }
}

TEST(DecodeAndVerifyTest, EveryTruncationFails) {
  const std::string good = Load("authorization-request-captured.json")["request_jwt"];
  for (size_t n = 0; n < good.size(); ++n) {
    auto result = DecodeAndVerify(std::string_view(good).substr(0, n));
    ASSERT_FALSE(result.has_value()) << n;
  }
}

TEST(DecodeAndVerifyTest, HugeAndDeeplyNestedInputIsRefused) {
  EXPECT_EQ(DecodeAndVerify(std::string(kMaxJwtSize + 1, 'a')).error().code,
            Code::kInvalidArgument);
  const std::string h = Base64UrlEncode(kHeaderJson);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(DecodeAndVerify(h + "." + Base64UrlEncode(deep) + ".AA").error().code,
            Code::kInvalidArgument);
  const std::string wide = "{\"iss\":\"x\",\"a\":[" + std::string(200000, '1') + "]}";
  EXPECT_FALSE(DecodeAndVerify(h + "." + Base64UrlEncode(wide) + ".AA").has_value());
}

TEST(DecodeAndVerifyTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(1234);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
  const std::string good = Load("jwt.json")["go_style"]["authorization_response_jwt"];
  for (int i = 0; i < 2000; ++i) {
    std::string token = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) token[rng() % token.size()] = alphabet[rng() % alphabet.size()];
    if (token == good) continue;
    EXPECT_FALSE(DecodeAndVerify(token).has_value());
    EXPECT_FALSE(DecodeAuthorizationRequest(token, 0).has_value());
  }
}

}  // namespace
}  // namespace natstack::natsjwt
