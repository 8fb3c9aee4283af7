#pragma once
/// The development identity provider: an RS256 OpenID issuer that stands in for Auth0 on one
/// machine. It mints tokens for a user name and publishes its discovery document and JWKS.
/// Not for production: anyone who can run `Mint` (or read the key file) can be anyone.

#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "crypto/evp.hpp"
#include "http/server.hpp"

namespace natstack::idp {

/// An RS256 issuer with one RSA-2048 key. Immutable after construction; copies share the key;
/// thread-safe.
class DevIssuer {
 public:
  /// Loads the PEM private key in `key_file`, or creates it (RSA-2048, mode 0600, parent
  /// directories 0700) when absent; later calls reuse it, so the kid stays the same across
  /// restarts. Two processes creating it at once end up with the same key (the loser reads the
  /// winner's file). Errors: kPermissionDenied when the file is readable by group/others,
  /// kInvalidArgument when it holds no PEM private key, kFailedPrecondition when the key is not
  /// RSA >= 2048 bits, kInvalidArgument for an issuer_url that is not http(s) or an empty
  /// audience; file errors as ReadSecretFile / WriteFileAtomic return them.
  static Result<DevIssuer> LoadOrCreate(const std::string& key_file, std::string issuer_url,
                                        std::string audience);

  /// An issuer over an in-memory RSA private key (tests).
  static Result<DevIssuer> FromKey(crypto::EvpPkeyPtr key, std::string issuer_url,
                                   std::string audience);

  const std::string& issuer() const { return issuer_; }
  const std::string& audience() const { return audience_; }
  /// RFC 7638 JWK thumbprint of the public key.
  const std::string& kid() const { return kid_; }
  /// issuer + "jwks.json" (with exactly one '/' between).
  std::string JwksUri() const;

  /// An RS256 JWT (header alg, typ "JWT", kid) with claims iss, sub = `user`, aud, iat = nbf =
  /// now, exp = now + ttl, a random jti, plus `extra` (an object; anything else is ignored).
  /// `extra` cannot override iss, sub, aud, iat, nbf or exp; it may set jti. A ttl <= 0 mints an
  /// already expired token (useful in tests).
  std::string Mint(std::string_view user, std::chrono::seconds ttl, const Clock& clock,
                   const nlohmann::json& extra = nlohmann::json::object()) const;

  /// {"keys":[{"kty":"RSA","kid":...,"use":"sig","alg":"RS256","n":...,"e":...}]}
  std::string JwksJson() const { return jwks_json_; }

  /// The OpenID Provider metadata: issuer, jwks_uri, id_token_signing_alg_values_supported
  /// ["RS256"], response_types_supported, subject_types_supported, claims_supported.
  std::string DiscoveryJson() const;

 private:
  DevIssuer() = default;

  std::shared_ptr<const EVP_PKEY> key_;
  std::string issuer_;
  std::string audience_;
  std::string kid_;
  std::string jwks_json_;
};

struct DevIssuerServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;     ///< 0 = ephemeral
  std::string key_file;  ///< see DevIssuer::LoadOrCreate
  std::string audience;
  /// Empty = "http://<host>:<bound port>/" (known only after binding, so port 0 works).
  std::string issuer_url;
};

/// Serves an issuer over http::Server:
///   GET <issuer path>/.well-known/openid-configuration   (Cache-Control: max-age=300)
///   GET <issuer path>/jwks.json                           (Cache-Control: max-age=300)
///   GET /healthz → "ok"
/// where <issuer path> is the path of the issuer URL without its trailing '/'.
class DevIssuerServer {
 public:
  /// Binds, loads or creates the key, and serves. Errors: the server's (kAlreadyExists when the
  /// port is in use...) and LoadOrCreate's.
  static Result<std::unique_ptr<DevIssuerServer>> Start(const DevIssuerServerOptions& options);
  /// Serves an existing issuer on host:port (its issuer URL should point there).
  static Result<std::unique_ptr<DevIssuerServer>> Start(DevIssuer issuer, std::string host,
                                                        uint16_t port);
  ~DevIssuerServer();

  const DevIssuer& issuer() const { return *issuer_; }
  uint16_t BoundPort() const { return server_->BoundPort(); }
  std::string BaseUrl() const { return server_->BaseUrl(); }
  /// Stops serving (idempotent; also done by the destructor).
  void Stop();

 private:
  DevIssuerServer() = default;
  void RegisterRoutes();

  std::unique_ptr<http::Server> server_;
  std::unique_ptr<const DevIssuer> issuer_;
};

}  // namespace natstack::idp
