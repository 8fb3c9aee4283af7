#include "jwt/jws.hpp"

#include <openssl/err.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>

#include "core/base64.hpp"
#include "core/json_strict.hpp"

namespace natstack::jwt {
namespace {

using crypto::Digest;
using crypto::KeyType;
using crypto::Padding;
using nlohmann::json;

constexpr std::array<JwsAlgorithm, 10> kAlgorithms = {{
    {"RS256", KeyType::kRsa, Digest::kSha256, Padding::kPkcs1},
    {"RS384", KeyType::kRsa, Digest::kSha384, Padding::kPkcs1},
    {"RS512", KeyType::kRsa, Digest::kSha512, Padding::kPkcs1},
    {"PS256", KeyType::kRsa, Digest::kSha256, Padding::kPss},
    {"PS384", KeyType::kRsa, Digest::kSha384, Padding::kPss},
    {"PS512", KeyType::kRsa, Digest::kSha512, Padding::kPss},
    {"ES256", KeyType::kEcP256, Digest::kSha256, Padding::kPkcs1},
    {"ES384", KeyType::kEcP384, Digest::kSha384, Padding::kPkcs1},
    {"ES512", KeyType::kEcP521, Digest::kSha512, Padding::kPkcs1},
    {"EdDSA", KeyType::kEd25519, Digest::kNone, Padding::kPkcs1},
}};

std::string Dump(const json& value) {
  // Replace invalid UTF-8 instead of throwing: this must never throw.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> DecodeObject(std::string_view segment, const char* what) {
  auto bytes = Base64UrlDecode(segment);
  if (!bytes) return Fail(Code::kInvalidArgument, std::string(what) + " is not base64url");
  StrictJsonResult parsed = ParseStrictJson(*bytes, kMaxJsonDepth);
  if (!parsed.ok())
    return Fail(Code::kInvalidArgument, std::string(what) + " " + parsed.Describe(kMaxJsonDepth));
  if (!parsed.value.is_object())
    return Fail(Code::kInvalidArgument, std::string(what) + " is not a JSON object");
  return std::move(parsed.value);
}

}  // namespace

const JwsAlgorithm* FindJwsAlgorithm(std::string_view name) {
  for (const JwsAlgorithm& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const std::vector<std::string_view>& SupportedJwsAlgorithms() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const JwsAlgorithm& a : kAlgorithms) out.push_back(a.name);
    return out;
  }();
  return names;
}

Result<CompactJws> ParseCompactJws(std::string_view token, size_t max_bytes) {
  if (token.empty()) return Fail(Code::kInvalidArgument, "empty token");
  if (token.size() > max_bytes) {
    return Fail(Code::kInvalidArgument, "token is " + std::to_string(token.size()) +
                                            " bytes, more than " + std::to_string(max_bytes));
  }
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return Fail(Code::kInvalidArgument, "token does not have three segments");
  const std::string_view h = token.substr(0, first);
  const std::string_view p = token.substr(first + 1, second - first - 1);
  const std::string_view s = token.substr(second + 1);
  if (h.empty() || p.empty()) return Fail(Code::kInvalidArgument, "empty header or payload");
  // Compact JWS is base64url without padding (RFC 7515 section 2): a padded segment is not
  // a JWS, whatever a lenient decoder would make of it.
  if (token.find('=') != std::string_view::npos)
    return Fail(Code::kInvalidArgument, "a segment has base64 padding ('='), which JWS does not use");

  CompactJws out;
  NATSTACK_ASSIGN_OR_RETURN(out.header, DecodeObject(h, "header"));
  NATSTACK_ASSIGN_OR_RETURN(out.payload, DecodeObject(p, "payload"));
  auto sig = Base64UrlDecode(s);
  if (!sig) return Fail(Code::kInvalidArgument, "signature is not base64url");
  out.signature = std::move(*sig);
  out.signing_input = std::string(token.substr(0, second));
  return out;
}

std::string EncodeSegment(const json& value) { return Base64UrlEncode(Dump(value)); }

Result<std::string> SignJwsAs(std::string_view alg, const json& header, const json& payload,
                              const EVP_PKEY* key) {
  const JwsAlgorithm* a = FindJwsAlgorithm(alg);
  if (a == nullptr) return Fail(Code::kInvalidArgument, "cannot sign with alg " + std::string(alg));
  const crypto::KeyType type = crypto::KeyTypeOf(key);
  if (type != a->key_type) {
    return Fail(Code::kInvalidArgument, std::string(alg) + " needs an " +
                                            std::string(crypto::KeyTypeName(a->key_type)) +
                                            " key, not " + std::string(crypto::KeyTypeName(type)));
  }
  const std::string input = EncodeSegment(header) + "." + EncodeSegment(payload);
  NATSTACK_ASSIGN_OR_RETURN(std::string sig,
                            crypto::SignMessage(key, a->digest, input, a->padding));
  if (const size_t coord = crypto::EcCoordinateSize(type); coord > 0) {
    NATSTACK_ASSIGN_OR_RETURN(sig, crypto::EcdsaDerToRaw(sig, coord));
  }
  return input + "." + Base64UrlEncode(sig);
}

Result<std::string> SignJws(const json& header, const json& payload, const EVP_PKEY* key) {
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string())
    return Fail(Code::kInvalidArgument, "header has no alg");
  return SignJwsAs(alg->get_ref<const std::string&>(), header, payload, key);
}

std::string UnsignedJws(const json& header, const json& payload) {
  return EncodeSegment(header) + "." + EncodeSegment(payload) + ".";
}

Result<std::string> HmacJws(const json& header, const json& payload, std::string_view secret) {
  auto alg = header.find("alg");
  const EVP_MD* md = nullptr;
  if (alg != header.end() && alg->is_string()) {
    const std::string& name = alg->get_ref<const std::string&>();
    if (name == "HS256") md = EVP_sha256();
    if (name == "HS384") md = EVP_sha384();
    if (name == "HS512") md = EVP_sha512();
  }
  if (md == nullptr) return Fail(Code::kInvalidArgument, "header alg is not HS256/384/512");
  const std::string input = EncodeSegment(header) + "." + EncodeSegment(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &len) == nullptr) {
    ERR_clear_error();
    return Fail(Code::kInternal, "HMAC failed");
  }
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

}  // namespace natstack::jwt
