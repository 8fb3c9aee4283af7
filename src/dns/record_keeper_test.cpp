#include "dns/record_keeper.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "testing/capturing_logger.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::dns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Values = std::vector<std::string>;

const std::string kName = "nats.example.test.";
const std::string kA1 = "203.0.113.1", kA2 = "203.0.113.2", kA3 = "203.0.113.3";

/// An authoritative server in memory: holds one RRset, can be down, counts calls.
class FakeProvider final : public Provider {
 public:
  explicit FakeProvider(const Clock& clock) : clock_(clock) {}

  Status Replace(const RecordSet& set) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back({"replace", clock_.Monotonic()});
    if (down) return Fail(fail_code, "127.0.0.1 port 53: no answer");
    ++replaces;
    record = set.values.empty() ? std::nullopt : std::optional<RecordSet>(set);
    if (lose_reply) return Fail(Code::kUnavailable, "127.0.0.1 port 53: timed out");
    return Ok();
  }
  Status Delete(const std::string&, RecordType) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back({"delete", clock_.Monotonic()});
    if (down) return Fail(fail_code, "127.0.0.1 port 53: no answer");
    ++deletes;
    record.reset();
    return Ok();
  }
  Result<std::optional<RecordSet>> Read(const std::string&, RecordType) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back({"read", clock_.Monotonic()});
    if (down) return Fail(fail_code, "127.0.0.1 port 53: no answer");
    ++reads;
    return record;
  }
  std::string Zone() const override { return "example.test."; }

  /// Sets what the server holds, as an operator's hand edit would.
  void Set(Values values, uint32_t ttl = 60) {
    std::lock_guard<std::mutex> lock(mu_);
    record = RecordSet{kName, RecordType::kA, ttl, std::move(values)};
  }
  /// What the server holds, sorted; empty when there is no record.
  Values Held() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!record) return {};
    Values v = record->values;
    std::sort(v.begin(), v.end());
    return v;
  }

  struct Call {
    std::string op;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Call> calls;
  std::optional<RecordSet> record;
  bool down = false;
  bool lose_reply = false;  // the update lands but its reply is lost
  Code fail_code = Code::kUnavailable;
  int reads = 0, replaces = 0, deletes = 0;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
};

/// Node health set by the test; a probe of `slow` advances the clock (a round that stalls).
class FakeProbe final : public HealthProbe {
 public:
  explicit FakeProbe(testing::FakeClock& clock) : clock_(clock) {}
  Status Probe(const Node& node, milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = slow.find(node.name); it != slow.end()) clock_.Advance(it->second);
    if (down.count(node.name) != 0)
      return Fail(Code::kUnavailable, "GET http://" + node.address + ":8222/healthz: HTTP 503");
    return Ok();
  }
  void Kill(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    down.insert(name);
  }
  void Heal(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    down.erase(name);
  }

  std::set<std::string> down;
  std::map<std::string, milliseconds> slow;

 private:
  testing::FakeClock& clock_;
  std::mutex mu_;
};


class RecordKeeperTest : public ::testing::Test {
 protected:
  KeeperOptions Options(WhenNone when_none = WhenNone::kKeep) {
    KeeperOptions o;
    o.name = kName;
    o.nodes = {{"n1", kA1, "http://10.0.0.1:8222/healthz"},
               {"n2", kA2, "http://10.0.0.2:8222/healthz"},
               {"n3", kA3, "http://10.0.0.3:8222/healthz"}};
    o.when_none = when_none;
    return o;
  }
  std::unique_ptr<RecordKeeper> Make(WhenNone when_none = WhenNone::kKeep) {
    auto k = std::make_unique<RecordKeeper>(Options(when_none), provider_, probe_, clock_, log_);
    (void)k->Sync();  // the start: read the record
    return k;
  }
  /// One round, one interval after the last.
  void Round(RecordKeeper& k, int n = 1) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(seconds(2));
      k.Round();
    }
  }
  int Writes() const { return provider_.replaces + provider_.deletes; }

  testing::FakeClock clock_;
  FakeProvider provider_{clock_};
  FakeProbe probe_{clock_};
  testing::CapturingLogger log_;
};

