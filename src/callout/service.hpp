#pragma once
/// `natstack callout serve`: the auth callout as a long-running service.
///
/// Start() reads the keys, loads every issuer's JWKS (in parallel; the service is not ready
/// before it has them: a token whose keys are missing would only be refused), connects to the
/// cluster as an auth_users member and subscribes to the auth subject in a queue group, so
/// replicas share the load and take over from each other.
///
/// Threads: nats.c delivers requests on its subscription thread, which only opens and checks
/// them (cheap) and hands them to a bounded worker pool for the token work; when the pool's
/// queue is full the request is refused at once ("overloaded") instead of timing out.

#include <atomic>
#include <memory>
#include <vector>

#include "callout/authorizer.hpp"
#include "callout/config.hpp"
#include "callout/handler.hpp"
#include "callout/identity.hpp"
#include "callout/kicker.hpp"
#include "callout/metrics.hpp"
#include "callout/policy.hpp"
#include "callout/rate_limiter.hpp"
#include "callout/revocation.hpp"
#include "core/clock.hpp"
#include "core/delay_queue.hpp"
#include "core/error.hpp"
#include "core/logger.hpp"
#include "core/worker_pool.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "jwt/remote_jwks.hpp"
#include "nats_client/connection.hpp"

namespace natstack::callout {

class CalloutService {
 public:
  /// Everything the service needs, or one error naming the cause: kInvalidArgument for a
  /// configuration problem (a missing or too-open key file, a bad seed, no password), else the
  /// cause (an unreachable JWKS, a refused connection). Nothing is left running on error.
  /// `secrets` holds values that came from the environment (they win over files).
  static Result<std::unique_ptr<CalloutService>> Start(CalloutConfig config,
                                                       EnvironmentSecrets secrets,
                                                       http::Client& http, const Clock& clock,
                                                       Logger& log);
  ~CalloutService();

  /// Unsubscribes (requests in flight finish and are answered) and closes the connections.
  void Stop();
  /// Ready: keys loaded, connected and subscribed.
  bool IsReady() const;
  /// The /metrics text.
  std::string MetricsText() const;
  /// The bound port of the HTTP endpoint (0 when off).
  uint16_t HttpPort() const { return http_ ? http_->BoundPort() : 0; }
  const CalloutConfig& config() const { return config_; }

 private:
  CalloutService(CalloutConfig config, const Clock& clock, Logger& log)
      : config_(std::move(config)), clock_(clock), log_(log) {}
  Status StartHttp();
  Status LoadKeys(http::Client& http);
  /// The system-account connection and the deny-list watcher (when configured).
  Status StartRevocation(const std::string& system_password);
  void OnRevoked(const DenyList& added);
  void OnRequest(nats_client::Message&& msg);
  /// Sends the reply (now, or after refusal_delay_ms for refusals) and records the outcome.
  void Finish(const Outcome& outcome, const std::string& reply,
              std::chrono::steady_clock::time_point received);

  CalloutConfig config_;
  const Clock& clock_;
  Logger& log_;
  Metrics metrics_;
  std::unique_ptr<http::Server> http_;
  std::vector<std::unique_ptr<jwt::RemoteJwks>> jwks_;  // parallel to config_.issuers
  std::shared_ptr<jwt::WaitSlots> wait_slots_;          // shared by jwks_
  std::unique_ptr<IdentityVerifier> identities_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<KeyedRateLimiter> per_host_, per_user_;
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<DelayQueue> delayed_;
  std::atomic<uint64_t> overloaded_{0};
  AdmissionLog admissions_;
  std::unique_ptr<nats_client::Connection> sys_conn_;
  std::unique_ptr<Kicker> kicker_;
  std::unique_ptr<RevocationWatcher> revocation_;
  std::unique_ptr<nats_client::Connection> conn_;
  std::unique_ptr<nats_client::Subscription> sub_;
  std::atomic<bool> stopped_{false};
};

}  // namespace natstack::callout
