#pragma once
/// X25519 and NaCl crypto_box (X25519 + HSalsa20 key derivation, XSalsa20-Poly1305) over
/// libsodium. Output layout is crypto_box_easy's: 16-byte Poly1305 tag || ciphertext, the same
/// as Go's nacl/box.Seal. All functions are thread-safe; public keys may be untrusted.
///
/// Error codes: kInvalidArgument for a wrong-sized key or nonce, or a peer public key that
/// libsodium rejects (a low-order point gives an all-zero shared secret); kUnauthenticated when
/// a ciphertext does not authenticate.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/secure_bytes.hpp"

namespace natstack::crypto {

inline constexpr size_t kX25519KeySize = 32;
inline constexpr size_t kBoxNonceSize = 24;
inline constexpr size_t kBoxMacSize = 16;
inline constexpr size_t kBoxSharedKeySize = 32;

/// X25519(secret, 9) (crypto_scalarmult_base). The 32 bytes are the scalar; clamping happens
/// inside X25519. kInvalidArgument when `secret` is not 32 bytes.
Result<std::array<uint8_t, kX25519KeySize>> X25519PublicKey(std::string_view secret);

/// crypto_box_easy: seals `plaintext` for `recipient_public` with the sender's secret.
/// Output is kBoxMacSize + plaintext.size() bytes.
Result<std::string> BoxSeal(std::string_view plaintext, std::string_view nonce,
                            std::string_view recipient_public, std::string_view sender_secret);

/// crypto_box_open_easy: opens a box from `sender_public` with the recipient's secret.
Result<std::string> BoxOpen(std::string_view ciphertext, std::string_view nonce,
                            std::string_view sender_public, std::string_view recipient_secret);

/// crypto_box_beforenm: the shared key for a peer, to seal and open many messages with it.
Result<SecureBytes> BoxSharedKey(std::string_view peer_public, std::string_view own_secret);

/// crypto_box_easy_afternm with a key from BoxSharedKey.
Result<std::string> BoxSealWithSharedKey(std::string_view plaintext, std::string_view nonce,
                                         std::string_view shared_key);

/// crypto_box_open_easy_afternm with a key from BoxSharedKey.
Result<std::string> BoxOpenWithSharedKey(std::string_view ciphertext, std::string_view nonce,
                                         std::string_view shared_key);

}  // namespace natstack::crypto
