#include "cluster/supervision.hpp"

#include <signal.h>

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "testing/fake_clock.hpp"

namespace natstack::cluster {
namespace {

using namespace std::chrono_literals;

/// Processes that do what the test says: exit, report ready, ignore or obey signals.
struct FakeProcessState {
  pid_t pid = 0;
  std::optional<std::string> exit;
  bool ready = false;
  bool obeys_stop_signal = true;  ///< exits on its stop signal; SIGKILL always works
  std::vector<int> signals;
};

class FakeRunner final : public ProcessRunner {
 public:
  Result<std::unique_ptr<Process>> Spawn(const SpawnOptions& options) override {
    if (fail_spawns > 0) {
      --fail_spawns;
      return Fail(Code::kNotFound, options.argv[0] + " is not an executable file");
    }
    auto state = std::make_shared<FakeProcessState>();
    state->pid = next_pid++;
    state->ready = ready_at_once;
    state->obeys_stop_signal = obey_stop_signal;
    spawned[options.argv[0]].push_back(state);
    return std::unique_ptr<Process>(std::make_unique<Handle>(state));
  }
  /// The latest process of part `program`.
  FakeProcessState& Latest(const std::string& program) { return *spawned.at(program).back(); }
  size_t Spawns(const std::string& program) { return spawned.count(program) ? spawned[program].size() : 0; }

  std::map<std::string, std::vector<std::shared_ptr<FakeProcessState>>> spawned;
  pid_t next_pid = 100;
  bool ready_at_once = true;
  bool obey_stop_signal = true;
  int fail_spawns = 0;

 private:
  class Handle final : public Process {
   public:
    explicit Handle(std::shared_ptr<FakeProcessState> s) : s_(std::move(s)) {}
    pid_t pid() const override { return s_->pid; }
    std::optional<std::string> ExitDescription() override { return s_->exit; }
    bool PollReady() override { return s_->ready; }
    void Signal(int signal) override {
      s_->signals.push_back(signal);
      if (s_->exit) return;
      if (signal == SIGKILL) s_->exit = "killed by signal 9 (Killed)";
      else if (s_->obeys_stop_signal) s_->exit = "exited with status 0";
    }

   private:
    std::shared_ptr<FakeProcessState> s_;
  };
};

class FakeProbe final : public HealthProbe {
 public:
  Status Check(const std::string& url) override {
    ++checks[url];
    if (unhealthy.count(url)) return Fail(Code::kUnavailable, "HTTP 503");
    return Ok();
  }
  std::map<std::string, int> checks;
  std::set<std::string> unhealthy;
};

class SupervisionTest : public ::testing::Test {
 protected:
  SupervisionTest()
      : s_(runner_, probe_, clock_, Policy(), [this](const PartEvent& e) { events_.push_back(e.part + ": " + e.message); },
           [this](std::chrono::milliseconds d) { clock_.Advance(d); }) {}

  static SupervisionPolicy Policy() {
    SupervisionPolicy p;
    p.check_interval = 2s;
    p.unhealthy_threshold = 3;
    p.start_timeout = 30s;
    p.initial_backoff = 500ms;
    p.max_backoff = 4s;
    p.stable_after = 60s;
    p.crash_loop_limit = 3;
    p.crash_loop_window = 5min;
    return p;
  }
  static PartSpec Spec(const std::string& name, bool ready_pipe = true, std::string health = "") {
    PartSpec spec;
    spec.name = name;
    spec.kind = "node";
    spec.spawn.argv = {name};
    spec.spawn.ready_pipe = ready_pipe;
    spec.health_url = std::move(health);
    spec.stop_signal = SIGUSR2;
    spec.stop_grace = 5s;
    return spec;
  }
  /// Ticks every 100 ms of fake time for `d`.
  void Run(std::chrono::milliseconds d) {
    for (auto t = 0ms; t < d; t += 100ms) {
      (void)s_.Tick();
      clock_.Advance(100ms);
    }
    (void)s_.Tick();
  }
  PartState State(const std::string& name) { return s_.StatusOf(name)->state; }
  bool SawEvent(const std::string& text) {
    for (const auto& e : events_)
      if (e.find(text) != std::string::npos) return true;
    return false;
  }

