#pragma once
/// From a verified identity to where it lands and what it may do: claim-matched rules choose a
/// permission template and an account; the template's placeholders are filled from the
/// identity, and a value that would change a subject's shape is refused, never pasted in.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "callout/config.hpp"
#include "core/error.hpp"
#include "natsjwt/user.hpp"

namespace natstack::callout {

/// True when `id` can stand as one NATS subject token: non-empty, at most 256 bytes, no '.',
/// '*', '>', and valid UTF-8 of visible characters only (no ASCII or Unicode whitespace, no
/// control, zero-width, bidi or other invisible characters). Ids that fail are refused, never
/// rewritten: mapping "a.b" and "a_b" to one token would let one user act as another.
bool IsSubjectSafeToken(std::string_view id);

/// True when `subject` is a valid NATS subject for permissions: tokens separated by single
/// dots, none empty, '>' only as the last token, wildcards only as whole tokens, no
/// whitespace or control characters.
bool IsValidSubject(std::string_view subject);

/// Checks a template once at start: only `{userId}` and `{claim:NAME}` placeholders, every
/// subject valid once filled (a queue group after a space only in sub lists), responses_max
/// and responses_ttl_ms sane. Errors name the list and the subject ("templates.x.pub_allow:
/// ..."); `where` is the prefix ("templates.default").
Status ValidateTemplate(const PermissionTemplate& tmpl, std::string_view where = "permissions");

/// The template used when a config defines none named "default": the identity's own subjects
/// and its private reply inbox, `user.{userId}.>` and `_INBOX_{userId}.>` (publish and
/// subscribe), no allow_responses.
PermissionTemplate DefaultTemplate();

/// A verified identity, as the policy sees it.
struct Identity {
  enum class Kind { kOidc, kService };
  Kind kind = Kind::kOidc;
  std::string source;    ///< issuer name (OIDC) or service name
  std::string user_id;   ///< already prefixed; checked by Decide
  std::string token_id;  ///< jti ("" when the token has none)
  int64_t expires_at = 0;
  nlohmann::json claims = nlohmann::json::object();  ///< the token's payload
};

/// Where an identity lands and what it gets.
struct Grant {
  std::string account;
  std::string template_name;
  std::string rule;  ///< the rule that matched; "" = the issuer's or service's own settings
  natsjwt::Permission pub, sub;
  std::optional<natsjwt::ResponsePermission> resp;
};

/// A refusal by the policy, always "template_rejected"; `detail` names the placeholder or claim
/// (for logs; no token material).
struct PolicyError {
  std::string detail;
};

/// The rules, templates and placements of a config, compiled once. Immutable and thread-safe.
class Policy {
 public:
  /// Compiles templates and rules. kInvalidArgument for anything ValidateCalloutConfig would
  /// refuse (a missing template, an unknown account, a bad placeholder).
  static Result<Policy> Build(const CalloutConfig& config);

  /// Decides for `identity`: the first matching rule (OIDC only), else the issuer's or
  /// service's own template and account; then fills the template. Refuses a user id that is
  /// not one subject token, and placeholders whose claim is missing, not a string or integer, or
  /// not one subject token.
  tl::expected<Grant, PolicyError> Decide(const Identity& identity) const;

  /// Why Decide chose what it did, for `natstack callout explain`: one line per rule tried.
  std::vector<std::string> Trace(const Identity& identity) const;

  /// Compiled-template pieces (public for the implementation's helpers).
  struct Part {
    enum class Kind { kLiteral, kUserId, kClaim };
    Kind kind = Kind::kLiteral;
    std::string text;  ///< literal text, or the claim name
  };
  struct Subject {
    std::vector<Part> parts;
  };
  struct CompiledTemplate {
    std::vector<Subject> pub_allow, pub_deny, sub_allow, sub_deny;
    std::optional<natsjwt::ResponsePermission> resp;
  };

 private:
  struct Placement {
    std::string template_name;
    std::string account;
  };
  struct CompiledRule {
    std::string name;
    std::string issuer;
    nlohmann::json claims;
    std::string template_name;
    std::string account;
  };
  /// The rule that matches (OIDC), or nullptr.
  const CompiledRule* MatchRule(const Identity& identity) const;

  std::map<std::string, CompiledTemplate> templates_;
  std::map<std::string, Placement> issuers_;   ///< by issuer name
  std::map<std::string, Placement> services_;  ///< by service name
  std::vector<CompiledRule> rules_;
  /// Denied to every identity, whatever its template allows (see AlwaysDenied).
  std::vector<std::string> always_denied_;
};

/// Subjects every user JWT denies for publish and subscribe: the callout's request subject and
/// `$SYS._INBOX.>`. In the account the callout itself lives in, they carry the sealed requests
/// and the callout's answers: a user allowed there (`>` in a template) could answer in the
/// callout's place, refusing everyone, or use the callout as a token oracle.
std::vector<std::string> AlwaysDenied(const CalloutConfig& config);

/// Parses a subject template into parts. kInvalidArgument naming an unknown or malformed
/// placeholder.
Result<Policy::Subject> CompileSubject(std::string_view subject);

}  // namespace natstack::callout
