#pragma once
/// Small helpers shared by tests. Test-only.

#include <chrono>
#include <functional>
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

}  // namespace natstack::testing
