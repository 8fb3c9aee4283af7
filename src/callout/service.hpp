#pragma once
/// `natstack callout serve`: the auth callout as a long-running service.
///
/// Start() loads the keys, fetches the issuer's JWKS (the service is not ready before it has
/// keys: a token whose keys are missing would only be refused), validates the permission
/// template, connects to the cluster as an auth_users member and subscribes to the auth subject
/// in a queue group, so replicas share the load.

#include <memory>

#include "callout/config.hpp"
#include "callout/handler.hpp"
#include "callout/metrics.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/logger.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "jwt/remote_jwks.hpp"
#include "jwt/verifier.hpp"
#include "nats_client/connection.hpp"

namespace natstack::callout {

/// The token verifier's settings for `oidc`.
jwt::VerifierConfig VerifierConfigOf(const OidcSettings& oidc);

class CalloutService {
 public:
  /// Everything the service needs, or one error naming the cause (a missing or too-open key
  /// file, an unreachable JWKS, a refused connection). Nothing is left running on error.
  static Result<std::unique_ptr<CalloutService>> Start(CalloutConfig config, http::Client& http,
                                                       const Clock& clock, Logger& log);
  ~CalloutService();

  /// Unsubscribes (draining requests in flight) and closes the connection.
  void Stop();
  /// Ready: keys loaded (Start succeeded), connected and subscribed.
  bool IsReady() const;
  /// The /metrics text.
  std::string MetricsText() const;
  /// The bound port of the HTTP endpoint (0 when off).
  uint16_t HttpPort() const { return http_ ? http_->BoundPort() : 0; }

 private:
  CalloutService(CalloutConfig config, const Clock& clock, Logger& log)
      : config_(std::move(config)), clock_(clock), log_(log) {}
  void OnRequest(nats_client::Message&& msg);

  CalloutConfig config_;
  const Clock& clock_;
  Logger& log_;
  Metrics metrics_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<jwt::RemoteJwks> jwks_;
  std::unique_ptr<jwt::OidcVerifier> verifier_;
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<nats_client::Connection> conn_;
  std::unique_ptr<nats_client::Subscription> sub_;
};

}  // namespace natstack::callout
