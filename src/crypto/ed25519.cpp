#include "crypto/ed25519.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/random.hpp"

namespace natstack::crypto {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

static_assert(crypto_sign_SEEDBYTES == kEd25519SeedSize);
static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicKeySize);
static_assert(crypto_sign_SECRETKEYBYTES == kEd25519SecretKeySize);
static_assert(crypto_sign_BYTES == kEd25519SignatureSize);

}  // namespace

Result<Ed25519KeyPair> Ed25519FromSeed(std::string_view seed) {
  if (seed.size() != kEd25519SeedSize)
    return Fail(Code::kInvalidArgument, "ed25519: a seed must be 32 bytes");
  EnsureSodiumInitialized();
  Ed25519KeyPair pair;
  pair.secret_key = SecureBytes(kEd25519SecretKeySize);
  if (crypto_sign_seed_keypair(pair.public_key.data(), pair.secret_key.data(), Bytes(seed)) != 0)
    return Fail(Code::kInternal, "ed25519: crypto_sign_seed_keypair failed");
  return pair;
}

std::string Ed25519Sign(std::string_view secret_key, std::string_view message) {
  if (secret_key.size() != kEd25519SecretKeySize) {
    std::fputs("natstack: fatal: Ed25519Sign called with a secret key that is not 64 bytes\n",
               stderr);
    std::abort();
  }
  EnsureSodiumInitialized();
  std::string signature(kEd25519SignatureSize, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr, Bytes(message),
                       message.size(), Bytes(secret_key));
  return signature;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kEd25519PublicKeySize || signature.size() != kEd25519SignatureSize)
    return false;
  EnsureSodiumInitialized();
  return crypto_sign_verify_detached(Bytes(signature), Bytes(message), message.size(),
                                     Bytes(public_key)) == 0;
}

}  // namespace natstack::crypto
