#pragma once
/// NKeys and XKeys (nats-io/nkeys v0.4.10): the text encodings of NATS identities, Ed25519
/// signing keys (operator, account, user, server, cluster) and X25519 "curve" keys that seal
/// the auth-callout traffic. Formats: docs/auth-callout-protocol.md §1.
///
///   public  = base32(prefix || key32 || crc16le)             56 characters, "A...", "U...", ...
///   seed    = base32(b1 b2 || seed32 || crc16le)              58 characters, "SA...", "SX...", ...
///   private = base32(0x78 || seed32 || pub32 || crc16le)      "P..." (Ed25519 only)
///
/// Every decoder takes untrusted text and answers kInvalidArgument (never aborts) with a message
/// naming what is wrong. Messages never contain seed material.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/secure_bytes.hpp"

namespace natstack::nkeys {

/// The prefix byte of a public key; the first character of the encoded key is its letter.
enum class Role : uint8_t {
  kAccount = 0,         ///< 'A'
  kCluster = 2 << 3,    ///< 'C'
  kServer = 13 << 3,    ///< 'N'
  kOperator = 14 << 3,  ///< 'O'
  kUser = 20 << 3,      ///< 'U'
  kCurve = 23 << 3,     ///< 'X' (X25519; cannot sign)
};

inline constexpr size_t kPublicKeyLength = 56;  ///< characters of an encoded public key
inline constexpr size_t kSeedLength = 58;       ///< characters of an encoded seed
inline constexpr size_t kRawKeySize = 32;       ///< bytes of a raw public key or seed

using RawKey = std::array<uint8_t, kRawKeySize>;

/// "account", "cluster", "server", "operator", "user", "curve".
std::string_view RoleName(Role role);
/// 'A', 'C', 'N', 'O', 'U', 'X'.
char RoleLetter(Role role);
/// The role whose prefix byte is `prefix`, if it is a valid public prefix.
std::optional<Role> RoleFromPrefix(uint8_t prefix);

/// Decodes a public key string (56 chars): base32, CRC16 (little-endian), length 35, prefix is
/// a valid public role; when `expected` is given the role must match. kInvalidArgument with a
/// message naming what is wrong.
Result<RawKey> DecodePublicKey(std::string_view text, std::optional<Role> expected = std::nullopt);

/// The role of a valid public key string (same checks as DecodePublicKey).
Result<Role> RoleOfPublicKey(std::string_view text);

/// True when `text` is a valid public key of role `role`.
bool IsValidPublicKey(std::string_view text, Role role);

/// Encodes a raw 32-byte public key under `role`.
std::string EncodePublicKey(Role role, const RawKey& raw);

/// A decoded seed: its role and the raw 32-byte seed (wiped on destruction).
struct DecodedSeed {
  Role role;
  crypto::SecureBytes raw;
};

/// Decodes a seed string ("S" + role letter, 58 chars). kInvalidArgument on a bad length,
/// alphabet, checksum, seed marker or role.
Result<DecodedSeed> DecodeSeed(std::string_view text);

/// The public key of a seed of any role ("SA..." gives "A...", "SX..." gives "X...").
/// kInvalidArgument for a seed that does not decode.
Result<std::string> PublicKeyOfSeed(std::string_view seed);

/// Encodes a raw 32-byte seed under `role`. kInvalidArgument when `raw` is not 32 bytes.
Result<crypto::SecureBytes> EncodeSeed(Role role, std::string_view raw);

/// Ed25519 verification with a public key string of a signing role (not curve). false on any
/// malformed input.
bool Verify(std::string_view public_key, std::string_view message, std::string_view signature);

/// An Ed25519 signing key: operator, account, user, server or cluster. Move-only; all const
/// members (including Sign) are thread-safe. The secret is held in wiping memory.
class KeyPair {
 public:
  /// "S?..." 58 chars. A curve seed ("SX") is kInvalidArgument ("an xkey seed cannot sign").
  static Result<KeyPair> FromSeed(std::string_view seed);
  /// From a raw 32-byte seed. kInvalidArgument for kCurve or a seed that is not 32 bytes.
  static Result<KeyPair> FromRawSeed(Role role, std::string_view raw_seed);
  /// A fresh random key. `role` must not be kCurve (aborts: a programming error).
  static KeyPair Generate(Role role);

