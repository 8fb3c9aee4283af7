// natstack up / down / info
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "cluster/spec.hpp"
#include "cluster/supervisor.hpp"
#include "core/file.hpp"

namespace natstack::cli {

void AddOpsCommands(CLI::App& app, Globals& g, Action& action);  // cmd_ops.cpp

namespace {

constexpr char kReadyMarker[] = "\x01natstack-ready";

struct UpFlags {
  bool detach = false;
  std::string spec;
  std::string addresses;
  std::string idp_listen;
  std::string supervisor_listen;
  int timeout_s = 60;
  int callout_replicas = -1;  ///< -1: as remembered, else the default (2)
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

/// "127.0.0.1:9400" into host and port; a loopback IPv4 address only (the embedded stack).
Status ParseLoopbackHostPort(const std::string& flag, const std::string& text, std::string& host,
                             int& port) {
  const auto colon = text.rfind(':');
  const std::string h = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  in_addr addr{};
  const bool port_ok = !port_text.empty() && port_text.size() <= 5 &&
                       port_text.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoi(port_text) > 0 && std::stoi(port_text) <= 65535;
  if (!port_ok || ::inet_pton(AF_INET, h.c_str(), &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127)
    return Fail(Code::kInvalidArgument, flag + ": expected a loopback IPv4 HOST:PORT such as "
                                               "127.0.0.1:9400, got '" + text + "'");
  host = h;
  port = std::stoi(port_text);
  return Ok();
}

/// The layout for this run: the --spec file, else the state directory's remembered layout,
/// else the embedded default; flags override any of them.
Result<cluster::StackLayout> ResolveLayout(const Globals& g, const UpFlags& f) {
  const std::string dir = g.StateDir();
  cluster::StackLayout layout;
  if (!f.spec.empty()) {
    // A spec describes the whole stack: it replaces what the state directory remembers.
    NATSTACK_ASSIGN_OR_RETURN(layout, cluster::LoadSpecFile(f.spec, dir, cluster::SpecUse::kLocal));
  } else if (auto saved = cluster::LoadLayout(dir); saved) {
    layout = std::move(*saved);
  } else if (saved.error().code == Code::kNotFound) {
    layout = cluster::DefaultLayout(dir);
  } else {
    return Fail(saved.error());
  }
  if (!f.addresses.empty()) NATSTACK_TRY(cluster::SetNodeAddresses(layout, SplitCommas(f.addresses)));
  if (!f.idp_listen.empty())
    NATSTACK_TRY(ParseLoopbackHostPort("--idp-listen", f.idp_listen, layout.idp_host, layout.idp_port));
  if (!f.supervisor_listen.empty()) {
    NATSTACK_TRY(ParseLoopbackHostPort("--supervisor-listen", f.supervisor_listen,
                                       layout.supervisor_host, layout.supervisor_port));
  }
  if (f.callout_replicas >= 0) layout.callout_replicas = f.callout_replicas;
  if (layout.idp_port + layout.callout_replicas > 65535)
    return Fail(Code::kInvalidArgument,
                "--idp-listen: port " + std::to_string(layout.idp_port) + " leaves no room for " +
                    std::to_string(layout.callout_replicas) +
                    " callout metrics port(s) after it (IdP port + 1, + 2, ...)");
  return layout;
}

/// Detached start: the child runs the supervisor in its own session; its start-up output
/// reaches the parent through a pipe until it is ready, then goes to logs/supervisor.log.
int RunDetached(cluster::UpOptions options) {
  int fds[2];
  if (::pipe(fds) != 0) {
    PrintError("up", "pipe failed");
    return 1;
  }
  const cluster::StatePaths paths(options.layout.state_dir);
  if (auto made = MakeDirs(paths.LogsDir(), 0700); !made) {
    PrintError("up", made.error().message);
    return 1;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    PrintError("up", "fork failed");
    return 1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[1]);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    const std::string log = paths.Log("supervisor");
    options.on_ready = [log] {
      std::printf("%s\n", kReadyMarker);
      std::fflush(stdout);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
    };
    std::_Exit(cluster::RunUp(options));
  }
  ::close(fds[1]);
  bool ready = false;
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line == kReadyMarker) {
        ready = true;
      } else {
        std::printf("%s\n", line.c_str());
      }
    }
  }
  if (!pending.empty()) std::printf("%s", pending.c_str());
  ::close(fds[0]);
  std::fflush(stdout);
  if (!ready) {
    // The supervisor failed before it was ready: its exit code (2 for bad configuration).
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
      return WEXITSTATUS(status);
    return 1;
  }
  std::printf("natstack runs in the background (logs in %s)\n", paths.LogsDir().c_str());
  return 0;
}

}  // namespace

