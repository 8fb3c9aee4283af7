#pragma once
/// Where everything of one stack lives: its layout (nodes, addresses, ports) and the files in
/// its state directory. A second `up` with the same state directory reuses keys, CA and
/// certificate; the layout is remembered in state.json.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callout/config.hpp"
#include "callout/policy.hpp"
#include "cluster/render.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

/// Where the nodes' TLS certificate comes from (the spec's tls.source).
enum class TlsSource {
  kLocalCa,  ///< "local": natstack's own CA in <state_dir>/ca issues <state_dir>/certs/server.pem
  kFiles,    ///< "files": the operator's cert_file, key_file and ca_file, used where they are
};

struct StackLayout {
  std::string state_dir;  ///< absolute
  std::string cluster_name = "natstack";
  std::vector<NodeSpec> nodes;  ///< default: n1..n3 on 127.0.1.1-3, standard ports
  std::string idp_host = "127.0.0.1";
  int idp_port = 9400;
  std::string endpoint_name = "localhost";  ///< the client endpoint name on the certificate
  std::string audience = "natstack";        ///< the dev IdP's token audience
  /// Callout replicas in one queue group; replica i connects to node i first (wrapping), so
  /// losing a node or a replica leaves the others serving. 0: up starts none (bring your own).
  int callout_replicas = 2;
  // The spec's [websocket] and [jetstream] tables (see RenderInput).
  std::vector<std::string> websocket_allowed_origins;
  bool websocket_same_origin = false;
  bool websocket_compression = true;
  int64_t jetstream_max_memory = 64 << 20;
  int64_t jetstream_max_file = 1LL << 30;
  std::string jetstream_domain;
  /// The supervisor's status and control endpoint (`natstack status`, `node restart`, the
  /// dashboard): loopback HTTP; changes need the token in StatePaths::ControlToken().
  std::string supervisor_host = "127.0.0.1";
  int supervisor_port = 9390;
  // The spec's [callout] settings that reach callout.json and the node configs.
  /// The account the callout's own user lives in and every admitted client is placed in
  /// (auth_callout.account, callout.json default_account).
  std::string callout_account = "AUTH";
  int64_t callout_max_user_ttl_s = 3600;  ///< callout.json max_user_ttl_s
  /// nats-server authorization.timeout: how long a client has to be authorized, which bounds
  /// the callout's answer (the request expires after it).
  int callout_auth_timeout_s = 3;
  /// The permissions of every admitted identity (callout.json templates.default).
  callout::PermissionTemplate callout_permissions = callout::DefaultTemplate();
  // The spec's [tls] table.
  TlsSource tls_source = TlsSource::kLocalCa;
  /// kFiles: absolute paths of the server chain, its key and the CA clients trust.
  std::string tls_cert_file, tls_key_file, tls_ca_file;
  /// kLocalCa: lifetimes of the server certificate (reissued when a third of it is left) and,
  /// when the CA is created, of its root and intermediate.
  int64_t tls_cert_lifetime_h = 24 * 90;
  int64_t tls_root_lifetime_h = 24 * 3650;
  int64_t tls_intermediate_lifetime_h = 24 * 1825;
  // The spec's [dns] table: a Knot server `up` runs, authoritative for the public zone, and the
  // sidecar (`natstack dns serve`) that keeps the public name's A record equal to the healthy
  // nodes.
  bool dns_enabled = true;
  std::string dns_host;  ///< Knot's and the sidecar's address; "" = the IdP's host
  int dns_port = 8053;   ///< Knot (TCP and UDP)
  std::string dns_public_zone = "example.test";
  std::string dns_public_name = "nats.example.test";  ///< clients dial it; on the certificate
  int dns_ttl = 60;
  int dns_negative_ttl = 60;  ///< the zone's SOA minimum: how long "no such name" is cached
  std::string dns_when_none = "keep";  ///< "keep" or "delete" (docs/dns.md)
  int dns_sidecar_port = 9391;  ///< the sidecar's /healthz, /readyz, /metrics on the DNS host
  int64_t dns_probe_interval_s = 2;       ///< the sidecar probes every node this often
  int64_t dns_reconcile_interval_s = 30;  ///< and reads the record back this often
  /// The route seed: every node's route address under `dns_route_name` in the private zone,
  /// registered when the node starts and removed when it is stopped for good (not
  /// health-gated: a seed of healthy nodes alone could never bootstrap a cluster).
  std::string dns_private_zone = "cluster.internal";
  std::string dns_route_name = "routes.cluster.internal";
};

inline constexpr int kMaxCalloutReplicas = 16;

/// The embedded default for `state_dir`.
StackLayout DefaultLayout(const std::string& state_dir);

