#pragma once
/// Token buckets by key (a client address, a user id): `per_s` tokens a second up to `burst`.
/// Bounded memory: past `max_keys` the buckets that have refilled (idle keys) are forgotten,
/// then the oldest. Thread-safe; sharded so that concurrent callers rarely share a lock.

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "callout/config.hpp"
#include "core/clock.hpp"

namespace natstack::callout {

class KeyedRateLimiter {
 public:
  /// A disabled limit (per_s 0) allows everything. At most `max_keys` (>= 1) keys are tracked.
  KeyedRateLimiter(RateLimit limit, const Clock& clock, size_t max_keys = 100000);

  /// Takes one token from `key`'s bucket; false when it is empty.
  bool Allow(std::string_view key);
  /// Keys currently tracked (tests, metrics).
  size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
    uint64_t touched = 0;  // order of last use, for eviction
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    uint64_t clock = 0;
  };
  static constexpr size_t kShards = 16;
  void EvictLocked(Shard& shard, std::chrono::steady_clock::time_point now);

  RateLimit limit_;
  const Clock& clock_;
  // Fewer shards than kShards when max_keys is small: every shard holds at least one key, so
  // shards_used_ * max_per_shard_ <= max_keys only holds with shards_used_ <= max_keys.
  size_t shards_used_;
  size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace natstack::callout
