#include "nkeys/nkeys.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/base32.hpp"
#include "core/crc16.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/random.hpp"
#include "nkeys/encoding.hpp"

namespace natstack::nkeys {
namespace {

constexpr uint8_t kPrefixSeed = 18 << 3;     // 'S'
constexpr uint8_t kPrefixPrivate = 15 << 3;  // 'P'

[[noreturn]] void Die(const char* message) {
  std::fprintf(stderr, "natstack: fatal: %s\n", message);
  std::abort();
}

std::string_view View(const RawKey& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

struct PublicKeyParts {
  Role role;
  RawKey raw;
};

Result<PublicKeyParts> DecodePublicKeyParts(std::string_view text) {
  NATSTACK_ASSIGN_OR_RETURN(const auto raw,
                            internal::DecodeChecked(text, kPublicKeyLength, "a public key"));
  const std::optional<Role> role = RoleFromPrefix(raw.data()[0]);
  if (!role) return Fail(Code::kInvalidArgument, "nkeys: not a public key (unknown prefix)");
  PublicKeyParts parts{*role, {}};
  std::memcpy(parts.raw.data(), raw.data() + 1, parts.raw.size());
  return parts;
}

}  // namespace

namespace internal {

crypto::SecureBytes EncodeChecked(std::string_view header, std::string_view body) {
  crypto::SecureBytes raw(header.size() + body.size() + 2);
  std::memcpy(raw.data(), header.data(), header.size());
  if (!body.empty()) std::memcpy(raw.data() + header.size(), body.data(), body.size());
  const size_t n = header.size() + body.size();
  const uint16_t crc = Crc16(std::string_view(reinterpret_cast<const char*>(raw.data()), n));
  raw.data()[n] = static_cast<uint8_t>(crc & 0xFF);  // little-endian
  raw.data()[n + 1] = static_cast<uint8_t>(crc >> 8);
  crypto::SecureBytes text(Base32EncodedLength(raw.size()));
  Base32EncodeTo(raw.view(), reinterpret_cast<char*>(text.data()));
  return text;
}

Result<crypto::SecureBytes> DecodeChecked(std::string_view text, size_t expected_length,
                                          std::string_view what) {
  if (text.size() != expected_length)
    return Fail(Code::kInvalidArgument, "nkeys: " + std::string(what) + " must be " +
                                            std::to_string(expected_length) + " characters, got " +
                                            std::to_string(text.size()));
  crypto::SecureBytes raw(Base32DecodedLength(text.size()));
  if (!Base32DecodeTo(text, raw.data()))
    return Fail(Code::kInvalidArgument, "nkeys: " + std::string(what) + " is not valid base32");
  if (raw.size() < 3) return Fail(Code::kInvalidArgument, "nkeys: input too short");
  const size_t n = raw.size() - 2;
  const uint16_t stored = static_cast<uint16_t>(raw.data()[n] | (raw.data()[n + 1] << 8));
  if (Crc16(raw.view().substr(0, n)) != stored)
    return Fail(Code::kInvalidArgument, "nkeys: " + std::string(what) + " has a bad checksum");
  return crypto::SecureBytes(raw.view().substr(0, n));
}

}  // namespace internal

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAccount:
      return "account";
    case Role::kCluster:
      return "cluster";
    case Role::kServer:
      return "server";
    case Role::kOperator:
      return "operator";
    case Role::kUser:
      return "user";
    case Role::kCurve:
      return "curve";
  }
  return "unknown";
}

char RoleLetter(Role role) {
  switch (role) {
    case Role::kAccount:
      return 'A';
    case Role::kCluster:
      return 'C';
    case Role::kServer:
      return 'N';
    case Role::kOperator:
      return 'O';
    case Role::kUser:
      return 'U';
    case Role::kCurve:
      return 'X';
  }
  return '?';
}

std::optional<Role> RoleFromPrefix(uint8_t prefix) {
  for (const Role role : {Role::kAccount, Role::kCluster, Role::kServer, Role::kOperator,
                          Role::kUser, Role::kCurve}) {
    if (static_cast<uint8_t>(role) == prefix) return role;
  }
  return std::nullopt;
}

Result<RawKey> DecodePublicKey(std::string_view text, std::optional<Role> expected) {
  NATSTACK_ASSIGN_OR_RETURN(const auto parts, DecodePublicKeyParts(text));
  if (expected && parts.role != *expected)
    return Fail(Code::kInvalidArgument, "nkeys: expected " + std::string(RoleName(*expected)) +
                                            " public key, got " +
                                            std::string(RoleName(parts.role)));
  return parts.raw;
}

Result<Role> RoleOfPublicKey(std::string_view text) {
  NATSTACK_ASSIGN_OR_RETURN(const auto parts, DecodePublicKeyParts(text));
  return parts.role;
}