/// Replaces the node addresses (one node per address, names n1..nN).
Status SetNodeAddresses(StackLayout& layout, const std::vector<std::string>& addresses);

/// $NATSTACK_STATE_DIR, else $XDG_STATE_HOME/natstack, else ~/.local/state/natstack.
std::string DefaultStateDir();

/// Paths of the files in a state directory.
class StatePaths {
 public:
  explicit StatePaths(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string Lock() const { return dir_ + "/natstack.lock"; }
  std::string Pid() const { return dir_ + "/supervisor.pid"; }
  std::string StateJson() const { return dir_ + "/state.json"; }
  std::string KeysDir() const { return dir_ + "/keys"; }
  std::string IssuerSeed() const { return KeysDir() + "/issuer.seed"; }
  std::string XKeySeed() const { return KeysDir() + "/xkey.seed"; }
  std::string CalloutPassword() const { return KeysDir() + "/callout.password"; }
  std::string SysPassword() const { return KeysDir() + "/sys.password"; }
  std::string RoutePassword() const { return KeysDir() + "/route.password"; }
  std::string IdpKey() const { return KeysDir() + "/idp-signing.pem"; }
  std::string CaDir() const { return dir_ + "/ca"; }
  std::string RootCa() const { return CaDir() + "/root.pem"; }
  std::string CertsDir() const { return dir_ + "/certs"; }
  std::string ServerCert() const { return CertsDir() + "/server.pem"; }
  std::string ServerKey() const { return CertsDir() + "/server.key"; }
  std::string NodesDir() const { return dir_ + "/nodes"; }
  std::string NodeConfig(const std::string& name) const { return NodesDir() + "/" + name + ".conf"; }
  std::string LogsDir() const { return dir_ + "/logs"; }
  std::string Log(const std::string& name) const { return LogsDir() + "/" + name + ".log"; }
  /// Replica `replica`'s config (1-based): callout.json for the first, callout-N.json after.
  std::string CalloutConfig(int replica = 1) const {
    return dir_ + (replica <= 1 ? std::string("/callout.json")
                                : "/callout-" + std::to_string(replica) + ".json");
  }
  /// The deny-list every replica watches.
  std::string RevocationFile() const { return dir_ + "/revoked.json"; }
  /// The bearer token (0600) that authorizes changes through the supervisor's endpoint.
  std::string ControlToken() const { return KeysDir() + "/control.token"; }
  /// Knot's state (knot.conf, tsig.key, zones, journal): see dns::LayoutFor.
  std::string DnsDir() const { return dir_ + "/dns"; }
  /// The record sidecar's config.
  std::string DnsSidecarConfig() const { return dir_ + "/dns-sidecar.json"; }
  /// The bearer token (0600) with which the supervisor posts process events to the sidecar.
  std::string DnsEventsToken() const { return KeysDir() + "/dns-events.token"; }

 private:
  std::string dir_;
};

/// state.json round trip. LoadLayout: kNotFound when the directory holds no stack.
Status SaveLayout(const StackLayout& layout);
Result<StackLayout> LoadLayout(const std::string& state_dir);

std::string IdpIssuerUrl(const StackLayout& layout);  ///< "http://127.0.0.1:9400/"
/// Replica `replica`'s (1-based) health and metrics endpoint: the IdP's host, the IdP port +
/// replica ("127.0.0.1:9401" for the first).
std::string CalloutHttpListen(const StackLayout& layout, int replica = 1);
/// The name of replica `replica`'s part and log: "callout-1", "callout-2", ...
std::string CalloutPartName(int replica);
std::vector<std::string> ClientUrls(const StackLayout& layout);      ///< tls://host:port
std::vector<std::string> WebSocketUrls(const StackLayout& layout);   ///< wss://host:port
std::vector<std::string> MonitoringUrls(const StackLayout& layout);  ///< http://host:port
std::string SupervisorUrl(const StackLayout& layout);  ///< "http://127.0.0.1:9390"
std::string DnsHost(const StackLayout& layout);          ///< dns_host, else the IdP's host
std::string DnsSidecarListen(const StackLayout& layout); ///< "127.0.0.1:9391"
/// The server chain, its key and the trust root clients load: the operator's files with
/// tls.source = "files", else certs/server.pem, certs/server.key and ca/root.pem.
std::string ServerCertFile(const StackLayout& layout);
std::string ServerKeyFile(const StackLayout& layout);
std::string TrustedCaFile(const StackLayout& layout);

/// What `natstack info --json` prints.
nlohmann::json InfoJson(const StackLayout& layout);

}  // namespace natstack::cluster
