#pragma once
/// The auth-callout claims (jwt v2.7.3 authorization_claims.go): the authorization_request the
/// server signs and the authorization_response the callout returns
/// (docs/auth-callout-protocol.md §3.2-§3.4).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::natsjwt {

inline constexpr std::string_view kAuthorizationRequestAudience = "nats-authorization-request";
inline constexpr std::string_view kAuthorizationRequestType = "authorization_request";
inline constexpr std::string_view kAuthorizationResponseType = "authorization_response";

/// nats.server_id: the server that sent the request.
struct ServerId {
  std::string name, host, id, version, cluster, xkey;
  std::vector<std::string> tags;
};

/// nats.client_info. `user` is the raw auth user: with token auth it is the token itself
/// (a secret; never log it).
struct ClientInfo {
  std::string host;
  uint64_t id = 0;
  std::string user, name, kind, type, nonce, name_tag, mqtt_id;
  std::vector<std::string> tags;
};

/// nats.connect_opts, copied from the client's CONNECT. `auth_token` and `pass` are secrets.
struct ConnectOpts {
  std::string jwt, nkey, sig, auth_token, user, pass, name, lang, version;
  int protocol = 0;
};

struct AuthorizationRequest {
  std::string issuer, subject, audience, jti;
  int64_t issued_at = 0, expires = 0;
  ServerId server_id;
  std::string user_nkey;
  ClientInfo client_info;
  ConnectOpts connect_opts;
  nlohmann::json client_tls;  ///< null when the client did not use TLS
};

/// DecodeAndVerify + checks: nats.type == "authorization_request", nats.version == 2, iss is a
/// server key (N...), iss == nats.server_id.id, aud == "nats-authorization-request",
/// nats.user_nkey is a valid U... key, nats.server_id.xkey (if present) a valid X... key, exp
/// (if present) not before now_unix - leeway_s, nbf (if present) not after now_unix + leeway_s.
/// Shape problems (missing or mistyped fields) are kInvalidArgument; issuer, audience and time
/// failures and a bad signature are kUnauthenticated. Each failure has its own message.
/// Thread-safe.
Result<AuthorizationRequest> DecodeAuthorizationRequest(std::string_view jwt, int64_t now_unix,
                                                        int64_t leeway_s = 2);

struct AuthorizationResponse {
  std::string subject;   ///< the request's user_nkey
  std::string audience;  ///< the request's server_id.id
  int64_t issued_at = 0;
  std::string user_jwt;  ///< on success
  std::string error;     ///< on denial (exactly one of user_jwt / error should be set)
};

/// Same Go-compatible rules as EncodeUser; nats = {jwt | error, type "authorization_response",
/// version 2}.
std::string EncodeAuthorizationResponse(const AuthorizationResponse& response,
                                        const nkeys::KeyPair& issuer);

}  // namespace natstack::natsjwt