TEST_F(RecordKeeperTest, AnEmptyRecordIsFilledAfterOnePassingProbeInOneWrite) {
  // No record yet: nothing to protect, so one pass lets a node in (the record is useful one
  // interval after start); afterwards a node needs up_after passes again.
  auto k = Make();
  EXPECT_TRUE(k->Ready());
  EXPECT_EQ(provider_.Held(), Values{});
  EXPECT_EQ(Writes(), 0);
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_EQ(provider_.replaces, 1);  // the three arrive in one atomic change
  EXPECT_EQ(provider_.record->ttl, 60u);
  EXPECT_EQ(k->Stats().healthy_nodes, 3u);
  EXPECT_TRUE(k->Stats().in_sync);
}

TEST_F(RecordKeeperTest, KilledNodeLeavesAfterDownAfterFailures) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  Round(*k, 3);
  ASSERT_EQ(Writes(), 0);
  probe_.Kill("n2");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3})) << "one failure is not enough";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3}));
  EXPECT_EQ(provider_.replaces, 1);
  // The change names the old set, the new set and the reason.
  EXPECT_TRUE(
      log_.Contains("{203.0.113.1, 203.0.113.2, 203.0.113.3} ttl 60 -> "
                    "{203.0.113.1, 203.0.113.3} ttl 60: n2 failed 2 probes: GET "
                    "http://203.0.113.2:8222/healthz: HTTP 503"))
      << log_.All();
  const auto stats = k->Stats();
  EXPECT_EQ(stats.nodes[1].probe_failures, 2u);
  EXPECT_EQ(stats.nodes[1].health, NodeHealth::kUnhealthy);
  EXPECT_EQ(stats.healthy_nodes, 2u);
  EXPECT_EQ(stats.record_size, 2u);
  EXPECT_EQ(stats.changes, 1u);
}

TEST_F(RecordKeeperTest, AProcessEventTakesANodeOutAtOnceAndProbesBringItBack) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  Round(*k, 2);
  ASSERT_EQ(Writes(), 0);
  // The supervisor saw n2's process exit: no probe has failed yet, and none is awaited.
  ASSERT_TRUE(k->NodeDown("n2", "exited (the supervisor says: killed by signal 9)"));
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3}));
  EXPECT_EQ(provider_.replaces, 1);
  EXPECT_TRUE(log_.Contains("-> {203.0.113.1, 203.0.113.3} ttl 60: n2 exited (the supervisor "
                            "says: killed by signal 9)"))
      << log_.All();
  EXPECT_EQ(k->Stats().nodes[1].health, NodeHealth::kUnhealthy);
  // Its successor answers at once, but comes back through up_after passes like any node.
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "one pass is not enough";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  // A second event about a node already out changes nothing but its streak.
  probe_.Kill("n3");
  Round(*k, 2);
  ASSERT_EQ(provider_.Held(), (Values{kA1, kA2}));
  const int writes = Writes();
  ASSERT_TRUE(k->NodeDown("n3", "exited"));
  EXPECT_EQ(Writes(), writes);
  EXPECT_EQ(k->NodeDown("n9", "x").error().code, Code::kNotFound);
}

TEST_F(RecordKeeperTest, AProcessEventResetsAPassingStreak) {
  provider_.Set({kA1, kA3});  // n2 out, about to come back
  auto k = Make();
  Round(*k);  // n2 has passed once
  ASSERT_TRUE(k->NodeDown("n2", "exited"));
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "the pass before the exit does not count";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
}

TEST_F(RecordKeeperTest, AProcessEventBeforeTheFirstReadKeepsTheNodeOut) {
  provider_.Set({kA1, kA2, kA3});
  RecordKeeper k(Options(), provider_, probe_, clock_, log_);
  provider_.down = true;  // the server does not answer yet
  ASSERT_TRUE(k.NodeDown("n2", "exited"));
  EXPECT_EQ(Writes(), 0) << "nothing is written before the record was read";
  provider_.down = false;
  clock_.Advance(seconds(2));  // past the backoff of the failed read
  (void)k.Sync();
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "the record listing it is not a verdict";
}

TEST_F(RecordKeeperTest, AfterTheFirstFillANodeThatWasDownNeedsUpAfterPasses) {
  probe_.Kill("n2");
  auto k = Make();
  Round(*k);
  ASSERT_EQ(provider_.Held(), (Values{kA1, kA3}));  // filled with the nodes that passed
  probe_.Heal("n2");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "the fill is over: one pass is not enough";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
}

