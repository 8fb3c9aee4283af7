#pragma once
/// Base64 (RFC 4648 §4) and base64url without padding (§5), as JWS and NATS JWTs use it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace natstack {

using Bytes = std::vector<uint8_t>;

std::string Base64Encode(std::string_view data);           ///< standard alphabet, '=' padded
std::string Base64UrlEncode(std::string_view data);        ///< url alphabet, no padding
inline std::string Base64UrlEncode(const Bytes& data) {
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

/// Strict decoders: any character outside the alphabet, bad padding or non-zero trailing bits
/// is kInvalidArgument. Base64UrlDecode also accepts '=' padding (some IdPs pad).
Result<std::string> Base64Decode(std::string_view text);
Result<std::string> Base64UrlDecode(std::string_view text);

/// Lower-case hex.
std::string HexEncode(std::string_view data);
Result<std::string> HexDecode(std::string_view text);

}  // namespace natstack