  testing::FakeClock clock_;
  FakeRunner runner_;
  FakeProbe probe_;
  std::vector<std::string> events_;
  Supervision s_;
};

TEST_F(SupervisionTest, APartIsReadyWhenItsPipeSaysSoOrItsHealthEndpointAnswers) {
  ASSERT_TRUE(s_.Add(Spec("callout", /*ready_pipe=*/true)));
  ASSERT_TRUE(s_.Add(Spec("n1", /*ready_pipe=*/false, "http://n1/healthz")));
  runner_.ready_at_once = false;
  probe_.unhealthy.insert("http://n1/healthz");
  ASSERT_TRUE(s_.Launch("callout"));
  ASSERT_TRUE(s_.Launch("n1"));
  Run(1s);
  EXPECT_EQ(State("callout"), PartState::kStarting);
  EXPECT_EQ(State("n1"), PartState::kStarting);
  runner_.Latest("callout").ready = true;
  probe_.unhealthy.clear();
  Run(300ms);
  EXPECT_TRUE(s_.IsReady("callout"));
  EXPECT_TRUE(s_.IsReady("n1"));
  EXPECT_TRUE(SawEvent("n1: ready in"));
  EXPECT_EQ(s_.Add(Spec("n1")).error().code, Code::kAlreadyExists);
  EXPECT_EQ(s_.Launch("n9").error().code, Code::kNotFound);
  EXPECT_EQ(s_.Launch("n1").error().code, Code::kFailedPrecondition);
}

TEST_F(SupervisionTest, BeforeArmAnExitIsAStartupErrorWithItsLog) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  runner_.ready_at_once = false;
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  runner_.Latest("n1").exit = "exited with status 1";
  auto ticked = s_.Tick();
  ASSERT_FALSE(ticked);
  EXPECT_NE(ticked.error().message.find("n1 exited with status 1 while starting"), std::string::npos)
      << ticked.error().message;
  EXPECT_EQ(State("n1"), PartState::kFailed);
  EXPECT_EQ(runner_.Spawns("n1"), 1u);  // not retried quietly
}

TEST_F(SupervisionTest, BeforeArmAPartNotReadyInTimeIsAStartupError) {
  ASSERT_TRUE(s_.Add(Spec("n1", false, "http://n1/healthz")));
  probe_.unhealthy.insert("http://n1/healthz");
  ASSERT_TRUE(s_.Launch("n1"));
  Status last = Ok();
  for (int i = 0; i < 400 && last; ++i) {
    clock_.Advance(100ms);
    last = s_.Tick();
  }
  ASSERT_FALSE(last);
  EXPECT_NE(last.error().message.find("not ready within 30.0s (HTTP 503)"), std::string::npos)
      << last.error().message;
  EXPECT_EQ(runner_.Latest("n1").signals, std::vector<int>{SIGKILL});
}

TEST_F(SupervisionTest, CrashesAreRestartedWithExponentialBackoff) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  Run(100ms);
  s_.Arm();
  // Crash right after each restart: backoff 0.5 s, 1 s, 2 s.
  const std::chrono::milliseconds expected[] = {500ms, 1s, 2s};
  for (size_t i = 0; i < 3; ++i) {
    const size_t spawns = runner_.Spawns("n1");
    runner_.Latest("n1").exit = "killed by signal 9 (Killed)";
    ASSERT_TRUE(s_.Tick());
    EXPECT_EQ(State("n1"), PartState::kBackoff);
    clock_.Advance(expected[i] - 1ms);
    ASSERT_TRUE(s_.Tick());
    EXPECT_EQ(runner_.Spawns("n1"), spawns) << "restarted before its backoff, crash " << i + 1;
    clock_.Advance(1ms);
    ASSERT_TRUE(s_.Tick());
    EXPECT_EQ(runner_.Spawns("n1"), spawns + 1) << "crash " << i + 1;
    ASSERT_TRUE(s_.Tick());
    EXPECT_TRUE(s_.IsReady("n1"));
  }
  EXPECT_EQ(s_.StatusOf("n1")->restarts, 3);
  EXPECT_TRUE(SawEvent("n1: killed by signal 9 (Killed); restarting in 2.0s (crash 3 in a row)"));
}

TEST_F(SupervisionTest, BackoffIsCappedAndResetAfterAStablePeriod) {
  SupervisionPolicy p = Policy();
  p.crash_loop_limit = 100;
  Supervision s(runner_, probe_, clock_, p);
  ASSERT_TRUE(s.Add(Spec("n1")));
  ASSERT_TRUE(s.Launch("n1"));
  ASSERT_TRUE(s.Tick());
  s.Arm();
  auto crash_and_measure = [&] {
    runner_.Latest("n1").exit = "exited with status 2";
    (void)s.Tick();
    return s.StatusOf("n1")->restart_at - clock_.Monotonic();
  };
  std::chrono::nanoseconds backoff{};
  for (int i = 0; i < 8; ++i) {
    backoff = crash_and_measure();
    clock_.Advance(backoff);
    (void)s.Tick();  // restarted
    (void)s.Tick();  // ready
  }
  EXPECT_EQ(backoff, 4s);  // capped at max_backoff
  clock_.Advance(61s);     // stable for a minute
  (void)s.Tick();
  EXPECT_EQ(s.StatusOf("n1")->crashes_in_a_row, 0);
  EXPECT_EQ(crash_and_measure(), 500ms);
}

