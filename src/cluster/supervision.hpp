#pragma once
/// The supervisor's logic, apart from real processes and real time: parts that are started,
/// watched, restarted with exponential backoff, given up on after a crash loop, and stopped
/// gracefully. `natstack up` drives it with real processes (ChildProcess) and HTTP health
/// checks; the tests drive it with a fake runner and a FakeClock.
///
///   Supervision s(runner, probe, clock, policy, on_event);
///   s.Add(spec);                       // pending
///   s.Launch("n1");                    // starting: spawned, waiting for readiness
///   while (!s.IsReady("n1")) { NATSTACK_TRY(s.Tick()); sleep(...); }
///   s.Arm();                           // from now on a crash means a restart, not a failure
///   for (;;) { (void)s.Tick(); ... }   // exits, health, backoff, stops
///
/// Not thread-safe: one thread owns it (the supervisor's main loop).

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/process.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

/// One running (or exited) process of a part.
class Process {
 public:
  virtual ~Process() = default;
  virtual pid_t pid() const = 0;
  /// "exited with status 1" / "killed by signal 9" once it has exited (reaped), else nullopt.
  virtual std::optional<std::string> ExitDescription() = 0;
  /// With a ready pipe: true once the process reported ready. Never blocks.
  virtual bool PollReady() = 0;
  virtual void Signal(int signal) = 0;
};

/// Starts processes.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual Result<std::unique_ptr<Process>> Spawn(const SpawnOptions& options) = 0;
};

/// Checks a part's health endpoint: OK for a 200 answer, else an error saying what came back.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  virtual Status Check(const std::string& url) = 0;
};

/// The real runner: ChildProcess.
class ChildProcessRunner final : public ProcessRunner {
 public:
  Result<std::unique_ptr<Process>> Spawn(const SpawnOptions& options) override;
};

struct PartSpec {
  std::string name;  ///< "n1", "idp", "callout-1"
  std::string kind;  ///< "node", "idp", "callout"
  SpawnOptions spawn;  ///< with spawn.ready_pipe the part is ready when it says so
  /// Polled while the part runs (and, without a ready pipe, to decide it is ready).
  std::string health_url;
  /// The graceful stop: SIGTERM, or SIGUSR2 for nats-server's lame-duck mode (clients are
  /// moved away before it exits). SIGKILL after `stop_grace`.
  int stop_signal = 15;
  std::chrono::milliseconds stop_grace{std::chrono::seconds(10)};
  /// Parts this one needs running (the callout needs the IdP's keys): a restart waits, in
  /// backoff and without counting crashes, until every one of them runs.
  std::vector<std::string> after;
};

