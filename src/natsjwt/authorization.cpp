#include "natsjwt/authorization.hpp"

#include "natsjwt/go_json.hpp"
#include "natsjwt/json_fields.hpp"
#include "natsjwt/jwt.hpp"

namespace natstack::natsjwt {
namespace {

using internal::GetObject;
using internal::GetString;
using internal::GetStringList;
using nlohmann::json;

constexpr std::string_view kWhere = "authorization request: ";
constexpr std::string_view kNatsWhere = "authorization request: nats.";

Result<ServerId> ParseServerId(const json& object) {
  constexpr std::string_view where = "authorization request: nats.server_id.";
  ServerId server;
  NATSTACK_ASSIGN_OR_RETURN(server.name, GetString(object, "name", where));
  NATSTACK_ASSIGN_OR_RETURN(server.host, GetString(object, "host", where));
  NATSTACK_ASSIGN_OR_RETURN(server.id, GetString(object, "id", where));
  NATSTACK_ASSIGN_OR_RETURN(server.version, GetString(object, "version", where));
  NATSTACK_ASSIGN_OR_RETURN(server.cluster, GetString(object, "cluster", where));
  NATSTACK_ASSIGN_OR_RETURN(server.tags, GetStringList(object, "tags", where));
  NATSTACK_ASSIGN_OR_RETURN(server.xkey, GetString(object, "xkey", where));
  return server;
}

Result<ClientInfo> ParseClientInfo(const json& object) {
  constexpr std::string_view where = "authorization request: nats.client_info.";
  ClientInfo client;
  NATSTACK_ASSIGN_OR_RETURN(client.host, GetString(object, "host", where));
  NATSTACK_ASSIGN_OR_RETURN(client.id, internal::GetUint64(object, "id", where));
  NATSTACK_ASSIGN_OR_RETURN(client.user, GetString(object, "user", where));
  NATSTACK_ASSIGN_OR_RETURN(client.name, GetString(object, "name", where));
  NATSTACK_ASSIGN_OR_RETURN(client.tags, GetStringList(object, "tags", where));
  NATSTACK_ASSIGN_OR_RETURN(client.name_tag, GetString(object, "name_tag", where));
  NATSTACK_ASSIGN_OR_RETURN(client.kind, GetString(object, "kind", where));
  NATSTACK_ASSIGN_OR_RETURN(client.type, GetString(object, "type", where));
  NATSTACK_ASSIGN_OR_RETURN(client.mqtt_id, GetString(object, "mqtt_id", where));
  NATSTACK_ASSIGN_OR_RETURN(client.nonce, GetString(object, "nonce", where));
  return client;
}

Result<ConnectOpts> ParseConnectOpts(const json& object) {
  constexpr std::string_view where = "authorization request: nats.connect_opts.";
  ConnectOpts opts;
  NATSTACK_ASSIGN_OR_RETURN(opts.jwt, GetString(object, "jwt", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.nkey, GetString(object, "nkey", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.sig, GetString(object, "sig", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.auth_token, GetString(object, "auth_token", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.user, GetString(object, "user", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.pass, GetString(object, "pass", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.name, GetString(object, "name", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.lang, GetString(object, "lang", where));
  NATSTACK_ASSIGN_OR_RETURN(opts.version, GetString(object, "version", where));
  NATSTACK_ASSIGN_OR_RETURN(const int64_t protocol, internal::GetInt64(object, "protocol", where));
  if (protocol < INT32_MIN || protocol > INT32_MAX)
    return Fail(Code::kInvalidArgument, std::string(where) + "protocol out of range");
  opts.protocol = static_cast<int>(protocol);
  return opts;
}

Status CheckTime(const ClaimsData& claims, int64_t now_unix, int64_t leeway_s) {
  if (claims.expires > 0 && claims.expires < now_unix - leeway_s)
    return Fail(Code::kUnauthenticated, std::string(kWhere) + "expired at " +
                                            std::to_string(claims.expires) + ", now " +
                                            std::to_string(now_unix));
  if (claims.not_before > 0 && claims.not_before > now_unix + leeway_s)
    return Fail(Code::kUnauthenticated, std::string(kWhere) + "not valid before " +
                                            std::to_string(claims.not_before) + ", now " +
                                            std::to_string(now_unix));
  return Ok();
}

Result<AuthorizationRequest> ParseRequest(const Decoded& decoded, int64_t now_unix,
                                          int64_t leeway_s) {
  const json& payload = decoded.payload;
  NATSTACK_ASSIGN_OR_RETURN(const ClaimsData claims, ParseClaimsData(payload));
  NATSTACK_ASSIGN_OR_RETURN(const json* nats, GetObject(payload, "nats", kWhere));
  if (nats == nullptr) return Fail(Code::kInvalidArgument, "authorization request: missing nats");
  NATSTACK_ASSIGN_OR_RETURN(const std::string type, GetString(*nats, "type", kNatsWhere));
  if (type != kAuthorizationRequestType)
    return Fail(Code::kInvalidArgument, "authorization request: nats.type is \"" +
                                            type.substr(0, 64) + "\", not authorization_request");
  NATSTACK_ASSIGN_OR_RETURN(const int64_t version,
                            internal::GetInt64(*nats, "version", kNatsWhere));
  if (version != kLibVersion)
    return Fail(Code::kInvalidArgument, "authorization request: nats.version must be 2");

  if (nkeys::RoleOfPublicKey(claims.issuer) != nkeys::Role::kServer)
    return Fail(Code::kUnauthenticated, "authorization request: iss is not a server (N) key");
  if (claims.audience != kAuthorizationRequestAudience)
    return Fail(Code::kUnauthenticated, "authorization request: aud is not \"" +
                                            std::string(kAuthorizationRequestAudience) + "\"");
  NATSTACK_TRY(CheckTime(claims, now_unix, leeway_s));

  AuthorizationRequest request;
  request.issuer = claims.issuer;
  request.subject = claims.subject;
  request.audience = claims.audience;
  request.jti = claims.id;
  request.issued_at = claims.issued_at;
  request.expires = claims.expires;

  NATSTACK_ASSIGN_OR_RETURN(const json* server_id, GetObject(*nats, "server_id", kNatsWhere));
  if (server_id == nullptr)
    return Fail(Code::kInvalidArgument, "authorization request: missing nats.server_id");
  NATSTACK_ASSIGN_OR_RETURN(request.server_id, ParseServerId(*server_id));
  if (request.server_id.id != claims.issuer)
    return Fail(Code::kUnauthenticated,
                "authorization request: iss does not match nats.server_id.id");
  if (!request.server_id.xkey.empty() &&
      !nkeys::IsValidPublicKey(request.server_id.xkey, nkeys::Role::kCurve))
    return Fail(Code::kInvalidArgument,
                "authorization request: nats.server_id.xkey is not a valid curve (X) key");

  NATSTACK_ASSIGN_OR_RETURN(request.user_nkey, GetString(*nats, "user_nkey", kNatsWhere));
  if (request.user_nkey.empty())
    return Fail(Code::kInvalidArgument, "authorization request: missing nats.user_nkey");
  if (!nkeys::IsValidPublicKey(request.user_nkey, nkeys::Role::kUser))
    return Fail(Code::kInvalidArgument,
                "authorization request: nats.user_nkey is not a valid user (U) key");

  NATSTACK_ASSIGN_OR_RETURN(const json* client_info, GetObject(*nats, "client_info", kNatsWhere));
  if (client_info != nullptr) {
    NATSTACK_ASSIGN_OR_RETURN(request.client_info, ParseClientInfo(*client_info));
  }
  NATSTACK_ASSIGN_OR_RETURN(const json* connect_opts, GetObject(*nats, "connect_opts", kNatsWhere));
  if (connect_opts != nullptr) {
    NATSTACK_ASSIGN_OR_RETURN(request.connect_opts, ParseConnectOpts(*connect_opts));
  }
  NATSTACK_ASSIGN_OR_RETURN(const json* client_tls, GetObject(*nats, "client_tls", kNatsWhere));
  if (client_tls != nullptr) request.client_tls = *client_tls;
  return request;
}

}  // namespace

Result<AuthorizationRequest> DecodeAuthorizationRequest(std::string_view jwt, int64_t now_unix,
                                                        int64_t leeway_s) {
  NATSTACK_ASSIGN_OR_RETURN(const Decoded decoded, DecodeAndVerify(jwt));
  try {
    return ParseRequest(decoded, now_unix, leeway_s);
  } catch (const json::exception& e) {
    return Fail(Code::kInvalidArgument, std::string("authorization request: ") + e.what());
  }
}

std::string EncodeAuthorizationResponse(const AuthorizationResponse& response,
                                        const nkeys::KeyPair& issuer) {
  // Go `AuthorizationResponse`: jwt, error, issuer_account (all omitempty), GenericFields.
  GoJsonObject nats;
  nats.StringOmitEmpty("jwt", response.user_jwt)
      .StringOmitEmpty("error", response.error)
      .String("type", kAuthorizationResponseType)
      .Int("version", kLibVersion);

  ClaimsData data;
  data.audience = response.audience;
  data.issued_at = response.issued_at;
  data.subject = response.subject;
  return EncodeClaims(std::move(data), nats.Json(), issuer);
}

}  // namespace natstack::natsjwt
