#include "cluster/supervision.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

namespace natstack::cluster {
namespace {

using Steady = std::chrono::steady_clock;
constexpr auto kStartPoll = std::chrono::milliseconds(200);  ///< readiness polls while starting
constexpr size_t kMaxEvents = 200;

std::string SecondsText(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}

class ChildProcessHandle final : public Process {
 public:
  explicit ChildProcessHandle(ChildProcess child) : child_(std::move(child)) {}
  pid_t pid() const override { return child_.pid(); }
  std::optional<std::string> ExitDescription() override { return child_.ExitDescription(); }
  bool PollReady() override { return child_.WaitReady(std::chrono::milliseconds(0)); }
  void Signal(int signal) override { child_.Signal(signal); }

 private:
  ChildProcess child_;
};

}  // namespace

Result<std::unique_ptr<Process>> ChildProcessRunner::Spawn(const SpawnOptions& options) {
  NATSTACK_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(options));
  return std::unique_ptr<Process>(std::make_unique<ChildProcessHandle>(std::move(child)));
}

const char* PartStateName(PartState state) {
  switch (state) {
    case PartState::kPending: return "pending";
    case PartState::kStarting: return "starting";
    case PartState::kRunning: return "running";
    case PartState::kStopping: return "stopping";
    case PartState::kBackoff: return "backoff";
    case PartState::kStopped: return "stopped";
    case PartState::kFailed: return "failed";
  }
  return "unknown";
}

struct Supervision::Part {
  PartSpec spec;
  PartState state = PartState::kPending;
  std::unique_ptr<Process> process;
  bool healthy = false;
  int failed_checks = 0;
  int restarts = 0;
  int in_a_row = 0;
  std::deque<Steady::time_point> crashes;
  std::string last_exit;
  std::string last_check_error;
  Steady::time_point since{};
  Steady::time_point started_at{};
  std::optional<Steady::time_point> ready_at;
  Steady::time_point next_check{};
  Steady::time_point restart_at{};
  Steady::time_point stop_deadline{};
  bool killed = false;
  bool restart_after_stop = false;
  std::string waiting_for;  ///< dependencies a due restart waits for ("" when none)
};

Supervision::Supervision(ProcessRunner& runner, HealthProbe& probe, const Clock& clock,
                         SupervisionPolicy policy, EventSink on_event, Sleeper sleep)
    : runner_(runner),
      probe_(probe),
      clock_(clock),
      policy_(policy),
      on_event_(std::move(on_event)),
      sleep_(sleep ? std::move(sleep)
                   : Sleeper([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); })) {}

Supervision::~Supervision() {
  for (auto& p : parts_) {
    if (p->process && !p->process->ExitDescription()) p->process->Signal(SIGKILL);
    p->process.reset();
  }
}

Supervision::Part* Supervision::Find(const std::string& name) const {
  for (const auto& p : parts_)
    if (p->spec.name == name) return p.get();
  return nullptr;
}

bool Supervision::Has(const std::string& name) const { return Find(name) != nullptr; }

Status Supervision::Add(PartSpec spec) {
  if (spec.name.empty()) return Fail(Code::kInvalidArgument, "a part needs a name");
  if (Find(spec.name) != nullptr)
    return Fail(Code::kAlreadyExists, "there is already a part named " + spec.name);
  auto part = std::make_unique<Part>();
  part->spec = std::move(spec);
  part->since = clock_.Monotonic();
  parts_.push_back(std::move(part));
  return Ok();
}

void Supervision::Event(const Part& p, const std::string& message, bool warning, bool down) {
  PartEvent e{clock_.Now(), p.spec.name, message, warning, down};
  events_.push_back(e);
  while (events_.size() > kMaxEvents) events_.pop_front();
  if (on_event_) on_event_(e);
}

void Supervision::EnterState(Part& p, PartState state) {
  p.state = state;
  p.since = clock_.Monotonic();
}

