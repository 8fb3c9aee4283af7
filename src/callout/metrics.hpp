#pragma once
/// The callout's own metrics, rendered in the Prometheus text format. Thread-safe.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "callout/handler.hpp"

namespace natstack::callout {

class Metrics {
 public:
  /// Upper bounds (seconds) of the decision-latency histogram: fine below a millisecond, and up
  /// to the server's auth timeout (2 s plain, 3 s with TLS), past which a client has given up.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0};

  /// Counts one decision and how long it took.
  void Record(const Outcome& outcome, std::chrono::nanoseconds latency);

  struct JwksState {
    std::optional<double> age_seconds;  ///< since the last successful fetch; nullopt = never
    uint64_t fetch_failures = 0;
    size_t keys = 0;
  };

  /// Prometheus text exposition (version 0.0.4).
  std::string Render(const JwksState& jwks) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> decisions_;  // (outcome, reason)
  std::array<uint64_t, kLatencyBuckets.size()> buckets_{};
  uint64_t latency_count_ = 0;
  double latency_sum_ = 0;
};

}  // namespace natstack::callout
