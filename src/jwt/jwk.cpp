#include "jwt/jwk.hpp"

#include <algorithm>

#include "core/base64.hpp"
#include "core/json_strict.hpp"
#include "jwt/jws.hpp"

namespace natstack::jwt {
namespace {

using crypto::KeyType;
using nlohmann::json;

std::shared_ptr<const EVP_PKEY> Share(crypto::EvpPkeyPtr key) {
  return std::shared_ptr<const EVP_PKEY>(
      key.release(), [](const EVP_PKEY* p) { EVP_PKEY_free(const_cast<EVP_PKEY*>(p)); });
}

/// A base64url member decoded, or an error naming the member.
Result<std::string> Member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string())
    return Fail(Code::kInvalidArgument, std::string("missing \"") + name + "\"");
  auto decoded = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!decoded)
    return Fail(Code::kInvalidArgument, std::string("\"") + name + "\" is not base64url");
  return std::move(*decoded);
}

std::string OptionalString(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

KeyType CurveType(std::string_view crv) {
  if (crv == "P-256") return KeyType::kEcP256;
  if (crv == "P-384") return KeyType::kEcP384;
  if (crv == "P-521") return KeyType::kEcP521;
  return KeyType::kOther;
}

std::string_view CurveName(KeyType type) {
  switch (type) {
    case KeyType::kEcP256: return "P-256";
    case KeyType::kEcP384: return "P-384";
    case KeyType::kEcP521: return "P-521";
    default: return "";
  }
}

// For messages about untrusted input: bounded, printable.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

Result<Jwk> ParseJwk(const json& object) {
  if (!object.is_object()) return Fail(Code::kInvalidArgument, "not a JSON object");
  Jwk jwk;
  auto kty = object.find("kty");
  if (kty == object.end() || !kty->is_string()) return Fail(Code::kInvalidArgument, "no kty");
  jwk.kty = kty->get<std::string>();
  for (const char* name : {"kid", "alg", "use"}) {
    auto it = object.find(name);
    if (it != object.end() && !it->is_string())
      return Fail(Code::kInvalidArgument, std::string("\"") + name + "\" is not a string");
  }
  jwk.kid = OptionalString(object, "kid");
  jwk.alg = OptionalString(object, "alg");
  jwk.use = OptionalString(object, "use");
  if (!jwk.use.empty() && jwk.use != "sig")
    return Fail(Code::kInvalidArgument, "use is " + Printable(jwk.use));
  if (auto ops = object.find("key_ops"); ops != object.end()) {
    if (!ops->is_array()) return Fail(Code::kInvalidArgument, "key_ops is not an array");
    if (std::find(ops->begin(), ops->end(), json("verify")) == ops->end())
      return Fail(Code::kInvalidArgument, "key_ops does not allow verify");
  }
  if (jwk.kty == "oct") return Fail(Code::kInvalidArgument, "symmetric keys are not accepted");

  if (jwk.kty == "RSA") {
    NATSTACK_ASSIGN_OR_RETURN(std::string n, Member(object, "n"));
    NATSTACK_ASSIGN_OR_RETURN(std::string e, Member(object, "e"));
    NATSTACK_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, crypto::RsaPublicKeyFromComponents(n, e));
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
      return Fail(Code::kInvalidArgument,
                  "RSA key has " + std::to_string(EVP_PKEY_get_bits(key.get())) + " bits");
    }
    jwk.type = KeyType::kRsa;
    jwk.key = Share(std::move(key));
  } else if (jwk.kty == "EC") {
    const std::string crv = OptionalString(object, "crv");
    const KeyType type = CurveType(crv);
    if (type == KeyType::kOther)
      return Fail(Code::kInvalidArgument, "unsupported curve " + Printable(crv));
    NATSTACK_ASSIGN_OR_RETURN(std::string x, Member(object, "x"));
    NATSTACK_ASSIGN_OR_RETURN(std::string y, Member(object, "y"));
    NATSTACK_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key,
                              crypto::EcPublicKeyFromCoordinates(type, x, y));
    jwk.type = type;
    jwk.key = Share(std::move(key));
  } else if (jwk.kty == "OKP") {
    const std::string crv = OptionalString(object, "crv");
    if (crv != "Ed25519")
      return Fail(Code::kInvalidArgument, "unsupported curve " + Printable(crv));
    NATSTACK_ASSIGN_OR_RETURN(std::string x, Member(object, "x"));
    NATSTACK_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, crypto::Ed25519PublicKeyFromRaw(x));
    jwk.type = KeyType::kEd25519;
    jwk.key = Share(std::move(key));
  } else {
    return Fail(Code::kInvalidArgument, "unsupported kty " + Printable(jwk.kty));
  }
  return jwk;
}