Status Supervision::SpawnPart(Part& p) {
  auto process = runner_.Spawn(p.spec.spawn);
  if (!process) return Fail(process.error().Wrap("starting " + p.spec.name));
  p.process = std::move(*process);
  const auto now = clock_.Monotonic();
  p.started_at = now;
  p.next_check = now;
  p.healthy = false;
  p.failed_checks = 0;
  p.killed = false;
  p.ready_at.reset();
  EnterState(p, PartState::kStarting);
  return Ok();
}

Status Supervision::Launch(const std::string& name) {
  Part* p = Find(name);
  if (p == nullptr) return Fail(Code::kNotFound, "there is no part named " + name);
  if (p->state == PartState::kStarting || p->state == PartState::kRunning ||
      p->state == PartState::kStopping)
    return Fail(Code::kFailedPrecondition,
                name + " is " + PartStateName(p->state) + ", not stopped");
  if (p->state == PartState::kFailed || p->state == PartState::kStopped) {
    p->crashes.clear();  // an operator's start is a fresh start
    p->in_a_row = 0;
  }
  NATSTACK_TRY(SpawnPart(*p));
  Event(*p, "started (pid " + std::to_string(p->process->pid()) + ")", false);
  return Ok();
}

void Supervision::Crashed(Part& p, const std::string& why) {
  const auto now = clock_.Monotonic();
  if (p.process && !p.process->ExitDescription()) p.process->Signal(SIGKILL);
  p.process.reset();
  p.healthy = false;
  p.last_exit = why;
  if (p.ready_at && now - *p.ready_at >= policy_.stable_after) p.in_a_row = 0;
  ++p.in_a_row;
  p.crashes.push_back(now);
  while (!p.crashes.empty() && now - p.crashes.front() > policy_.crash_loop_window)
    p.crashes.pop_front();
  if (static_cast<int>(p.crashes.size()) > policy_.crash_loop_limit) {
    EnterState(p, PartState::kFailed);
    Event(p,
          why + "; crash loop (" + std::to_string(p.crashes.size()) + " crashes within " +
              SecondsText(policy_.crash_loop_window) + "): given up until it is started again",
          true, /*down=*/true);
    return;
  }
  auto backoff = policy_.initial_backoff;
  for (int i = 1; i < p.in_a_row && backoff < policy_.max_backoff; ++i) backoff *= 2;
  backoff = std::min(backoff, policy_.max_backoff);
  p.restart_at = now + backoff;
  EnterState(p, PartState::kBackoff);
  Event(p,
        why + "; restarting in " + SecondsText(backoff) + " (crash " +
            std::to_string(p.in_a_row) + " in a row)",
        true, /*down=*/true);
}

