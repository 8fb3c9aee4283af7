#include "jwt/verifier.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace natstack::jwt {
namespace {

using nlohmann::json;

tl::unexpected<TokenError> Refuse(Refusal reason, std::string detail) {
  return tl::unexpected<TokenError>(TokenError{reason, std::move(detail)});
}

// Untrusted strings in details: bounded and printable (no log injection).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  if (s.size() > 80) out += "...";
  out += "\"";
  return out;
}

/// A NumericDate (RFC 7519 §2): an integer or a finite non-integer (floored), between 1970 and
/// the end of year 9999; anything else is no real time and the token is malformed (the same
/// rule as for service tokens, callout/identity.cpp).
std::optional<int64_t> NumericDate(const json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxNumericDate)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v < 0 || v > kMaxNumericDate) return std::nullopt;
    return v;
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxNumericDate)) return std::nullopt;
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

// Saturating arithmetic for the time checks: hostile claims may sit at the int64 limits.
int64_t AddSat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}
int64_t SubSat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

}  // namespace

namespace {

/// typ without case and without an "application/" prefix (RFC 7515 §4.1.9).
std::string NormalizedType(std::string_view typ) {
  std::string out;
  for (char c : typ) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (out.rfind("application/", 0) == 0) out.erase(0, 12);
  return out;
}

tl::expected<void, TokenError> CheckTokenType(const json& header,
                                              const std::vector<std::string>& accepted) {
  std::string typ;
  if (auto it = header.find("typ"); it != header.end()) {
    if (!it->is_string())
      return tl::unexpected(TokenError{Refusal::kMalformed, "typ is not a string"});
    typ = NormalizedType(it->get_ref<const std::string&>());
  }
  static const std::vector<std::string> kDefault = {"", "jwt", "at+jwt"};
  bool ok = false;
  if (accepted.empty()) {
    ok = std::find(kDefault.begin(), kDefault.end(), typ) != kDefault.end();
  } else {
    for (const std::string& a : accepted) ok = ok || NormalizedType(a) == typ;
  }
  if (ok) return {};
  std::string shown;
  for (char c : typ.substr(0, 32)) shown.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return tl::unexpected(TokenError{
      Refusal::kWrongType, typ.empty() ? "the token has no typ" : "typ \"" + shown + "\" is not accepted"});
}

}  // namespace

std::string_view RefusalName(Refusal reason) {
  switch (reason) {
    case Refusal::kMalformed: return "malformed";
    case Refusal::kAlgorithmNotAllowed: return "algorithm_not_allowed";
    case Refusal::kUnknownIssuer: return "unknown_issuer";
    case Refusal::kUnknownKey: return "unknown_key";
    case Refusal::kBadSignature: return "bad_signature";
    case Refusal::kWrongIssuer: return "wrong_issuer";
    case Refusal::kWrongAudience: return "wrong_audience";
    case Refusal::kExpired: return "expired";
    case Refusal::kNotYetValid: return "not_yet_valid";
    case Refusal::kTooOld: return "too_old";
    case Refusal::kMissingClaim: return "missing_claim";
    case Refusal::kKeysUnavailable: return "keys_unavailable";
    case Refusal::kTooLarge: return "too_large";
    case Refusal::kClaimMismatch: return "claim_mismatch";
    case Refusal::kWrongType: return "wrong_type";
  }
  return "unknown";
}

StaticJwks::StaticJwks(Jwks jwks) : keys_(std::make_shared<const Jwks>(std::move(jwks))) {}

std::shared_ptr<const Jwks> StaticJwks::Keys() const { return keys_.load(); }

void StaticJwks::OnUnknownKid(std::string_view) const { ++hints_; }

void StaticJwks::Replace(Jwks jwks) { keys_.store(std::make_shared<const Jwks>(std::move(jwks))); }

