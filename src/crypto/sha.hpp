#pragma once
/// SHA-2 digests (OpenSSL EVP). Each returns the raw digest bytes.

#include <string>
#include <string_view>

namespace natstack::crypto {

std::string Sha256(std::string_view data);      ///< 32 bytes
std::string Sha512(std::string_view data);      ///< 64 bytes
std::string Sha512_256(std::string_view data);  ///< 32 bytes, FIPS 180-4 SHA-512/256 (NATS jti)

}  // namespace natstack::crypto