Status Supervision::Tick() {
  Status first_error = Ok();
  auto startup_failure = [&](Part& p, const std::string& why) {
    if (p.process && !p.process->ExitDescription()) p.process->Signal(SIGKILL);
    p.process.reset();
    p.last_exit = why;
    EnterState(p, PartState::kFailed);
    Event(p, why, true, /*down=*/true);
    if (first_error) {
      const std::string tail = TailOfFile(p.spec.spawn.log_file, 5);
      first_error = Fail(Code::kFailedPrecondition,
                         p.spec.name + " " + why +
                             (p.spec.spawn.log_file.empty() ? "" : " (log " + p.spec.spawn.log_file + ")") +
                             (tail.empty() ? "" : ":\n" + tail));
    }
  };
  for (auto& owned : parts_) {
    Part& p = *owned;
    const auto now = clock_.Monotonic();
    switch (p.state) {
      case PartState::kStarting: {
        if (auto exit = p.process->ExitDescription(); exit) {
          if (!armed_ || stopping_all_) {
            startup_failure(p, *exit + " while starting");
          } else {
            Crashed(p, *exit + " while starting");
          }
          break;
        }
        bool ready = false;
        if (p.spec.spawn.ready_pipe) {
          ready = p.process->PollReady();
        } else if (!p.spec.health_url.empty()) {
          if (now >= p.next_check) {
            p.next_check = now + kStartPoll;
            auto checked = probe_.Check(p.spec.health_url);
            ready = static_cast<bool>(checked);
            if (!checked) p.last_check_error = checked.error().message;
          }
        } else {
          ready = true;  // nothing to wait for
        }
        if (ready) {
          p.ready_at = now;
          p.healthy = true;
          p.failed_checks = 0;
          p.last_check_error.clear();
          p.next_check = now + policy_.check_interval;
          EnterState(p, PartState::kRunning);
          Event(p, "ready in " + SecondsText(now - p.started_at), false);
        } else if (now - p.started_at >= policy_.start_timeout) {
          const std::string why =
              "not ready within " + SecondsText(policy_.start_timeout) +
              (p.last_check_error.empty() ? "" : " (" + p.last_check_error + ")");
          if (!armed_) {
            startup_failure(p, why);
          } else {
            Crashed(p, why);
          }
        }
        break;
      }
      case PartState::kRunning: {
        if (auto exit = p.process->ExitDescription(); exit) {
          if (!armed_) {
            startup_failure(p, *exit);
          } else {
            Crashed(p, *exit);
          }
          break;
        }
        if (p.in_a_row > 0 && p.ready_at && now - *p.ready_at >= policy_.stable_after)
          p.in_a_row = 0;
        if (p.spec.health_url.empty() || now < p.next_check) break;
        p.next_check = now + policy_.check_interval;
        if (auto checked = probe_.Check(p.spec.health_url); checked) {
          if (!p.healthy) Event(p, "healthy again", false);
          p.healthy = true;
          p.failed_checks = 0;
          p.last_check_error.clear();
        } else {
          ++p.failed_checks;
          p.last_check_error = checked.error().message;
          if (p.healthy)
            Event(p, "health check failed: " + p.last_check_error, true);
          p.healthy = false;
          if (armed_ && p.failed_checks >= policy_.unhealthy_threshold)
            Crashed(p, "unhealthy (" + std::to_string(p.failed_checks) +
                           " failed checks in a row, last: " + p.last_check_error + ")");
        }
        break;
      }
      case PartState::kStopping: {
        if (auto exit = p.process->ExitDescription(); exit) {
          p.process.reset();
          EnterState(p, PartState::kStopped);
          Event(p, "stopped (" + *exit + ")", false);
          if (p.restart_after_stop && !stopping_all_) {
            p.restart_after_stop = false;
            if (auto launched = Launch(p.spec.name); !launched)
              Crashed(p, launched.error().message);
          }
          break;
        }
        if (!p.killed && now >= p.stop_deadline) {
          p.killed = true;
          p.process->Signal(SIGKILL);
          Event(p, "did not stop within " + SecondsText(p.spec.stop_grace) + "; killed", true);
        }
        break;
      }
      case PartState::kBackoff: {
        if (stopping_all_ || now < p.restart_at) break;
        std::string missing;
        for (const auto& dep : p.spec.after) {
          const Part* d = Find(dep);
          if (d != nullptr && d->state != PartState::kRunning)
            missing += (missing.empty() ? "" : ", ") + dep;
        }
        if (!missing.empty()) {
          // Starting now would only fail and count against the crash loop: wait for them.
          if (p.waiting_for != missing) Event(p, "waiting for " + missing + " before restarting", false);
          p.waiting_for = missing;
          p.restart_at = now + kStartPoll;
          break;
        }
        p.waiting_for.clear();
        ++p.restarts;
        if (auto spawned = SpawnPart(p); !spawned) {
          Crashed(p, spawned.error().message);
        } else {
          Event(p, "restarted (pid " + std::to_string(p.process->pid()) + ", restart " +
                       std::to_string(p.restarts) + ")",
                false);
        }
        break;
      }
      case PartState::kPending:
      case PartState::kStopped:
      case PartState::kFailed:
        break;
    }
  }
  return first_error;
}