TEST_F(RecordKeeperTest, RestartedNodeReturnsAfterUpAfterSuccesses) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  probe_.Kill("n2");
  Round(*k, 4);
  ASSERT_EQ(provider_.Held(), (Values{kA1, kA3}));
  probe_.Heal("n2");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "one success is not enough";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_EQ(provider_.replaces, 2);
  EXPECT_TRUE(log_.Contains("n2 passed 2 probes")) << log_.All();
}

TEST_F(RecordKeeperTest, DownAfterAndUpAfterAreSettings) {
  provider_.Set({kA1, kA2, kA3});
  KeeperOptions o = Options();
  o.down_after = 3;
  o.up_after = 1;
  RecordKeeper k(o, provider_, probe_, clock_, log_);
  ASSERT_TRUE(k.Sync());
  probe_.Kill("n3");
  Round(k, 2);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  Round(k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2}));
  probe_.Heal("n3");
  Round(k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
}

TEST_F(RecordKeeperTest, AllDownWithKeepKeepsTheLastSet) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make(WhenNone::kKeep);
  probe_.Kill("n1");
  Round(*k, 2);
  ASSERT_EQ(provider_.Held(), (Values{kA2, kA3}));
  probe_.Kill("n2");
  probe_.Kill("n3");
  Round(*k, 5);
  EXPECT_EQ(provider_.Held(), (Values{kA2, kA3}));  // the last set, untouched
  EXPECT_EQ(provider_.replaces, 1);
  EXPECT_EQ(provider_.deletes, 0);
  EXPECT_EQ(k->Stats().healthy_nodes, 0u);
  EXPECT_TRUE(log_.Contains("no healthy node (when_none=keep)")) << log_.All();
  // The first node back replaces the kept set.
  probe_.Heal("n3");
  Round(*k, 2);
  EXPECT_EQ(provider_.Held(), (Values{kA3}));
}

TEST_F(RecordKeeperTest, AllDownWithDeleteDeletesTheRecord) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make(WhenNone::kDelete);
  for (const char* n : {"n1", "n2", "n3"}) probe_.Kill(n);
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  Round(*k);
  EXPECT_EQ(provider_.record, std::nullopt);
  EXPECT_EQ(provider_.deletes, 1);
  EXPECT_EQ(provider_.replaces, 0);
  EXPECT_TRUE(log_.Contains("-> no record: ")) << log_.All();
  Round(*k, 3);
  EXPECT_EQ(provider_.deletes, 1) << "deleted once, not every round";
  // No record: no client to protect from a flapping node, so one pass lets the first in, as
  // at the very start (docs/dns.md).
  probe_.Heal("n1");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1}));
  probe_.Heal("n2");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1})) << "the record is filled again: up_after passes";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2}));
}

TEST_F(RecordKeeperTest, NodeFlappingEveryOtherProbeDoesNotChurnTheRecord) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  probe_.Kill("n3");
  Round(*k, 2);
  ASSERT_EQ(provider_.Held(), (Values{kA1, kA2}));
  const int writes = Writes();
  // n2 (in the record) and n3 (out of it) flap on every probe.
  for (int i = 0; i < 40; ++i) {
    if (i % 2 == 0) {
      probe_.Kill("n2");
      probe_.Heal("n3");
    } else {
      probe_.Heal("n2");
      probe_.Kill("n3");
    }
    Round(*k);
    ASSERT_EQ(provider_.Held(), (Values{kA1, kA2})) << "round " << i;
  }
  EXPECT_EQ(Writes(), writes);
  EXPECT_EQ(k->Stats().nodes[1].probe_failures, 20u);
}

TEST_F(RecordKeeperTest, WritesOnlyWhenTheSetDiffersAndReadsAtTheReconcileInterval) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  ASSERT_EQ(provider_.reads, 1);
  Round(*k, 60);  // 120 s
  EXPECT_EQ(Writes(), 0);
  EXPECT_EQ(provider_.reads, 1 + 4);  // at 30, 60, 90, 120 s
}

