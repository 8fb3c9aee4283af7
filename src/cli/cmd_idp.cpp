// natstack idp serve: the development identity provider (JWKS + discovery on loopback).
#include <cstdio>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "cluster/supervisor.hpp"
#include "core/logger.hpp"
#include "core/notify.hpp"
#include "idp/dev_issuer.hpp"

namespace natstack::cli {

void AddIdpCommand(CLI::App& app, Globals& g, Action& action) {
  CLI::App* idp = app.add_subcommand("idp", "The development identity provider");
  idp->require_subcommand(1);
  CLI::App* serve = idp->add_subcommand(
      "serve", "Serve the development IdP's discovery document and JWKS for the stack");
  serve->fallthrough();
  serve->callback([&g, &action] {
    action = [&g] {
      cluster::BlockTerminationSignals();
      StreamLogger log(stderr);
      auto layout = cluster::LoadLayout(g.StateDir());
      if (!layout) {
        PrintError("idp serve", layout.error().message);
        return 2;
      }
      const cluster::StatePaths paths(layout->state_dir);
      auto issuer = idp::DevIssuer::LoadOrCreate(paths.IdpKey(), cluster::IdpIssuerUrl(*layout),
                                                 layout->audience);
      if (!issuer) {
        PrintError("idp serve", issuer.error().message);
        return 1;
      }
      const std::string served = issuer->issuer();
      const std::string kid = issuer->kid();
      auto server = idp::DevIssuerServer::Start(std::move(*issuer), layout->idp_host,
                                                static_cast<uint16_t>(layout->idp_port));
      if (!server) {
        PrintError("idp serve", server.error().message);
        return 1;
      }
      log.Info("idp", "serving " + served + " (kid " + kid + ")");
      NotifyReady();
      WaitForTermination();
      (*server)->Stop();
      return 0;
    };
  });
}

}  // namespace natstack::cli
