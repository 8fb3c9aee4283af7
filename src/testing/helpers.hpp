#pragma once
/// Small helpers shared by tests. Test-only.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace natstack::testing {

/// Output and exit code of a shell command.
struct ShellResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr
};

/// Runs `command` with /bin/sh (fixed strings built by the test, paths from mkdtemp).
ShellResult RunShell(const std::string& command);

/// Polls `done` every 2 ms until it is true (returns true) or `limit` passes (false).
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds limit = std::chrono::seconds(5));

/// A door threads wait at until the test opens it. The wait is bounded, so a broken component
/// fails a test instead of hanging it.
class Gate {
 public:
  void Open();
  /// True when opened, false after 10 s.
  bool Wait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace natstack::testing