Result<json> PublicJwk(const EVP_PKEY* key, std::string_view kid, std::string_view alg) {
  json out = json::object();
  const KeyType type = crypto::KeyTypeOf(key);
  switch (type) {
    case KeyType::kRsa: {
      NATSTACK_ASSIGN_OR_RETURN(crypto::RsaComponents c, crypto::RsaPublicComponents(key));
      out["kty"] = "RSA";
      out["n"] = Base64UrlEncode(c.n);
      out["e"] = Base64UrlEncode(c.e);
      break;
    }
    case KeyType::kEcP256:
    case KeyType::kEcP384:
    case KeyType::kEcP521: {
      NATSTACK_ASSIGN_OR_RETURN(crypto::EcCoordinates c, crypto::EcPublicCoordinates(key));
      out["kty"] = "EC";
      out["crv"] = CurveName(type);
      out["x"] = Base64UrlEncode(c.x);
      out["y"] = Base64UrlEncode(c.y);
      break;
    }
    case KeyType::kEd25519: {
      NATSTACK_ASSIGN_OR_RETURN(std::string x, crypto::Ed25519RawPublicKey(key));
      out["kty"] = "OKP";
      out["crv"] = "Ed25519";
      out["x"] = Base64UrlEncode(x);
      break;
    }
    case KeyType::kOther: return Fail(Code::kInvalidArgument, "unsupported key type");
  }
  if (!kid.empty()) out["kid"] = kid;
  if (!alg.empty()) out["alg"] = alg;
  if (!kid.empty() || !alg.empty()) out["use"] = "sig";
  return out;
}

Result<Jwk> MakeJwk(const EVP_PKEY* key, std::string_view kid, std::string_view alg) {
  NATSTACK_ASSIGN_OR_RETURN(json jwk, PublicJwk(key, kid, alg));
  return ParseJwk(jwk);
}

Result<std::string> JwkThumbprint(const EVP_PKEY* key) {
  NATSTACK_ASSIGN_OR_RETURN(json jwk, PublicJwk(key));
  // RFC 7638 §3.2: only the required members, lexicographic order, no whitespace. nlohmann's
  // object is a sorted std::map and dump() without indent emits no whitespace.
  json required = json::object();
  const std::string kty = jwk["kty"].get<std::string>();
  const std::vector<const char*> members = kty == "RSA" ? std::vector<const char*>{"e", "kty", "n"}
                                           : kty == "EC"
                                               ? std::vector<const char*>{"crv", "kty", "x", "y"}
                                               : std::vector<const char*>{"crv", "kty", "x"};
  for (const char* m : members) required[m] = jwk[m];
  NATSTACK_ASSIGN_OR_RETURN(std::string digest,
                            crypto::ComputeDigest(crypto::Digest::kSha256, required.dump()));
  return Base64UrlEncode(digest);
}

Result<Jwks> Jwks::Parse(std::string_view text) {
  StrictJsonResult parsed = ParseStrictJson(text, kMaxJsonDepth);
  if (!parsed.ok()) return Fail(Code::kInvalidArgument, "JWKS " + parsed.Describe(kMaxJsonDepth));
  const json doc = std::move(parsed.value);
  if (!doc.is_object()) return Fail(Code::kInvalidArgument, "JWKS is not a JSON object");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array())
    return Fail(Code::kInvalidArgument, "JWKS has no \"keys\" array");
  Jwks out;
  size_t index = 0;
  for (const json& entry : *keys) {
    const std::string label =
        "key " + std::to_string(index++) +
        (entry.is_object() && entry.contains("kid") && entry["kid"].is_string()
             ? " (kid " + Printable(entry["kid"].get_ref<const std::string&>()) + ")"
             : "");
    if (out.keys_.size() >= kMaxJwksKeys) {
      out.skipped_.push_back(label + ": more than " + std::to_string(kMaxJwksKeys) + " keys");
      continue;
    }
    auto jwk = ParseJwk(entry);
    if (!jwk) {
      out.skipped_.push_back(label + ": " + jwk.error().message);
      continue;
    }
    if (!jwk->kid.empty() && out.Find(jwk->kid) != nullptr) {
      out.skipped_.push_back(label + ": duplicate kid");
      continue;
    }
    out.keys_.push_back(std::move(*jwk));
  }
  return out;
}

Jwks Jwks::FromKeys(std::vector<Jwk> keys) {
  Jwks out;
  for (Jwk& k : keys) {
    if (!k.key || (!k.kid.empty() && out.Find(k.kid) != nullptr)) continue;
    out.keys_.push_back(std::move(k));
  }
  return out;
}

const Jwk* Jwks::Find(std::string_view kid) const {
  for (const Jwk& k : keys_) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

}  // namespace natstack::jwt
