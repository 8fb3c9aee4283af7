#pragma once
/// Reading configuration from the process environment, and removing secrets from it.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace natstack {

/// The variables among `names` that are set (possibly empty), name -> value.
std::map<std::string, std::string> ReadEnvironment(const std::vector<std::string_view>& names);

/// Overwrites the values of `names` in place with NUL bytes and unsets them, so a secret read
/// from the environment no longer shows in /proc/PID/environ (which reads the process's own
/// copy of its initial environment) nor reaches a child process. Not thread-safe with other
/// environment access: call it early, before threads that read the environment start.
void ScrubEnvironment(const std::vector<std::string_view>& names);

}  // namespace natstack
