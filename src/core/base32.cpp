#include "core/base32.hpp"

#include <array>

namespace natstack {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 32; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr std::array<int8_t, 256> kDecodeTable = MakeDecodeTable();

}  // namespace

void Base32EncodeTo(std::string_view data, char* out) {
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : data) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      *out++ = kAlphabet[(acc >> bits) & 31];
    }
  }
  if (bits > 0) *out++ = kAlphabet[(acc << (5 - bits)) & 31];
}

std::string Base32Encode(std::string_view data) {
  std::string out(Base32EncodedLength(data.size()), '\0');
  Base32EncodeTo(data, out.data());
  return out;
}

Status Base32DecodeTo(std::string_view text, uint8_t* out) {
  // Each character carries 5 bits; whatever is left after the last whole byte must be padding
  // bits (fewer than 5, all zero), else the text was truncated or is not canonical.
  const size_t spare_bits = text.size() * 5 - Base32DecodedLength(text.size()) * 8;
  if (spare_bits >= 5) return Fail(Code::kInvalidArgument, "base32: invalid length");
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int8_t v = kDecodeTable[static_cast<uint8_t>(c)];
    if (v < 0) return Fail(Code::kInvalidArgument, "base32: invalid character");
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      *out++ = static_cast<uint8_t>(acc >> bits);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return Fail(Code::kInvalidArgument, "base32: non-zero trailing bits");
  return Ok();
}

Result<std::string> Base32Decode(std::string_view text) {
  std::string out(Base32DecodedLength(text.size()), '\0');
  NATSTACK_TRY(Base32DecodeTo(text, reinterpret_cast<uint8_t*>(out.data())));
  return out;
}

}  // namespace natstack
