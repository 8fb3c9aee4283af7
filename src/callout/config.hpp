#pragma once
/// Configuration of `natstack callout serve`: one plain struct and a pure parser.
/// Every key and its default is listed in docs/callout.md.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace natstack::callout {

/// Permissions granted to an identity. Subjects may hold placeholders, filled per connection:
/// `{userId}` (the mapped user id) and `{claim:NAME}` (a string or integer claim of the token; NAME is a
/// top-level claim name, or a JSON pointer when it starts with '/'). A filled value must be one
/// subject token (no '.', '*', '>', whitespace, not empty), or the identity is refused
/// (template_rejected): a claim never changes a subject's shape.
struct PermissionTemplate {
  std::vector<std::string> pub_allow;
  std::vector<std::string> pub_deny;
  std::vector<std::string> sub_allow;
  std::vector<std::string> sub_deny;
  /// Lets the identity publish replies to requests it receives (NATS `allow_responses`). Meant
  /// for responders (services): the reply subject is chosen by the sender, so an identity that
  /// can message itself could publish anywhere through it (another user's subjects,
  /// `$JS.API.>`), and nats-server applies it even over a deny list.
  bool allow_responses = false;
  int64_t responses_max = 1;     ///< replies allowed per request
  int64_t responses_ttl_ms = 0;  ///< how long a reply stays allowed; 0 = the server's default
};

/// One OIDC issuer whose tokens are accepted.
struct IssuerSettings {
  std::string name;                    ///< label in rules, logs and metrics; default: the host
  std::string issuer;                  ///< exact `iss`; required
  std::vector<std::string> audiences;  ///< at least one must be in `aud`; required
  std::string jwks_uri;                ///< empty: from the issuer's discovery document
  std::vector<std::string> algorithms{"RS256"};
  /// Accepted header typ values (see jwt::VerifierConfig::token_types); empty: none, JWT or
  /// at+jwt. ["at+jwt"] enforces RFC 9068 access tokens (keeps ID tokens out).
  std::vector<std::string> token_types;
  int64_t leeway_s = 30;
  int64_t max_age_s = 0;  ///< refuse tokens issued longer ago (needs iat); 0 = no limit
  /// Claims a token must carry (see jwt::VerifierConfig::required_claims).
  nlohmann::json required_claims = nlohmann::json::object();
  std::string user_claim = "sub";  ///< the claim that names the user (a string)
  std::string user_prefix;         ///< prepended to the user id (keeps issuers apart)
  std::string ca_file;             ///< trust roots for an https issuer ("" = system roots)
  std::string template_name = "default";  ///< config key "template"
  std::string account;                    ///< "" = default_account
  int64_t jwks_refresh_s = 300;           ///< without cache headers
  /// Rate limit of unknown-kid refreshes: at most one fetch per this many seconds; a hint
  /// inside the window gets a fetch at its end (which a request waits for when that fits in
  /// unknown_kid_wait_ms), so a freshly rotated key is never refused for long.
  int64_t jwks_min_refresh_s = 1;
  int64_t jwks_max_refresh_s = 3600;      ///< cap on cache headers
  int64_t unknown_kid_wait_ms = 1000;     ///< bounded wait for a refresh on an unknown kid
  int64_t jwks_timeout_ms = 5000;         ///< per JWKS or discovery request
  /// Start without this issuer's keys (refused as keys_unavailable until they load) instead
  /// of failing to start.
  bool optional = false;
};

/// An internal service that signs its own tokens with a registered NKey (the original
/// design's service accounts): a NATS-style JWT (header {"typ":"JWT","alg":"ed25519-nkey"})
/// whose `iss` is `public_key`, `sub` is `name`, with `iat` and `exp`.
struct ServiceSettings {
  std::string name;        ///< the user id it gets; required, one subject token
  std::string public_key;  ///< its NKey (U... or A...); required
  std::string template_name = "default";  ///< config key "template"
  std::string account;                    ///< "" = default_account
  int64_t max_token_ttl_s = 3600;         ///< longest exp - iat accepted
  std::string audience;                   ///< if set, the token's aud must hold it
};

/// A claim-matched rule for OIDC identities: the first rule whose issuer and claims match
/// chooses the template and/or the account (each falls back to the issuer's own).
struct Rule {
  std::string name;    ///< for logs, metrics and explain; default "rules[i]"
  std::string issuer;  ///< issuer name; "" = any
  /// claim -> value, list of values, or null (present); every entry must match (see
  /// jwt::RequiredClaimMatches).
  nlohmann::json claims = nlohmann::json::object();
  std::string template_name;  ///< "" = the issuer's
  std::string account;        ///< "" = the issuer's
};

/// A token bucket: `per_s` tokens a second, up to `burst`. 0 = unlimited.
struct RateLimit {
  double per_s = 0;
  int64_t burst = 0;
  bool enabled() const { return per_s > 0; }
};

/// A connection in the system account, used to close live connections of revoked identities
/// ($SYS.REQ.SERVER.<id>.KICK). Off when password_file is empty.
struct SystemConnection {
  std::string user = "sys";
  std::string password_file;
  std::vector<std::string> servers;  ///< "" = the callout's servers
  bool enabled() const { return !password_file.empty(); }
};

struct CalloutConfig {
  // Connection to the cluster, as an auth_users member of the callout account.
  std::vector<std::string> servers;  ///< required
  std::string user = "callout";
  std::string password_file;  ///< required; mode 0600
  std::string ca_file;        ///< trust roots when the client port requires TLS
  std::string subject = "$SYS.REQ.USER.AUTH";
  std::string queue_group = "natstack-callout";
  /// Connect to servers[0] first (and back to the list in order), instead of a random one:
  /// replicas pinned to different nodes.
  bool no_randomize = false;
  SystemConnection system;

