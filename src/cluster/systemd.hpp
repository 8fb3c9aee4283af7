#pragma once
/// systemd units for a rendered cluster (`natstack cluster render`): one per node
/// (nats-server), one per callout replica and one for the development IdP, so the same spec
/// deploys on real hosts. docs/spec.md lists what each unit sets and why.
///
/// The units hold no secret: no Environment=, no password in ExecStart=. nats-server reads its
/// secrets from the node's 0600 include file, the callout and the IdP from the 0600 files their
/// configs name. Each unit runs as one user (who must own the rendered directory), with the
/// file system read-only but for what it writes (a node's JetStream directory; the others
/// write nothing), no new privileges, private /tmp and devices, and no capabilities unless it
/// binds a port below 1024.
///
/// Stopping a node is a lame-duck stop: KillSignal=SIGUSR2, on which nats-server stops
/// accepting clients, closes the existing ones spread over lame_duck_duration (2 min after a
/// 10 s grace by default) so they reconnect to the other nodes, and exits 0 (server/signal.go,
/// server.go lameDuckMode). SIGTERM during that is ignored by nats-server; systemd sends
/// SIGKILL only after TimeoutStopSec.

#include <string>
#include <string_view>
#include <vector>

#include "cluster/layout.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

struct UnitOptions {
  std::string natstack_exe;  ///< absolute path of the natstack binary (/proc/self/exe)
  std::string nats_server;   ///< absolute path of nats-server (FindNatsServer)
  std::string user;          ///< User= of every unit: the owner of the rendered files
};

struct RenderedUnit {
  std::string name;  ///< "natstack-n1.service"
  std::string text;
};

/// The unit of part `part` ("n1", "callout-1", "idp"): "natstack-<part>.service".
std::string UnitName(std::string_view part);

/// Units for `layout` (its state_dir is the rendered directory): nodes in spec order, then
/// callout-1..N (none for 0 replicas), then idp. Pure. kInvalidArgument for a relative or
/// control-character path, or a user name systemd would not take.
Result<std::vector<RenderedUnit>> RenderSystemdUnits(const StackLayout& layout,
                                                     const UnitOptions& options);

/// Writes each unit to <dir>/<name> (0644, atomically), creating `dir` (0700), and removes
/// other natstack-*.service files there (parts a previous render had). Returns the paths.
Result<std::vector<std::string>> WriteUnits(const std::vector<RenderedUnit>& units,
                                            const std::string& dir);

}  // namespace natstack::cluster