TEST_F(SupervisionTest, ACrashLoopIsGivenUpUntilAnOperatorStartsThePartAgain) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  for (int i = 0; i < 4; ++i) {  // limit 3: the 4th crash within the window gives up
    runner_.Latest("n1").exit = "exited with status 1";
    Run(5s);
  }
  EXPECT_EQ(State("n1"), PartState::kFailed);
  const size_t spawns = runner_.Spawns("n1");
  Run(10min);
  EXPECT_EQ(runner_.Spawns("n1"), spawns);  // no more restarts
  EXPECT_TRUE(SawEvent("crash loop (4 crashes within 300.0s)"));
  EXPECT_EQ(s_.StatusOf("n1")->last_exit, "exited with status 1");
  ASSERT_TRUE(s_.Launch("n1"));  // `natstack node start n1`
  Run(100ms);
  EXPECT_TRUE(s_.IsReady("n1"));
  runner_.Latest("n1").exit = "exited with status 1";
  Run(100ms);
  EXPECT_EQ(State("n1"), PartState::kBackoff);  // a fresh count, not the old loop
}

TEST_F(SupervisionTest, CrashesSpreadOverMoreThanTheWindowAreNotALoop) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  for (int i = 0; i < 10; ++i) {
    runner_.Latest("n1").exit = "exited with status 1";
    Run(2min);  // one crash every two minutes: never more than 3 in 5 minutes
    ASSERT_NE(State("n1"), PartState::kFailed) << "crash " << i + 1;
  }
  EXPECT_EQ(s_.StatusOf("n1")->restarts, 10);
}

TEST_F(SupervisionTest, AHungPartIsRestartedAfterTheUnhealthyThreshold) {
  ASSERT_TRUE(s_.Add(Spec("n1", false, "http://n1/healthz")));
  ASSERT_TRUE(s_.Launch("n1"));
  Run(100ms);
  ASSERT_TRUE(s_.IsReady("n1"));
  s_.Arm();
  probe_.unhealthy.insert("http://n1/healthz");
  Run(2s);  // one failed check
  EXPECT_FALSE(s_.StatusOf("n1")->healthy);
  EXPECT_EQ(State("n1"), PartState::kRunning);
  EXPECT_TRUE(SawEvent("n1: health check failed: HTTP 503"));
  Run(4s);  // three failed checks: killed and restarted
  EXPECT_EQ(runner_.spawned["n1"].front()->signals, std::vector<int>{SIGKILL});
  EXPECT_TRUE(SawEvent("unhealthy (3 failed checks in a row, last: HTTP 503)"));
  probe_.unhealthy.clear();
  Run(2s);
  EXPECT_TRUE(s_.IsReady("n1"));
  EXPECT_EQ(runner_.Spawns("n1"), 2u);
}

TEST_F(SupervisionTest, AFailingCheckThatRecoversIsNotARestart) {
  ASSERT_TRUE(s_.Add(Spec("n1", false, "http://n1/healthz")));
  ASSERT_TRUE(s_.Launch("n1"));
  Run(100ms);
  s_.Arm();
  probe_.unhealthy.insert("http://n1/healthz");
  Run(2s);
  probe_.unhealthy.clear();
  Run(2s);
  EXPECT_TRUE(s_.StatusOf("n1")->healthy);
  EXPECT_TRUE(SawEvent("n1: healthy again"));
  EXPECT_EQ(runner_.Spawns("n1"), 1u);
  // Health is checked at the interval, not at every tick.
  const int checks = probe_.checks["http://n1/healthz"];
  Run(10s);
  EXPECT_NEAR(probe_.checks["http://n1/healthz"] - checks, 5, 1);
}