TEST_F(RecordKeeperTest, DriftIsRepairedAtTheNextReconciliation) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  Round(*k);
  provider_.Set({kA1, "192.0.2.99"});  // edited by hand
  Round(*k, 5);                        // 10 s: the cache says all is well
  EXPECT_EQ(provider_.Held(), (Values{"192.0.2.99", kA1}));
  Round(*k, 10);  // past the 30 s reconciliation
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_EQ(k->Stats().drift_repairs, 1u);
  EXPECT_TRUE(
      log_.Contains("drift: server had {192.0.2.99, 203.0.113.1} ttl 60, want "
                    "{203.0.113.1, 203.0.113.2, 203.0.113.3} ttl 60"))
      << log_.All();
  // A record deleted by hand, or a TTL changed by hand, is drift too.
  provider_.record.reset();
  Round(*k, 15);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  provider_.Set({kA1, kA2, kA3}, 3600);
  Round(*k, 15);
  EXPECT_EQ(provider_.record->ttl, 60u);
  EXPECT_EQ(k->Stats().drift_repairs, 3u);
}

TEST_F(RecordKeeperTest, ProviderDownIsRetriedWithBackoffThenCatchesUp) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  Round(*k);
  provider_.down = true;
  probe_.Kill("n2");
  Round(*k, 2);  // n2 leaves: the write fails
  ASSERT_EQ(provider_.calls.back().op, "replace");
  const size_t first_failure = provider_.calls.size() - 1;
  // Between rounds, Sync() runs whenever NextSyncAt() says: record when the attempts come.
  for (int i = 0; i < 1000; ++i) {  // 100 s
    clock_.Advance(milliseconds(100));
    if (clock_.Monotonic() >= k->NextSyncAt()) (void)k->Sync();
  }
  std::vector<double> gaps;
  for (size_t i = first_failure + 1; i < provider_.calls.size(); ++i) {
    gaps.push_back(
        std::chrono::duration<double>(provider_.calls[i].at - provider_.calls[i - 1].at).count());
    EXPECT_EQ(provider_.calls[i].op, "read") << "after an error the state is read again first";
  }
  const std::vector<double> want = {1, 2, 4, 8, 16, 30, 30};
  ASSERT_GE(gaps.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_GE(gaps[i], want[i] - 0.001) << "attempt " << i;
    EXPECT_LE(gaps[i], want[i] + 0.101) << "attempt " << i;
  }
  // Meanwhile n3 dies too: the wanted state follows health, not the first failed write.
  probe_.Kill("n3");
  Round(*k, 2);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_GT(k->Stats().provider_errors.at({"read", "unavailable"}), 5u);
  EXPECT_TRUE(k->Stats().last_provider_error.has_value());
  provider_.down = false;
  clock_.Advance(seconds(30));
  (void)k->Sync();
  EXPECT_EQ(provider_.Held(), (Values{kA1}));
  EXPECT_EQ(provider_.replaces, 1);
  EXPECT_TRUE(k->Stats().in_sync);
  EXPECT_FALSE(k->Stats().last_provider_error.has_value());
  EXPECT_TRUE(log_.Contains("failed provider calls)")) << log_.All();
  // The backoff starts over after a success.
  provider_.down = true;
  probe_.Heal("n3");
  Round(*k, 2);
  const auto failed_at = provider_.calls.back().at;
  EXPECT_EQ(k->NextSyncAt() - failed_at, seconds(1));
}

TEST_F(RecordKeeperTest, AWriteWhoseReplyWasLostIsNotRepeated) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  probe_.Kill("n2");
  provider_.lose_reply = true;
  Round(*k, 2);
  provider_.lose_reply = false;
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3}));
  clock_.Advance(seconds(1));
  ASSERT_TRUE(k->Sync());
  EXPECT_EQ(provider_.replaces, 1) << "the read showed the change had landed";
  EXPECT_TRUE(k->Stats().in_sync);
  EXPECT_EQ(k->Stats().drift_repairs, 0u);
}

TEST_F(RecordKeeperTest, StaleRoundChangesNothing) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  Round(*k);
  // Every node fails, and the round takes 7 s (> 3 * 2 s): this process was paused.
  for (const char* n : {"n1", "n2", "n3"}) probe_.Kill(n);
  probe_.slow["n1"] = seconds(7);
  Round(*k, 3);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_EQ(Writes(), 0);
  const auto stats = k->Stats();
  EXPECT_EQ(stats.stale_rounds, 3u);
  EXPECT_EQ(stats.healthy_nodes, 3u);
  EXPECT_EQ(stats.nodes[1].probe_failures, 0u) << "a stale round's results are not counted";
  EXPECT_TRUE(log_.Contains("its results are stale")) << log_.All();
  // Fresh rounds count from zero: n2 still needs down_after fresh failures.
  probe_.slow.clear();
  for (const char* n : {"n1", "n3"}) probe_.Heal(n);
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3}));
}