Status ValidateVerifierConfig(const VerifierConfig& config) {
  if (config.issuer.empty()) return Fail(Code::kInvalidArgument, "issuer is empty");
  if (config.audiences.empty())
    return Fail(Code::kInvalidArgument, "no audiences: every token would be refused");
  for (const std::string& a : config.audiences) {
    if (a.empty()) return Fail(Code::kInvalidArgument, "an audience is empty");
  }
  if (config.algorithms.empty()) return Fail(Code::kInvalidArgument, "no algorithms allowed");
  for (const std::string& alg : config.algorithms) {
    if (alg == "none" || alg.rfind("HS", 0) == 0) {
      return Fail(Code::kInvalidArgument,
                  "algorithm " + alg + " is never allowed (only asymmetric signatures)");
    }
    if (FindJwsAlgorithm(alg) == nullptr)
      return Fail(Code::kInvalidArgument, "unsupported algorithm " + alg);
  }
  if (config.leeway.count() < 0) return Fail(Code::kInvalidArgument, "leeway is negative");
  if (config.max_age && config.max_age->count() < 0)
    return Fail(Code::kInvalidArgument, "max_age is negative");
  if (config.max_token_bytes == 0) return Fail(Code::kInvalidArgument, "max_token_bytes is 0");
  if (!config.required_claims.is_object())
    return Fail(Code::kInvalidArgument, "required_claims is not an object");
  for (const auto& [name, value] : config.required_claims.items()) {
    if (name.empty()) return Fail(Code::kInvalidArgument, "required_claims has an empty name");
    if (name[0] == '/') {
      try {
        (void)nlohmann::json::json_pointer(name);
      } catch (const nlohmann::json::exception&) {
        return Fail(Code::kInvalidArgument,
                    "required_claims: \"" + name + "\" is not a valid JSON pointer");
      }
    }
    if (value.is_object())
      return Fail(Code::kInvalidArgument,
                  "required_claims: \"" + name + "\" must be a value, a list of values or null");
  }
  if (config.unknown_kid_wait.count() < 0)
    return Fail(Code::kInvalidArgument, "unknown_kid_wait is negative");
  return Ok();
}

OidcVerifier::OidcVerifier(VerifierConfig config, const KeySource& keys, const Clock& clock)
    : config_(std::move(config)), keys_(keys), clock_(clock) {}

