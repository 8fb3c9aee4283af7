#include "natsjwt/user.hpp"

#include "natsjwt/go_json.hpp"
#include "natsjwt/jwt.hpp"

namespace natstack::natsjwt {
namespace {

constexpr int64_t kNoLimit = -1;

// Go `Permission`: both lists omitempty. The struct itself is always written, even empty:
// `omitempty` has no effect on struct-typed fields in encoding/json.
GoJsonObject PermissionObject(const Permission& permission) {
  GoJsonObject object;
  object.StringListOmitEmpty("allow", permission.allow)
      .StringListOmitEmpty("deny", permission.deny);
  return object;
}

// jwt types.go Subject.Validate.
Status ValidateSubject(std::string_view subject) {
  const std::string quoted = "\"" + std::string(subject) + "\"";
  if (subject.empty()) return Fail(Code::kInvalidArgument, "user jwt: empty permission subject");
  if (subject.find(' ') != std::string_view::npos)
    return Fail(Code::kInvalidArgument,
                "user jwt: permission subject " + quoted + " cannot have spaces");
  if (subject.front() == '.' || subject.back() == '.')
    return Fail(Code::kInvalidArgument,
                "user jwt: permission subject " + quoted + " cannot start or end with a '.'");
  if (subject.find("..") != std::string_view::npos)
    return Fail(Code::kInvalidArgument,
                "user jwt: permission subject " + quoted + " cannot contain consecutive '.'");
  return Ok();
}

// jwt types.go checkPermission: "subject" or "subject queue" (the latter in sub only).
Status ValidatePermissionEntry(std::string_view entry, bool allow_queue) {
  const size_t space = entry.find(' ');
  if (space == std::string_view::npos) return ValidateSubject(entry);
  if (entry.find(' ', space + 1) != std::string_view::npos)
    return Fail(Code::kInvalidArgument,
                "user jwt: permission subject \"" + std::string(entry) + "\" has too many spaces");
  if (!allow_queue)
    return Fail(Code::kInvalidArgument, "user jwt: permission subject \"" + std::string(entry) +
                                            "\" is not allowed to contain a queue");
  NATSTACK_TRY(ValidateSubject(entry.substr(0, space)));
  return ValidateSubject(entry.substr(space + 1));
}

Status ValidatePermission(const Permission& permission, bool allow_queue) {
  for (const auto* list : {&permission.allow, &permission.deny})
    for (const auto& entry : *list) NATSTACK_TRY(ValidatePermissionEntry(entry, allow_queue));
  return Ok();
}

}  // namespace

Status ValidateUserClaims(const UserClaims& claims) {
  if (!nkeys::IsValidPublicKey(claims.subject, nkeys::Role::kUser))
    return Fail(Code::kInvalidArgument, "user jwt: subject is not a user public key");
  NATSTACK_TRY(ValidatePermission(claims.pub, /*allow_queue=*/false));
  return ValidatePermission(claims.sub, /*allow_queue=*/true);
}

std::string EncodeUser(const UserClaims& claims, const nkeys::KeyPair& issuer) {
  // Go `User`: Permissions{pub, sub, resp}, Limits{UserLimits{src, times, times_location},
  // NatsLimits{subs, data, payload}}, bearer_token, allowed_connection_types, issuer_account,
  // GenericFields{tags, type, version}. Empty/zero omitempty fields are left out.
  GoJsonObject nats;
  nats.Object("pub", PermissionObject(claims.pub)).Object("sub", PermissionObject(claims.sub));
  if (claims.resp) {
    GoJsonObject resp;
    resp.Int("max", claims.resp->max).Int("ttl", claims.resp->ttl_ns);
    nats.Object("resp", resp);
  }
  nats.Int("subs", kNoLimit).Int("data", kNoLimit).Int("payload", kNoLimit);
  nats.String("type", "user").Int("version", kLibVersion);

  ClaimsData data;
  data.audience = claims.audience;
  data.expires = claims.expires.value_or(0);
  data.issued_at = claims.issued_at;
  data.name = claims.name;
  data.subject = claims.subject;
  return EncodeClaims(std::move(data), nats.Json(), issuer);
}

}  // namespace natstack::natsjwt