TEST_F(RecordKeeperTest, StreaksDoNotSpanAStalledLoop) {
  provider_.Set({kA1, kA2, kA3});
  auto k = Make();
  probe_.Kill("n2");
  Round(*k);  // failure 1
  clock_.Advance(seconds(60));
  Round(*k);  // a minute later: not "consecutive" with the first
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3}));
}

TEST_F(RecordKeeperTest, RestartKeepsAHealthyRecordIntact) {
  for (WhenNone when_none : {WhenNone::kKeep, WhenNone::kDelete}) {
    provider_.Set({kA1, kA2, kA3});
    provider_.calls.clear();
    provider_.replaces = provider_.deletes = 0;
    auto k = Make(when_none);  // a new process: every node's streaks start at zero
    for (int i = 0; i < 5; ++i) {
      Round(*k);
      ASSERT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}))
          << WhenNoneName(when_none) << " round " << i;
    }
    EXPECT_EQ(Writes(), 0) << WhenNoneName(when_none);
    EXPECT_EQ(k->Stats().healthy_nodes, 3u);
  }
  EXPECT_TRUE(log_.Contains("n1 (203.0.113.1) starts healthy: the record already lists it"))
      << log_.All();
}

TEST_F(RecordKeeperTest, RestartTreatsListedNodesAsHealthyUntilDownAfterFailures) {
  provider_.Set({kA1, kA2});  // n3 is not listed
  auto k = Make(WhenNone::kDelete);
  probe_.Kill("n2");
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2})) << "n2 was listed: one failure keeps it";
  Round(*k);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA3})) << "n2 out, n3 in after two successes";
  EXPECT_EQ(provider_.replaces, 1);
}

TEST_F(RecordKeeperTest, NothingIsWrittenBeforeTheRecordWasRead) {
  provider_.Set({kA1, kA2, kA3});
  provider_.down = true;
  auto k = Make(WhenNone::kDelete);
  EXPECT_FALSE(k->Ready());
  probe_.Kill("n3");
  for (int i = 0; i < 4; ++i) {
    Round(*k);
    if (clock_.Monotonic() >= k->NextSyncAt()) (void)k->Sync();
  }
  for (const auto& c : provider_.calls) EXPECT_EQ(c.op, "read");
  provider_.down = false;
  clock_.Advance(seconds(30));
  ASSERT_TRUE(k->Sync());
  EXPECT_TRUE(k->Ready());
  // n1 and n2 became healthy from probes, n3 failed down_after probes: it goes.
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2}));
  EXPECT_EQ(provider_.replaces, 1);
}

TEST_F(RecordKeeperTest, ForeignValuesAreRemovedAtStart) {
  provider_.Set({kA1, kA2, kA3, "192.0.2.50"});
  auto k = Make();  // the nodes it lists start healthy; the stranger goes at once
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2, kA3}));
  EXPECT_EQ(provider_.replaces, 1);
  Round(*k, 3);
  EXPECT_EQ(provider_.replaces, 1);
  EXPECT_TRUE(
      log_.Contains("at start the server had {192.0.2.50, 203.0.113.1, 203.0.113.2, "
                    "203.0.113.3} ttl 60"))
      << log_.All();
}

TEST_F(RecordKeeperTest, KeepAtStartKeepsWhatTheServerHolds) {
  provider_.Set({kA1, kA2});
  auto k = Make(WhenNone::kKeep);
  for (const char* n : {"n1", "n2", "n3"}) probe_.Kill(n);
  Round(*k, 4);
  EXPECT_EQ(provider_.Held(), (Values{kA1, kA2}));
  EXPECT_EQ(Writes(), 0);
}

TEST_F(RecordKeeperTest, PermissionErrorsAreRetriedAndCountedByCode) {
  provider_.down = true;
  provider_.fail_code = Code::kPermissionDenied;
  auto k = Make();
  EXPECT_FALSE(k->Ready());
  EXPECT_EQ(k->Stats().provider_errors.at({"read", "permission_denied"}), 1u);
  EXPECT_EQ(k->NextSyncAt(), clock_.Monotonic() + seconds(1));
}

}  // namespace
}  // namespace natstack::dns
