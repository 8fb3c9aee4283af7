#pragma once
/// Internal to nkeys: the checksummed base32 framing shared by keys, seeds and private keys.

#include <cstddef>
#include <string_view>

#include "core/error.hpp"
#include "crypto/secure_bytes.hpp"

namespace natstack::nkeys::internal {

/// base32(header || body || crc16le(header || body)), built in wiping memory.
crypto::SecureBytes EncodeChecked(std::string_view header, std::string_view body);

/// Reverses EncodeChecked for a text of exactly `expected_length` characters: checks the
/// length, the alphabet and the checksum, and returns header || body (without the checksum).
/// `what` names the input in error messages ("a seed").
Result<crypto::SecureBytes> DecodeChecked(std::string_view text, size_t expected_length,
                                          std::string_view what);

}  // namespace natstack::nkeys::internal
