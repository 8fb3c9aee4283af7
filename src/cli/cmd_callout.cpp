// natstack callout serve | explain
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "callout/config.hpp"
#include "callout/explain.hpp"
#include "callout/identity.hpp"
#include "callout/policy.hpp"
#include "callout/revocation.hpp"
#include "callout/service.hpp"
#include "cli/commands.hpp"
#include "cluster/supervisor.hpp"
#include "core/clock.hpp"
#include "core/environment.hpp"
#include "core/file.hpp"
#include "core/logger.hpp"
#include "core/text.hpp"
#include "core/notify.hpp"
#include "http/client.hpp"
#include "jwt/remote_jwks.hpp"

namespace natstack::cli {
namespace {


/// The config file to use: --config, else <state-dir>/callout.json when it exists, else none
/// (the environment alone).
std::string ConfigPath(const Globals& g, const std::string& flag) {
  if (!flag.empty()) return flag;
  const std::string fallback = g.StateDir() + "/callout.json";
  return FileExists(fallback) ? fallback : std::string();
}

/// Reads the environment's settings and scrubs its secrets (they must not linger in
/// /proc/PID/environ or reach a child).
Result<callout::LoadedConfig> Load(const Globals& g, const std::string& flag) {
  const auto env = ReadEnvironment(callout::EnvironmentVariableNames());
  ScrubEnvironment(callout::SecretEnvironmentVariableNames());
  return callout::LoadCalloutConfig(ConfigPath(g, flag), env);
}

}  // namespace

void AddCalloutCommand(CLI::App& app, Globals& g, Action& action) {
  auto config_path = std::make_shared<std::string>();
  CLI::App* callout = app.add_subcommand("callout", "The auth callout service");
  callout->require_subcommand(1);
  CLI::App* serve = callout->add_subcommand(
      "serve", "Answer $SYS.REQ.USER.AUTH: verify OIDC and service tokens, issue NATS user JWTs");
  serve->add_option("--config", *config_path,
                    "Callout config (JSON); default <state-dir>/callout.json, or the original "
                    "design's environment variables alone");
  serve->fallthrough();
  serve->callback([&g, &action, config_path] {
    action = [&g, config_path] {
      cluster::BlockTerminationSignals();
      auto loaded = Load(g, *config_path);
      if (!loaded) {
        PrintError("callout serve", loaded.error().message);
        return ExitCodeOf(loaded.error());
      }
      LogLevel level = LogLevel::kInfo;
      ParseLogLevel(loaded->config.log_level, &level);
      StreamLogger log(stderr, level);
      SystemClock clock;
      http::CurlClient http;
      auto svc = callout::CalloutService::Start(std::move(loaded->config),
                                                std::move(loaded->secrets), http, clock, log);
      if (!svc) {
        PrintError("callout serve", svc.error().message);
        return ExitCodeOf(svc.error());
      }
      NotifyReady();
      const int sig = WaitForTermination();
      log.Info("callout", std::string("received ") + strsignal(sig) + ", draining and stopping");
      (*svc)->Stop();
      return 0;
    };
  });

  struct ExplainFlags {
    std::string config;
    std::string token_file = "-";
    bool json = false;
  };
  auto ef = std::make_shared<ExplainFlags>();
  CLI::App* explain = callout->add_subcommand(
      "explain",
      "Print what a token would get (account, permissions, expiry) and why, or why it is refused");
  explain->add_option("token_file", ef->token_file,
                      "File holding the token, or - for standard input (default); never the "
                      "token itself: argv is visible to every user");
  explain->add_option("--config", ef->config, "Callout config (as for serve)");
  explain->add_flag("--json", ef->json, "JSON output");
  explain->fallthrough();
  explain->callback([&g, &action, ef] {
    action = [&g, ef] {
      std::string token;
      if (ef->token_file == "-") {
        token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      } else {
        // A token is a secret: refuse one on the command line by mistake.
        if (!FileExists(ef->token_file) && ef->token_file.rfind("eyJ", 0) == 0) {
          PrintError("callout explain",
                     "that looks like a token, not a file: pass it on standard input (argv is "
                     "visible to every user of this machine)");
          return 2;
        }
        auto text = ReadFile(ef->token_file);
        if (!text) {
          PrintError("callout explain", text.error().message);
          return 2;
        }
        token = std::move(*text);
      }
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                                token.back() == ' ' || token.back() == '\t'))
        token.pop_back();
      auto loaded = Load(g, ef->config);
      if (!loaded) {
        PrintError("callout explain", loaded.error().message);
        return ExitCodeOf(loaded.error());
      }
      const callout::CalloutConfig& config = loaded->config;
      auto policy = callout::Policy::Build(config);
      if (!policy) {
        PrintError("callout explain", policy.error().message);
        return 2;
      }
      SystemClock clock;
      StreamLogger log(stderr, LogLevel::kWarn);
      http::CurlClient http;
      // Keys only for the issuer the token names: no other IdP is contacted.
      std::vector<std::unique_ptr<jwt::RemoteJwks>> remote;
      std::vector<std::unique_ptr<jwt::StaticJwks>> empty;
      std::vector<const jwt::KeySource*> sources;
      const std::string claimed = [&] {
        auto iss = jwt::PeekIssuer(token);
        return iss ? *iss : std::string();
      }();
      for (const auto& is : config.issuers) {
        if (is.issuer != claimed) {
          empty.push_back(std::make_unique<jwt::StaticJwks>());
          sources.push_back(empty.back().get());
          continue;
        }
        remote.push_back(
            std::make_unique<jwt::RemoteJwks>(callout::JwksOptionsOf(is), http, clock, log));
        if (auto st = remote.back()->Load(); !st) {
          PrintError("callout explain", "issuer " + is.name + ": " + st.error().message);
          return 1;
        }
        sources.push_back(remote.back().get());
      }
      callout::IdentityVerifier identities(config, sources, clock);
      callout::RevocationCheck revoked;
      if (!config.revocation_file.empty()) {
        auto list = callout::LoadDenyListFile(config.revocation_file);
        if (!list) {
          PrintError("callout explain", list.error().Wrap("revocation_file").message);
          return 2;
        }
        revoked = [l = std::make_shared<callout::DenyList>(std::move(*list))](
                      std::string_view user, std::string_view token_id) {
          return l->Contains(user, token_id);
        };
      }
      callout::Authorizer authorizer(config, identities, *policy, std::move(revoked), clock);
      const auto e = callout::Explain(token, authorizer, identities, *policy, config,
                                      clock.UnixSeconds());
      if (ef->json) {
        std::printf("%s\n", callout::ExplanationJson(e).dump(2).c_str());
      } else {
        std::printf("%s", callout::ExplanationText(e).c_str());
      }
      return e.decision.admitted ? 0 : 1;
    };
  });

  struct RevokeFlags {
    std::string config;
    std::string file;
    std::vector<std::string> users;
    std::vector<std::string> token_ids;
    bool remove = false;
  };
  auto rf = std::make_shared<RevokeFlags>();
  CLI::App* revoke = callout->add_subcommand(
      "revoke",
      "Put identities on the deny-list (every replica reloads it and closes their live "
      "connections), or take them off with --remove");
  revoke->add_option("--user", rf->users, "User id as the callout maps it (repeatable)");
  revoke->add_option("--token-id", rf->token_ids, "Token id, the token's jti (repeatable)");
  revoke->add_flag("--remove", rf->remove, "Take the entries off the list instead");
  revoke->add_option("--file", rf->file,
                     "Deny-list file; default: the config's revocation_file");
  revoke->add_option("--config", rf->config, "Callout config (as for serve)");
  revoke->fallthrough();
  revoke->callback([&g, &action, rf] {
    action = [&g, rf] {
      if (rf->users.empty() && rf->token_ids.empty()) {
        PrintError("callout revoke", "name at least one --user or --token-id");
        return 2;
      }
      callout::DenyList entries;
      for (const auto& u : rf->users) {
        if (u.empty()) {
          PrintError("callout revoke", "--user: empty");
          return 2;
        }
        // An id the callout would never admit can never match anyone: a typo, not a revocation.
        // (Removing such an entry is allowed.)
        if (!rf->remove && !callout::IsSubjectSafeToken(u)) {
          PrintError("callout revoke",
                     "--user '" + EscapeText(u.substr(0, 64)) +
                         "' is not a user id the callout admits (it contains '.', '*', '>', "
                         "spaces or invisible characters, or is over 256 bytes), so revoking it "
                         "would match no one");
          return 2;
        }
        entries.users.insert(u);
      }
      for (const auto& t : rf->token_ids) {
        if (t.empty()) {
          PrintError("callout revoke", "--token-id: empty");
          return 2;
        }
        entries.token_ids.insert(t);
      }
      std::string file = rf->file;
      if (file.empty()) {
        auto loaded = Load(g, rf->config);
        if (!loaded) {
          PrintError("callout revoke", loaded.error().message);
          return ExitCodeOf(loaded.error());
        }
        file = loaded->config.revocation_file;
        if (file.empty()) {
          PrintError("callout revoke",
                     "the callout config has no revocation_file; set it (and restart the "
                     "callout once) or pass --file");
          return 2;
        }
      }
      auto list = callout::EditDenyListFile(file, entries, rf->remove);
      if (!list) {
        PrintError("callout revoke", list.error().message);
        return ExitCodeOf(list.error());
      }
      std::printf("%s %zu entr%s %s %s (%zu users, %zu token ids)\n",
                  rf->remove ? "took" : "put", entries.size(), entries.size() == 1 ? "y" : "ies",
                  rf->remove ? "off" : "on", file.c_str(), list->users.size(),
                  list->token_ids.size());
      return 0;
    };
  });
}

}  // namespace natstack::cli
