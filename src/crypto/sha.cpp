#include "crypto/sha.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/openssl.hpp"

namespace natstack::crypto {
namespace {

std::string Digest(const EVP_MD* md, const char* name, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    // Only possible when OpenSSL itself is broken (no default provider): an invariant.
    std::fprintf(stderr, "natstack: fatal: %s digest failed: %s\n", name,
                 LastOpenSslError().c_str());
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

std::string Sha256(std::string_view data) { return Digest(EVP_sha256(), "SHA256", data); }
std::string Sha512(std::string_view data) { return Digest(EVP_sha512(), "SHA512", data); }
std::string Sha512_256(std::string_view data) {
  return Digest(EVP_sha512_256(), "SHA512-256", data);
}

}  // namespace natstack::crypto
