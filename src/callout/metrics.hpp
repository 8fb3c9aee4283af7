#pragma once
/// The callout's own metrics, rendered in the Prometheus text format. Thread-safe.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "callout/handler.hpp"

namespace natstack::callout {

class Metrics {
 public:
  /// Upper bounds (seconds) of the decision-latency histogram: fine below a millisecond, and up
  /// to the server's auth timeout (2 s plain, 3 s with TLS), past which a client has given up.
  static constexpr std::array<double, 13> kLatencyBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0};
  /// Upper bounds (seconds) of the issued user JWTs' lifetimes: minutes to a week.
  static constexpr std::array<double, 9> kTtlBuckets = {60,    300,   900,   3600,  4 * 3600,
                                                        12 * 3600, 86400, 3 * 86400, 7 * 86400};

  /// Counts one decision and how long it took (from the message's arrival to the reply);
  /// `now_unix` dates an admission's user JWT lifetime.
  void Record(const Outcome& outcome, std::chrono::nanoseconds latency, int64_t now_unix);
  /// The server's auth timeout, as a request shows it (exp - iat).
  void ObserveAuthTimeout(int64_t seconds);
  /// A deny-list kick round: connections closed, lookups or kicks that failed.
  void RecordKick(size_t closed, size_t failures);

  struct JwksState {
    std::string issuer;                 ///< issuer name
    std::optional<double> age_seconds;  ///< since the last successful fetch; nullopt = never
    uint64_t fetch_failures = 0;
    size_t keys = 0;
    double refresh_interval_seconds = 0;
    uint64_t waits_refused = 0;  ///< unknown-kid tokens refused at once: no place to wait
  };
  /// Gauges read at render time.
  struct State {
    bool ready = false;
    std::vector<JwksState> jwks;
    size_t workers = 0, queue_capacity = 0, queue_depth = 0, running = 0;
    uint64_t overloaded = 0;
    std::optional<size_t> revoked_entries;  ///< nullopt: no deny-list configured
    uint64_t revocation_reloads = 0, revocation_failures = 0;
    uint64_t in_flight_delayed = 0;  ///< refusals waiting for refusal_delay_ms
  };

  /// Prometheus text exposition (version 0.0.4).
  std::string Render(const State& state) const;

 private:
  mutable std::mutex mu_;
  // (outcome, reason, source) -> count. Reasons and sources are fixed labels from the code and
  // the config, never client input.
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> decisions_;
  std::array<uint64_t, kLatencyBuckets.size()> buckets_{};
  uint64_t latency_count_ = 0;
  double latency_sum_ = 0;
  std::array<uint64_t, kTtlBuckets.size()> ttl_buckets_{};
  uint64_t ttl_count_ = 0;
  double ttl_sum_ = 0;
  int64_t auth_timeout_s_ = 0;
  uint64_t kicked_ = 0, kick_failures_ = 0;
};

}  // namespace natstack::callout
