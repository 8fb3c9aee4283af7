#pragma once
/// Ed25519 (RFC 8032) over libsodium: key derivation from a seed, detached signatures, and
/// verification of untrusted input. All functions are thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/secure_bytes.hpp"

namespace natstack::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SecretKeySize = 64;  ///< seed || public key (libsodium, Go)
inline constexpr size_t kEd25519SignatureSize = 64;

struct Ed25519KeyPair {
  std::array<uint8_t, kEd25519PublicKeySize> public_key{};
  SecureBytes secret_key;  ///< kEd25519SecretKeySize bytes
};

/// Derives the key pair of a 32-byte RFC 8032 seed (crypto_sign_seed_keypair).
/// kInvalidArgument when `seed` is not 32 bytes.
Result<Ed25519KeyPair> Ed25519FromSeed(std::string_view seed);

/// Detached, deterministic signature (64 bytes). `secret_key` must be the 64-byte secret of
/// Ed25519FromSeed: anything else is a programming error and aborts.
std::string Ed25519Sign(std::string_view secret_key, std::string_view message);

/// True when `signature` is a valid signature of `message` by `public_key`. Returns false for
/// wrong lengths or any other malformed input; never aborts.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);

}  // namespace natstack::crypto
