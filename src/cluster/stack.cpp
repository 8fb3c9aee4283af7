#include "cluster/stack.hpp"

#include "dns/knot.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "core/base64.hpp"
#include "core/file.hpp"
#include "crypto/random.hpp"
#include "idp/dev_issuer.hpp"
#include "callout/policy.hpp"
#include "nkeys/nkeys.hpp"
#include "pki/local_ca.hpp"

namespace natstack::cluster {
namespace {

/// Creates a secret file with `make()` when absent; returns its content either way.
Result<std::string> EnsureSecret(const std::string& path, const std::function<std::string()>& make) {
  if (FileExists(path)) return ReadSecretValue(path);
  std::string value = make();
  NATSTACK_TRY(WriteFileAtomic(path, value + "\n", 0600));
  return value;
}

std::string RandomPassword() {
  unsigned char raw[24];
  crypto::RandomBytes(raw, sizeof raw);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

/// The public key of a seed file's content, which must be of `role`.
Result<std::string> SeedPublicKey(const std::string& seed_text, nkeys::Role role) {
  NATSTACK_ASSIGN_OR_RETURN(std::string pub, nkeys::PublicKeyOfSeed(seed_text));
  if (nkeys::RoleOfPublicKey(pub) != role)
    return Fail(Code::kInvalidArgument,
                std::string("not a seed of the ") + std::string(nkeys::RoleName(role)) + " role");
  return pub;
}

bool Covers(const pki::CertInfo& info, const CertificateNames& names) {
  for (const auto& d : names.dns)
    if (std::find(info.dns_names.begin(), info.dns_names.end(), d) == info.dns_names.end())
      return false;
  for (const auto& ip : names.ips)
    if (std::find(info.ip_addresses.begin(), info.ip_addresses.end(), ip) ==
        info.ip_addresses.end())
      return false;
  return true;
}

}  // namespace

CertificateNames RequiredCertificateNames(const StackLayout& layout) {
  CertificateNames names;
  names.dns.push_back(layout.endpoint_name);
  if (layout.endpoint_name != "localhost") names.dns.push_back("localhost");
  // Clients that dial the public name (the record the DNS sidecar keeps) verify it too.
  if (layout.dns_enabled && layout.dns_public_name != layout.endpoint_name &&
      layout.dns_public_name != "localhost")
    names.dns.push_back(layout.dns_public_name);
  // nats.c checks the IP it dialled against the certificate when it fails over to a
  // discovered server, so every node address must be an IP SAN (a node named by DNS, a DNS
  // SAN).
  for (const auto& n : layout.nodes) {
    std::array<unsigned char, 16> addr{};
    const bool ip = ::inet_pton(AF_INET, n.host.c_str(), addr.data()) == 1 ||
                    ::inet_pton(AF_INET6, n.host.c_str(), addr.data()) == 1;
    auto& list = ip ? names.ips : names.dns;
    if (std::find(list.begin(), list.end(), n.host) == list.end()) list.push_back(n.host);
  }
  for (const char* ip : {"127.0.0.1", "::1"})
    if (std::find(names.ips.begin(), names.ips.end(), ip) == names.ips.end()) names.ips.push_back(ip);
  return names;
}

RenderInput NodeRenderInput(const StackLayout& layout) {
  RenderInput in;
  in.cluster_name = layout.cluster_name;
  in.nodes = layout.nodes;
  in.state_dir = layout.state_dir;
  in.cert_file = ServerCertFile(layout);
  in.key_file = ServerKeyFile(layout);
  in.websocket_allowed_origins = layout.websocket_allowed_origins;
  in.websocket_same_origin = layout.websocket_same_origin;
  in.websocket_compression = layout.websocket_compression;
  in.jetstream_max_memory = layout.jetstream_max_memory;
  in.jetstream_max_file = layout.jetstream_max_file;
  in.jetstream_domain = layout.jetstream_domain;
  in.callout_account = layout.callout_account;
  in.auth_timeout_s = layout.callout_auth_timeout_s;
  return in;
}

Result<PreparedStack> PrepareStack(const StackLayout& layout, const Clock& clock,
                                   const std::function<void(const std::string&)>& step) {
  const StatePaths paths(layout.state_dir);
  NATSTACK_TRY(MakeDirs(paths.dir(), 0700));
  NATSTACK_TRY(MakeDirs(paths.KeysDir(), 0700));
  NATSTACK_TRY(MakeDirs(paths.CertsDir(), 0700));
  NATSTACK_TRY(MakeDirs(paths.NodesDir(), 0700));
  NATSTACK_TRY(MakeDirs(paths.LogsDir(), 0700));

  PreparedStack out;
  out.layout = layout;

  // Keys: the callout's issuer and xkey, the passwords of the callout, sys and route users.
  auto issuer_seed = EnsureSecret(paths.IssuerSeed(), [] {
    return std::string(nkeys::KeyPair::Generate(nkeys::Role::kAccount).Seed().view());
  });
  if (!issuer_seed) return Fail(issuer_seed.error().Wrap("issuer seed"));
  auto issuer_public = SeedPublicKey(*issuer_seed, nkeys::Role::kAccount);
  if (!issuer_public) return Fail(issuer_public.error().Wrap(paths.IssuerSeed()));
  out.issuer_public = *issuer_public;
  auto xkey_seed = EnsureSecret(paths.XKeySeed(), [] {
    return std::string(nkeys::XKey::Generate().Seed().view());
  });
  if (!xkey_seed) return Fail(xkey_seed.error().Wrap("xkey seed"));
  auto xkey_public = SeedPublicKey(*xkey_seed, nkeys::Role::kCurve);
  if (!xkey_public) return Fail(xkey_public.error().Wrap(paths.XKeySeed()));
  out.xkey_public = *xkey_public;
  NATSTACK_ASSIGN_OR_RETURN(std::string callout_password,
                            EnsureSecret(paths.CalloutPassword(), RandomPassword));
  NATSTACK_ASSIGN_OR_RETURN(std::string sys_password, EnsureSecret(paths.SysPassword(), RandomPassword));
  NATSTACK_ASSIGN_OR_RETURN(std::string route_password,
                            EnsureSecret(paths.RoutePassword(), RandomPassword));
  auto idp = idp::DevIssuer::LoadOrCreate(paths.IdpKey(), IdpIssuerUrl(layout), layout.audience);
  if (!idp) return Fail(idp.error().Wrap("development IdP key"));
  step("keys");

  // Certificates: the operator's files as they are (checked when the spec was parsed), or the
  // local CA and a server certificate for every name clients may dial.
  if (layout.tls_source == TlsSource::kFiles) {
    NATSTACK_ASSIGN_OR_RETURN(std::string ca_pem, ReadConfigFile(layout.tls_ca_file));
    auto ca_info = pki::InspectCertificate(ca_pem);
    if (!ca_info) return Fail(ca_info.error().Wrap(layout.tls_ca_file));
    out.root_fingerprint = ca_info->fingerprint_sha256;
  } else {
    pki::CaOptions ca_options;
    ca_options.dir = paths.CaDir();
    ca_options.name = "natstack " + layout.cluster_name;
    ca_options.root_lifetime = std::chrono::hours(layout.tls_root_lifetime_h);
    ca_options.intermediate_lifetime = std::chrono::hours(layout.tls_intermediate_lifetime_h);
    NATSTACK_ASSIGN_OR_RETURN(auto ca, pki::LocalCa::LoadOrCreate(ca_options, clock));
    out.root_fingerprint = ca.RootFingerprintSha256();
    const CertificateNames names = RequiredCertificateNames(layout);
    const std::chrono::hours lifetime(layout.tls_cert_lifetime_h);
    // Reissued with a third of its life left (30 days of the default 90).
    const auto renew_before = lifetime / 3;
    bool reissue = true;
    if (FileExists(paths.ServerCert()) && FileExists(paths.ServerKey())) {
      auto pem = ReadFile(paths.ServerCert());
      if (pem) {
        auto info = pki::InspectCertificate(*pem);
        reissue = !info || !Covers(*info, names) || info->not_after - clock.Now() < renew_before;
      }
    }
    if (reissue) {
      pki::LeafOptions leaf;
      leaf.common_name = layout.endpoint_name;
      leaf.dns_names = names.dns;
      leaf.ip_addresses = names.ips;
      leaf.lifetime = lifetime;
      NATSTACK_ASSIGN_OR_RETURN(auto cert, ca.Issue(leaf));
      NATSTACK_TRY(pki::WriteCertAndKey(cert, paths.ServerCert(), paths.ServerKey()));
      out.certificate_reissued = true;
    }
  }
  step("certificates");

  // Node configs: secrets only in the 0600 include files, never on a command line.
  RenderInput in = NodeRenderInput(layout);
  in.issuer_account_public = out.issuer_public;
  in.callout_xkey_public = out.xkey_public;
  NATSTACK_ASSIGN_OR_RETURN(in.callout_password_hash, BcryptHash(callout_password));
  NATSTACK_ASSIGN_OR_RETURN(in.sys_password_hash, BcryptHash(sys_password));
  in.route_password = route_password;
  NATSTACK_ASSIGN_OR_RETURN(auto rendered, Render(in));
  NATSTACK_TRY(WriteRendered(rendered, paths.NodesDir()));
  for (const auto& n : layout.nodes) NATSTACK_TRY(MakeDirs(paths.NodesDir() + "/" + n.name, 0700));

  // The callouts' configs: one per replica, identical but for the node each connects to first
  // and its metrics port. `out.callout` is the first replica's.
  callout::CalloutConfig& c = out.callout;
  c.servers = ClientUrls(layout);
  c.user = in.callout_user;
  c.password_file = paths.CalloutPassword();
  c.ca_file = TrustedCaFile(layout);
  c.issuer_seed_file = paths.IssuerSeed();
  c.xkey_seed_file = paths.XKeySeed();
  c.accounts = {layout.callout_account};
  c.default_account = layout.callout_account;
  c.max_user_ttl_s = layout.callout_max_user_ttl_s;
  c.http_listen = CalloutHttpListen(layout, 1);
  c.no_randomize = true;
  // The system account closes live connections of identities put on the deny-list.
  c.system.user = in.sys_user;
  c.system.password_file = paths.SysPassword();
  c.revocation_file = paths.RevocationFile();
  callout::IssuerSettings dev;
  dev.name = "dev";
  dev.issuer = IdpIssuerUrl(layout);
  dev.audiences = {layout.audience};
  c.issuers = {dev};
  // By default a user's own subjects and reply inbox: it may subscribe there and answer its own
  // requests there. No allow_responses: see PermissionTemplate::allow_responses.
  c.templates["default"] = layout.callout_permissions;
  if (!FileExists(paths.RevocationFile())) {
    NATSTACK_TRY(WriteFileAtomic(paths.RevocationFile(),
                                 "{\n  \"users\": [],\n  \"token_ids\": []\n}\n", 0600));
  }
  for (int i = 1; i <= std::max(1, layout.callout_replicas); ++i) {
    callout::CalloutConfig replica = c;
    const size_t first = static_cast<size_t>(i - 1) % replica.servers.size();
    std::rotate(replica.servers.begin(), replica.servers.begin() + static_cast<long>(first),
                replica.servers.end());
    replica.http_listen = CalloutHttpListen(layout, i);
    NATSTACK_TRY(WriteFileAtomic(paths.CalloutConfig(i), callout::SerializeCalloutConfig(replica),
                                 0600));
  }
  // A replica fewer than last time leaves no config that looks live.
  for (int i = std::max(1, layout.callout_replicas) + 1; i <= kMaxCalloutReplicas; ++i)
    (void)::unlink(paths.CalloutConfig(i).c_str());
  NATSTACK_TRY(PrepareDns(layout));
  NATSTACK_TRY(SaveLayout(layout));
  step("configs");
  return out;
}

Status PrepareDns(const StackLayout& layout) {
  const StatePaths paths(layout.state_dir);
  if (!layout.dns_enabled) {
    (void)::unlink(paths.DnsSidecarConfig().c_str());
    return Ok();
  }
  dns::KnotOptions knot;
  knot.state_dir = paths.DnsDir();
  knot.port = static_cast<uint16_t>(layout.dns_port);
  knot.address = DnsHost(layout);
  knot.zones = {layout.dns_public_zone + ".", layout.dns_private_zone + "."};
  knot.soa_minimum = static_cast<uint32_t>(layout.dns_negative_ttl);
  NATSTACK_ASSIGN_OR_RETURN(dns::TsigKey key, dns::PrepareKnotState(knot));
  (void)key;  // the sidecar reads it from the key file
  // The supervisor tells the sidecar at once when a node's process exits (docs/dns.md,
  // "Process events"); the token keeps anyone else on the host from taking nodes out.
  NATSTACK_TRY(MakeDirs(paths.KeysDir(), 0700));
  NATSTACK_TRY(EnsureSecret(paths.DnsEventsToken(), RandomPassword));
  // The sidecar: one entry per node, its client address as the record's value, its
  // JetStream-enabled health (plain /healthz fails until JetStream has a meta leader: the
  // record would stay empty while a cluster forms; docs/dns.md).
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : layout.nodes) {
    nodes.push_back({{"name", n.name},
                     {"address", n.host},
                     {"health_url", "http://" + n.host + ":" + std::to_string(n.monitor_port) +
                                        "/healthz?js-enabled-only=true"}});
  }
  const nlohmann::json sidecar = {{"server", DnsHost(layout)},
                                  {"port", layout.dns_port},
                                  {"zone", layout.dns_public_zone + "."},
                                  {"tsig_key_file", dns::LayoutFor(paths.DnsDir()).key_file},
                                  {"name", layout.dns_public_name + "."},
                                  {"ttl", layout.dns_ttl},
                                  {"nodes", nodes},
                                  {"when_none", layout.dns_when_none},
                                  {"interval", std::to_string(layout.dns_probe_interval_s) + "s"},
                                  {"reconcile_interval",
                                   std::to_string(layout.dns_reconcile_interval_s) + "s"},
                                  {"http_listen", DnsSidecarListen(layout)},
                                  {"events_token_file", paths.DnsEventsToken()}};
  return WriteFileAtomic(paths.DnsSidecarConfig(), sidecar.dump(2) + "\n", 0600);
}

}  // namespace natstack::cluster
