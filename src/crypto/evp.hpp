#pragma once
/// Helpers over OpenSSL EVP_PKEY: key loading (PEM, JWK components, raw Ed25519), PEM output,
/// key generation, and signing / verification for the JOSE algorithm families (RSA PKCS#1 v1.5,
/// RSA-PSS, ECDSA, Ed25519).
///
/// Byte strings are passed as std::string / std::string_view holding raw bytes (not base64).
/// Every function is thread-safe; a const EVP_PKEY may be used from several threads at once.
/// OpenSSL's error queue is always drained: failures come back as an Error, never left behind.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/openssl.hpp"

namespace natstack::crypto {

/// The message digest a signature uses. kNone is for Ed25519 (which hashes internally).
enum class Digest { kNone, kSha256, kSha384, kSha512 };

/// RSA signature padding: PKCS#1 v1.5 (JWS RS*) or PSS with MGF1 of the same digest and a salt
/// as long as the digest (JWS PS*, RFC 7518 §3.5). Ignored for non-RSA keys.
enum class Padding { kPkcs1, kPss };

/// What a key is, as far as JOSE cares.
enum class KeyType { kOther, kRsa, kEcP256, kEcP384, kEcP521, kEd25519 };

/// "RSA", "EC P-256", "EC P-384", "EC P-521", "Ed25519", "other" (for messages).
std::string_view KeyTypeName(KeyType type);

/// The kind of `key` (kOther for anything else, including Ed448 and non-NIST curves).
KeyType KeyTypeOf(const EVP_PKEY* key);

/// Whether `key` holds a private half.
bool HasPrivateKey(const EVP_PKEY* key);

/// Size in bytes of one ECDSA coordinate / scalar for `type` (32, 48, 66); 0 for non-EC types.
size_t EcCoordinateSize(KeyType type);

// ---------------------------------------------------------------------------------------------
// Loading and writing keys

/// Parses a PEM public key: SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY").
/// kInvalidArgument when the text holds no usable public key.
Result<EvpPkeyPtr> LoadPublicKeyPem(std::string_view pem);

/// Parses an unencrypted PEM private key (PKCS#8 "PRIVATE KEY" or a traditional "RSA/EC PRIVATE
/// KEY"). kInvalidArgument when the text holds no usable private key.
Result<EvpPkeyPtr> LoadPrivateKeyPem(std::string_view pem);

/// SubjectPublicKeyInfo PEM of `key`'s public half.
Result<std::string> PublicKeyPem(const EVP_PKEY* key);

/// Unencrypted PKCS#8 PEM of `key`'s private half. The result is a secret: write it to a 0600
/// file (WriteFileAtomic(path, pem, 0600)), never log it. kInvalidArgument for a public key.
Result<std::string> PrivateKeyPem(const EVP_PKEY* key);

/// An RSA public key from its JWK components (RFC 7518 §6.3.1): `n` and `e` are the unsigned
/// big-endian bytes (already base64url-decoded). Leading zero bytes are tolerated. kInvalidArgument
/// for an empty or even modulus or an exponent that is not odd and > 1.
Result<EvpPkeyPtr> RsaPublicKeyFromComponents(std::string_view n, std::string_view e);

/// An EC public key on P-256, P-384 or P-521 (`curve` is kEcP256/kEcP384/kEcP521) from its affine
/// coordinates (RFC 7518 §6.2.1: each exactly EcCoordinateSize(curve) bytes, big-endian).
/// kInvalidArgument for a wrong length or a point that is not on the curve.
Result<EvpPkeyPtr> EcPublicKeyFromCoordinates(KeyType curve, std::string_view x,
                                              std::string_view y);

/// An Ed25519 public key from its 32 raw bytes (RFC 8037 §2 "x").
Result<EvpPkeyPtr> Ed25519PublicKeyFromRaw(std::string_view raw);

/// The public components of an RSA key (minimal big-endian bytes), for writing a JWK.
struct RsaComponents {
  std::string n;
  std::string e;
};
Result<RsaComponents> RsaPublicComponents(const EVP_PKEY* key);

/// The affine coordinates of an EC public key, each padded to EcCoordinateSize.
struct EcCoordinates {
  std::string x;
  std::string y;
};
Result<EcCoordinates> EcPublicCoordinates(const EVP_PKEY* key);

/// The 32 raw bytes of an Ed25519 public key.
Result<std::string> Ed25519RawPublicKey(const EVP_PKEY* key);

// ---------------------------------------------------------------------------------------------
// Key generation

/// A fresh RSA key pair with public exponent 65537. `bits` must be >= 2048.
Result<EvpPkeyPtr> GenerateRsaPkey(int bits = 2048);
/// A fresh EC key pair on kEcP256, kEcP384 or kEcP521.
Result<EvpPkeyPtr> GenerateEcPkey(KeyType curve);
/// A fresh Ed25519 key pair.
Result<EvpPkeyPtr> GenerateEd25519Pkey();

// ---------------------------------------------------------------------------------------------
// Digests, signatures

/// The digest of `data` (raw bytes). kInvalidArgument for Digest::kNone.
Result<std::string> ComputeDigest(Digest digest, std::string_view data);

/// Signs `data` with a private key. RSA: PKCS#1 v1.5 or PSS per `padding`; ECDSA: the signature
/// is DER (see EcdsaDerToRaw for JOSE); Ed25519: `digest` must be kNone.
Result<std::string> SignMessage(const EVP_PKEY* key, Digest digest, std::string_view data,
                                Padding padding = Padding::kPkcs1);

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `data`. kInvalidArgument for a non-RSA key.
Result<std::string> SignRs256(const EVP_PKEY* key, std::string_view data);

/// Verifies `signature` over `data` with `key` (public or private). For ECDSA keys the signature
/// is DER (convert JOSE's r||s with EcdsaRawToDer first); for Ed25519 `digest` must be kNone.
/// Ok when it verifies; kUnauthenticated when it does not (including a malformed signature);
/// kInvalidArgument when the digest/padding do not fit the key type.
Status VerifySignature(const EVP_PKEY* key, Digest digest, std::string_view data,
                       std::string_view signature, Padding padding = Padding::kPkcs1);

/// JOSE ECDSA signature (r||s, each `coordinate_size` bytes, RFC 7518 §3.4) → DER ECDSA-Sig-Value.
/// kInvalidArgument unless raw.size() == 2 * coordinate_size.
Result<std::string> EcdsaRawToDer(std::string_view raw, size_t coordinate_size);

/// DER ECDSA-Sig-Value → JOSE r||s with each half left-padded to `coordinate_size` bytes.
Result<std::string> EcdsaDerToRaw(std::string_view der, size_t coordinate_size);

}  // namespace natstack::crypto
