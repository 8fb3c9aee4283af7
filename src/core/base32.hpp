#pragma once
/// Base32 (RFC 4648 §6, alphabet A-Z2-7) without '=' padding, as NKeys and the NATS JWT `jti`
/// use it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace natstack {

/// Number of characters Base32Encode produces for `byte_count` bytes (ceil(8n/5)).
constexpr size_t Base32EncodedLength(size_t byte_count) { return (byte_count * 8 + 4) / 5; }

/// Number of bytes a `char_count`-character text decodes to (trailing bits dropped).
constexpr size_t Base32DecodedLength(size_t char_count) { return char_count * 5 / 8; }

/// Encodes without padding.
std::string Base32Encode(std::string_view data);

/// Writes exactly Base32EncodedLength(data.size()) characters to `out` (no terminator). Lets
/// callers encode secrets straight into a wiping buffer.
void Base32EncodeTo(std::string_view data, char* out);

/// Strict decoder: upper-case alphabet only, no padding, no length that leaves 5 or more spare
/// bits, and the spare bits must be zero. Anything else is kInvalidArgument.
Result<std::string> Base32Decode(std::string_view text);

/// Like Base32Decode, but writes exactly Base32DecodedLength(text.size()) bytes to `out`, which
/// must have room for them. On error the content of `out` is unspecified.
Status Base32DecodeTo(std::string_view text, uint8_t* out);

}  // namespace natstack
