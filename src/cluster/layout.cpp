#include "cluster/layout.hpp"

#include <arpa/inet.h>

#include <cstdlib>

#include "core/file.hpp"
#include "core/json_config.hpp"

namespace natstack::cluster {

StackLayout DefaultLayout(const std::string& state_dir) {
  StackLayout layout;
  layout.state_dir = AbsolutePath(state_dir);
  (void)SetNodeAddresses(layout, {"127.0.1.1", "127.0.1.2", "127.0.1.3"});
  return layout;
}

Status SetNodeAddresses(StackLayout& layout, const std::vector<std::string>& addresses) {
  if (addresses.size() < 2)
    return Fail(Code::kInvalidArgument,
                "--addresses: needs at least two addresses (one node each; the nodes form a "
                "JetStream cluster, which one node alone cannot)");
  std::vector<NodeSpec> nodes;
  for (size_t i = 0; i < addresses.size(); ++i) {
    in_addr addr{};
    if (::inet_pton(AF_INET, addresses[i].c_str(), &addr) != 1)
      return Fail(Code::kInvalidArgument,
                  "--addresses: '" + addresses[i] + "' is not an IPv4 address");
    if ((ntohl(addr.s_addr) >> 24) != 127)
      return Fail(Code::kInvalidArgument, "--addresses: '" + addresses[i] +
                                              "' is not a loopback address (127.0.0.0/8): the "
                                              "embedded stack runs on this machine only");
    NodeSpec node;
    node.name = "n" + std::to_string(i + 1);
    node.host = addresses[i];
    if (!layout.nodes.empty() && i < layout.nodes.size()) {
      node.client_port = layout.nodes[i].client_port;
      node.cluster_port = layout.nodes[i].cluster_port;
      node.monitor_port = layout.nodes[i].monitor_port;
      node.websocket_port = layout.nodes[i].websocket_port;
      node.tags = layout.nodes[i].tags;
    }
    nodes.push_back(node);
  }
  layout.nodes = std::move(nodes);
  return Ok();
}

std::string DefaultStateDir() {
  if (const char* d = std::getenv("NATSTACK_STATE_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0')
    return std::string(x) + "/natstack";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0')
    return std::string(h) + "/.local/state/natstack";
  return ".natstack";
}

namespace {
nlohmann::json PermissionsJson(const callout::PermissionTemplate& t) {
  return {{"pub_allow", t.pub_allow},
          {"pub_deny", t.pub_deny},
          {"sub_allow", t.sub_allow},
          {"sub_deny", t.sub_deny},
          {"allow_responses", t.allow_responses}};
}
}  // namespace

Status SaveLayout(const StackLayout& layout) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : layout.nodes) {
    nodes.push_back({{"name", n.name},
                     {"host", n.host},
                     {"client_port", n.client_port},
                     {"cluster_port", n.cluster_port},
                     {"monitor_port", n.monitor_port},
                     {"websocket_port", n.websocket_port},
                     {"tags", n.tags}});
  }
  const nlohmann::json j = {{"cluster_name", layout.cluster_name},
                            {"nodes", nodes},
                            {"idp_host", layout.idp_host},
                            {"idp_port", layout.idp_port},
                            {"endpoint_name", layout.endpoint_name},
                            {"audience", layout.audience},
                            {"callout_replicas", layout.callout_replicas},
                            {"websocket_allowed_origins", layout.websocket_allowed_origins},
                            {"websocket_same_origin", layout.websocket_same_origin},
                            {"websocket_compression", layout.websocket_compression},
                            {"jetstream_max_memory", layout.jetstream_max_memory},
                            {"jetstream_max_file", layout.jetstream_max_file},
                            {"jetstream_domain", layout.jetstream_domain},
                            {"supervisor_host", layout.supervisor_host},
                            {"supervisor_port", layout.supervisor_port},
                            {"dns_enabled", layout.dns_enabled},
                            {"dns_host", layout.dns_host},
                            {"dns_port", layout.dns_port},
                            {"dns_public_zone", layout.dns_public_zone},
                            {"dns_public_name", layout.dns_public_name},
                            {"dns_ttl", layout.dns_ttl},
                            {"dns_negative_ttl", layout.dns_negative_ttl},
                            {"dns_when_none", layout.dns_when_none},
                            {"dns_sidecar_port", layout.dns_sidecar_port},
                            {"dns_probe_interval_s", layout.dns_probe_interval_s},
                            {"dns_reconcile_interval_s", layout.dns_reconcile_interval_s},
                            {"dns_private_zone", layout.dns_private_zone},
                            {"dns_route_name", layout.dns_route_name},
                            {"callout_account", layout.callout_account},
                            {"callout_max_user_ttl_s", layout.callout_max_user_ttl_s},
                            {"callout_auth_timeout_s", layout.callout_auth_timeout_s},
                            {"callout_permissions", PermissionsJson(layout.callout_permissions)},
                            {"tls_source", layout.tls_source == TlsSource::kFiles ? "files" : "local"},
                            {"tls_cert_file", layout.tls_cert_file},
                            {"tls_key_file", layout.tls_key_file},
                            {"tls_ca_file", layout.tls_ca_file},
                            {"tls_cert_lifetime_h", layout.tls_cert_lifetime_h},
                            {"tls_root_lifetime_h", layout.tls_root_lifetime_h},
                            {"tls_intermediate_lifetime_h", layout.tls_intermediate_lifetime_h}};
  return WriteFileAtomic(StatePaths(layout.state_dir).StateJson(), j.dump(2) + "\n", 0644);
}

Result<StackLayout> LoadLayout(const std::string& state_dir) {
  StackLayout layout;
  layout.state_dir = AbsolutePath(state_dir);
  const std::string path = StatePaths(layout.state_dir).StateJson();
  auto text = ReadConfigFile(path);
  if (!text) {
    if (text.error().code == Code::kNotFound)
      return Fail(Code::kNotFound, "no natstack state in " + layout.state_dir +
                                       " (run natstack up --state-dir " + layout.state_dir + ")");
    return Fail(text.error());
  }
  NATSTACK_ASSIGN_OR_RETURN(auto doc, ParseJsonDocument(*text, path));
  ConfigReader r(doc, path, "");
  int64_t idp_port = layout.idp_port;
  int64_t replicas = layout.callout_replicas;
  NATSTACK_TRY(r.String("cluster_name", layout.cluster_name));
  NATSTACK_TRY(r.String("idp_host", layout.idp_host));
  NATSTACK_TRY(r.Int("idp_port", idp_port, 1, 65535));
  NATSTACK_TRY(r.String("endpoint_name", layout.endpoint_name));
  NATSTACK_TRY(r.String("audience", layout.audience));
  NATSTACK_TRY(r.Int("callout_replicas", replicas, 0, kMaxCalloutReplicas));
  NATSTACK_TRY(r.StringList("websocket_allowed_origins", layout.websocket_allowed_origins));
  NATSTACK_TRY(r.Bool("websocket_same_origin", layout.websocket_same_origin));
  NATSTACK_TRY(r.Bool("websocket_compression", layout.websocket_compression));
  NATSTACK_TRY(r.Int("jetstream_max_memory", layout.jetstream_max_memory, 1, INT64_MAX));
  NATSTACK_TRY(r.Int("jetstream_max_file", layout.jetstream_max_file, 1, INT64_MAX));
  NATSTACK_TRY(r.String("jetstream_domain", layout.jetstream_domain));
  int64_t supervisor_port = layout.supervisor_port;
  NATSTACK_TRY(r.String("supervisor_host", layout.supervisor_host));
  NATSTACK_TRY(r.Int("supervisor_port", supervisor_port, 1, 65535));
  layout.supervisor_port = static_cast<int>(supervisor_port);
  int64_t dns_port = layout.dns_port, dns_ttl = layout.dns_ttl,
          dns_negative_ttl = layout.dns_negative_ttl, dns_sidecar_port = layout.dns_sidecar_port;
  NATSTACK_TRY(r.Bool("dns_enabled", layout.dns_enabled));
  NATSTACK_TRY(r.String("dns_host", layout.dns_host));
  NATSTACK_TRY(r.Int("dns_port", dns_port, 1, 65535));
  NATSTACK_TRY(r.String("dns_public_zone", layout.dns_public_zone));
  NATSTACK_TRY(r.String("dns_public_name", layout.dns_public_name));
  NATSTACK_TRY(r.Int("dns_ttl", dns_ttl, 1, 86400));
  NATSTACK_TRY(r.Int("dns_negative_ttl", dns_negative_ttl, 1, 86400));
  NATSTACK_TRY(r.String("dns_when_none", layout.dns_when_none));
  NATSTACK_TRY(r.Int("dns_sidecar_port", dns_sidecar_port, 1, 65535));
  NATSTACK_TRY(r.Int("dns_probe_interval_s", layout.dns_probe_interval_s, 1, 3600));
  NATSTACK_TRY(r.Int("dns_reconcile_interval_s", layout.dns_reconcile_interval_s, 1, 86400));
  NATSTACK_TRY(r.String("dns_private_zone", layout.dns_private_zone));
  NATSTACK_TRY(r.String("dns_route_name", layout.dns_route_name));
  layout.dns_port = static_cast<int>(dns_port);
  layout.dns_ttl = static_cast<int>(dns_ttl);
  layout.dns_negative_ttl = static_cast<int>(dns_negative_ttl);
  layout.dns_sidecar_port = static_cast<int>(dns_sidecar_port);
  // Keys added with the cluster spec; a state.json from before them keeps the defaults.
  int64_t auth_timeout = layout.callout_auth_timeout_s;
  std::string tls_source = "local";
  NATSTACK_TRY(r.String("callout_account", layout.callout_account));
  NATSTACK_TRY(r.Int("callout_max_user_ttl_s", layout.callout_max_user_ttl_s, 1, INT64_MAX));
  NATSTACK_TRY(r.Int("callout_auth_timeout_s", auth_timeout, 1, 3600));
  NATSTACK_TRY(r.Object("callout_permissions", Required::kNo, [&](ConfigReader& p) -> Status {
    callout::PermissionTemplate& t = layout.callout_permissions;
    t = callout::PermissionTemplate{};
    NATSTACK_TRY(p.StringList("pub_allow", t.pub_allow));
    NATSTACK_TRY(p.StringList("pub_deny", t.pub_deny));
    NATSTACK_TRY(p.StringList("sub_allow", t.sub_allow));
    NATSTACK_TRY(p.StringList("sub_deny", t.sub_deny));
    NATSTACK_TRY(p.Bool("allow_responses", t.allow_responses));
    return p.Finish();
  }));
  NATSTACK_TRY(r.String("tls_source", tls_source));
  if (tls_source != "local" && tls_source != "files")
    return Fail(r.InvalidError("tls_source", "expected \"local\" or \"files\""));
  layout.tls_source = tls_source == "files" ? TlsSource::kFiles : TlsSource::kLocalCa;
  NATSTACK_TRY(r.String("tls_cert_file", layout.tls_cert_file));
  NATSTACK_TRY(r.String("tls_key_file", layout.tls_key_file));
  NATSTACK_TRY(r.String("tls_ca_file", layout.tls_ca_file));
  NATSTACK_TRY(r.Int("tls_cert_lifetime_h", layout.tls_cert_lifetime_h, 1, INT64_MAX));
  NATSTACK_TRY(r.Int("tls_root_lifetime_h", layout.tls_root_lifetime_h, 1, INT64_MAX));
  NATSTACK_TRY(
      r.Int("tls_intermediate_lifetime_h", layout.tls_intermediate_lifetime_h, 1, INT64_MAX));
  layout.callout_auth_timeout_s = static_cast<int>(auth_timeout);
  layout.idp_port = static_cast<int>(idp_port);
  layout.callout_replicas = static_cast<int>(replicas);
  // nodes: a list of objects
  const nlohmann::json* nodes = r.Raw("nodes");
  if (nodes == nullptr || !nodes->is_array() || nodes->empty())
    return Fail(r.InvalidError("nodes", "expected a non-empty list"));
  for (size_t i = 0; i < nodes->size(); ++i) {
    const auto& jn = (*nodes)[i];
    if (!jn.is_object()) return Fail(r.InvalidError("nodes[" + std::to_string(i) + "]", "expected an object"));
    ConfigReader nr(jn, path, "nodes[" + std::to_string(i) + "].");
    NodeSpec n;
    int64_t cp = n.client_port, rp = n.cluster_port, mp = n.monitor_port, wp = n.websocket_port;
    NATSTACK_TRY(nr.String("name", n.name, Required::kYes));
    NATSTACK_TRY(nr.String("host", n.host, Required::kYes));
    NATSTACK_TRY(nr.Int("client_port", cp, 1, 65535));
    NATSTACK_TRY(nr.Int("cluster_port", rp, 1, 65535));
    NATSTACK_TRY(nr.Int("monitor_port", mp, 1, 65535));
    NATSTACK_TRY(nr.Int("websocket_port", wp, 1, 65535));
    NATSTACK_TRY(nr.StringList("tags", n.tags));
    NATSTACK_TRY(nr.Finish());
    n.client_port = static_cast<int>(cp);
    n.cluster_port = static_cast<int>(rp);
    n.monitor_port = static_cast<int>(mp);
    n.websocket_port = static_cast<int>(wp);
    layout.nodes.push_back(n);
  }
  NATSTACK_TRY(r.Finish());
  return layout;
}

std::string IdpIssuerUrl(const StackLayout& layout) {
  return "http://" + layout.idp_host + ":" + std::to_string(layout.idp_port) + "/";
}

std::string CalloutHttpListen(const StackLayout& layout, int replica) {
  return layout.idp_host + ":" + std::to_string(layout.idp_port + replica);
}

std::string CalloutPartName(int replica) { return "callout-" + std::to_string(replica); }

namespace {
std::vector<std::string> Urls(const StackLayout& layout, const char* scheme,
                              int NodeSpec::*port) {
  std::vector<std::string> out;
  for (const auto& n : layout.nodes)
    out.push_back(std::string(scheme) + "://" + n.host + ":" + std::to_string(n.*port));
  return out;
}
}  // namespace

std::vector<std::string> ClientUrls(const StackLayout& l) { return Urls(l, "tls", &NodeSpec::client_port); }
std::vector<std::string> WebSocketUrls(const StackLayout& l) { return Urls(l, "wss", &NodeSpec::websocket_port); }
std::vector<std::string> MonitoringUrls(const StackLayout& l) { return Urls(l, "http", &NodeSpec::monitor_port); }

std::string DnsHost(const StackLayout& l) { return l.dns_host.empty() ? l.idp_host : l.dns_host; }

std::string DnsSidecarListen(const StackLayout& l) {
  return DnsHost(l) + ":" + std::to_string(l.dns_sidecar_port);
}

std::string SupervisorUrl(const StackLayout& l) {
  return "http://" + l.supervisor_host + ":" + std::to_string(l.supervisor_port);
}

std::string ServerCertFile(const StackLayout& l) {
  return l.tls_source == TlsSource::kFiles ? l.tls_cert_file : StatePaths(l.state_dir).ServerCert();
}

std::string ServerKeyFile(const StackLayout& l) {
  return l.tls_source == TlsSource::kFiles ? l.tls_key_file : StatePaths(l.state_dir).ServerKey();
}

std::string TrustedCaFile(const StackLayout& l) {
  return l.tls_source == TlsSource::kFiles ? l.tls_ca_file : StatePaths(l.state_dir).RootCa();
}

nlohmann::json InfoJson(const StackLayout& layout) {
  nlohmann::json metrics = nlohmann::json::array();
  for (int i = 1; i <= layout.callout_replicas; ++i)
    metrics.push_back("http://" + CalloutHttpListen(layout, i) + "/metrics");
  return {{"state_dir", layout.state_dir},
          {"ca_file", TrustedCaFile(layout)},
          {"clients", ClientUrls(layout)},
          {"websocket", WebSocketUrls(layout)},
          {"monitoring", MonitoringUrls(layout)},
          {"idp", IdpIssuerUrl(layout)},
          {"callout_metrics", metrics}};
}

}  // namespace natstack::cluster
