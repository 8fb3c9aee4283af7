// natstack callout serve --config FILE
#include <cstdio>

#include "callout/config.hpp"
#include "callout/service.hpp"
#include "cli/commands.hpp"
#include "cluster/supervisor.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"
#include "core/logger.hpp"
#include "core/notify.hpp"
#include "http/client.hpp"

namespace natstack::cli {

void AddCalloutCommand(CLI::App& app, Globals& g, Action& action) {
  auto config_path = std::make_shared<std::string>();
  CLI::App* callout = app.add_subcommand("callout", "The auth callout service");
  callout->require_subcommand(1);
  CLI::App* serve = callout->add_subcommand(
      "serve", "Answer $SYS.REQ.USER.AUTH: verify OIDC tokens, issue NATS user JWTs");
  serve->add_option("--config", *config_path, "Callout config (JSON); default <state-dir>/callout.json");
  serve->fallthrough();
  serve->callback([&g, &action, config_path] {
    action = [&g, config_path] {
      cluster::BlockTerminationSignals();
      const std::string path =
          config_path->empty() ? g.StateDir() + "/callout.json" : *config_path;
      auto text = ReadFile(path);
      if (!text) {
        PrintError("callout serve", text.error().message);
        return 2;
      }
      auto config = callout::ParseCalloutConfig(*text, path);
      if (!config) {
        PrintError("callout serve", config.error().message);
        return 2;
      }
      LogLevel level = LogLevel::kInfo;
      ParseLogLevel(config->log_level, &level);
      StreamLogger log(stderr, level);
      SystemClock clock;
      http::CurlClient http;
      auto svc = callout::CalloutService::Start(std::move(*config), http, clock, log);
      if (!svc) {
        PrintError("callout serve", svc.error().message);
        return 1;
      }
      NotifyReady();
      const int sig = WaitForTermination();
      log.Info("callout", std::string("received ") + strsignal(sig) + ", draining and stopping");
      (*svc)->Stop();
      return 0;
    };
  });
}

}  // namespace natstack::cli
