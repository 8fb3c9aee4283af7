#include "callout/replay_guard.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace natstack::callout {
namespace {

TEST(ReplayGuardTest, AKeyIsFreshOnceUntilItsTimePasses) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.FirstSight("UAAA", 105, 100));
  EXPECT_FALSE(guard.FirstSight("UAAA", 105, 100));
  EXPECT_FALSE(guard.FirstSight("UAAA", 109, 104));  // a later deadline does not renew it
  EXPECT_TRUE(guard.FirstSight("UBBB", 105, 100));
  // At its forget time it is gone (the request itself has expired by then).
  EXPECT_TRUE(guard.FirstSight("UAAA", 110, 105));
  EXPECT_FALSE(guard.FirstSight("UAAA", 110, 106));
}

TEST(ReplayGuardTest, ExpiredKeysAreForgottenSoMemoryFollowsTheRate) {
  ReplayGuard guard;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(guard.FirstSight("U" + std::to_string(i), 105, 100));
  EXPECT_EQ(guard.size(), 1000u);
  EXPECT_TRUE(guard.FirstSight("Unew", 200, 150));
  EXPECT_EQ(guard.size(), 1u);
}

TEST(ReplayGuardTest, AnOutOfOrderDeadlineIsStillHonoured) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.FirstSight("Ulong", 130, 100));   // a server with a long auth timeout
  EXPECT_TRUE(guard.FirstSight("Ushort", 103, 100));  // queued behind it
  EXPECT_FALSE(guard.FirstSight("Ushort", 103, 102));
  EXPECT_TRUE(guard.FirstSight("Ushort", 120, 104));  // past its own time, though not dequeued
  EXPECT_FALSE(guard.FirstSight("Ulong", 130, 129));
}

TEST(ReplayGuardTest, MemoryIsBoundedOldestForgottenFirst) {
  ReplayGuard guard(3);
  EXPECT_TRUE(guard.FirstSight("U1", 200, 100));
  EXPECT_TRUE(guard.FirstSight("U2", 200, 100));
  EXPECT_TRUE(guard.FirstSight("U3", 200, 100));
  EXPECT_TRUE(guard.FirstSight("U4", 200, 100));
  EXPECT_EQ(guard.size(), 3u);
  EXPECT_FALSE(guard.FirstSight("U4", 200, 100));
  EXPECT_FALSE(guard.FirstSight("U2", 200, 100));
  EXPECT_TRUE(guard.FirstSight("U1", 200, 100));  // the oldest went first
}

TEST(ReplayGuardTest, ConcurrentCallersAdmitEachKeyOnce) {
  ReplayGuard guard;
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        if (guard.FirstSight("U" + std::to_string(i), 1000, 100)) ++fresh;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 2000);
}

}  // namespace
}  // namespace natstack::callout
