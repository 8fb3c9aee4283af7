#include "callout/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testing/fake_clock.hpp"

namespace natstack::callout {
namespace {

using namespace std::chrono_literals;

RateLimit Limit(double per_s, int64_t burst) {
  RateLimit l;
  l.per_s = per_s;
  l.burst = burst;
  return l;
}

/// How many of `n` calls for `key` are allowed right now.
int Allowed(KeyedRateLimiter& limiter, const std::string& key, int n) {
  int allowed = 0;
  for (int i = 0; i < n; ++i) allowed += limiter.Allow(key) ? 1 : 0;
  return allowed;
}

TEST(KeyedRateLimiterTest, AllowsABurstThenRefuses) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 5), clock);
  EXPECT_EQ(Allowed(limiter, "10.0.0.1", 5), 5);
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
  EXPECT_FALSE(limiter.Allow("10.0.0.1"));
}

TEST(KeyedRateLimiterTest, RefillsAtTheRate) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(2, 4), clock);  // one token every 500 ms
  EXPECT_EQ(Allowed(limiter, "k", 4), 4);
  EXPECT_FALSE(limiter.Allow("k"));
  clock.Advance(250ms);
  EXPECT_FALSE(limiter.Allow("k")) << "half a token is not a token";
  clock.Advance(250ms);
  EXPECT_TRUE(limiter.Allow("k"));
  EXPECT_FALSE(limiter.Allow("k"));
  clock.Advance(1s);
  EXPECT_EQ(Allowed(limiter, "k", 10), 2);
}

TEST(KeyedRateLimiterTest, RefusedCallsDoNotDelayTheRefill) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 1), clock);
  EXPECT_TRUE(limiter.Allow("k"));
  // Steps of a quarter second: exact in binary, so the sum of the refills is exactly 1.
  for (int i = 0; i < 3; ++i) {
    clock.Advance(250ms);
    EXPECT_FALSE(limiter.Allow("k"));
  }
  clock.Advance(250ms);  // one second since the token was taken
  EXPECT_TRUE(limiter.Allow("k"));
}

TEST(KeyedRateLimiterTest, RefillStopsAtTheBurst) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(10, 3), clock);
  EXPECT_EQ(Allowed(limiter, "k", 3), 3);
  clock.Advance(1h);
  EXPECT_EQ(Allowed(limiter, "k", 100), 3);
}

TEST(KeyedRateLimiterTest, FractionalRates) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(0.5, 1), clock);  // one every two seconds
  EXPECT_TRUE(limiter.Allow("k"));
  clock.Advance(1s);
  EXPECT_FALSE(limiter.Allow("k"));
  clock.Advance(1s);
  EXPECT_TRUE(limiter.Allow("k"));
}

TEST(KeyedRateLimiterTest, BurstBelowOneMeansOne) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 0), clock);
  EXPECT_EQ(Allowed(limiter, "k", 10), 1);
  clock.Advance(1s);
  EXPECT_EQ(Allowed(limiter, "k", 10), 1);
}

TEST(KeyedRateLimiterTest, KeysHaveTheirOwnBuckets) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 2), clock);
  EXPECT_EQ(Allowed(limiter, "alice", 5), 2);
  EXPECT_EQ(Allowed(limiter, "bob", 5), 2);
  EXPECT_EQ(Allowed(limiter, "", 5), 2);  // an empty key is a key like any other
  EXPECT_EQ(limiter.size(), 3u);
}

TEST(KeyedRateLimiterTest, ADisabledLimitAllowsEverythingAndTracksNothing) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(RateLimit{}, clock);
  EXPECT_EQ(Allowed(limiter, "k", 10000), 10000);
  KeyedRateLimiter negative(Limit(-1, 5), clock);
  EXPECT_EQ(Allowed(negative, "k", 100), 100);
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_EQ(negative.size(), 0u);
}

TEST(KeyedRateLimiterTest, AClockThatJumpsBackGivesNoTokens) {
  testing::FakeClock clock;
  clock.Advance(1h);
  KeyedRateLimiter limiter(Limit(1, 1), clock);
  EXPECT_TRUE(limiter.Allow("k"));
  clock.SetUnixSeconds(clock.UnixSeconds());  // monotonic offset back to 0: an hour earlier
  EXPECT_FALSE(limiter.Allow("k"));
  clock.Advance(1s);
  EXPECT_TRUE(limiter.Allow("k"));
}

TEST(KeyedRateLimiterTest, MemoryIsBoundedByMaxKeys) {
  testing::FakeClock clock;
  for (size_t max_keys : {size_t{1}, size_t{4}, size_t{15}, size_t{16}, size_t{100}, size_t{1000}}) {
    KeyedRateLimiter limiter(Limit(1, 1), clock, max_keys);
    for (int i = 0; i < 3000; ++i) {
      // Every key is drained and the clock never moves: none is idle, so eviction must drop
      // busy keys (least recently used first).
      EXPECT_TRUE(limiter.Allow("host-" + std::to_string(i)));
      ASSERT_LE(limiter.size(), max_keys) << "max_keys " << max_keys << " after " << i + 1;
    }
    EXPECT_GE(limiter.size(), 1u);
  }
}

// Regression: with max_keys below the shard count (16) each shard still kept one key, so a
// limiter built for 1 key remembered 16.
TEST(KeyedRateLimiterTest, SmallMaxKeysIsHonoured) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 1), clock, 1);
  for (int i = 0; i < 200; ++i) (void)limiter.Allow("k" + std::to_string(i));
  EXPECT_EQ(limiter.size(), 1u);
  // The one key remembered is the last one used.
  EXPECT_FALSE(limiter.Allow("k199"));
}

TEST(KeyedRateLimiterTest, EvictionForgetsIdleKeysBeforeBusyOnes) {
  testing::FakeClock clock;
  constexpr size_t kMaxKeys = 1600;  // 100 per shard
  KeyedRateLimiter limiter(Limit(1, 1), clock, kMaxKeys);
  for (int i = 0; i < 1500; ++i) (void)limiter.Allow("idle-" + std::to_string(i));
  clock.Advance(10s);  // every one of them has refilled: idle
  ASSERT_TRUE(limiter.Allow("hot"));
  ASSERT_FALSE(limiter.Allow("hot"));
  // New keys fill the shards; the idle keys make room. (500 keys over 16 shards: no shard gets
  // anywhere near 100 busy keys, so the LRU fallback never runs.)
  for (int i = 0; i < 500; ++i) (void)limiter.Allow("new-" + std::to_string(i));
  EXPECT_LE(limiter.size(), kMaxKeys);
  EXPECT_FALSE(limiter.Allow("hot")) << "a drained bucket was forgotten (a fresh burst)";
}

TEST(KeyedRateLimiterTest, ConcurrentCallersShareOneBucketPerKey) {
  testing::FakeClock clock;
  KeyedRateLimiter limiter(Limit(1, 100), clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (limiter.Allow("shared")) ++allowed;
        (void)limiter.Allow("own-" + std::to_string(t));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100) << "the clock never moved: exactly the burst";
  EXPECT_EQ(limiter.size(), 5u);
}

}  // namespace
}  // namespace natstack::callout