tl::expected<VerifiedToken, TokenError> OidcVerifier::Verify(std::string_view token) const {
  // 1. Structure.
  if (token.size() > config_.max_token_bytes)
    return Refuse(Refusal::kTooLarge, "token of " + std::to_string(token.size()) +
                                          " bytes, more than " +
                                          std::to_string(config_.max_token_bytes));
  auto parsed = ParseCompactJws(token, config_.max_token_bytes);
  if (!parsed) return Refuse(Refusal::kMalformed, parsed.error().message);
  const json& header = parsed->header;
  const json& claims = parsed->payload;
  if (header.contains("crit")) {
    // RFC 7515 §4.1.11: extensions we do not understand must be refused; we understand none.
    return Refuse(Refusal::kMalformed, "header has crit parameters");
  }
  if (auto typ = CheckTokenType(header, config_.token_types); !typ) return tl::unexpected(typ.error());

  // 2. Algorithm allow-list (none and HS* are not in the supported table at all).
  auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string())
    return Refuse(Refusal::kMalformed, "header has no alg");
  const std::string& alg = alg_it->get_ref<const std::string&>();
  const JwsAlgorithm* algorithm = FindJwsAlgorithm(alg);
  if (algorithm == nullptr || std::find(config_.algorithms.begin(), config_.algorithms.end(),
                                        alg) == config_.algorithms.end()) {
    return Refuse(Refusal::kAlgorithmNotAllowed, "alg " + Quote(alg) + " is not allowed");
  }

  // 3. Issuer, before any key lookup.
  auto iss_it = claims.find("iss");
  if (iss_it == claims.end()) return Refuse(Refusal::kMissingClaim, "no iss");
  if (!iss_it->is_string()) return Refuse(Refusal::kMalformed, "iss is not a string");
  const std::string& iss = iss_it->get_ref<const std::string&>();
  if (iss != config_.issuer)
    return Refuse(Refusal::kWrongIssuer, "iss " + Quote(iss) + " is not " + Quote(config_.issuer));

  // 4. Key.
  std::string kid;
  if (auto kid_it = header.find("kid"); kid_it != header.end()) {
    if (!kid_it->is_string()) return Refuse(Refusal::kMalformed, "kid is not a string");
    kid = kid_it->get<std::string>();
  }
  std::shared_ptr<const Jwks> jwks = keys_.Keys();
  if (!jwks || jwks->empty())
    return Refuse(Refusal::kKeysUnavailable, "no keys for issuer " + Quote(config_.issuer));
  const Jwk* jwk = nullptr;
  if (!kid.empty()) {
    jwk = jwks->Find(kid);
    if (jwk == nullptr) {
      // Maybe the IdP rotated: a fresh key set may have it (the source rate-limits fetches, so
      // a flood of made-up kids costs one fetch per interval, not one per token).
      if (keys_.AwaitRefresh(kid, config_.unknown_kid_wait)) {
        jwks = keys_.Keys();
        if (jwks) jwk = jwks->Find(kid);
      }
      if (jwk == nullptr)
        return Refuse(Refusal::kUnknownKey, "kid " + Quote(kid) + " is not in the JWKS");
    }
  } else {
    // No kid: only unambiguous when exactly one key fits the algorithm.
    size_t fitting = 0;
    for (const Jwk& k : jwks->keys()) {
      if (k.type == algorithm->key_type && (k.alg.empty() || k.alg == alg)) {
        jwk = &k;
        ++fitting;
      }
    }
    if (fitting != 1) {
      return Refuse(Refusal::kUnknownKey,
                    "token has no kid and " + std::to_string(fitting) + " keys fit " + alg);
    }
  }
  if (jwk->type != algorithm->key_type) {
    return Refuse(Refusal::kAlgorithmNotAllowed, "alg " + alg + " does not fit the " +
                                                     std::string(crypto::KeyTypeName(jwk->type)) +
                                                     " key " + Quote(jwk->kid));
  }
  if (!jwk->alg.empty() && jwk->alg != alg) {
    return Refuse(Refusal::kAlgorithmNotAllowed,
                  "key " + Quote(jwk->kid) + " is for " + Quote(jwk->alg) + ", not " + alg);
  }

  // 5. Signature.
  std::string signature = parsed->signature;
  if (signature.empty()) return Refuse(Refusal::kBadSignature, "token has no signature");
  if (const size_t coord = crypto::EcCoordinateSize(jwk->type); coord > 0) {
    auto der = crypto::EcdsaRawToDer(signature, coord);
    if (!der) return Refuse(Refusal::kBadSignature, "ECDSA signature has the wrong length");
    signature = std::move(*der);
  }
  if (!crypto::VerifySignature(jwk->key.get(), algorithm->digest, parsed->signing_input, signature,
                               algorithm->padding)) {
    return Refuse(Refusal::kBadSignature, "signature does not verify with key " + Quote(jwk->kid));
  }

  VerifiedToken out;
  out.issuer = iss;
  out.kid = jwk->kid;
  out.algorithm = alg;

  // 6. Audience: a string or an array of strings; one must be accepted.
  auto aud_it = claims.find("aud");
  if (aud_it == claims.end()) return Refuse(Refusal::kMissingClaim, "no aud");
  if (aud_it->is_string()) {
    out.audience.push_back(aud_it->get<std::string>());
  } else if (aud_it->is_array()) {
    for (const json& a : *aud_it) {
      if (!a.is_string()) return Refuse(Refusal::kMalformed, "aud has a non-string member");
      out.audience.push_back(a.get<std::string>());
    }
  } else {
    return Refuse(Refusal::kMalformed, "aud is neither a string nor an array");
  }
  const bool audience_ok =
      std::any_of(out.audience.begin(), out.audience.end(), [&](const auto& a) {
        return std::find(config_.audiences.begin(), config_.audiences.end(), a) !=
               config_.audiences.end();
      });
  if (!audience_ok) {
    return Refuse(
        Refusal::kWrongAudience,
        "aud " + (out.audience.empty() ? std::string("[]") : Quote(out.audience[0])) +
            (out.audience.size() > 1 ? " (+" + std::to_string(out.audience.size() - 1) + " more)"
                                     : "") +
            " is not accepted");
  }

  const int64_t now = clock_.UnixSeconds();
  const int64_t leeway = config_.leeway.count();

  // 7. Expiry (required): valid while now < exp + leeway (RFC 7519 §4.1.4).
  auto exp_it = claims.find("exp");
  if (exp_it == claims.end()) return Refuse(Refusal::kMissingClaim, "no exp");
  const std::optional<int64_t> exp = NumericDate(*exp_it);
  if (!exp) return Refuse(Refusal::kMalformed, "exp is not a date (a number of seconds, 1970 to 9999)");
  if (now >= AddSat(*exp, leeway)) {
    return Refuse(Refusal::kExpired, "expired " + std::to_string(SubSat(now, *exp)) + " s ago");
  }
  out.expires_at = *exp;

  // 8. Not before: valid from nbf - leeway (RFC 7519 §4.1.5).
  if (auto nbf_it = claims.find("nbf"); nbf_it != claims.end()) {
    const std::optional<int64_t> nbf = NumericDate(*nbf_it);
    if (!nbf) return Refuse(Refusal::kMalformed, "nbf is not a date (a number of seconds, 1970 to 9999)");
    if (now < SubSat(*nbf, leeway))
      return Refuse(Refusal::kNotYetValid, "valid in " + std::to_string(SubSat(*nbf, now)) + " s");
  }

  // 9. Issued at: not in the future; not older than max_age when one is set.
  auto iat_it = claims.find("iat");
  if (iat_it != claims.end()) {
    const std::optional<int64_t> iat = NumericDate(*iat_it);
    if (!iat) return Refuse(Refusal::kMalformed, "iat is not a date (a number of seconds, 1970 to 9999)");
    if (*iat > AddSat(now, leeway))
      return Refuse(Refusal::kNotYetValid,
                    "issued " + std::to_string(SubSat(*iat, now)) + " s in the future");
    out.issued_at = *iat;
  }
  if (config_.max_age) {
    if (iat_it == claims.end()) return Refuse(Refusal::kMissingClaim, "no iat (max_age is set)");
    if (SubSat(now, out.issued_at) > AddSat(config_.max_age->count(), leeway)) {
      return Refuse(Refusal::kTooOld, "issued " + std::to_string(SubSat(now, out.issued_at)) +
                                          " s ago, max_age is " +
                                          std::to_string(config_.max_age->count()) + " s");
    }
  }

  // 10. Subject (required, OIDC Core §2).
  auto sub_it = claims.find("sub");
  if (sub_it == claims.end()) return Refuse(Refusal::kMissingClaim, "no sub");
  if (!sub_it->is_string()) return Refuse(Refusal::kMalformed, "sub is not a string");
  if (sub_it->get_ref<const std::string&>().empty())
    return Refuse(Refusal::kMissingClaim, "sub is empty");
  out.subject = sub_it->get<std::string>();

  // 11. Required claims.
  for (const auto& [name, expected] : config_.required_claims.items()) {
    const json* value = nullptr;
    if (name[0] == '/') {
      const json::json_pointer pointer(name);  // validated with the config
      if (claims.contains(pointer)) value = &claims.at(pointer);
    } else if (auto it = claims.find(name); it != claims.end()) {
      value = &*it;
    }
    if (value == nullptr) return Refuse(Refusal::kMissingClaim, "no claim " + Quote(name));
    if (!RequiredClaimMatches(*value, expected))
      return Refuse(Refusal::kClaimMismatch, "claim " + Quote(name) + " has no required value");
  }
  out.claims = claims;
  return out;
}

