#pragma once
/// Keys fetched from an issuer's JWKS URL, kept fresh in the background; and OIDC discovery.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/logger.hpp"
#include "http/client.hpp"
#include "jwt/jwk.hpp"
#include "jwt/verifier.hpp"

namespace natstack::jwt {

/// Reads `<issuer>/.well-known/openid-configuration` (OIDC Discovery §4: a trailing '/' of the
/// issuer is removed before appending), checks that its "issuer" equals `issuer` exactly
/// (§4.3) and returns its "jwks_uri" (which must be an http(s) URL).
/// Errors: the client's (kUnavailable, kDeadlineExceeded...) wrapped with the URL; kUnavailable
/// for an HTTP status other than 200; kInvalidArgument for a document that is not JSON or lacks
/// jwks_uri; kFailedPrecondition when the document names another issuer.
Result<std::string> DiscoverJwksUri(http::Client& client, const std::string& issuer,
                                    const http::RequestOptions& options = {});

/// How long a response stays fresh by its cache headers (RFC 9111 §4.2.1): Cache-Control
/// s-maxage or max-age, else Expires minus Date (or minus `now` without Date), less the Age
/// header; zero for no-store / no-cache; nullopt when the response says nothing (or something
/// unparsable). Header names are lower-case (http::Response).
std::optional<std::chrono::seconds> FreshnessLifetime(const http::Response& response,
                                                      std::chrono::system_clock::time_point now);

/// An IMF-fixdate (RFC 9110 §5.6.7, "Sun, 06 Nov 1994 08:49:37 GMT"); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

/// Places for threads waiting on an unknown-kid refresh, shared by every issuer of a service.
/// A token with a made-up kid cannot be checked before the refresh it asks for; without a
/// shared bound, a flood of them holds every decision thread for the whole wait and clients
/// with good tokens time out (a worker waits up to unknown_kid_wait_ms). Thread-safe.
class WaitSlots {
 public:
  explicit WaitSlots(size_t max) : max_(max == 0 ? 1 : max) {}
  bool TryAcquire();
  void Release();
  size_t max() const { return max_; }
  size_t in_use() const { return used_.load(); }

