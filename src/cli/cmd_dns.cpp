// natstack dns serve
#include <cstring>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cluster/supervisor.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "core/notify.hpp"
#include "dns/provider.hpp"
#include "dns/sidecar.hpp"
#include "http/client.hpp"

namespace natstack::cli {

void AddDnsCommand(CLI::App& app, Globals& g, Action& action) {
  auto config_path = std::make_shared<std::string>();
  CLI::App* dns = app.add_subcommand("dns", "DNS discovery");
  dns->require_subcommand(1);
  CLI::App* serve = dns->add_subcommand(
      "serve",
      "Keep the public name's A record equal to the healthy nodes' addresses (the sidecar; "
      "docs/dns.md)");
  serve->add_option("--config", *config_path, "Sidecar config (JSON, docs/dns.md)")->required();
  serve->fallthrough();
  serve->callback([&action, config_path] {
    action = [config_path] {
      // Before any thread starts, so that only WaitForTermination receives them.
      cluster::BlockTerminationSignals();
      auto config = dns::LoadSidecarConfig(*config_path);
      if (!config) {
        PrintError("dns serve", config.error().message);
        return ExitCodeOf(config.error());
      }
      auto key = dns::ReadTsigKeyFile(config->tsig_key_file);
      if (!key) {
        PrintError("dns serve", *config_path + ": tsig_key_file: " + key.error().message);
        return ExitCodeOf(key.error());
      }
      dns::Rfc2136Options options;
      options.server = config->server;
      options.port = config->port;
      options.zone = config->zone;
      options.tsig = std::move(*key);
      options.timeout = config->dns_timeout;
      auto provider = dns::Rfc2136Provider::Create(std::move(options));
      if (!provider) {
        PrintError("dns serve", provider.error().message);
        return ExitCodeOf(provider.error());
      }
      LogLevel level = LogLevel::kInfo;
      ParseLogLevel(config->log_level, &level);
      StreamLogger log(stderr, level);
      SystemClock clock;
      http::CurlClient http("natstack-dns");
      dns::HttpHealthProbe probe(http);
      dns::Sidecar sidecar(*config, **provider, probe, clock, log, [] { NotifyReady(); });
      if (auto started = sidecar.Start(); !started) {
        PrintError("dns serve", started.error().message);
        return ExitCodeOf(started.error());
      }
      const int sig = WaitForTermination();
      log.Info("dns", std::string("received ") + strsignal(sig) + ", stopping");
      sidecar.Stop();
      return 0;
    };
  });
}

}  // namespace natstack::cli
