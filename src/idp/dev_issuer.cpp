#include "idp/dev_issuer.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/base64.hpp"
#include "core/file.hpp"
#include "jwt/jwk.hpp"
#include "jwt/jws.hpp"

namespace natstack::idp {
namespace {

using nlohmann::json;

std::shared_ptr<const EVP_PKEY> Share(crypto::EvpPkeyPtr key) {
  return std::shared_ptr<const EVP_PKEY>(
      key.release(), [](const EVP_PKEY* p) { EVP_PKEY_free(const_cast<EVP_PKEY*>(p)); });
}

std::string WithSlash(std::string url) {
  if (url.empty() || url.back() != '/') url.push_back('/');
  return url;
}

/// The path part of an http(s) URL without its trailing '/' ("" for the root).
std::string UrlPathPrefix(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (path == std::string::npos) return "";
  std::string out = url.substr(path);
  const size_t q = out.find_first_of("?#");
  if (q != std::string::npos) out.erase(q);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

/// Reads the key file, or creates it when absent (create-if-absent through link(2), so two
/// processes racing end up sharing one key).
Result<crypto::EvpPkeyPtr> LoadOrCreateKey(const std::string& key_file) {
  if (!FileExists(key_file)) {
    const std::filesystem::path parent = std::filesystem::path(key_file).parent_path();
    if (!parent.empty()) NATSTACK_TRY(MakeDirs(parent.string(), 0700));
    NATSTACK_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, crypto::GenerateRsaPkey(2048));
    NATSTACK_ASSIGN_OR_RETURN(std::string pem, crypto::PrivateKeyPem(key.get()));
    const std::string tmp = key_file + ".new." + std::to_string(::getpid());
    Status written = WriteFileAtomic(tmp, pem, 0600);
    OPENSSL_cleanse(pem.data(), pem.size());
    NATSTACK_TRY(written);
    const int linked = ::link(tmp.c_str(), key_file.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (linked == 0) return key;
    if (err != EEXIST) {
      return Fail(Code::kInternal, "cannot create " + key_file + ": " +
                                       std::error_code(err, std::generic_category()).message());
    }
    // Someone else created it first: use theirs.
  }
  NATSTACK_ASSIGN_OR_RETURN(std::string pem, ReadSecretFile(key_file));
  auto key = crypto::LoadPrivateKeyPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) return Fail(key.error().code, key_file + ": " + key.error().message);
  return std::move(*key);
}

Status CheckIssuerSettings(const std::string& issuer_url, const std::string& audience) {
  if (issuer_url.rfind("http://", 0) != 0 && issuer_url.rfind("https://", 0) != 0)
    return Fail(Code::kInvalidArgument, "issuer URL must be http(s): " + issuer_url);
  if (audience.empty()) return Fail(Code::kInvalidArgument, "audience is empty");
  return Ok();
}

}  // namespace

Result<DevIssuer> DevIssuer::LoadOrCreate(const std::string& key_file, std::string issuer_url,
                                          std::string audience) {
  if (key_file.empty()) return Fail(Code::kInvalidArgument, "no key file given");
  NATSTACK_TRY(CheckIssuerSettings(issuer_url, audience));  // before creating any file
  NATSTACK_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, LoadOrCreateKey(key_file));
  auto issuer = FromKey(std::move(key), std::move(issuer_url), std::move(audience));
  if (!issuer) return Fail(issuer.error().Wrap(key_file));
  return issuer;
}

Result<DevIssuer> DevIssuer::FromKey(crypto::EvpPkeyPtr key, std::string issuer_url,
                                     std::string audience) {
  NATSTACK_TRY(CheckIssuerSettings(issuer_url, audience));
  if (crypto::KeyTypeOf(key.get()) != crypto::KeyType::kRsa || !crypto::HasPrivateKey(key.get()) ||
      EVP_PKEY_get_bits(key.get()) < 2048) {
    return Fail(Code::kFailedPrecondition,
                "the development issuer needs an RSA private key of at least 2048 bits");
  }
  DevIssuer out;
  NATSTACK_ASSIGN_OR_RETURN(out.kid_, jwt::JwkThumbprint(key.get()));
  NATSTACK_ASSIGN_OR_RETURN(json jwk, jwt::PublicJwk(key.get(), out.kid_, "RS256"));
  out.jwks_json_ = json{{"keys", json::array({jwk})}}.dump();
  out.key_ = Share(std::move(key));
  out.issuer_ = std::move(issuer_url);
  out.audience_ = std::move(audience);
  return out;
}