void AddUpCommands(CLI::App& app, Globals& g, Action& action) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* up = app.add_subcommand(
      "up", "Start the stack (3 nats-server nodes, auth callout, development IdP) and stay in the "
            "foreground until Ctrl-C");
  up->add_flag("--detach,-d", flags->detach, "Return once the stack is ready; stop it with `down`");
  up->add_option("--spec", flags->spec,
                 "A cluster spec (TOML, docs/spec.md) to run instead of the embedded default "
                 "(`natstack config default` prints that one)");
  up->add_option("--addresses", flags->addresses,
                 "Comma-separated loopback addresses, one node each (default 127.0.1.1,127.0.1.2,127.0.1.3)");
  up->add_option("--idp-listen", flags->idp_listen, "HOST:PORT of the development IdP (default 127.0.0.1:9400)");
  up->add_option("--supervisor-listen", flags->supervisor_listen,
                 "HOST:PORT of the supervisor's status and control endpoint (default 127.0.0.1:9390)");
  up->add_option("--callout-replicas", flags->callout_replicas,
                 "Auth callout replicas in one queue group, each connected to a different node "
                 "first (default 2; 0 = start none, bring your own `natstack callout serve`)")
      ->check(CLI::Range(0, cluster::kMaxCalloutReplicas));
  up->add_option("--timeout", flags->timeout_s, "Seconds to wait for readiness (default 60)")
      ->check(CLI::Range(1, 3600));
  up->callback([&g, &action, flags] {
    action = [&g, flags] {
      cluster::BlockTerminationSignals();
      auto layout = ResolveLayout(g, *flags);
      if (layout) {
        // Flags change what a spec or state.json said: the same checks again, before anything
        // starts (clashing listeners, addresses).
        if (auto checked = cluster::CheckLayout(*layout, cluster::SpecUse::kLocal); !checked)
          layout = Fail(checked.error());
      }
      if (!layout) {
        PrintError("up", layout.error().message);
        return 2;
      }
      cluster::UpOptions options;
      options.layout = std::move(*layout);
      options.self_exe = SelfExe();
      options.display_exe = g.argv0;
      options.default_state_dir = g.StateDirIsDefault();
      options.ready_timeout = std::chrono::seconds(flags->timeout_s);
      options.detached = flags->detach;
      if (flags->detach) return RunDetached(std::move(options));
      return cluster::RunUp(options);
    };
  });

  CLI::App* down = app.add_subcommand("down", "Stop the stack started with `up --detach`");
  down->callback([&g, &action] {
    action = [&g] { return cluster::RunDown(g.StateDir(), std::chrono::seconds(60)); };
  });

  AddOpsCommands(app, g, action);

  auto json = std::make_shared<bool>(false);
  CLI::App* info = app.add_subcommand("info", "Print the stack's URLs and files");
  info->add_flag("--json", *json, "Machine-readable output");
  info->callback([&g, &action, json] {
    action = [&g, json] {
      auto layout = cluster::LoadLayout(g.StateDir());
      if (!layout) {
        PrintError("info", layout.error().message);
        return layout.error().code == Code::kInvalidArgument ? 2 : 1;
      }
      auto j = cluster::InfoJson(*layout);
      long pid = 0;
      const bool running = cluster::IsStackRunning(layout->state_dir, &pid);
      j["running"] = running;
      if (*json) {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("state dir   %s (%s)\n", layout->state_dir.c_str(),
                  running ? ("running, pid " + std::to_string(pid)).c_str() : "not running");
      std::printf("CA          %s\n", j["ca_file"].get<std::string>().c_str());
      for (const char* k : {"clients", "websocket", "monitoring"}) {
        std::string line;
        for (const auto& u : j[k]) line += (line.empty() ? "" : "  ") + u.get<std::string>();
        std::printf("%-11s %s\n", k, line.c_str());
      }
      std::printf("idp         %s\n", j["idp"].get<std::string>().c_str());
      return 0;
    };
  });
}

}  // namespace natstack::cli
