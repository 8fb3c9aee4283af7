#pragma once
/// `natstack up` / `down`: starts the parts of a stack in dependency order, reports readiness,
/// watches them, and stops everything on SIGINT/SIGTERM.
///
/// Order: keys and certificates (a node never starts without its certificate) -> the IdP and
/// the nodes -> each node's /healthz -> the callout (it needs the IdP's keys and a node) -> a
/// probe client admitted through every node -> ready. Any failure stops what was started and
/// returns one message naming the cause.

#include <chrono>
#include <functional>
#include <string>

#include "cluster/layout.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

struct UpOptions {
  StackLayout layout;
  std::string self_exe;     ///< absolute path of this natstack binary (re-executed for services)
  std::string display_exe;  ///< how the user invoked it, for copy-paste commands
  bool default_state_dir = true;  ///< omit --state-dir from printed commands
  bool detached = false;          ///< started with --detach (changes the printed stop hint)
  std::chrono::seconds ready_timeout{60};
  /// Called once the stack is ready, after the ready block is printed (detach uses it).
  std::function<void()> on_ready;
};

/// Runs the stack until SIGINT or SIGTERM. The caller must have blocked SIGINT, SIGTERM and
/// SIGHUP in every thread (BlockTerminationSignals) before any thread was started. Returns the
/// process exit code: 0 after a clean stop, 1 when the stack could not start.
int RunUp(const UpOptions& options);

/// Blocks SIGINT/SIGTERM/SIGHUP so the supervisor can wait for them with sigtimedwait.
void BlockTerminationSignals();

/// Stops the stack that runs for `state_dir`. Exit code 0 when stopped or nothing was running.
int RunDown(const std::string& state_dir, std::chrono::seconds timeout);

/// True when a supervisor holds the lock of `state_dir`; its pid in `pid` when known.
bool IsStackRunning(const std::string& state_dir, long* pid);

/// kAlreadyExists naming host:port when something listens there (or it cannot be bound);
/// the message suggests `flag` to choose another.
Status CheckPortFree(const std::string& host, int port, const std::string& what,
                     const std::string& flag = "--addresses");

/// Finds nats-server ($NATSTACK_NATS_SERVER, else PATH, then /usr/sbin) and checks it is >= 2.10.11: auth callout.
Result<std::string> FindNatsServer();

}  // namespace natstack::cluster