std::string DevIssuer::JwksUri() const { return WithSlash(issuer_) + "jwks.json"; }

std::string DevIssuer::Mint(std::string_view user, std::chrono::seconds ttl, const Clock& clock,
                            const json& extra) const {
  json claims = extra.is_object() ? extra : json::object();
  if (!claims.contains("jti")) {
    unsigned char id[16];
    if (RAND_bytes(id, sizeof id) != 1) {
      std::fprintf(stderr, "natstack: RAND_bytes failed while minting a token\n");
      std::abort();
    }
    claims["jti"] = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
  }
  const int64_t now = clock.UnixSeconds();
  claims["iss"] = issuer_;
  claims["sub"] = std::string(user);
  claims["aud"] = audience_;
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + ttl.count();
  const json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid_}};
  auto token = jwt::SignJws(header, claims, key_.get());
  if (!token) {
    // Signing with a key validated at construction cannot fail short of memory exhaustion.
    std::fprintf(stderr, "natstack: minting a token failed: %s\n", token.error().message.c_str());
    std::abort();
  }
  return std::move(*token);
}

std::string DevIssuer::DiscoveryJson() const {
  const json doc = {
      {"issuer", issuer_},
      {"jwks_uri", JwksUri()},
      {"id_token_signing_alg_values_supported", json::array({"RS256"})},
      {"response_types_supported", json::array({"id_token"})},
      {"subject_types_supported", json::array({"public"})},
      {"claims_supported", json::array({"iss", "sub", "aud", "iat", "nbf", "exp", "jti"})},
  };
  return doc.dump();
}

Result<std::unique_ptr<DevIssuerServer>> DevIssuerServer::Start(
    const DevIssuerServerOptions& options) {
  std::unique_ptr<DevIssuerServer> out(new DevIssuerServer());
  http::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  out->server_ = std::make_unique<http::Server>(server_options);
  // Bind first: with port 0 the issuer URL depends on the port we get.
  NATSTACK_TRY(out->server_->Bind());
  const std::string issuer_url =
      options.issuer_url.empty() ? out->server_->BaseUrl() + "/" : options.issuer_url;
  NATSTACK_ASSIGN_OR_RETURN(
      DevIssuer issuer, DevIssuer::LoadOrCreate(options.key_file, issuer_url, options.audience));
  out->issuer_ = std::make_unique<const DevIssuer>(std::move(issuer));
  out->RegisterRoutes();
  NATSTACK_TRY(out->server_->Start());
  return out;
}

Result<std::unique_ptr<DevIssuerServer>> DevIssuerServer::Start(DevIssuer issuer, std::string host,
                                                                uint16_t port) {
  std::unique_ptr<DevIssuerServer> out(new DevIssuerServer());
  http::ServerOptions server_options;
  server_options.host = std::move(host);
  server_options.port = port;
  out->server_ = std::make_unique<http::Server>(server_options);
  out->issuer_ = std::make_unique<const DevIssuer>(std::move(issuer));
  out->RegisterRoutes();
  NATSTACK_TRY(out->server_->Start());
  return out;
}

DevIssuerServer::~DevIssuerServer() { Stop(); }

void DevIssuerServer::Stop() {
  if (server_) server_->Stop();
}

void DevIssuerServer::RegisterRoutes() {
  const std::string prefix = UrlPathPrefix(issuer_->issuer());
  // Both documents are fixed for the life of the issuer: render them once.
  const std::string discovery = issuer_->DiscoveryJson();
  const std::string jwks = issuer_->JwksJson();
  auto cached = [](std::string body) {
    return [body = std::move(body)](const http::Request&) {
      http::Response r = http::Json(200, body);
      r.headers["cache-control"] = "max-age=300";
      return r;
    };
  };
  server_->Get(prefix + "/.well-known/openid-configuration", cached(discovery));
  server_->Get(prefix + "/jwks.json", cached(jwks));
  // Auth0's path too: the original design's callout (AUTH0_DOMAIN) finds the keys there.
  server_->Get(prefix + "/.well-known/jwks.json", cached(jwks));
  server_->Get("/healthz", [](const http::Request&) { return http::Text(200, "ok"); });
}

}  // namespace natstack::idp