TEST_F(SupervisionTest, StopIsGracefulThenKillsAfterTheGraceAndDoesNotRestart) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  runner_.Latest("n1").obeys_stop_signal = false;  // lame duck takes longer than the grace
  ASSERT_TRUE(s_.Stop("n1"));
  EXPECT_EQ(State("n1"), PartState::kStopping);
  EXPECT_TRUE(SawEvent("n1: stopping (lame duck, signal 12)"));
  Run(4900ms);
  EXPECT_EQ(State("n1"), PartState::kStopping);
  Run(200ms);
  EXPECT_EQ(State("n1"), PartState::kStopped);
  EXPECT_EQ(runner_.Latest("n1").signals, (std::vector<int>{SIGUSR2, SIGKILL}));
  Run(5min);
  EXPECT_EQ(runner_.Spawns("n1"), 1u);
  EXPECT_EQ(s_.StatusOf("n1")->pid, -1);
  ASSERT_TRUE(s_.Launch("n1"));
  Run(100ms);
  EXPECT_TRUE(s_.IsReady("n1"));
}

TEST_F(SupervisionTest, RestartStopsThenStartsAgain) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  const pid_t first = s_.StatusOf("n1")->pid;
  ASSERT_TRUE(s_.Restart("n1"));
  Run(200ms);
  EXPECT_TRUE(s_.IsReady("n1"));
  EXPECT_NE(s_.StatusOf("n1")->pid, first);
  EXPECT_EQ(runner_.spawned["n1"].front()->signals, std::vector<int>{SIGUSR2});
  EXPECT_EQ(s_.StatusOf("n1")->restarts, 0);  // an operator's restart is not a crash
}

TEST_F(SupervisionTest, ASpawnFailureAfterArmIsACrashAndBacksOff) {
  ASSERT_TRUE(s_.Add(Spec("n1")));
  ASSERT_TRUE(s_.Launch("n1"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  runner_.fail_spawns = 1;
  runner_.Latest("n1").exit = "killed by signal 9 (Killed)";
  Run(600ms);  // restart attempt fails: backoff 1 s
  EXPECT_EQ(State("n1"), PartState::kBackoff);
  EXPECT_TRUE(SawEvent("is not an executable file; restarting in 1.0s (crash 2 in a row)"));
  Run(1100ms);
  EXPECT_TRUE(s_.IsReady("n1"));
}

TEST_F(SupervisionTest, StopAllStopsGroupsInOrderAndRestartsNothing) {
  for (const char* n : {"idp", "n1", "n2", "callout-1"}) {
    ASSERT_TRUE(s_.Add(Spec(n)));
    ASSERT_TRUE(s_.Launch(n));
  }
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  runner_.Latest("n2").obeys_stop_signal = false;
  s_.StopAll({{"callout-1"}, {"n1", "n2"}});
  for (const char* n : {"idp", "n1", "n2", "callout-1"})
    EXPECT_EQ(State(n), PartState::kStopped) << n;
  // callout first, then the nodes, then the rest (idp).
  std::vector<std::string> order;
  for (const auto& e : events_)
    if (e.find(": stopped (") != std::string::npos) order.push_back(e.substr(0, e.find(':')));
  EXPECT_EQ(order, (std::vector<std::string>{"callout-1", "n1", "n2", "idp"}));
  EXPECT_EQ(runner_.Latest("n2").signals, (std::vector<int>{SIGUSR2, SIGKILL}));
  for (const char* n : {"idp", "n1", "n2", "callout-1"}) EXPECT_EQ(runner_.Spawns(n), 1u) << n;
}

}  // namespace
}  // namespace natstack::cluster

namespace natstack::cluster {
namespace {

TEST_F(SupervisionTest, ARestartWaitsForItsDependenciesWithoutCountingCrashes) {
  ASSERT_TRUE(s_.Add(Spec("idp")));
  PartSpec callout = Spec("callout");
  callout.after = {"idp"};
  ASSERT_TRUE(s_.Add(callout));
  ASSERT_TRUE(s_.Launch("idp"));
  ASSERT_TRUE(s_.Launch("callout"));
  ASSERT_TRUE(s_.Tick());
  s_.Arm();
  ASSERT_TRUE(s_.Stop("idp"));  // the IdP is down (an operator's stop)
  Run(100ms);
  runner_.Latest("callout").exit = "exited with status 1";
  Run(10min);  // far past every backoff and the crash-loop window
  EXPECT_EQ(State("callout"), PartState::kBackoff);
  EXPECT_EQ(runner_.Spawns("callout"), 1u);  // never started without its IdP
  EXPECT_EQ(s_.StatusOf("callout")->crashes_in_a_row, 1);
  EXPECT_TRUE(SawEvent("callout: waiting for idp before restarting"));
  ASSERT_TRUE(s_.Launch("idp"));
  Run(1s);
  EXPECT_TRUE(s_.IsReady("idp"));
  EXPECT_TRUE(s_.IsReady("callout"));
  EXPECT_EQ(runner_.Spawns("callout"), 2u);
}

}  // namespace
}  // namespace natstack::cluster
