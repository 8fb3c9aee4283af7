// natstack config validate | default, natstack cluster render
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "cluster/render.hpp"
#include "cluster/spec.hpp"
#include "cluster/stack.hpp"
#include "cluster/supervisor.hpp"
#include "cluster/systemd.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"

namespace natstack::cli {
namespace {


std::string Plural(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// "3 nodes, 2 callout replicas, TLS from the local CA, supervisor on 127.0.0.1:9390"
std::string Summary(const cluster::StackLayout& l) {
  std::string s = Plural(l.nodes.size(), "node", "nodes") + ", " +
                  Plural(static_cast<size_t>(l.callout_replicas), "callout replica",
                         "callout replicas") +
                  " (account " + l.callout_account + "), TLS from ";
  s += l.tls_source == cluster::TlsSource::kFiles ? "files" : "the local CA";
  s += ", IdP on " + l.idp_host + ":" + std::to_string(l.idp_port);
  s += ", supervisor on " + l.supervisor_host + ":" + std::to_string(l.supervisor_port);
  return s;
}

/// The output directory of `cluster render`: created 0700, or an existing one that is ours and
/// that no one else may write to (they could swap a config or a unit under us).
Status PrepareOutputDir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return MakeDirs(dir, 0700);
  if (!S_ISDIR(st.st_mode))
    return Fail(Code::kInvalidArgument, "--out " + dir + ": exists and is not a directory");
  if (st.st_uid != ::geteuid())
    return Fail(Code::kPermissionDenied,
                "--out " + dir + ": belongs to uid " + std::to_string(st.st_uid) +
                    ", not to this user (the units run as the owner of the rendered files)");
  if ((st.st_mode & 022) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(Code::kPermissionDenied, "--out " + dir + ": group or others may write to it (mode " +
                                             mode + "); chmod go-w it or choose another");
  }
  return Ok();
}

Result<std::string> CurrentUserName() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr || pw->pw_name == nullptr)
    return Fail(Code::kFailedPrecondition,
                "uid " + std::to_string(::geteuid()) + " has no user name (the units need one)");
  return std::string(pw->pw_name);
}

struct RenderFlags {
  std::string spec;
  std::string out;
};

