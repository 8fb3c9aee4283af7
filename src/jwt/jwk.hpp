#pragma once
/// JSON Web Keys (RFC 7517) and key sets, for verifying signatures: RSA (RFC 7518 §6.3),
/// EC P-256/P-384/P-521 (§6.2) and Ed25519 OKP (RFC 8037). Symmetric ("oct") keys are never
/// accepted: a verifier that trusts a JWKS must not be handed an HMAC secret.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "crypto/evp.hpp"

namespace natstack::jwt {

/// RSA keys below this size are skipped (RFC 7518 §3.3: 2048 bits or larger MUST be used).
inline constexpr int kMinRsaBits = 2048;
/// A JWKS with more keys than this keeps only the first ones (peers may be hostile).
inline constexpr size_t kMaxJwksKeys = 64;

/// One usable public key. Immutable; the EVP_PKEY is shared and safe to use from many threads.
struct Jwk {
  std::string kid;  ///< may be empty
  std::string kty;  ///< "RSA", "EC", "OKP"
  std::string alg;  ///< the JWK's "alg" when present (then only that algorithm may use it)
  std::string use;  ///< "sig" or empty
  crypto::KeyType type = crypto::KeyType::kOther;
  std::shared_ptr<const EVP_PKEY> key;
};

/// Parses one JWK object into a public key. kInvalidArgument (with a reason that never contains
/// key material) for keys that cannot be used for signature verification: "use" other than
/// "sig", "key_ops" without "verify", kty "oct" or unknown, missing or malformed members, small
/// RSA moduli, curves other than P-256/P-384/P-521/Ed25519.
Result<Jwk> ParseJwk(const nlohmann::json& object);

/// The public JWK of `key` (RSA: kty,n,e; EC: kty,crv,x,y; Ed25519: kty "OKP",crv,x), plus "kid",
/// "alg" and "use":"sig" when `kid` / `alg` are non-empty.
Result<nlohmann::json> PublicJwk(const EVP_PKEY* key, std::string_view kid = {},
                                 std::string_view alg = {});

/// A Jwk holding the public half of `key` (tests, fixed keys): PublicJwk then ParseJwk.
Result<Jwk> MakeJwk(const EVP_PKEY* key, std::string_view kid, std::string_view alg = {});

/// RFC 7638 JWK thumbprint (SHA-256 over the required members in lexicographic order),
/// base64url without padding. Stable across processes: a good `kid`.
Result<std::string> JwkThumbprint(const EVP_PKEY* key);

/// An immutable set of keys, by kid. Thread-safe to share (const).
class Jwks {
 public:
  Jwks() = default;

  /// Parses a JWKS document ({"keys":[...]}). kInvalidArgument when the text is not JSON, not an
  /// object, nested deeper than kMaxJsonDepth, or has no "keys" array. Individual keys that cannot
  /// be used are skipped (see ParseJwk) and listed in skipped(); so are duplicate non-empty kids
  /// (the first wins) and keys beyond kMaxJwksKeys. A document whose keys are all skipped parses to
  /// an empty set.
  static Result<Jwks> Parse(std::string_view json);

  /// A set from already-built keys (tests, fixed keys). Duplicate non-empty kids: the first wins.
  static Jwks FromKeys(std::vector<Jwk> keys);

  /// The key with this kid, or nullptr. Keys without a kid are found by "" (the first of them).
  const Jwk* Find(std::string_view kid) const;
  const std::vector<Jwk>& keys() const { return keys_; }
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  /// One line per skipped key ("key 2 (kid abc): use is enc"); no key material.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<Jwk> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace natstack::jwt
