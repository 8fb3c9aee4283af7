#pragma once
/// Configuration of `natstack callout serve`: one plain struct and a pure parser.
/// Every key and its default is listed in docs/callout.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace natstack::callout {

/// Permissions granted to an OIDC user. `{userId}` in any subject is replaced by the user id
/// (the token's `sub`, which must be a single subject token).
struct PermissionTemplate {
  std::vector<std::string> pub_allow;
  std::vector<std::string> pub_deny;
  std::vector<std::string> sub_allow;
  std::vector<std::string> sub_deny;
  /// Lets a user publish one reply to each request it receives (NATS `allow_responses`).
  /// Off by default: the reply subject is chosen by the sender, so a user who can message
  /// itself could publish anywhere through it (another user's subjects, `$JS.API.>`), and
  /// nats-server applies it even over a deny list.
  bool allow_responses = false;
};

struct OidcSettings {
  std::string issuer;                  ///< exact `iss`; required
  std::vector<std::string> audiences;  ///< at least one must be in `aud`; required
  std::string jwks_uri;                ///< empty: from the issuer's discovery document
  std::vector<std::string> algorithms{"RS256"};
  int64_t leeway_s = 30;
  std::string ca_file;  ///< trust roots for an https issuer ("" = system roots)
};

struct CalloutConfig {
  // Connection to the cluster, as an auth_users member of the callout account.
  std::vector<std::string> servers;  ///< required
  std::string user = "callout";
  std::string password_file;  ///< required; mode 0600
  std::string ca_file;        ///< trust roots when the client port requires TLS
  std::string subject = "$SYS.REQ.USER.AUTH";
  std::string queue_group = "natstack-callout";

  std::string issuer_seed_file;  ///< account (A...) seed that signs user JWTs; required, 0600
  std::string xkey_seed_file;    ///< curve (X...) seed; required, 0600
  std::string target_account = "AUTH";  ///< account users are placed in; never from client input
  std::vector<std::string> allowed_servers;  ///< optional allow-list of server keys (N...)

  OidcSettings oidc;
  PermissionTemplate permissions;
  int64_t max_user_ttl_s = 3600;  ///< user JWT lifetime cap (also capped by the token's exp)
  std::string log_level = "info";
  /// HOST:PORT for /healthz, /readyz and /metrics; "" = no HTTP endpoint.
  std::string http_listen;
};

/// Parses the JSON text of a callout config. `source` names the file in errors, which name the
/// key (`callout.json: oidc.issuer: expected a string`). Unknown keys are errors.
Result<CalloutConfig> ParseCalloutConfig(std::string_view json_text, std::string_view source);

/// Serialises a config (the supervisor writes it for the callout it starts).
std::string SerializeCalloutConfig(const CalloutConfig& config);

}  // namespace natstack::callout
