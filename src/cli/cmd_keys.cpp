// natstack keys generate / public: NKeys and XKeys for operators.
#include <cstdio>

#include "cli/commands.hpp"
#include "core/file.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::cli {
namespace {

bool RoleFromName(const std::string& name, nkeys::Role* role) {
  static const std::pair<const char*, nkeys::Role> kRoles[] = {
      {"account", nkeys::Role::kAccount}, {"user", nkeys::Role::kUser},
      {"operator", nkeys::Role::kOperator}, {"server", nkeys::Role::kServer},
      {"cluster", nkeys::Role::kCluster}, {"xkey", nkeys::Role::kCurve},
      {"curve", nkeys::Role::kCurve}};
  for (const auto& [n, r] : kRoles) {
    if (name == n) {
      *role = r;
      return true;
    }
  }
  return false;
}

}  // namespace

void AddKeysCommand(CLI::App& app, Globals& /*g*/, Action& action) {
  CLI::App* keys = app.add_subcommand("keys", "Generate and inspect NKeys and XKeys");
  keys->require_subcommand(1);

  struct GenFlags {
    std::string type;
    std::string out;
  };
  auto gf = std::make_shared<GenFlags>();
  CLI::App* gen = keys->add_subcommand(
      "generate", "Generate a key: the seed goes to --out (mode 0600), the public key to stdout");
  gen->add_option("type", gf->type, "account (the callout issuer), xkey, user, operator, server, cluster")
      ->required();
  gen->add_option("--out", gf->out, "Seed file to create (0600); refuses to overwrite")->required();
  gen->callback([&action, gf] {
    action = [gf] {
      nkeys::Role role{};
      if (!RoleFromName(gf->type, &role)) {
        PrintError("keys generate", "unknown key type '" + gf->type +
                                        "': use account, xkey, user, operator, server or cluster");
        return 2;
      }
      if (gf->out == "-") {
        PrintError("keys generate", "--out -: a seed is a secret; name a file (it is created 0600)");
        return 2;
      }
      if (FileExists(gf->out)) {
        PrintError("keys generate", gf->out + " exists; not overwriting a key");
        return 1;
      }
      std::string seed, pub;
      if (role == nkeys::Role::kCurve) {
        auto x = nkeys::XKey::Generate();
        seed = std::string(x.Seed().view());
        pub = x.PublicKey();
      } else {
        auto kp = nkeys::KeyPair::Generate(role);
        seed = std::string(kp.Seed().view());
        pub = kp.PublicKey();
      }
      auto written = WriteFileAtomic(gf->out, seed + "\n", 0600);
      std::fill(seed.begin(), seed.end(), '\0');
      if (!written) {
        PrintError("keys generate", written.error().message);
        return 1;
      }
      std::printf("%s\n", pub.c_str());
      return 0;
    };
  });

  auto seed_file = std::make_shared<std::string>();
  CLI::App* pub = keys->add_subcommand("public", "Print the public key of a seed file");
  pub->add_option("seed_file", *seed_file)->required();
  pub->callback([&action, seed_file] {
    action = [seed_file] {
      auto text = ReadSecretValue(*seed_file);
      if (!text) {
        PrintError("keys public", text.error().message);
        return 1;
      }
      const std::string seed = std::move(*text);
      auto pub = nkeys::PublicKeyOfSeed(seed);
      if (!pub) {
        PrintError("keys public", *seed_file + ": " + pub.error().message);
        return 1;
      }
      std::printf("%s\n", pub->c_str());
      return 0;
    };
  });
  for (auto* s : keys->get_subcommands({})) s->fallthrough();
}

}  // namespace natstack::cli