bool RequiredClaimMatches(const nlohmann::json& value, const nlohmann::json& expected) {
  if (expected.is_null()) return true;
  auto one = [&value](const json& want) {
    if (value == want) return true;
    if (value.is_array()) return std::find(value.begin(), value.end(), want) != value.end();
    return false;
  };
  if (expected.is_array()) return std::any_of(expected.begin(), expected.end(), one);
  return one(expected);
}

tl::expected<std::string, TokenError> PeekIssuer(std::string_view token, size_t max_token_bytes) {
  if (token.size() > max_token_bytes)
    return Refuse(Refusal::kTooLarge, "token of " + std::to_string(token.size()) +
                                          " bytes, more than " + std::to_string(max_token_bytes));
  auto parsed = ParseCompactJws(token, max_token_bytes);
  if (!parsed) return Refuse(Refusal::kMalformed, parsed.error().message);
  auto iss = parsed->payload.find("iss");
  if (iss == parsed->payload.end()) return Refuse(Refusal::kMissingClaim, "no iss");
  if (!iss->is_string()) return Refuse(Refusal::kMalformed, "iss is not a string");
  return iss->get<std::string>();
}

MultiIssuerVerifier::MultiIssuerVerifier(std::vector<const OidcVerifier*> verifiers)
    : verifiers_(std::move(verifiers)) {
  for (const OidcVerifier* v : verifiers_)
    max_token_bytes_ = std::max(max_token_bytes_, v->config().max_token_bytes);
}

tl::expected<VerifiedToken, TokenError> MultiIssuerVerifier::Verify(std::string_view token) const {
  auto iss = PeekIssuer(token, max_token_bytes_);
  if (!iss) return tl::unexpected<TokenError>(std::move(iss).error());
  for (const OidcVerifier* v : verifiers_) {
    if (v->config().issuer == *iss) return v->Verify(token);
  }
  return Refuse(Refusal::kUnknownIssuer, "iss " + Quote(*iss) + " is not a configured issuer");
}

}  // namespace natstack::jwt
