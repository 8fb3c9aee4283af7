#pragma once
/// The natstack command table: one function per subcommand, each registering its options on a
/// CLI11 subcommand and returning the action to run. Exit codes: 0 success, 1 runtime failure,
/// 2 usage or configuration error.

#include <cstdint>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.hpp"

namespace natstack::cli {

/// Options every subcommand shares.
struct Globals {
  std::string state_dir;  ///< "" = the default state directory
  std::string argv0;
  /// The state directory to use (the flag, else the default), absolute.
  std::string StateDir() const;
  bool StateDirIsDefault() const { return state_dir.empty(); }
};

using Action = std::function<int()>;

void AddUpCommands(CLI::App& app, Globals& globals, Action& action);      // up, down, info
void AddTokenCommand(CLI::App& app, Globals& globals, Action& action);    // token
void AddClientCommand(CLI::App& app, Globals& globals, Action& action);   // client
void AddCalloutCommand(CLI::App& app, Globals& globals, Action& action);  // callout serve
void AddIdpCommand(CLI::App& app, Globals& globals, Action& action);      // idp serve
void AddKeysCommand(CLI::App& app, Globals& globals, Action& action);     // keys
void AddConfigCommand(CLI::App& app, Globals& globals, Action& action);   // config validate|default
void AddClusterCommand(CLI::App& app, Globals& globals, Action& action);  // cluster render
void AddDnsCommand(CLI::App& app, Globals& globals, Action& action);      // dns serve

/// "90", "90s", "15m", "2h", "1d" -> seconds; -1 when malformed.
int64_t ParseDurationSeconds(const std::string& text);

/// Absolute path of the running binary (/proc/self/exe).
std::string SelfExe();

/// Waits until SIGINT or SIGTERM (which the caller has blocked). Returns the signal.
int WaitForTermination();

/// The exit code for an error: 2 for configuration (kInvalidArgument, kNotFound,
/// kPermissionDenied: a bad or unreadable file or setting), 1 for the rest.
int ExitCodeOf(const Error& e);

/// Prints "natstack <cmd>: <message>" to stderr.
void PrintError(const std::string& command, const std::string& message);

}  // namespace natstack::cli