Status Supervision::Stop(const std::string& name, std::optional<int> signal) {
  Part* p = Find(name);
  if (p == nullptr) return Fail(Code::kNotFound, "there is no part named " + name);
  p->restart_after_stop = false;
  switch (p->state) {
    case PartState::kStarting:
    case PartState::kRunning: {
      const int sig = signal.value_or(p->spec.stop_signal);
      p->process->Signal(sig);
      p->stop_deadline = clock_.Monotonic() + p->spec.stop_grace;
      p->killed = false;
      EnterState(*p, PartState::kStopping);
      Event(*p,
            std::string("stopping (") + (sig == SIGUSR2 ? "lame duck, " : "") + "signal " +
                std::to_string(sig) + ")",
            false, /*down=*/true);
      return Ok();
    }
    case PartState::kPending:
    case PartState::kBackoff:
    case PartState::kFailed:
      EnterState(*p, PartState::kStopped);
      Event(*p, "stopped", false);
      return Ok();
    case PartState::kStopping:
    case PartState::kStopped:
      return Ok();
  }
  return Ok();
}

Status Supervision::Restart(const std::string& name) {
  Part* p = Find(name);
  if (p == nullptr) return Fail(Code::kNotFound, "there is no part named " + name);
  if (p->state == PartState::kStarting || p->state == PartState::kRunning) {
    NATSTACK_TRY(Stop(name));
    p->restart_after_stop = true;
    return Ok();
  }
  if (p->state == PartState::kStopping) {
    p->restart_after_stop = true;
    return Ok();
  }
  return Launch(name);
}

bool Supervision::AllStopped(const std::vector<std::string>& names) const {
  for (const auto& n : names) {
    const Part* p = Find(n);
    if (p != nullptr && p->state == PartState::kStopping) return false;
  }
  return true;
}

void Supervision::StopAll(const std::vector<std::vector<std::string>>& order, bool graceful) {
  stopping_all_ = true;
  std::vector<std::vector<std::string>> groups = order;
  std::vector<std::string> rest;
  for (const auto& p : parts_) {
    bool named = false;
    for (const auto& g : order) named = named || std::count(g.begin(), g.end(), p->spec.name) > 0;
    if (!named) rest.push_back(p->spec.name);
  }
  if (!rest.empty()) groups.push_back(rest);
  for (const auto& group : groups) {
    for (const auto& name : group)
      (void)Stop(name, graceful ? std::nullopt : std::optional<int>(SIGTERM));
    // Bounded: every stopping part is killed at its grace's end and reaped right after.
    const auto give_up = clock_.Monotonic() + std::chrono::minutes(10);
    while (!AllStopped(group) && clock_.Monotonic() < give_up) {
      (void)Tick();
      if (!AllStopped(group)) sleep_(std::chrono::milliseconds(20));
    }
  }
  stopping_all_ = false;
}

bool Supervision::IsReady(const std::string& name) const {
  const Part* p = Find(name);
  return p != nullptr && p->state == PartState::kRunning;
}

std::optional<PartStatus> Supervision::StatusOf(const std::string& name) const {
  const Part* p = Find(name);
  if (p == nullptr) return std::nullopt;
  PartStatus s;
  s.name = p->spec.name;
  s.kind = p->spec.kind;
  s.state = p->state;
  s.pid = p->process ? p->process->pid() : -1;
  s.healthy = p->state == PartState::kRunning && p->healthy;
  s.restarts = p->restarts;
  s.crashes_in_a_row = p->in_a_row;
  s.last_exit = p->last_exit;
  s.last_check_error = p->last_check_error;
  s.log_file = p->spec.spawn.log_file;
  s.since = p->since;
  s.restart_at = p->restart_at;
  return s;
}

std::vector<PartStatus> Supervision::Snapshot() const {
  std::vector<PartStatus> out;
  for (const auto& p : parts_) out.push_back(*StatusOf(p->spec.name));
  return out;
}

}  // namespace natstack::cluster
