#include "cluster/systemd.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/file.hpp"

namespace natstack::cluster {
namespace {

// A rendered node's lame duck: lame_duck_grace_period (2 s), then its clients closed across
// lame_duck_duration (30 s, nats-server's minimum) — about 32 s; the margin covers a node with
// many clients and a slow final shutdown.
constexpr int kNodeStopTimeoutSeconds = 90;
// The callout answers the requests in flight (each lives at most the auth timeout) and exits.
constexpr int kServiceStopTimeoutSeconds = 30;
// Crash loops: at most this many starts in the interval, then systemd gives up (a failed unit
// an operator sees in `systemctl --failed`).
constexpr int kStartLimitBurst = 5;
constexpr int kStartLimitIntervalSeconds = 300;

bool HasControlChars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

Status CheckPath(const std::string& path, const std::string& what) {
  if (path.empty() || path.front() != '/')
    return Fail(Code::kInvalidArgument, what + ": \"" + path + "\" is not an absolute path");
  if (HasControlChars(path))
    return Fail(Code::kInvalidArgument, what + ": contains control characters");
  return Ok();
}

/// One word of a unit's command line or path list: as is when plain, else double-quoted with
/// C escapes. '%' (specifiers) and '$' (variables) are doubled either way: systemd expands
/// them inside quotes too (systemd.service "Command lines", systemd.unit "Specifiers").
std::string UnitWord(std::string_view text) {
  std::string escaped;
  bool plain = !text.empty();
  for (const char c : text) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || std::string_view("/_.,:@+=-").find(c) !=
                                                    std::string_view::npos;
    if (!safe && c != '%' && c != '$') plain = false;
    if (c == '%') {
      escaped += "%%";
    } else if (c == '$') {
      escaped += "$$";
    } else if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
    } else {
      escaped += c;
    }
  }
  return plain ? escaped : "\"" + escaped + "\"";
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + UnitWord(a);
  return out;
}