int RunRender(const RenderFlags& f) {
  const std::string out = AbsolutePath(f.out);
  auto layout = cluster::LoadSpecFile(f.spec, out);
  if (!layout) {
    std::fprintf(stderr, "%s\n", layout.error().message.c_str());
    return ExitCodeOf(layout.error());
  }
  if (auto ok = PrepareOutputDir(out); !ok) {
    PrintError("cluster render", ok.error().message);
    return ExitCodeOf(ok.error());
  }
  cluster::UnitOptions units;
  auto nats_server = cluster::FindNatsServer();
  if (!nats_server) {
    PrintError("cluster render", nats_server.error().message);
    return 1;
  }
  units.nats_server = AbsolutePath(*nats_server);
  units.natstack_exe = SelfExe();
  auto user = CurrentUserName();
  if (!user) {
    PrintError("cluster render", user.error().message);
    return 1;
  }
  units.user = *user;

  SystemClock clock;
  auto prepared = cluster::PrepareStack(*layout, clock, [](const std::string& step) {
    std::printf("%s ready\n", step.c_str());
  });
  if (!prepared) {
    PrintError("cluster render", prepared.error().message);
    return ExitCodeOf(prepared.error());
  }
  auto rendered = cluster::RenderSystemdUnits(*layout, units);
  if (!rendered) {
    PrintError("cluster render", rendered.error().message);
    return ExitCodeOf(rendered.error());
  }
  const std::string units_dir = out + "/systemd";
  auto written = cluster::WriteUnits(*rendered, units_dir);
  if (!written) {
    PrintError("cluster render", written.error().message);
    return 1;
  }
  const cluster::StatePaths paths(out);
  std::printf("rendered cluster \"%s\" into %s:\n", layout->cluster_name.c_str(), out.c_str());
  for (const auto& n : layout->nodes) {
    std::printf("  %-40s nats-server config (%s and %s, 0600, beside it)\n",
                ("nodes/" + cluster::ConfigFileName(n.name)).c_str(),
                cluster::SecretsFileName(n.name).c_str(), cluster::RoutesFileName(n.name).c_str());
  }
  for (int i = 1; i <= std::max(1, layout->callout_replicas); ++i) {
    const std::string file = paths.CalloutConfig(i).substr(out.size() + 1);
    std::printf("  %-40s callout replica %d (0600)\n", file.c_str(), i);
  }
  for (const auto& u : *rendered)
    std::printf("  %-40s systemd unit\n", ("systemd/" + u.name).c_str());
  std::printf("CA fingerprint (SHA-256) %s%s\n", prepared->root_fingerprint.c_str(),
              prepared->certificate_reissued ? " (server certificate issued)" : "");
  std::printf(
      "The files name %s by its absolute path: keep them there (or copy the directory to the\n"
      "same path on each host), then, as root on each host, install the units of its parts:\n"
      "  cp %s/natstack-<part>.service /etc/systemd/system/ && systemctl daemon-reload\n"
      "  systemctl enable --now natstack-<part>\n"
      "The units run as %s; nats-server is %s.\n",
      out.c_str(), units_dir.c_str(), units.user.c_str(), units.nats_server.c_str());
  return 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, Globals& g, Action& action) {
  CLI::App* config = app.add_subcommand("config", "The cluster spec: validate one, print the default");
  config->require_subcommand(1);

  struct ValidateFlags {
    std::string file;
    bool up = false;
  };
  auto vf = std::make_shared<ValidateFlags>();
  CLI::App* validate = config->add_subcommand(
      "validate", "Check a cluster spec (TOML) without starting or writing anything: exit 0 and "
                  "a summary, or exit 2 and one error FILE:LINE: key: reason");
  validate->add_option("file", vf->file, "The spec file (docs/spec.md)")->required();
  validate->add_flag("--up", vf->up,
                     "Also check what `natstack up` needs to run it on this machine (loopback "
                     "node and IdP addresses)");
  validate->fallthrough();
  validate->callback([&g, &action, vf] {
    action = [&g, vf] {
      const auto use = vf->up ? cluster::SpecUse::kLocal : cluster::SpecUse::kAny;
      auto layout = cluster::LoadSpecFile(vf->file, g.StateDir(), use);
      if (!layout) {
        // A read error names the file already; a spec error is "FILE:LINE: key: reason".
        const std::string& m = layout.error().message;
        const bool named = m.rfind(vf->file, 0) == 0;
        std::fprintf(stderr, "%s%s\n", named ? "" : (vf->file + ": ").c_str(), m.c_str());
        return ExitCodeOf(layout.error());
      }
      std::printf("%s: ok (%s)\n", vf->file.c_str(), Summary(*layout).c_str());
      return 0;
    };
  });

  CLI::App* def = config->add_subcommand(
      "default", "Print the embedded default spec (what `natstack up` runs without a spec)");
  def->callback([&action] {
    action = [] {
      const std::string_view text = cluster::DefaultSpecText();
      std::fwrite(text.data(), 1, text.size(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    };
  });
}

void AddClusterCommand(CLI::App& app, Globals& g, Action& action) {
  CLI::App* cluster_cmd = app.add_subcommand("cluster", "Deploy a cluster spec on real hosts");
  cluster_cmd->require_subcommand(1);
  auto rf = std::make_shared<RenderFlags>();
  CLI::App* render = cluster_cmd->add_subcommand(
      "render",
      "Render a spec into DIR: keys, CA and certificate (made once, then reused), each node's "
      "nats-server config and its 0600 secrets and routes includes, callout configs, and systemd units");
  render->add_option("spec", rf->spec, "The spec file (docs/spec.md)")->required();
  render->add_option("--out", rf->out,
                     "Output directory (created 0700; one others may write to is refused); the "
                     "rendered files name it by its absolute path")
      ->required();
  render->fallthrough();
  render->callback([&action, rf] {
    action = [rf] { return RunRender(*rf); };
  });
  (void)g;
}

}  // namespace natstack::cli
