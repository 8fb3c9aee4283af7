// natstack token USER: mints a development IdP token and prints it alone on stdout.
#include <cstdio>

#include "callout/identity.hpp"
#include "callout/policy.hpp"
#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"
#include "idp/dev_issuer.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::cli {

/// "90", "90s", "15m", "2h", "1d" -> seconds; -1 when malformed.
int64_t ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return -1;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return -1;
  const int64_t n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  return -1;
}

void AddTokenCommand(CLI::App& app, Globals& g, Action& action) {
  struct Flags {
    std::string user;
    std::string ttl = "1h";
    std::string seed_file;
    std::string audience;
    std::string jti;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "token", "Mint an RS256 token for USER from the stack's development IdP (printed alone on stdout)");
  cmd->add_option("user", f->user, "User id (the token's sub)")->required();
  cmd->add_option("--ttl", f->ttl, "Lifetime: 90s, 15m, 1h (default), 1d");
  cmd->add_option("--seed-file", f->seed_file,
                  "Mint a service token instead: signed by this NKey seed (a registered "
                  "service's key, mode 0600); USER is the service name");
  cmd->add_option("--aud", f->audience, "Service token audience (with --seed-file)");
  cmd->add_option("--jti", f->jti, "Service token id, for revocation (with --seed-file)");
  cmd->callback([&g, &action, f] {
    action = [&g, f] {
      const int64_t ttl = ParseDurationSeconds(f->ttl);
      if (ttl <= 0 || ttl > 30 * 86400) {
        PrintError("token", "--ttl: expected a duration like 90s, 15m, 1h or 1d (at most 30d), got '" + f->ttl + "'");
        return 2;
      }
      if (!f->seed_file.empty()) {
        if (!callout::IsSubjectSafeToken(f->user)) {
          PrintError("token", "service name '" + f->user + "' is not one subject token");
          return 2;
        }
        auto seed = ReadSecretValue(f->seed_file);
        if (!seed) {
          PrintError("token", seed.error().message);
          return 2;
        }
        auto key = nkeys::KeyPair::FromSeed(*seed);
        if (!key) {
          PrintError("token", key.error().Wrap(f->seed_file).message);
          return 2;
        }
        SystemClock clock;
        std::printf("%s\n", callout::MintServiceToken(*key, f->user, clock.UnixSeconds(), ttl,
                                                      f->audience, f->jti)
                                .c_str());
        return 0;
      }
      if (!f->audience.empty() || !f->jti.empty()) {
        PrintError("token", "--aud and --jti are for service tokens (--seed-file)");
        return 2;
      }
      if (!callout::IsSubjectSafeToken(f->user)) {
        PrintError("token", "user '" + f->user +
                                "' cannot be a NATS subject token: no '.', '*', '>', spaces or "
                                "control characters (the callout would refuse it)");
        return 2;
      }
      auto layout = cluster::LoadLayout(g.StateDir());
      if (!layout) {
        PrintError("token", layout.error().message);
        return layout.error().code == Code::kInvalidArgument ? 2 : 1;
      }
      const cluster::StatePaths paths(layout->state_dir);
      if (!FileExists(paths.IdpKey())) {
        PrintError("token", "no IdP key in " + paths.KeysDir() + ": run natstack up first");
        return 1;
      }
      auto issuer = idp::DevIssuer::LoadOrCreate(paths.IdpKey(), cluster::IdpIssuerUrl(*layout),
                                                 layout->audience);
      if (!issuer) {
        PrintError("token", issuer.error().message);
        return 1;
      }
      SystemClock clock;
      std::printf("%s\n", issuer->Mint(f->user, std::chrono::seconds(ttl), clock).c_str());
      return 0;
    };
  });
}

}  // namespace natstack::cli
