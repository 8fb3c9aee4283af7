#pragma once
/// `natstack callout explain`: what a token would get, and why — the same decision the service
/// makes (Authorizer), written for a person (text) or a program (JSON).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "callout/authorizer.hpp"
#include "callout/config.hpp"

namespace natstack::callout {

struct Explanation {
  Decision decision;
  std::string claimed_source;       ///< the issuer or service the token names ("" = none)
  nlohmann::json header;            ///< the token's header (unverified; null if unparsable)
  nlohmann::json claims;            ///< its payload (unverified; null if unparsable)
  std::vector<std::string> trace;   ///< rules tried (Policy::Trace), when the identity verified
  int64_t now = 0;
  int64_t max_user_ttl_s = 0;
};

/// Decides for `token` and collects what explains it.
Explanation Explain(std::string_view token, const Authorizer& authorizer,
                    const IdentityVerifier& identities, const Policy& policy,
                    const CalloutConfig& config, int64_t now);

/// {"verdict":"admitted"|"refused","reason","detail","source","user_id","token_id","account",
///  "template","rule","expires_at","expires_in_s","permissions":{"pub":{"allow","deny"},
///  "sub":{...},"allow_responses","responses_max","responses_ttl_ms"},"rules":[...],
///  "token":{"alg","kid","iss","sub","aud","exp","iat"}}
nlohmann::json ExplanationJson(const Explanation& e);

/// Lines for a terminal.
std::string ExplanationText(const Explanation& e);

}  // namespace natstack::callout
