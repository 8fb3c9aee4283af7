#pragma once
/// Child processes of the supervisor. Each child is started with its own argv (never a shell,
/// never a secret in argv), its output appended to a log file, and PR_SET_PDEATHSIG so it dies
/// with the supervisor even when the supervisor is killed with SIGKILL.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace natstack::cluster {

struct SpawnOptions {
  std::vector<std::string> argv;  ///< argv[0] is the program path
  std::string log_file;           ///< stdout+stderr appended here ("" = inherit)
  std::string working_dir;        ///< "" = inherit
  /// Give the child a readiness pipe: its write end is fd 3 and $NATSTACK_READY_FD names it
  /// (see core/notify.hpp); the parent waits on it with WaitReady().
  bool ready_pipe = false;
};

class ChildProcess {
 public:
  /// Starts the program. kNotFound when it is not executable.
  static Result<ChildProcess> Spawn(const SpawnOptions& options);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// Stops the child (Stop with a short grace) if it still runs.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  /// True while the child has not exited (reaps it when it has).
  bool IsRunning();
  /// Exit description once it has exited: "exited with status 1", "killed by signal 9".
  std::optional<std::string> ExitDescription();
  /// Sends `signal` (no-op when exited).
  void Signal(int signal);
  /// SIGTERM, wait up to `grace`, then SIGKILL and reap. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  /// With `ready_pipe`: true once the child reported ready (it wrote a line to fd 3); false
  /// after `timeout`, or when the child closed the pipe or exited without reporting.
  bool WaitReady(std::chrono::milliseconds timeout);

 private:
  ChildProcess(pid_t pid, int ready_fd) : pid_(pid), ready_fd_(ready_fd) {}
  void Reap(int status);
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  bool ready_ = false;
  bool exited_ = false;
  int status_ = 0;
};

/// The last `max_lines` lines of a log file (for error messages).
std::string TailOfFile(const std::string& path, size_t max_lines = 5);

}  // namespace natstack::cluster

namespace natstack::cluster {

/// Runs a program to completion and returns what it printed (stdout+stderr), at most
/// `max_bytes`. kDeadlineExceeded (and the child killed) after `timeout`.
Result<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                  size_t max_bytes = 1 << 20);

}  // namespace natstack::cluster