 private:
  const size_t max_;
  std::atomic<size_t> used_{0};
};

struct RemoteJwksOptions {
  std::string url;  ///< the JWKS URL; empty: discovered from `discovery_issuer`
  /// When `url` is empty: the issuer whose discovery document names the JWKS URL. Discovery is
  /// part of each fetch until it succeeds (so an IdP down at start is found later).
  std::string discovery_issuer;
  http::RequestOptions request;                ///< timeout, ca_file, headers
  /// Background refresh period when the response has no cache headers.
  std::chrono::seconds refresh_interval{300};
  /// At most one fetch per this for unknown-kid refreshes (also the first retry after a
  /// failure).
  std::chrono::seconds min_refresh_interval{10};
  /// The floor for cache headers: `no-cache` or `max-age=0` from an IdP must not turn into a
  /// fetch every min_refresh_interval by every replica.
  std::chrono::seconds min_cache_lifetime{30};
  /// The longest a key set is kept without a refresh, whatever its cache headers say.
  std::chrono::seconds max_refresh_interval{3600};
  /// At most this many threads wait in AwaitRefresh at once; more return false at once (a flood
  /// of made-up kids must not tie up every worker).
  size_t max_waiters = 4;
  /// When set, waiters take a place here instead (max_waiters is then ignored): one bound for
  /// all issuers of a service.
  std::shared_ptr<WaitSlots> wait_slots;
};

/// Counters and state, for metrics ("JWKS freshness") and tests.
struct RemoteJwksStats {
  uint64_t fetches = 0;         ///< fetch attempts (Load and background)
  uint64_t failures = 0;        ///< attempts that failed (the last good keys stayed in use)
  uint64_t hints_accepted = 0;  ///< unknown-kid hints that scheduled a refresh
  uint64_t hints_dropped = 0;   ///< hints that added nothing: a fetch was already coming
  uint64_t hints_deferred = 0;  ///< hints inside the rate limit: a fetch at the window's end
  uint64_t waits_refused = 0;   ///< AwaitRefresh calls that found no place to wait
  std::optional<std::chrono::system_clock::time_point> last_success;  ///< Clock::Now() of it
  std::string last_error;                                             ///< empty after a success
  size_t key_count = 0;
  /// The refresh interval chosen after the last success (cache headers, clamped).
  std::chrono::seconds refresh_interval{0};
};

/// A KeySource backed by a JWKS URL.
///
/// - Load() fetches synchronously (call it before reporting ready: the first token must not wait
///   on the network). Its error names the URL and the cause.
/// - Start() runs a background thread that refreshes when the key set goes stale — after the
///   response's freshness lifetime (FreshnessLifetime) clamped to [min_refresh_interval,
///   max_refresh_interval], or `refresh_interval` without cache headers — sooner after an
///   unknown-kid hint (at most once per `min_refresh_interval`, measured from the last fetch
///   attempt), and retries failures with backoff (min_refresh_interval doubling up to
///   refresh_interval). A failed fetch (or one whose document has no usable key) keeps the last
///   good keys and logs a warning.
/// - AwaitRefresh() is the hint plus a bounded wait for the fetch it caused (or the one under
///   way); inside the rate limit's window it waits for the fetch at the window's end when that
///   fits the budget, else returns false at once, so unknown kids cost one fetch per window.
/// - Timing uses clock.Monotonic() (a FakeClock drives it in tests; the thread re-reads the clock
///   at least every 250 ms). Stop()/the destructor wake and join the thread at once, but wait for
///   a fetch in flight (bounded by the request timeout).
/// Keys(), OnUnknownKid(), Stats() are thread-safe and never block on the network.
class RemoteJwks final : public KeySource {
 public:
  RemoteJwks(RemoteJwksOptions options, http::Client& client, const Clock& clock, Logger& logger);
  ~RemoteJwks() override;
  RemoteJwks(const RemoteJwks&) = delete;
  RemoteJwks& operator=(const RemoteJwks&) = delete;

  Status Load();
  void Start();
  void Stop();

  std::shared_ptr<const Jwks> Keys() const override;
  void OnUnknownKid(std::string_view kid) const override;
  bool AwaitRefresh(std::string_view kid, std::chrono::milliseconds budget) const override;

  std::optional<std::chrono::system_clock::time_point> LastSuccess() const;
  RemoteJwksStats Stats() const;
  /// The JWKS URL ("" while discovery has not succeeded).
  std::string url() const;

 private:
  Status Fetch();
  void Run();
  /// Under mu_: asks for a refresh unless one is pending or the rate limit holds.
  /// Asks the background thread for a fetch: at once, or — inside the rate limit's window —
  /// at the window's end (never dropped: a key rotated in just after a fetch must not be
  /// refused for the whole window). Returns when the fetch will start.
  std::chrono::steady_clock::time_point RequestRefreshLocked() const;

  const RemoteJwksOptions options_;
  http::Client& client_;
  const Clock& clock_;
  Logger& logger_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string url_;  // options_.url or the discovered one
  std::shared_ptr<const Jwks> keys_;
  mutable RemoteJwksStats stats_;
  std::optional<std::chrono::steady_clock::time_point> last_attempt_;
  mutable bool refresh_requested_ = false;
  mutable bool refresh_deferred_ = false;  // fetch at last_attempt_ + min_refresh_interval
  bool fetching_ = false;
  uint64_t completed_fetches_ = 0;  // fetches finished (AwaitRefresh waits for the next one)
  mutable size_t waiters_ = 0;
  std::chrono::seconds fresh_for_{0};  // interval after the last success
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace natstack::jwt