bool IsValidPublicKey(std::string_view text, Role role) {
  return DecodePublicKey(text, role).has_value();
}

std::string EncodePublicKey(Role role, const RawKey& raw) {
  const char prefix = static_cast<char>(role);
  return std::string(internal::EncodeChecked(std::string_view(&prefix, 1), View(raw)).view());
}

Result<DecodedSeed> DecodeSeed(std::string_view text) {
  NATSTACK_ASSIGN_OR_RETURN(auto raw, internal::DecodeChecked(text, kSeedLength, "a seed"));
  const uint8_t b1 = raw.data()[0], b2 = raw.data()[1];
  if ((b1 & 0xF8) != kPrefixSeed) return Fail(Code::kInvalidArgument, "nkeys: not a seed");
  const std::optional<Role> role =
      RoleFromPrefix(static_cast<uint8_t>((b1 & 7) << 5 | (b2 & 0xF8) >> 3));
  if (!role) return Fail(Code::kInvalidArgument, "nkeys: seed has an unknown role");
  return DecodedSeed{*role, crypto::SecureBytes(raw.view().substr(2, kRawKeySize))};
}

Result<crypto::SecureBytes> EncodeSeed(Role role, std::string_view raw) {
  if (raw.size() != kRawKeySize)
    return Fail(Code::kInvalidArgument, "nkeys: a raw seed must be 32 bytes");
  const auto prefix = static_cast<uint8_t>(role);
  const char header[2] = {static_cast<char>(kPrefixSeed | prefix >> 5),
                          static_cast<char>((prefix & 31) << 3)};
  return internal::EncodeChecked(std::string_view(header, 2), raw);
}

bool Verify(std::string_view public_key, std::string_view message, std::string_view signature) {
  const auto parts = DecodePublicKeyParts(public_key);
  if (!parts || parts->role == Role::kCurve) return false;
  return crypto::Ed25519Verify(View(parts->raw), message, signature);
}

// ---- KeyPair ------------------------------------------------------------------------------

KeyPair::KeyPair(Role role, crypto::SecureBytes secret_key, const RawKey& raw_public)
    : role_(role),
      secret_key_(std::move(secret_key)),
      raw_public_(raw_public),
      public_key_(EncodePublicKey(role, raw_public)) {}

Result<KeyPair> KeyPair::FromSeed(std::string_view seed) {
  NATSTACK_ASSIGN_OR_RETURN(auto decoded, DecodeSeed(seed));
  if (decoded.role == Role::kCurve)
    return Fail(Code::kInvalidArgument, "nkeys: an xkey seed cannot sign");
  return FromRawSeed(decoded.role, decoded.raw.view());
}

Result<KeyPair> KeyPair::FromRawSeed(Role role, std::string_view raw_seed) {
  if (role == Role::kCurve) return Fail(Code::kInvalidArgument, "nkeys: an xkey seed cannot sign");
  NATSTACK_ASSIGN_OR_RETURN(auto pair, crypto::Ed25519FromSeed(raw_seed));
  return KeyPair(role, std::move(pair.secret_key), pair.public_key);
}

KeyPair KeyPair::Generate(Role role) {
  if (role == Role::kCurve) Die("nkeys::KeyPair::Generate(kCurve): use XKey::Generate");
  crypto::SecureBytes raw(kRawKeySize);
  crypto::RandomBytes(raw.data(), raw.size());
  auto pair = FromRawSeed(role, raw.view());
  if (!pair) Die("nkeys::KeyPair::Generate: key derivation failed");
  return std::move(*pair);
}

crypto::SecureBytes KeyPair::Seed() const {
  auto seed = EncodeSeed(role_, secret_key_.view().substr(0, kRawKeySize));
  if (!seed) Die("nkeys::KeyPair::Seed: invalid key state");
  return std::move(*seed);
}

crypto::SecureBytes KeyPair::PrivateKey() const {
  const char prefix = static_cast<char>(kPrefixPrivate);
  return internal::EncodeChecked(std::string_view(&prefix, 1), secret_key_.view());
}

std::string KeyPair::Sign(std::string_view message) const {
  return crypto::Ed25519Sign(secret_key_.view(), message);
}

bool KeyPair::Verify(std::string_view message, std::string_view signature) const {
  return crypto::Ed25519Verify(View(raw_public_), message, signature);
}

Result<std::string> PublicKeyOfSeed(std::string_view seed) {
  NATSTACK_ASSIGN_OR_RETURN(DecodedSeed decoded, DecodeSeed(seed));
  if (decoded.role == Role::kCurve) {
    NATSTACK_ASSIGN_OR_RETURN(XKey x, XKey::FromSeed(seed));
    return x.PublicKey();
  }
  NATSTACK_ASSIGN_OR_RETURN(KeyPair kp, KeyPair::FromSeed(seed));
  return kp.PublicKey();
}

}  // namespace natstack::nkeys
