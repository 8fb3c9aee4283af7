#pragma once
/// NATS JWT v2 compact form (github.com/nats-io/jwt/v2 v2.7.3; docs/auth-callout-protocol.md
/// §2): header {"typ":"JWT","alg":"ed25519-nkey"}, base64url segments without padding, and an
/// Ed25519 signature by the `iss` NKey over "<header>.<payload>".

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::natsjwt {

/// Tokens longer than this are refused before any decoding (1 MiB; a real request with a
/// client certificate chain is a few KiB).
inline constexpr size_t kMaxJwtSize = 1 << 20;
/// JSON nesting deeper than this is refused (NATS claims nest 4 levels).
inline constexpr int kMaxJsonDepth = 32;
/// The one header v2 writes, in Go's field order.
inline constexpr std::string_view kHeaderJson = R"({"typ":"JWT","alg":"ed25519-nkey"})";
inline constexpr int kLibVersion = 2;

struct Decoded {
  nlohmann::json header;
  nlohmann::json payload;
  std::string signing_input;  ///< "<header_b64>.<payload_b64>", the signed bytes
  std::string signature;      ///< raw 64 bytes
};

/// Splits a compact JWT, base64url-decodes, parses JSON, checks typ (case-insensitive "JWT")
/// and alg ("ed25519-nkey", compared case-insensitively as Go does; anything else is refused,
/// including v1 "ed25519"), refuses nats.version > 2, and verifies the Ed25519 signature with
/// the payload's "iss" public key (any signing role; callers check the role they expect).
/// Malformed input is kInvalidArgument; a signature that does not verify is kUnauthenticated.
/// Never throws or aborts on hostile input. Thread-safe.
Result<Decoded> DecodeAndVerify(std::string_view jwt);

/// The claims every NATS JWT shares (Go `ClaimsData`), in Go's field order.
struct ClaimsData {
  std::string audience;    ///< aud
  int64_t expires = 0;     ///< exp, Unix seconds; 0 = none
  std::string id;          ///< jti
  int64_t issued_at = 0;   ///< iat, Unix seconds
  std::string issuer;      ///< iss
  std::string name;        ///< name
  int64_t not_before = 0;  ///< nbf, Unix seconds; 0 = none
  std::string subject;     ///< sub
};

/// Reads the ClaimsData fields of a payload. kInvalidArgument when one has the wrong type.
Result<ClaimsData> ParseClaimsData(const nlohmann::json& payload);

/// Go's json.Marshal(ClaimsData): {"aud","exp","jti","iat","iss","name","nbf","sub"}, each
/// left out when empty or 0.
std::string GoClaimsDataJson(const ClaimsData& claims);

/// The `jti` Go computes: base32-no-pad(SHA-512/256(GoClaimsDataJson(claims with id = ""))).
/// 52 characters. The server never checks it; it matters for byte-identical output.
std::string GoJti(const ClaimsData& claims);

/// Go's ClaimsData.doEncode: sets iss = signer's public key and jti = GoJti, writes the payload
/// as the claims followed by "nats": `nats_json` (which must be valid JSON, Go-encoded for
/// byte-identical output), and signs it with the v2 header. `claims.issued_at` is used as
/// given (Go uses the wall clock; we take time from an injected Clock).
std::string EncodeClaims(ClaimsData claims, std::string_view nats_json,
                         const nkeys::KeyPair& signer);

/// base64url(header_json) "." base64url(payload_json) "." base64url(Ed25519 signature).
/// No checks: tests use it to build malformed tokens.
std::string SignCompact(std::string_view header_json, std::string_view payload_json,
                        const nkeys::KeyPair& signer);

}  // namespace natstack::natsjwt