  KeyPair(KeyPair&&) noexcept = default;
  KeyPair& operator=(KeyPair&&) noexcept = default;
  KeyPair(const KeyPair&) = delete;
  KeyPair& operator=(const KeyPair&) = delete;

  Role role() const { return role_; }
  /// e.g. "A..." (56 chars).
  const std::string& PublicKey() const { return public_key_; }
  /// The raw 32-byte Ed25519 public key.
  const RawKey& RawPublicKey() const { return raw_public_; }
  /// The seed text, "SA..." (58 chars).
  crypto::SecureBytes Seed() const;
  /// The private key text, "P..." (64-byte seed || public under prefix 0x78).
  crypto::SecureBytes PrivateKey() const;
  /// Detached Ed25519 signature, 64 raw bytes.
  std::string Sign(std::string_view message) const;
  /// Verifies a signature by this key.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  KeyPair(Role role, crypto::SecureBytes secret_key, const RawKey& raw_public);

  Role role_;
  crypto::SecureBytes secret_key_;  // 64 bytes: seed || public
  RawKey raw_public_;
  std::string public_key_;
};

/// An X25519 "curve" key (xkey) that seals and opens messages in the "xkv1" format of
/// nats-io/nkeys xkeys.go. Move-only. Seal, SealWithNonce and Open are thread-safe.
///
/// Shared keys (crypto_box_beforenm) are cached per peer public key, because the callout seals
/// and opens for the same few server xkeys thousands of times per second. The cache holds at
/// most kMaxCachedPeers entries; evicted and destroyed entries are wiped.
class XKey {
 public:
  static constexpr size_t kMaxCachedPeers = 256;
  static constexpr std::string_view kVersion = "xkv1";
  static constexpr size_t kNonceSize = 24;
  static constexpr size_t kHeaderSize = 4 + kNonceSize;  ///< "xkv1" || nonce

  /// Must be an "SX..." seed; any other role is kInvalidArgument.
  static Result<XKey> FromSeed(std::string_view seed);
  /// From the raw 32-byte X25519 scalar. kInvalidArgument when it is not 32 bytes.
  static Result<XKey> FromRawSeed(std::string_view raw_seed);
  /// A fresh random key.
  static XKey Generate();

  XKey(XKey&&) noexcept;
  XKey& operator=(XKey&&) noexcept;
  XKey(const XKey&) = delete;
  XKey& operator=(const XKey&) = delete;
  ~XKey();

  /// "X..." (56 chars).
  const std::string& PublicKey() const { return public_key_; }
  /// "SX..." (58 chars).
  crypto::SecureBytes Seed() const;

  /// "xkv1" || 24-byte random nonce || crypto_box(plaintext) for recipient_public ("X...").
  /// kInvalidArgument when the recipient is not a valid (or an unusable) curve key.
  Result<std::string> Seal(std::string_view plaintext, std::string_view recipient_public) const;
  /// Seal with a caller-chosen 24-byte nonce (reproducible output for tests and vectors; never
  /// reuse a nonce with the same key pair). kInvalidArgument for a nonce of another size.
  Result<std::string> SealWithNonce(std::string_view plaintext, std::string_view recipient_public,
                                    std::string_view nonce24) const;
  /// Rejects len <= 28, a version other than "xkv1", a bad sender key (kInvalidArgument), or a
  /// failed box_open (kUnauthenticated).
  Result<std::string> Open(std::string_view sealed, std::string_view sender_public) const;

  /// Number of peers whose shared key is cached (for tests and metrics).
  size_t CachedPeerCount() const;

 private:
  struct SharedKeyCache;

  XKey(crypto::SecureBytes seed, const RawKey& raw_public);
  /// Validates `peer_public` ("X...") and returns its shared key, cached.
  Result<std::shared_ptr<const crypto::SecureBytes>> SharedKeyFor(
      std::string_view peer_public) const;

  crypto::SecureBytes seed_;  // 32-byte X25519 scalar
  std::string public_key_;
  std::unique_ptr<SharedKeyCache> cache_;
};

}  // namespace natstack::nkeys
