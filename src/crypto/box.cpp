#include "crypto/box.hpp"

#include <sodium.h>

#include "crypto/random.hpp"

namespace natstack::crypto {
namespace {

static_assert(crypto_box_PUBLICKEYBYTES == kX25519KeySize);
static_assert(crypto_box_SECRETKEYBYTES == kX25519KeySize);
static_assert(crypto_box_NONCEBYTES == kBoxNonceSize);
static_assert(crypto_box_MACBYTES == kBoxMacSize);
static_assert(crypto_box_BEFORENMBYTES == kBoxSharedKeySize);
static_assert(crypto_scalarmult_BYTES == kX25519KeySize);

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status CheckSize(std::string_view value, size_t size, const char* what) {
  if (value.size() != size)
    return Fail(Code::kInvalidArgument,
                std::string("box: ") + what + " must be " + std::to_string(size) + " bytes");
  return Ok();
}

Status CheckOpenInput(std::string_view ciphertext, std::string_view nonce) {
  NATSTACK_TRY(CheckSize(nonce, kBoxNonceSize, "a nonce"));
  if (ciphertext.size() < kBoxMacSize)
    return Fail(Code::kUnauthenticated, "box: ciphertext shorter than its tag");
  return Ok();
}

Error OpenFailed() { return Error{Code::kUnauthenticated, "box: could not decrypt"}; }

}  // namespace

Result<std::array<uint8_t, kX25519KeySize>> X25519PublicKey(std::string_view secret) {
  NATSTACK_TRY(CheckSize(secret, kX25519KeySize, "a secret key"));
  EnsureSodiumInitialized();
  std::array<uint8_t, kX25519KeySize> out{};
  if (crypto_scalarmult_base(out.data(), Bytes(secret)) != 0)
    return Fail(Code::kInternal, "box: crypto_scalarmult_base failed");
  return out;
}

Result<std::string> BoxSeal(std::string_view plaintext, std::string_view nonce,
                            std::string_view recipient_public, std::string_view sender_secret) {
  NATSTACK_TRY(CheckSize(nonce, kBoxNonceSize, "a nonce"));
  NATSTACK_TRY(CheckSize(recipient_public, kX25519KeySize, "a public key"));
  NATSTACK_TRY(CheckSize(sender_secret, kX25519KeySize, "a secret key"));
  EnsureSodiumInitialized();
  std::string out(kBoxMacSize + plaintext.size(), '\0');
  if (crypto_box_easy(Bytes(out), Bytes(plaintext), plaintext.size(), Bytes(nonce),
                      Bytes(recipient_public), Bytes(sender_secret)) != 0)
    return Fail(Code::kInvalidArgument, "box: recipient public key rejected");
  return out;
}

Result<std::string> BoxOpen(std::string_view ciphertext, std::string_view nonce,
                            std::string_view sender_public, std::string_view recipient_secret) {
  NATSTACK_TRY(CheckSize(sender_public, kX25519KeySize, "a public key"));
  NATSTACK_TRY(CheckSize(recipient_secret, kX25519KeySize, "a secret key"));
  NATSTACK_TRY(CheckOpenInput(ciphertext, nonce));
  EnsureSodiumInitialized();
  std::string out(ciphertext.size() - kBoxMacSize, '\0');
  if (crypto_box_open_easy(Bytes(out), Bytes(ciphertext), ciphertext.size(), Bytes(nonce),
                           Bytes(sender_public), Bytes(recipient_secret)) != 0)
    return Fail(OpenFailed());
  return out;
}

Result<SecureBytes> BoxSharedKey(std::string_view peer_public, std::string_view own_secret) {
  NATSTACK_TRY(CheckSize(peer_public, kX25519KeySize, "a public key"));
  NATSTACK_TRY(CheckSize(own_secret, kX25519KeySize, "a secret key"));
  EnsureSodiumInitialized();
  SecureBytes key(kBoxSharedKeySize);
  if (crypto_box_beforenm(key.data(), Bytes(peer_public), Bytes(own_secret)) != 0)
    return Fail(Code::kInvalidArgument, "box: peer public key rejected");
  return key;
}

Result<std::string> BoxSealWithSharedKey(std::string_view plaintext, std::string_view nonce,
                                         std::string_view shared_key) {
  NATSTACK_TRY(CheckSize(nonce, kBoxNonceSize, "a nonce"));
  NATSTACK_TRY(CheckSize(shared_key, kBoxSharedKeySize, "a shared key"));
  EnsureSodiumInitialized();
  std::string out(kBoxMacSize + plaintext.size(), '\0');
  if (crypto_box_easy_afternm(Bytes(out), Bytes(plaintext), plaintext.size(), Bytes(nonce),
                              Bytes(shared_key)) != 0)
    return Fail(Code::kInternal, "box: crypto_box_easy_afternm failed");
  return out;
}

Result<std::string> BoxOpenWithSharedKey(std::string_view ciphertext, std::string_view nonce,
                                         std::string_view shared_key) {
  NATSTACK_TRY(CheckSize(shared_key, kBoxSharedKeySize, "a shared key"));
  NATSTACK_TRY(CheckOpenInput(ciphertext, nonce));
  EnsureSodiumInitialized();
  std::string out(ciphertext.size() - kBoxMacSize, '\0');
  if (crypto_box_open_easy_afternm(Bytes(out), Bytes(ciphertext), ciphertext.size(), Bytes(nonce),
                                   Bytes(shared_key)) != 0)
    return Fail(OpenFailed());
  return out;
}

}  // namespace natstack::crypto
