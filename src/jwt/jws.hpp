#pragma once
/// JWS compact serialization (RFC 7515 §7.1): parsing, the asymmetric algorithm table
/// (RFC 7518 §3.3-3.5, RFC 8037), and signing.
///
/// Signing helpers exist for the development issuer and for tests that must forge tokens:
/// SignJwsAs signs with an algorithm other than the header's, UnsignedJws builds an "alg":"none"
/// token and HmacJws an HS256/384/512 one. Verifiers in natstack never accept the last two.

#include <openssl/evp.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/json_depth.hpp"
#include "crypto/evp.hpp"

namespace natstack::jwt {

/// Default cap on a compact JWS / JWT: real IdP tokens are 1-8 KiB.
/// As large as a CONNECT line the nodes accept (max_control_line 32768 in the rendered configs),
/// so every token a server passes on gets a real verdict.
inline constexpr size_t kDefaultMaxTokenBytes = 32 * 1024;

/// Header and payload objects nested deeper than this are refused: nlohmann's copy and dump
/// recurse, so deep nesting from a hostile token could exhaust the stack later.
inline constexpr size_t kMaxJsonDepth = 64;

/// The deepest nesting of arrays/objects in JSON text (strings and escapes are skipped; the
/// text need not be valid JSON).


/// An asymmetric JWS algorithm natstack can verify.
struct JwsAlgorithm {
  std::string_view name;     ///< "RS256", "PS384", "ES256", "EdDSA", ...
  crypto::KeyType key_type;  ///< the only key type it may be used with
  crypto::Digest digest;
  crypto::Padding padding;  ///< RSA only
};

/// The entry for `name`, or nullptr for "none", HS256/384/512 and anything unknown.
const JwsAlgorithm* FindJwsAlgorithm(std::string_view name);

/// RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA.
const std::vector<std::string_view>& SupportedJwsAlgorithms();

/// A parsed, unverified compact JWS.
struct CompactJws {
  nlohmann::json header;      ///< a JSON object
  nlohmann::json payload;     ///< a JSON object (JWT claims)
  std::string signing_input;  ///< the first two segments joined by '.', exactly as received
  std::string signature;      ///< raw bytes (JOSE form: r||s for ECDSA)
};

/// Splits and decodes a compact JWS whose payload is a JSON object. kInvalidArgument (message
/// says which part; never contains the token) for: more than `max_bytes`, not three segments,
/// bad base64url, header or payload not a JSON object or nested deeper than kMaxJsonDepth. An empty
/// signature (an unsecured JWS) parses: refusing it is the verifier's job, by its alg.
Result<CompactJws> ParseCompactJws(std::string_view token,
                                   size_t max_bytes = kDefaultMaxTokenBytes);

/// base64url(JSON) segments of a token.
std::string EncodeSegment(const nlohmann::json& value);

/// Signs with the algorithm named by header["alg"] (which must fit `key`, a private key).
/// ECDSA signatures are emitted in JOSE r||s form.
Result<std::string> SignJws(const nlohmann::json& header, const nlohmann::json& payload,
                            const EVP_PKEY* key);

/// Signs with `alg` whatever the header says (for forging mismatched tokens in tests).
Result<std::string> SignJwsAs(std::string_view alg, const nlohmann::json& header,
                              const nlohmann::json& payload, const EVP_PKEY* key);

/// "base64url(header).base64url(payload)." — an unsecured JWS (RFC 7515 §A.5). The header is
/// used as given (set "alg":"none" yourself, or anything else to forge).
std::string UnsignedJws(const nlohmann::json& header, const nlohmann::json& payload);

/// An HMAC-signed JWS using header["alg"] (HS256, HS384 or HS512) and `secret`: the classic
/// algorithm-confusion forgery when `secret` is a public key's bytes. kInvalidArgument for other
/// algs.
Result<std::string> HmacJws(const nlohmann::json& header, const nlohmann::json& payload,
                            std::string_view secret);

}  // namespace natstack::jwt
