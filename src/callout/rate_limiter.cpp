#include "callout/rate_limiter.hpp"

#include <algorithm>
#include <functional>

namespace natstack::callout {

KeyedRateLimiter::KeyedRateLimiter(RateLimit limit, const Clock& clock, size_t max_keys)
    : limit_(limit),
      clock_(clock),
      shards_used_(std::clamp<size_t>(max_keys, 1, kShards)),
      max_per_shard_(std::max<size_t>(1, max_keys / shards_used_)) {}

bool KeyedRateLimiter::Allow(std::string_view key) {
  if (!limit_.enabled()) return true;
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % shards_used_];
  const auto now = clock_.Monotonic();
  const double burst = static_cast<double>(std::max<int64_t>(1, limit_.burst));
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) EvictLocked(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{burst, now, 0}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) b.tokens = std::min(burst, b.tokens + elapsed * limit_.per_s);
  b.last = now;
  b.touched = ++shard.clock;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void KeyedRateLimiter::EvictLocked(Shard& shard, std::chrono::steady_clock::time_point now) {
  const double burst = static_cast<double>(std::max<int64_t>(1, limit_.burst));
  // A bucket that would be full again is indistinguishable from a new one: forget it.
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + elapsed * limit_.per_s >= burst) {
      it = shard.buckets.erase(it);
    } else {
      ++it;
    }
  }
  if (shard.buckets.size() < max_per_shard_) return;
  // Still full of busy keys: drop the least recently used.
  auto oldest = std::min_element(shard.buckets.begin(), shard.buckets.end(),
                                 [](const auto& a, const auto& b) {
                                   return a.second.touched < b.second.touched;
                                 });
  shard.buckets.erase(oldest);
}

size_t KeyedRateLimiter::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace natstack::callout
