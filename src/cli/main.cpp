// natstack: one binary for a NATS cluster with OIDC auth callout, DNS discovery and certificates.
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "core/file.hpp"

namespace natstack::cli {

std::string Globals::StateDir() const {
  return AbsolutePath(state_dir.empty() ? cluster::DefaultStateDir() : state_dir);
}

std::string SelfExe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

int WaitForTermination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int ExitCodeOf(const Error& e) {
  return e.code == Code::kInvalidArgument || e.code == Code::kNotFound ||
                 e.code == Code::kPermissionDenied
             ? 2
             : 1;
}

void PrintError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "natstack %s: %s\n", command.c_str(), message.c_str());
}

}  // namespace natstack::cli

int main(int argc, char** argv) {
  using namespace natstack::cli;
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "natstack: a NATS cluster whose clients authenticate with OpenID Connect tokens through "
      "a C++ auth callout."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("natstack 0.1.0"));
  Globals globals;
  globals.argv0 = argc > 0 ? argv[0] : "natstack";
  app.add_option("--state-dir", globals.state_dir,
                 "State directory (keys, certificates, configs, logs, data); default "
                 "$NATSTACK_STATE_DIR, else $XDG_STATE_HOME/natstack, else "
                 "~/.local/state/natstack");
  Action action;
  AddUpCommands(app, globals, action);
  AddTokenCommand(app, globals, action);
  AddClientCommand(app, globals, action);
  AddCalloutCommand(app, globals, action);
  AddIdpCommand(app, globals, action);
  AddKeysCommand(app, globals, action);
  AddConfigCommand(app, globals, action);
  AddClusterCommand(app, globals, action);
  AddDnsCommand(app, globals, action);
  for (auto* sub : app.get_subcommands({})) sub->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!action) return 2;
  return action();
}