/// How parts are watched and restarted. The defaults are what `natstack up` uses
/// (docs/up.md explains the choice).
struct SupervisionPolicy {
  /// Health is checked this often. An exit is seen at once (waitpid); the interval only
  /// bounds how long a hung part goes unnoticed.
  std::chrono::milliseconds check_interval{std::chrono::seconds(2)};
  /// Failed checks in a row after which a running part is restarted.
  int unhealthy_threshold = 3;
  /// A started part that is not ready within this is stopped and counted as a crash.
  std::chrono::milliseconds start_timeout{std::chrono::seconds(30)};
  /// Backoff before restart k (k = crashes in a row): initial * 2^(k-1), at most max.
  std::chrono::milliseconds initial_backoff{std::chrono::milliseconds(500)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  /// A part ready for this long has its crashes-in-a-row count reset.
  std::chrono::milliseconds stable_after{std::chrono::seconds(60)};
  /// More than `crash_loop_limit` crashes within `crash_loop_window`: the part is given up
  /// (state failed) until an operator starts it again.
  int crash_loop_limit = 5;
  std::chrono::milliseconds crash_loop_window{std::chrono::minutes(5)};
};

enum class PartState {
  kPending,   ///< not launched yet
  kStarting,  ///< spawned, not ready yet
  kRunning,   ///< ready; health checks pass (or have not failed `unhealthy_threshold` times)
  kStopping,  ///< stop signal sent, waiting for the exit
  kBackoff,   ///< crashed; restarts at `restart_at`
  kStopped,   ///< stopped on purpose (shutdown, `natstack node stop`)
  kFailed,    ///< crash loop: given up
};
const char* PartStateName(PartState state);

/// What status shows about one part.
struct PartStatus {
  std::string name;
  std::string kind;
  PartState state = PartState::kPending;
  pid_t pid = -1;            ///< -1 when not running
  bool healthy = false;      ///< last check passed (running parts)
  int restarts = 0;          ///< restarts after crashes since the supervisor started
  int crashes_in_a_row = 0;
  std::string last_exit;     ///< "killed by signal 9" (last unexpected exit or failure)
  std::string last_check_error;
  std::string log_file;
  std::chrono::steady_clock::time_point since;  ///< when the current state began
  std::chrono::steady_clock::time_point restart_at;  ///< kBackoff only
};

/// Something that happened to a part, for the log, status and the dashboard.
struct PartEvent {
  std::chrono::system_clock::time_point at;
  std::string part;
  std::string message;  ///< "killed by signal 9; restarting in 0.5s (crash 1 in a row)"
  bool warning = false;
  /// The part stopped serving: its process exited (or was killed as unhealthy or failing to
  /// start), or it was told to stop. What the DNS sidecar is told about a node at once.
  bool down = false;
};

class Supervision {
 public:
  using EventSink = std::function<void(const PartEvent&)>;
  using Sleeper = std::function<void(std::chrono::milliseconds)>;
  /// `sleep` is how StopAll waits between rounds (tests pass one that advances a FakeClock).
  Supervision(ProcessRunner& runner, HealthProbe& probe, const Clock& clock,
              SupervisionPolicy policy = {}, EventSink on_event = {}, Sleeper sleep = {});
  ~Supervision();  ///< kills what still runs (call StopAll first for a graceful stop)
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

  /// Adds a part (pending). kAlreadyExists for a second part with one name.
  Status Add(PartSpec spec);
  /// Starts a pending, stopped or failed part (a failed part gets a fresh crash count).
  /// kNotFound for an unknown name; kFailedPrecondition when it runs or is stopping.
  Status Launch(const std::string& name);
  /// From now on an unexpected exit is restarted with backoff; before Arm, Tick reports it
  /// as an error (a stack that cannot start should say why, not retry quietly).
  void Arm() { armed_ = true; }

  /// One round: reaps exits, moves starting parts to running when ready, runs due health
  /// checks, restarts parts whose backoff ended, kills parts whose stop grace ran out.
  /// Before Arm(): the first part that exited or failed to start, with its log's last lines.
  Status Tick();

  /// Graceful stop of one part (its stop_signal, or `signal` when given; SIGKILL after its
  /// grace); no restart.
  Status Stop(const std::string& name, std::optional<int> signal = std::nullopt);
  /// Stop then start again once it has exited (`natstack node restart`).
  Status Restart(const std::string& name);
  /// Stops parts in the given groups, one group after another (each group together); waits,
  /// ticking, until all have exited or been killed. Parts not named are stopped last.
  /// `graceful` false: SIGTERM for every part instead of its stop_signal.
  void StopAll(const std::vector<std::vector<std::string>>& order = {}, bool graceful = true);

  bool IsReady(const std::string& name) const;  ///< running
  bool Has(const std::string& name) const;
  std::optional<PartStatus> StatusOf(const std::string& name) const;
  std::vector<PartStatus> Snapshot() const;
  /// The last events (at most 200), oldest first.
  const std::deque<PartEvent>& Events() const { return events_; }

 private:
  struct Part;
  Part* Find(const std::string& name) const;
  Status SpawnPart(Part& p);
  void Crashed(Part& p, const std::string& why);
  void Event(const Part& p, const std::string& message, bool warning, bool down = false);
  void EnterState(Part& p, PartState state);
  bool AllStopped(const std::vector<std::string>& names) const;

  ProcessRunner& runner_;
  HealthProbe& probe_;
  const Clock& clock_;
  SupervisionPolicy policy_;
  EventSink on_event_;
  Sleeper sleep_;
  std::vector<std::unique_ptr<Part>> parts_;
  std::deque<PartEvent> events_;
  bool armed_ = false;
  bool stopping_all_ = false;
};

}  // namespace natstack::cluster
