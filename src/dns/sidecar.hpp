#pragma once
/// The public-record sidecar, `natstack dns serve` (docs/dns.md): its configuration (one plain
/// struct and a pure parser), the HTTP health probe, the Prometheus metrics and the service that
/// runs a RecordKeeper on its own thread with /healthz, /readyz and /metrics.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/logger.hpp"
#include "dns/events.hpp"
#include "dns/provider.hpp"
#include "dns/record_keeper.hpp"
#include "http/client.hpp"

namespace natstack::http {
class Server;
struct Request;
}

namespace natstack::dns {

/// Configuration of `natstack dns serve`. Every key and its default is listed in docs/dns.md.
/// Durations are written "500ms", "2s", "1m", "1h", or as a number of seconds.
struct SidecarConfig {
  std::string server = "127.0.0.1";  ///< the primary's IPv4 or IPv6 address
  uint16_t port = 53;
  std::string zone;           ///< required; stored with a trailing dot ("example.test.")
  std::string tsig_key_file;  ///< required; read with ReadTsigKeyFile (mode 0600)
  std::string name;           ///< required, inside zone; stored with a trailing dot
  uint32_t ttl = 60;
  std::vector<Node> nodes;  ///< required, at least one; names and addresses unique
  std::chrono::milliseconds interval{std::chrono::seconds(2)};
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(1)};  ///< at most interval
  int down_after = 2;
  int up_after = 2;
  WhenNone when_none = WhenNone::kKeep;
  std::chrono::milliseconds reconcile_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds dns_timeout{std::chrono::seconds(2)};  ///< per DNS query or update
  std::string http_listen;  ///< HOST:PORT for /healthz, /readyz, /metrics; "" = none
  /// A 0600 file holding the bearer token of POST /v1/events (process events from a
  /// supervisor); "" = no such endpoint. Needs http_listen.
  std::string events_token_file;
  std::string log_level = "info";
};

/// Parses the JSON text of a sidecar config. `source` names the file in errors, which name the
/// key ("dns.json: nodes[1].address: ..."); unknown keys are errors. kInvalidArgument only.
Result<SidecarConfig> ParseSidecarConfig(std::string_view json_text, std::string_view source);

/// Reads and parses `path` (kNotFound / kPermissionDenied when it cannot be read). Relative
/// tsig_key_file and events_token_file are taken relative to the config file's directory.
Result<SidecarConfig> LoadSidecarConfig(const std::string& path);

/// The keeper's options of a config.
KeeperOptions KeeperOptionsOf(const SidecarConfig& config);

/// Probes a node's health_url with GET: healthy on HTTP 200, unhealthy on any other status
/// (the error quotes the start of the body, where nats-server says why) or a transport error.
class HttpHealthProbe final : public HealthProbe {
 public:
  explicit HttpHealthProbe(http::Client& client) : client_(client) {}
  Status Probe(const Node& node, std::chrono::milliseconds timeout) override;

 private:
  http::Client& client_;
};

/// Prometheus text exposition (0.0.4) of the keeper's state; ages are measured to `now`.
std::string RenderMetrics(const KeeperStats& stats, std::chrono::steady_clock::time_point now);

/// The service: a RecordKeeper driven on its own thread (a round every interval, provider
/// retries in between), plus the HTTP endpoint. Not copyable. `provider`, `probe`, `clock` and
/// `log` must outlive it.
class Sidecar {
 public:
  /// `on_ready` runs once, when the record has been read for the first time (from Start() or
  /// from the sidecar's thread).
  Sidecar(const SidecarConfig& config, Provider& provider, HealthProbe& probe, const Clock& clock,
          Logger& log, std::function<void()> on_ready = {});
  ~Sidecar();
  Sidecar(const Sidecar&) = delete;
  Sidecar& operator=(const Sidecar&) = delete;

  /// Starts the HTTP endpoint (when configured), reads the record once and starts the thread.
  /// Errors: the endpoint's (wrapped "http_listen"); a first read that fails for a reason no
  /// retry fixes (kPermissionDenied: key or ACL, kNotFound: name outside the zone,
  /// kInvalidArgument). A server that does not answer (kUnavailable) is retried with backoff.
  Status Start();
  /// Stops the thread and the endpoint. Idempotent.
  void Stop();

  /// Does what is due at the clock's Monotonic(): a probe round, else the provider work whose
  /// backoff has ended. Returns when something is due next. The thread calls it; tests call it
  /// with a FakeClock instead of Start().
  std::chrono::steady_clock::time_point Step();

  /// Hands a process event to the sidecar's thread, which applies it (RecordKeeper::NodeDown)
  /// before anything else it does next. Thread-safe. kNotFound for a node not configured,
  /// kFailedPrecondition for an event older (or further ahead) than the keeper's stale_after:
  /// the sidecar never acts on stale health.
  Status Report(const ProcessEvent& event);

  bool Ready() const { return keeper_.Ready(); }
  std::string Metrics() const;
  /// "http://127.0.0.1:PORT" of the endpoint; "" when there is none or before Start().
  std::string BaseUrl() const;
  const RecordKeeper& Keeper() const { return keeper_; }

 private:
  void Loop();
  void MaybeNotifyReady();
  http::Response OnEventRequest(const http::Request& request);
  void CountRefusal(const std::string& reason, const std::string& why);

  SidecarConfig config_;
  RecordKeeper keeper_;
  const Clock& clock_;
  Logger& log_;
  std::function<void()> on_ready_;
  std::atomic<bool> notified_{false};
  std::optional<std::chrono::steady_clock::time_point> next_round_;
  std::unique_ptr<http::Server> http_;
  std::thread thread_;
  std::string events_token_;  // "" = no /v1/events
  mutable std::mutex mu_;  // guards stop_, events_ and the event counters
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<ProcessEvent> events_;  // reported, not applied yet
  std::map<std::pair<std::string, std::string>, uint64_t> events_accepted_;  // (node, event)
  std::map<std::string, uint64_t> events_refused_;                            // reason
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace natstack::dns