  std::string issuer_seed_file;  ///< account (A...) seed that signs user JWTs; required, 0600
  std::string xkey_seed_file;    ///< curve (X...) seed; required, 0600
  /// Older curve seeds still accepted for requests (rotating the node configs' xkey without
  /// downtime); the answer is sealed with the key that opened the request.
  std::vector<std::string> previous_xkey_seed_files;
  std::vector<std::string> allowed_servers;  ///< optional allow-list of server keys (N...)

  /// Accounts the cluster has; every placement must name one of them.
  std::vector<std::string> accounts{"AUTH"};
  std::string default_account = "AUTH";  ///< where identities land unless a rule says otherwise

  std::vector<IssuerSettings> issuers;
  std::vector<ServiceSettings> services;
  std::map<std::string, PermissionTemplate> templates;
  std::vector<Rule> rules;
  int64_t max_user_ttl_s = 3600;  ///< user JWT lifetime cap (also capped by the token's exp)

  /// Refusal reasons answered with silence instead of a signed error (the client then waits
  /// out the server's auth timeout).
  std::vector<std::string> drop_reasons;
  /// Refusals are sent no sooner than this after the request arrived (timing tells an attacker
  /// nothing about which check failed); 0 = at once.
  int64_t refusal_delay_ms = 0;

  /// Deny-list file ({"users": [...], "token_ids": [...]}), reloaded when it changes; "" = none.
  std::string revocation_file;
  int64_t revocation_poll_ms = 1000;

  int64_t workers = 0;        ///< decision threads; 0 = two per CPU, from 2 to 16
  int64_t queue_size = 1024;  ///< requests waiting for a worker; past it: refused "overloaded"
  RateLimit per_host;         ///< connects per client address (client_info.host)
  RateLimit per_user;         ///< admissions per user id

  std::string log_level = "info";
  /// HOST:PORT for /healthz, /readyz and /metrics; "" = no HTTP endpoint.
  std::string http_listen;
};

/// Refusal reasons (metrics labels; `drop_reasons` may name any of them).
const std::vector<std::string_view>& RefusalReasons();

enum class ConfigCompleteness {
  kComplete,  ///< a whole config: servers, password_file and the seed files are required
  kPartial,   ///< a file the environment completes (ApplyEnvironment): nothing is required
};

/// Parses the JSON text of a callout config. `source` names the file in errors, which name the
/// key (`callout.json: issuers[0].issuer: expected a string`). Unknown keys are errors. A
/// complete config is also checked with ValidateCalloutConfig; a partial one only for its
/// shape (call ValidateCalloutConfig once the environment is applied).
Result<CalloutConfig> ParseCalloutConfig(std::string_view json_text, std::string_view source,
                                         ConfigCompleteness completeness =
                                             ConfigCompleteness::kComplete);

/// What can be checked without files or network: servers and at least one issuer or service,
/// templates (placeholders, NATS subject rules), references between issuers, rules, services,
/// templates and accounts (which must exist, and never be the system account), algorithm lists,
/// drop reasons, server keys. For configs built in code too. Secrets are checked where they are
/// read (CalloutService::Start).
Status ValidateCalloutConfig(const CalloutConfig& config, std::string_view source);

/// Serialises a config (the supervisor writes it for the callout it starts).
std::string SerializeCalloutConfig(const CalloutConfig& config);

/// The original design's environment (NATS_SERVERS, NATS_AUTH_NKEY_ISSUER_SEED,
/// NATS_AUTH_XKEY_ISSUER_SEED, NATS_AUTH_ACCOUNT, AUTH0_DOMAIN, AUTH0_API_IDENTIFIER, and the
/// NATS_REGULAR_USER_PASSWORD / NATS_SYS_USER_PASSWORD its services connect with), applied over
/// `config`. Secret values are returned (kept in memory, never written anywhere); the caller
/// scrubs them from its environment. `env` maps names to values.
struct EnvironmentSecrets {
  std::string issuer_seed;       ///< NATS_AUTH_NKEY_ISSUER_SEED, if set
  std::string xkey_seed;         ///< NATS_AUTH_XKEY_ISSUER_SEED, if set
  std::string password;          ///< NATS_REGULAR_USER_PASSWORD, if set
  std::string system_password;   ///< NATS_SYS_USER_PASSWORD, if set
};
/// Applies the non-secret variables to `config` and returns the secret ones. `*_FILE` variants
/// (NATS_AUTH_NKEY_ISSUER_SEED_FILE, ...) set the file paths instead. Errors name the variable.
/// Without a config file (`with_file` false) a password from the environment means the original
/// design's user, regular_user; with one, the file's `user` stands.
Result<EnvironmentSecrets> ApplyEnvironment(const std::map<std::string, std::string>& env,
                                            CalloutConfig& config, bool with_file = false);

/// The names ApplyEnvironment reads.
const std::vector<std::string_view>& EnvironmentVariableNames();
/// Those of them that hold secrets (scrubbed from the environment once read).
const std::vector<std::string_view>& SecretEnvironmentVariableNames();

struct LoadedConfig {
  CalloutConfig config;
  EnvironmentSecrets secrets;
  bool used_environment = false;  ///< some original-design variable was set
};
/// A config from `path` ("" = none), completed and overridden by the original design's
/// environment (`env`, see ApplyEnvironment), then validated. Errors are kInvalidArgument
/// naming the file and key or the variable; kNotFound for a missing file.
Result<LoadedConfig> LoadCalloutConfig(const std::string& path,
                                       const std::map<std::string, std::string>& env);

}  // namespace natstack::callout