/// A user name systemd's User= takes (and useradd makes): [A-Za-z_][A-Za-z0-9_.-]*, at most
/// 31 characters, or a numeric uid.
bool IsValidUser(std::string_view user) {
  if (user.empty() || user.size() > 31) return false;
  if (std::all_of(user.begin(), user.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return true;
  if (!(std::isalpha(static_cast<unsigned char>(user[0])) || user[0] == '_')) return false;
  return std::all_of(user.begin(), user.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool UnderHome(const std::string& path) {
  for (const char* prefix : {"/home/", "/root/", "/run/user/"})
    if (path.rfind(prefix, 0) == 0) return true;
  return path == "/home" || path == "/root";
}

struct Part {
  std::string description;
  std::string comment;  // lines of "# ..." above [Unit]
  std::vector<std::string> after;  // units ordered before this one
  std::vector<std::string> exec_start;
  std::string exec_reload;  // a whole command line; empty: none
  std::vector<std::string> stop_comment;
  std::string kill_signal;
  int stop_timeout_s = 0;
  bool prevent_restart_on_config_error = false;  // natstack exits 2 on bad configuration
  std::vector<std::string> read_write_paths;
  bool binds_privileged_port = false;
  bool many_files = false;
};

std::string RenderUnit(const Part& p, const UnitOptions& options, bool protect_home_read_only) {
  std::string u;
  u += p.comment;
  u += "# Rendered by `natstack cluster render`: re-render, do not edit. No secret is in this\n";
  u += "# unit: each program reads its secrets from 0600 files itself.\n";
  u += "[Unit]\n";
  u += "Description=" + p.description + "\n";
  std::string after = "network-online.target";
  for (const auto& a : p.after) after += " " + a;
  u += "After=" + after + "\n";
  u += "Wants=network-online.target\n";
  u += "StartLimitIntervalSec=" + std::to_string(kStartLimitIntervalSeconds) + "\n";
  u += "StartLimitBurst=" + std::to_string(kStartLimitBurst) + "\n";
  u += "\n";
  u += "[Service]\n";
  u += "Type=exec\n";
  u += "User=" + options.user + "\n";
  u += "ExecStart=" + CommandLine(p.exec_start) + "\n";
  if (!p.exec_reload.empty()) u += "ExecReload=" + p.exec_reload + "\n";
  for (const auto& line : p.stop_comment) u += "# " + line + "\n";
  u += "KillSignal=" + p.kill_signal + "\n";
  u += "TimeoutStopSec=" + std::to_string(p.stop_timeout_s) + "\n";
  u += "Restart=on-failure\n";
  u += "RestartSec=2\n";
  if (p.prevent_restart_on_config_error) {
    u += "# Exit status 2 is a configuration error, which a restart does not mend.\n";
    u += "RestartPreventExitStatus=2\n";
  }
  if (p.many_files) u += "LimitNOFILE=65536\n";
  u += "UMask=0077\n";
  u += "# Hardening: the file system is read-only but for what the part writes.\n";
  u += "NoNewPrivileges=yes\n";
  u += "ProtectSystem=strict\n";
  if (!p.read_write_paths.empty()) {
    std::string paths;
    for (const auto& path : p.read_write_paths) paths += (paths.empty() ? "" : " ") + UnitWord(path);
    u += "ReadWritePaths=" + paths + "\n";
  }
  u += std::string("ProtectHome=") + (protect_home_read_only ? "read-only" : "yes") + "\n";
  u += "PrivateTmp=yes\n";
  u += "PrivateDevices=yes\n";
  u += "ProtectKernelTunables=yes\n";
  u += "ProtectKernelModules=yes\n";
  u += "ProtectKernelLogs=yes\n";
  u += "ProtectControlGroups=yes\n";
  u += "ProtectClock=yes\n";
  u += "ProtectHostname=yes\n";
  u += "RestrictNamespaces=yes\n";
  u += "RestrictRealtime=yes\n";
  u += "RestrictSUIDSGID=yes\n";
  u += "LockPersonality=yes\n";
  u += "MemoryDenyWriteExecute=yes\n";
  u += "SystemCallArchitectures=native\n";
  u += "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n";
  if (p.binds_privileged_port) {
    u += "# It listens on a port below 1024.\n";
    u += "AmbientCapabilities=CAP_NET_BIND_SERVICE\n";
    u += "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n";
  } else {
    u += "CapabilityBoundingSet=\n";
  }
  u += "\n";
  u += "[Install]\n";
  u += "WantedBy=multi-user.target\n";
  return u;
}

}  // namespace

std::string UnitName(std::string_view part) { return "natstack-" + std::string(part) + ".service"; }

Result<std::vector<RenderedUnit>> RenderSystemdUnits(const StackLayout& layout,
                                                     const UnitOptions& options) {
  NATSTACK_TRY(CheckPath(layout.state_dir, "state directory"));
  NATSTACK_TRY(CheckPath(options.natstack_exe, "natstack binary"));
  NATSTACK_TRY(CheckPath(options.nats_server, "nats-server binary"));
  if (!IsValidUser(options.user))
    return Fail(Code::kInvalidArgument,
                "user: \"" + options.user + "\" is not a user name systemd accepts");
  if (layout.nodes.empty()) return Fail(Code::kInvalidArgument, "nodes: needs at least one node");
  const StatePaths paths(layout.state_dir);
  bool read_only_home = UnderHome(layout.state_dir) || UnderHome(options.natstack_exe) ||
                        UnderHome(options.nats_server);
  if (layout.tls_source == TlsSource::kFiles) {
    for (const auto* f : {&layout.tls_cert_file, &layout.tls_key_file, &layout.tls_ca_file}) {
      NATSTACK_TRY(CheckPath(*f, "tls file"));
      read_only_home = read_only_home || UnderHome(*f);
    }
  }

  std::vector<Part> parts;
  std::vector<std::string> node_units;
  for (const auto& n : layout.nodes) {
    const std::string store = paths.NodesDir() + "/" + n.name;
    NATSTACK_TRY(CheckPath(store, "node " + n.name));
    node_units.push_back(UnitName(n.name));
    Part p;
    p.comment = "# natstack: nats-server node \"" + n.name + "\" of cluster \"" +
                layout.cluster_name + "\" (" + n.host + ").\n";
    p.description = "natstack node " + n.name + " (nats-server, cluster " + layout.cluster_name + ")";
    p.exec_start = {options.nats_server, "-c", paths.NodeConfig(n.name)};
    // $MAINPID is systemd's: the one variable a unit line here expands.
    p.exec_reload = CommandLine({options.nats_server, "--signal"}) + " reload=$MAINPID";
    p.stop_comment = {
        "Stop = lame-duck mode: nats-server stops accepting clients, closes the existing ones",
        "over lame_duck_duration (30 s after a 2 s grace) so they move to the other nodes,",
        "then exits. SIGKILL only after TimeoutStopSec."};
    p.kill_signal = "SIGUSR2";
    p.stop_timeout_s = kNodeStopTimeoutSeconds;
    p.read_write_paths = {store};
    p.binds_privileged_port = std::min({n.client_port, n.cluster_port, n.monitor_port,
                                        n.websocket_port}) < 1024;
    p.many_files = true;
    parts.push_back(std::move(p));
  }
  for (int i = 1; i <= layout.callout_replicas; ++i) {
    Part p;
    p.comment = "# natstack: auth callout replica " + std::to_string(i) + " of cluster \"" +
                layout.cluster_name + "\" (metrics on " + CalloutHttpListen(layout, i) + ").\n";
    p.description = "natstack auth callout " + std::to_string(i) + " (cluster " +
                    layout.cluster_name + ")";
    p.after = node_units;
    p.after.push_back(UnitName("idp"));
    p.exec_start = {options.natstack_exe, "callout", "serve", "--config", paths.CalloutConfig(i)};
    p.stop_comment = {"SIGTERM: the callout stops taking requests, answers those in flight and exits."};
    p.kill_signal = "SIGTERM";
    p.stop_timeout_s = kServiceStopTimeoutSeconds;
    p.prevent_restart_on_config_error = true;
    p.binds_privileged_port = layout.idp_port + i < 1024;
    parts.push_back(std::move(p));
  }
  {
    Part p;
    p.comment = "# natstack: the development IdP of cluster \"" + layout.cluster_name + "\" (" +
                IdpIssuerUrl(layout) + "), for trying the cluster; production uses a real IdP.\n";
    p.description = "natstack development IdP (cluster " + layout.cluster_name + ")";
    p.exec_start = {options.natstack_exe, "idp", "serve", "--state-dir", layout.state_dir};
    p.stop_comment = {"SIGTERM: stops serving and exits."};
    p.kill_signal = "SIGTERM";
    p.stop_timeout_s = kServiceStopTimeoutSeconds;
    p.prevent_restart_on_config_error = true;
    p.binds_privileged_port = layout.idp_port < 1024;
    parts.push_back(std::move(p));
  }

  std::vector<RenderedUnit> units;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string part = i < layout.nodes.size() ? layout.nodes[i].name
                             : i < layout.nodes.size() + static_cast<size_t>(layout.callout_replicas)
                                 ? CalloutPartName(static_cast<int>(i - layout.nodes.size()) + 1)
                                 : std::string("idp");
    units.push_back(RenderedUnit{UnitName(part), RenderUnit(parts[i], options, read_only_home)});
  }
  return units;
}

Result<std::vector<std::string>> WriteUnits(const std::vector<RenderedUnit>& units,
                                            const std::string& dir) {
  NATSTACK_TRY(MakeDirs(dir, 0700));
  std::set<std::string> names;
  std::vector<std::string> written;
  for (const auto& u : units) {
    if (u.name.find('/') != std::string::npos || u.name.rfind("natstack-", 0) != 0)
      return Fail(Code::kInvalidArgument, "unit name \"" + u.name + "\" is not natstack-*.service");
    NATSTACK_TRY(WriteFileAtomic(dir + "/" + u.name, u.text, 0644));
    names.insert(u.name);
    written.push_back(dir + "/" + u.name);
  }
  // Units of parts the spec no longer has (a node removed, fewer replicas).
  if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("natstack-", 0) == 0 && name.size() > 8 &&
          name.compare(name.size() - 8, 8, ".service") == 0 && names.count(name) == 0)
        stale.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : stale) (void)::unlink((dir + "/" + name).c_str());
  }
  return written;
}

}  // namespace natstack::cluster
