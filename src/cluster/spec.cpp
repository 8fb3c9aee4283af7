#include "cluster/spec.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <limits>
#include <map>
#include <memory>
#include <regex>

#include "callout/policy.hpp"
#include "cluster/render.hpp"
#include "cluster/stack.hpp"
#include "core/file.hpp"
#include "core/toml_config.hpp"
#include "crypto/evp.hpp"
#include "crypto/openssl.hpp"

namespace natstack::cluster {
namespace {

constexpr std::string_view kDefaultSpec = R"(# natstack cluster spec: the embedded default (`natstack config default`).
# `natstack up --spec FILE` runs another; `natstack config validate FILE` checks one;
# `natstack cluster render FILE --out DIR` renders it for real hosts (systemd units).
# Every key is optional but nodes[].name and nodes[].host; docs/spec.md describes them all.
# Sizes are bytes or "64MiB"-style strings; durations are seconds or "30s", "15m", "1h", "90d".

# The cluster's name (nats-server cluster.name): 1-63 of [A-Za-z0-9_-].
name = "natstack"
# The name clients dial. The server certificate covers it, "localhost" and every node address.
endpoint = "localhost"

# Any node key but name and host, for every node that does not set it itself.
[node_defaults]
client_port = 4222      # clients, TLS required
cluster_port = 6222     # routes, authenticated
monitor_port = 8222     # /healthz, /varz, /routez, ...
websocket_port = 8443   # WebSocket clients, TLS
tags = []               # server_tags besides the unique "node:<name>", e.g. ["az:1"]

# One table per node. `natstack up` runs them on this machine: loopback addresses only.
[[nodes]]
name = "n1"
host = "127.0.1.1"

[[nodes]]
name = "n2"
host = "127.0.1.2"

[[nodes]]
name = "n3"
host = "127.0.1.3"

[websocket]
# Origins browsers may connect from, e.g. ["https://app.example.test"]; empty: any.
allowed_origins = []
same_origin = false
compression = true

[jetstream]
max_memory = "64MiB"    # per node; an integer is bytes
max_file = "1GiB"
domain = ""             # JetStream domain; empty: none

[callout]
# Replicas of the auth callout in one queue group, each on a different node first (0-16;
# 0: none is started, bring your own).
replicas = 2
# The account the callout's user lives in and every admitted client is placed in.
account = "AUTH"
# Longest life of a user JWT the callout issues (it also ends with the client's token).
max_user_ttl = "1h"
# How long a client has to be authorized (nats-server authorization.timeout, 1s-60s): the
# callout must answer within it.
auth_timeout = "3s"

# What every admitted identity may do. {userId} is its user id, {claim:NAME} a token claim.
[callout.permissions]
pub_allow = ["user.{userId}.>", "_INBOX_{userId}.>"]
pub_deny = []
sub_allow = ["user.{userId}.>", "_INBOX_{userId}.>"]
sub_deny = []
allow_responses = false  # lets identities answer requests sent to them from anywhere

[tls]
# "local": natstack's CA in the state directory issues the server certificate.
# "files": cert_file, key_file and ca_file name the operator's own (absolute paths).
source = "local"
cert_lifetime = "90d"          # reissued when a third of it is left
root_lifetime = "3650d"        # when the CA is created
intermediate_lifetime = "1825d"

[idp]
# The development IdP (`natstack idp serve`). The callout replicas' metrics listen on the
# following ports of the same host (9401, 9402, ...).
listen = "127.0.0.1:9400"
audience = "natstack"

[supervisor]
# The supervisor's status and control endpoint (`natstack status`): loopback only.
listen = "127.0.0.1:9390"

[dns]
# Knot DNS, run by `up`, authoritative for the public zone, and the sidecar that keeps the
# public name's A record equal to the healthy nodes (docs/dns.md).
enabled = true
listen = ""                         # Knot's IPV4:PORT; "" = the IdP's host, port 8053
public_zone = "example.test"
public_name = "nats.example.test"   # clients dial it; the certificate covers it
ttl = 60
negative_ttl = 60                   # the zone's SOA minimum: how long "no such name" is cached
when_none = "keep"                  # no healthy node: "keep" the last set, or "delete" it
sidecar_port = 9391                 # the sidecar's /healthz, /readyz, /metrics, on Knot's host
probe_interval = "2s"               # each node's health, this often (2 failures out, 2 passes in)
reconcile_interval = "30s"          # the record read back and repaired, this often
private_zone = "cluster.internal"   # the route seed's zone, also served by Knot
route_name = "routes.cluster.internal"  # every node's route address, registered while it runs
)";

/// "nodes[1] (\"n2\").cluster_port" (a renderer field) -> "nodes[1].cluster_port" (a spec key).
std::string SpecKeyOfField(std::string field) {
  for (size_t open = field.find(" (\""); open != std::string::npos; open = field.find(" (\"")) {
    const size_t close = field.find("\")", open);
    if (close == std::string::npos) break;
    field.erase(open, close + 2 - open);
  }
  static const std::pair<std::string_view, std::string_view> kRenames[] = {
      {"cluster_name", "name"},
      {"websocket_allowed_origins", "websocket.allowed_origins"},
      {"jetstream_max_memory", "jetstream.max_memory"},
      {"jetstream_max_file", "jetstream.max_file"},
      {"jetstream_domain", "jetstream.domain"},
      {"callout_account", "callout.account"},
      {"auth_timeout_s", "callout.auth_timeout"},
  };
  for (const auto& [from, to] : kRenames)
    if (field.rfind(from, 0) == 0) return std::string(to) + field.substr(from.size());
  return field;
}

Status Port(ConfigReader& r, const std::string& key, int& out) {
  int64_t v = out;
  NATSTACK_TRY(r.Int(key, v, 1, 65535));
  out = static_cast<int>(v);
  return Ok();
}

Status ByteSize(ConfigReader& r, const std::string& key, int64_t& out) {
  const nlohmann::json* v = r.Raw(key);
  if (v == nullptr) return Ok();
  if (v->is_number_integer()) {
    if (v->get<int64_t>() <= 0) return r.Invalid(key, "must be positive");
    out = v->get<int64_t>();
    return Ok();
  }
  if (!v->is_string()) return r.Invalid(key, "expected a size such as \"64MiB\" or bytes");
  auto size = ParseByteSize(v->get<std::string>());
  if (!size) return r.Invalid(key, size.error().message);
  out = *size;
  return Ok();
}

/// host:port with an IPv4 host a peer can dial (not 0.0.0.0); `loopback`: 127.0.0.0/8 only.
Status HostPortValue(ConfigReader& r, const std::string& key, std::string& host, int& port,
                     bool loopback = false) {
  std::string text;
  NATSTACK_TRY(r.String(key, text));
  if (text.empty()) return Ok();
  const size_t colon = text.rfind(':');
  in_addr addr{};
  const std::string h = colon == std::string::npos ? text : text.substr(0, colon);
  const std::string p = colon == std::string::npos ? "" : text.substr(colon + 1);
  const std::string example = loopback ? "127.0.0.1:9390" : "127.0.0.1:9400";
  if (colon == std::string::npos || ::inet_pton(AF_INET, h.c_str(), &addr) != 1 || p.empty() ||
      p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(p) < 1 || std::stoi(p) > 65535)
    return r.Invalid(key, "\"" + text.substr(0, 80) + "\" is not IPV4:PORT (e.g. " + example + ")");
  if (addr.s_addr == 0)
    return r.Invalid(key, "0.0.0.0 cannot be dialled; use the address to listen on");
  if (loopback && (ntohl(addr.s_addr) >> 24) != 127)
    return r.Invalid(key, "\"" + text + "\" is not a loopback address (127.0.0.0/8): it serves "
                                        "this machine only");
  host = h;
  port = std::stoi(p);
  return Ok();
}

std::string FormatDuration(int64_t seconds) {
  for (const auto& [unit, size] : {std::pair<const char*, int64_t>{"d", 86400}, {"h", 3600}, {"m", 60}})
    if (seconds % size == 0) return std::to_string(seconds / size) + unit;
  return std::to_string(seconds) + "s";
}

/// A duration key: an integer (seconds) or a string such as "90d"; within [min_s, max_s].
Status Duration(ConfigReader& r, const std::string& key, int64_t& out, int64_t min_s,
                int64_t max_s) {
  const nlohmann::json* v = r.Raw(key);
  if (v == nullptr) return Ok();
  int64_t seconds = 0;
  if (v->is_number_integer()) {
    seconds = v->get<int64_t>();
  } else if (v->is_string()) {
    auto parsed = ParseDuration(v->get<std::string>());
    if (!parsed) return r.Invalid(key, parsed.error().message);
    seconds = *parsed;
  } else {
    return r.Invalid(key, "expected a duration such as \"90d\", \"1h\" or \"30s\", or seconds");
  }
  if (seconds < min_s || seconds > max_s)
    return r.Invalid(key, "must be between " + FormatDuration(min_s) + " and " +
                              FormatDuration(max_s));
  out = seconds;
  return Ok();
}

/// A lifetime in whole hours (what the local CA takes).
Status Lifetime(ConfigReader& r, const std::string& key, int64_t& hours, int64_t max_days) {
  int64_t seconds = hours * 3600;
  NATSTACK_TRY(Duration(r, key, seconds, 3600, max_days * 86400));
  if (seconds % 3600 != 0) return r.Invalid(key, "must be a whole number of hours");
  hours = seconds / 3600;
  return Ok();
}

/// A DNS name a certificate can carry: labels of [A-Za-z0-9-] (1-63, not starting or ending
/// with '-'), at most 253 bytes, not all digits and dots (an address is not a name).
bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  bool has_letter = false;
  while (start <= name.size()) {
    const size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (std::isalpha(static_cast<unsigned char>(c))) has_letter = true;
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return has_letter;
}

/// A DNS name as the spec keeps it: lower-case ASCII, without the one trailing dot of an
/// absolute name ("NATS.Example.Test." -> "nats.example.test"). Names are case-insensitive
/// (RFC 4343), so the spec compares, renders and puts on the certificate this form only.
std::string NormalDnsName(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

/// True when normalised `name` is a name strictly below normalised `zone`.
bool IsBelow(const std::string& name, const std::string& zone) {
  return name.size() > zone.size() + 1 &&
         name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
         name[name.size() - zone.size() - 1] == '.';
}

/// A bare, possibly dotted TOML key at `line[i]` ("dns.ttl", "a . b"): its text without
/// blanks in `key`, and the index after it; npos when there is none.
size_t ReadBareKey(std::string_view line, size_t i, std::string& key) {
  auto blank = [&](size_t j) { return j < line.size() && (line[j] == ' ' || line[j] == '\t'); };
  auto bare = [&](size_t j) {
    return j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) != 0 ||
                               line[j] == '_' || line[j] == '-');
  };
  key.clear();
  for (;;) {
    if (!bare(i)) return std::string_view::npos;
    while (bare(i)) key += line[i++];
    size_t j = i;
    while (blank(j)) ++j;
    if (j >= line.size() || line[j] != '.') return i;
    key += '.';
    for (++j; blank(j);) ++j;
    i = j;
  }
}

/// toml++ names a line and a column only ("s.toml:83:27: Error while parsing decimal integer:
/// ..."). When that line is a plain `key = value`, the error names the key too, as every other
/// spec error does ("s.toml:83: dns.ttl: error while parsing decimal integer: ..."), with the
/// table of the last header line above it (`[[nodes]]` counted: "nodes[1]"). An error this
/// reading cannot place (a multi-line string above it, an inline table, a line that is no
/// `key =`) keeps toml++'s words.
Error NameKeyOfTomlError(const Error& error, std::string_view text, std::string_view source) {
  // "SOURCE:LINE:COLUMN: why"
  std::string_view rest = error.message;
  if (rest.substr(0, source.size()) != source) return error;
  rest.remove_prefix(source.size());
  size_t i = 1;
  auto digits = [&](size_t& value) {
    const size_t from = i;
    for (value = 0; i < rest.size() && i - from < 9 && rest[i] >= '0' && rest[i] <= '9'; ++i)
      value = value * 10 + static_cast<size_t>(rest[i] - '0');
    return i > from;
  };
  size_t line_no = 0, column = 0;
  if (rest.empty() || rest[0] != ':' || !digits(line_no) || i >= rest.size() || rest[i] != ':')
    return error;
  ++i;
  if (!digits(column) || rest.substr(i, 2) != ": ") return error;
  std::string why(rest.substr(i + 2));
  if (why.rfind("Error while parsing", 0) == 0) why[0] = 'e';

  auto skip_blanks = [](std::string_view line, size_t j) {
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
    return j;
  };
  std::string table, key;
  std::map<std::string, int> array_items;
  size_t start = 0;
  for (size_t n = 1; start <= text.size(); ++n) {
    const size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (n == line_no) {
      size_t j = ReadBareKey(line, skip_blanks(line, 0), key);
      if (j == std::string_view::npos) return error;
      j = skip_blanks(line, j);
      if (j >= line.size() || line[j] != '=') return error;
      j = skip_blanks(line, j + 1);
      if (j < line.size() && line[j] == '{') return error;
      return Error{error.code, std::string(source) + ":" + std::to_string(line_no) + ": " +
                                   (table.empty() ? key : table + "." + key) + ": " + why};
    }
    if (line.find("\"\"\"") != std::string_view::npos || line.find("'''") != std::string_view::npos)
      return error;
    // A header: "[table]" or "[[array]]" alone on its line (a comment may follow).
    size_t j = skip_blanks(line, 0);
    if (j < line.size() && line[j] == '[') {
      const bool array = j + 1 < line.size() && line[j + 1] == '[';
      j = ReadBareKey(line, skip_blanks(line, j + (array ? 2 : 1)), key);
      if (j != std::string_view::npos) {
        j = skip_blanks(line, j);
        const std::string_view close = array ? "]]" : "]";
        if (line.substr(j, close.size()) == close) {
          j = skip_blanks(line, j + close.size());
          if (j == line.size() || line[j] == '#')
            table = array ? key + "[" + std::to_string(array_items[key]++) + "]" : key;
        }
      }
    }
    start = end + 1;
  }
  return error;
}

Status ReadNode(ConfigReader& r, NodeSpec& node, bool defaults) {
  if (!defaults) {
    NATSTACK_TRY(r.String("name", node.name, Required::kYes));
    NATSTACK_TRY(r.String("host", node.host, Required::kYes));
  }
  NATSTACK_TRY(Port(r, "client_port", node.client_port));
  NATSTACK_TRY(Port(r, "cluster_port", node.cluster_port));
  NATSTACK_TRY(Port(r, "monitor_port", node.monitor_port));
  NATSTACK_TRY(Port(r, "websocket_port", node.websocket_port));
  NATSTACK_TRY(r.StringList("tags", node.tags));
  return r.Finish();
}

using X509Stack = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;

void FreeCertStack(STACK_OF(X509)* certs) { sk_X509_pop_free(certs, X509_free); }

/// Every certificate of a PEM file, in file order.
Result<X509Stack> ReadCertificates(const std::string& pem) {
  X509Stack certs(sk_X509_new_null(), FreeCertStack);
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!certs || !bio) return Fail(Code::kInternal, "out of memory");
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    sk_X509_push(certs.get(), cert);
  ERR_clear_error();  // the read that ended the loop
  if (sk_X509_num(certs.get()) == 0)
    return Fail(Code::kInvalidArgument, "holds no PEM certificate");
  return certs;
}

/// The operator's TLS files: each readable and parseable, the key the certificate's, the
/// chain valid now up to ca_file, and the endpoint name covered. Errors name the spec key.
Status CheckTlsFiles(ConfigReader& t, const StackLayout& layout) {
  const std::pair<const char*, const std::string*> files[] = {
      {"cert_file", &layout.tls_cert_file},
      {"key_file", &layout.tls_key_file},
      {"ca_file", &layout.tls_ca_file},
  };
  for (const auto& [key, path] : files) {
    if (path->empty()) return t.Invalid(key, "is required with source = \"files\"");
    if (path->front() != '/')
      return t.Invalid(key, "\"" + *path + "\" is not absolute (nats-server and the callout "
                                           "read it from their own working directories)");
  }
  std::map<std::string, std::string> text;
  for (const auto& [key, path] : files) {
    auto read = std::string(key) == "key_file" ? ReadSecretFile(*path) : ReadConfigFile(*path);
    if (!read) return t.Invalid(key, read.error().message);
    text[key] = std::move(*read);
  }
  auto chain = ReadCertificates(text["cert_file"]);
  if (!chain) return t.Invalid("cert_file", layout.tls_cert_file + " " + chain.error().message);
  auto roots = ReadCertificates(text["ca_file"]);
  if (!roots) return t.Invalid("ca_file", layout.tls_ca_file + " " + roots.error().message);
  auto key = crypto::LoadPrivateKeyPem(text["key_file"]);
  if (!key)
    return t.Invalid("key_file", layout.tls_key_file + " holds no usable unencrypted PEM private key");
  X509* leaf = sk_X509_value(chain->get(), 0);
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return t.Invalid("key_file", layout.tls_key_file + " is not the key of " +
                                     layout.tls_cert_file + "'s first certificate");
  }
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(),
                                                                  X509_STORE_CTX_free);
  if (!store || !ctx) return Fail(Code::kInternal, "out of memory");
  for (int i = 0; i < sk_X509_num(roots->get()); ++i)
    X509_STORE_add_cert(store.get(), sk_X509_value(roots->get(), i));
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain->get()) != 1)
    return Fail(crypto::OpenSslError("X509_STORE_CTX_init"));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return t.Invalid("cert_file", layout.tls_cert_file + " does not verify against " +
                                      layout.tls_ca_file + ": " +
                                      X509_verify_cert_error_string(err));
  }
  const std::string& name = layout.endpoint_name;
  if (X509_check_host(leaf, name.data(), name.size(), 0, nullptr) != 1)
    return t.Invalid("cert_file", layout.tls_cert_file + " does not cover the endpoint \"" +
                                      name + "\" (clients check the name they dial)");
  return Ok();
}

/// "10.0.0.1:4222" with the IPv4 address in canonical form, so two spellings of one address
/// clash; other hosts as written.
std::string ListenerKey(const std::string& host, int port) {
  in_addr addr{};
  char buf[INET_ADDRSTRLEN] = {};
  if (::inet_pton(AF_INET, host.c_str(), &addr) == 1 &&
      ::inet_ntop(AF_INET, &addr, buf, sizeof buf) != nullptr)
    return std::string(buf) + ":" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

/// The IdP, the callout replicas' metrics ports and the supervisor against the nodes'
/// listeners and each other. A clash with a service's default (its key not in the spec) is
/// reported at the node's key, which has a line.
Status CheckServiceListeners(ConfigReader& r, const StackLayout& layout, const KeyLines& lines) {
  std::map<std::string, std::string> taken;  // host:port -> spec key
  for (size_t i = 0; i < layout.nodes.size(); ++i) {
    const NodeSpec& n = layout.nodes[i];
    const std::string node = "nodes[" + std::to_string(i) + "].";
    taken.emplace(ListenerKey(n.host, n.client_port), node + "client_port");
    taken.emplace(ListenerKey(n.host, n.cluster_port), node + "cluster_port");
    taken.emplace(ListenerKey(n.host, n.monitor_port), node + "monitor_port");
    taken.emplace(ListenerKey(n.host, n.websocket_port), node + "websocket_port");
  }
  // Who holds a listener, in words: the key, or what the key implies ("callout replica 2's
  // metrics port (the IdP port + 2) of idp.listen").
  std::map<std::string, std::string> holder;
  auto claim = [&](const std::string& key, const std::string& what, const std::string& host,
                   int port) -> Status {
    const std::string where = ListenerKey(host, port);
    const std::string name = what.empty() ? key : what + " of " + key;
    const auto [it, inserted] = taken.emplace(where, key);
    if (inserted) {
      holder[where] = name;
      return Ok();
    }
    const std::string other = holder.count(where) != 0 ? holder[where] : it->second;
    if (lines.count(key) == 0 && lines.count(it->second) != 0)
      return r.Invalid(it->second, where + " is also " + name + " (by default)");
    return r.Invalid(key, (what.empty() ? "" : what + " ") + where +
                              " is already the listener of " + other);
  };
  NATSTACK_TRY(claim("idp.listen", "", layout.idp_host, layout.idp_port));
  for (int i = 1; i <= layout.callout_replicas; ++i) {
    NATSTACK_TRY(claim("idp.listen",
                       "callout replica " + std::to_string(i) + "'s metrics port (the IdP port + " +
                           std::to_string(i) + ")",
                       layout.idp_host, layout.idp_port + i));
  }
  NATSTACK_TRY(claim("supervisor.listen", "", layout.supervisor_host, layout.supervisor_port));
  if (!layout.dns_enabled) return Ok();
  const std::string dns_key = layout.dns_host.empty() ? "idp.listen" : "dns.listen";
  NATSTACK_TRY(claim(dns_key, layout.dns_host.empty() ? "Knot's port (8053 on the IdP's host)" : "",
                     DnsHost(layout), layout.dns_port));
  return claim("dns.sidecar_port", "", DnsHost(layout), layout.dns_sidecar_port);
}

/// `natstack up` runs every node and the IdP on this machine.
Status CheckLocal(ConfigReader& r, const StackLayout& layout) {
  for (size_t i = 0; i < layout.nodes.size(); ++i) {
    in_addr addr{};
    const std::string& host = layout.nodes[i].host;
    if (::inet_pton(AF_INET, host.c_str(), &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127)
      return r.Invalid("nodes[" + std::to_string(i) + "].host",
                       "\"" + host + "\" is not a loopback IPv4 address (127.0.0.0/8): `natstack "
                       "up` runs every node on this machine (`natstack cluster render` renders "
                       "a spec for other hosts)");
  }
  in_addr addr{};
  if (::inet_pton(AF_INET, layout.idp_host.c_str(), &addr) != 1 ||
      (ntohl(addr.s_addr) >> 24) != 127)
    return r.Invalid("idp.listen", "\"" + layout.idp_host +
                                       "\" is not a loopback address: `natstack up` serves the "
                                       "development IdP on this machine only");
  return Ok();
}

}  // namespace

std::string_view DefaultSpecText() { return kDefaultSpec; }

Result<int64_t> ParseByteSize(std::string_view text) {
  static const std::regex kSize(R"(^([0-9]{1,19})(KiB|MiB|GiB|TiB)?$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, kSize))
    return Fail(Code::kInvalidArgument, "\"" + std::string(text.substr(0, 40)) +
                                            "\" is not a size (an integer, or one with KiB, "
                                            "MiB, GiB or TiB)");
  int shift = 0;
  const std::string unit = m[2].str();
  if (unit == "KiB") shift = 10;
  if (unit == "MiB") shift = 20;
  if (unit == "GiB") shift = 30;
  if (unit == "TiB") shift = 40;
  const std::string digits = m[1].str();
  errno = 0;
  const unsigned long long n = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno != 0 || n == 0 ||
      n > (static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) >> shift))
    return Fail(Code::kInvalidArgument,
                "\"" + std::string(text) + "\" is " + (n == 0 ? "zero" : "too large"));
  return static_cast<int64_t>(n << shift);
}

Result<int64_t> ParseDuration(std::string_view text) {
  static const std::regex kDuration(R"(^([0-9]{1,12})(s|m|h|d)$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, kDuration))
    return Fail(Code::kInvalidArgument, "\"" + std::string(text.substr(0, 40)) +
                                            "\" is not a duration (an integer with s, m, h or "
                                            "d, such as \"30s\" or \"90d\")");
  const int64_t n = std::stoll(m[1].str());
  const std::string unit = m[2].str();
  const int64_t scale = unit == "d" ? 86400 : unit == "h" ? 3600 : unit == "m" ? 60 : 1;
  if (n == 0) return Fail(Code::kInvalidArgument, "\"" + std::string(text) + "\" is zero");
  return n * scale;
}

Status CheckLayoutWith(ConfigReader& r, const StackLayout& layout, const KeyLines& lines,
                       SpecUse use);

Result<StackLayout> ParseSpec(std::string_view text, std::string_view source,
                              const std::string& state_dir, SpecUse use) {
  auto parsed = ParseTomlDocument(text, source);
  if (!parsed) return Fail(NameKeyOfTomlError(parsed.error(), text, source));
  ConfigDocument doc = std::move(*parsed);
  const std::string src(source);
  StackLayout layout;
  layout.state_dir = AbsolutePath(state_dir);
  ConfigReader r(doc.root, src, "", &doc.lines);
  NATSTACK_TRY(r.String("name", layout.cluster_name));
  NATSTACK_TRY(r.String("endpoint", layout.endpoint_name));

  NodeSpec defaults;
  NATSTACK_TRY(r.Object("node_defaults", Required::kNo, [&](ConfigReader& d) -> Status {
    return ReadNode(d, defaults, /*defaults=*/true);
  }));
  NATSTACK_TRY(r.ObjectList("nodes", Required::kYes, [&](ConfigReader& n, size_t) -> Status {
    NodeSpec node = defaults;
    NATSTACK_TRY(ReadNode(n, node, /*defaults=*/false));
    layout.nodes.push_back(std::move(node));
    return Ok();
  }));
  if (layout.nodes.empty()) return Fail(r.InvalidError("nodes", "needs at least two nodes"));

  NATSTACK_TRY(r.Object("websocket", Required::kNo, [&](ConfigReader& w) -> Status {
    NATSTACK_TRY(w.StringList("allowed_origins", layout.websocket_allowed_origins));
    NATSTACK_TRY(w.Bool("same_origin", layout.websocket_same_origin));
    NATSTACK_TRY(w.Bool("compression", layout.websocket_compression));
    return w.Finish();
  }));
  NATSTACK_TRY(r.Object("jetstream", Required::kNo, [&](ConfigReader& j) -> Status {
    NATSTACK_TRY(ByteSize(j, "max_memory", layout.jetstream_max_memory));
    NATSTACK_TRY(ByteSize(j, "max_file", layout.jetstream_max_file));
    NATSTACK_TRY(j.String("domain", layout.jetstream_domain));
    return j.Finish();
  }));
  NATSTACK_TRY(r.Object("callout", Required::kNo, [&](ConfigReader& c) -> Status {
    int64_t replicas = layout.callout_replicas;
    NATSTACK_TRY(c.Int("replicas", replicas, 0, kMaxCalloutReplicas));
    layout.callout_replicas = static_cast<int>(replicas);
    NATSTACK_TRY(c.String("account", layout.callout_account));
    NATSTACK_TRY(Duration(c, "max_user_ttl", layout.callout_max_user_ttl_s, 60, 30 * 86400));
    int64_t auth_timeout = layout.callout_auth_timeout_s;
    NATSTACK_TRY(Duration(c, "auth_timeout", auth_timeout, 1, 60));
    layout.callout_auth_timeout_s = static_cast<int>(auth_timeout);
    NATSTACK_TRY(c.Object("permissions", Required::kNo, [&](ConfigReader& p) -> Status {
      callout::PermissionTemplate& t = layout.callout_permissions;
      NATSTACK_TRY(p.StringList("pub_allow", t.pub_allow));
      NATSTACK_TRY(p.StringList("pub_deny", t.pub_deny));
      NATSTACK_TRY(p.StringList("sub_allow", t.sub_allow));
      NATSTACK_TRY(p.StringList("sub_deny", t.sub_deny));
      NATSTACK_TRY(p.Bool("allow_responses", t.allow_responses));
      NATSTACK_TRY(p.Finish());
      // The callout's own check, its "callout.permissions.pub_allow: ..." turned into a key.
      if (auto valid = callout::ValidateTemplate(t, "callout.permissions"); !valid) {
        const std::string& message = valid.error().message;
        const size_t colon = message.find(": ");
        if (colon == std::string::npos || message.rfind("callout.permissions.", 0) != 0)
          return c.Invalid("permissions", message);
        return r.Invalid(message.substr(0, colon), message.substr(colon + 2));
      }
      return Ok();
    }));
    return c.Finish();
  }));
  bool tls_files = false;
  NATSTACK_TRY(r.Object("tls", Required::kNo, [&](ConfigReader& t) -> Status {
    std::string tls_source = "local";
    NATSTACK_TRY(t.String("source", tls_source));
    if (tls_source != "local" && tls_source != "files")
      return t.Invalid("source", "\"" + tls_source.substr(0, 40) +
                                     "\" is neither \"local\" (natstack's CA) nor \"files\"");
    tls_files = tls_source == "files";
    layout.tls_source = tls_files ? TlsSource::kFiles : TlsSource::kLocalCa;
    const char* const local_keys[] = {"cert_lifetime", "root_lifetime", "intermediate_lifetime"};
    const char* const file_keys[] = {"cert_file", "key_file", "ca_file"};
    for (const char* key : tls_files ? local_keys : file_keys) {
      if (t.Raw(key) != nullptr)
        return t.Invalid(key, std::string("applies only to source = \"") +
                                  (tls_files ? "local" : "files") + "\"");
    }
    if (tls_files) {
      NATSTACK_TRY(t.String("cert_file", layout.tls_cert_file));
      NATSTACK_TRY(t.String("key_file", layout.tls_key_file));
      NATSTACK_TRY(t.String("ca_file", layout.tls_ca_file));
      NATSTACK_TRY(t.Finish());
      // Checked once the endpoint name is known (below).
      return Ok();
    }
    NATSTACK_TRY(Lifetime(t, "cert_lifetime", layout.tls_cert_lifetime_h, 3650));
    NATSTACK_TRY(Lifetime(t, "root_lifetime", layout.tls_root_lifetime_h, 36500));
    NATSTACK_TRY(Lifetime(t, "intermediate_lifetime", layout.tls_intermediate_lifetime_h, 36500));
    // The CA caps a leaf at its intermediate's end: a longer lifetime would silently not hold.
    if (layout.tls_intermediate_lifetime_h > layout.tls_root_lifetime_h)
      return t.Invalid("intermediate_lifetime", "is longer than root_lifetime");
    if (layout.tls_cert_lifetime_h > layout.tls_intermediate_lifetime_h)
      return t.Invalid("cert_lifetime", "is longer than intermediate_lifetime");
    return t.Finish();
  }));
  NATSTACK_TRY(r.Object("idp", Required::kNo, [&](ConfigReader& i) -> Status {
    NATSTACK_TRY(HostPortValue(i, "listen", layout.idp_host, layout.idp_port));
    NATSTACK_TRY(i.String("audience", layout.audience, Required::kNo));
    if (layout.audience.empty()) return i.Invalid("audience", "must not be empty");
    return i.Finish();
  }));
  if (layout.idp_port + layout.callout_replicas > 65535) {
    return Fail(r.InvalidError("idp.listen",
                               "leaves no port above it for the callout replicas' metrics"));
  }
  NATSTACK_TRY(r.Object("dns", Required::kNo, [&](ConfigReader& d) -> Status {
    NATSTACK_TRY(d.Bool("enabled", layout.dns_enabled));
    std::string listen;
    NATSTACK_TRY(d.String("listen", listen));
    if (!listen.empty()) NATSTACK_TRY(HostPortValue(d, "listen", layout.dns_host, layout.dns_port));
    NATSTACK_TRY(d.String("public_zone", layout.dns_public_zone));
    NATSTACK_TRY(d.String("public_name", layout.dns_public_name));
    NATSTACK_TRY(d.String("private_zone", layout.dns_private_zone));
    NATSTACK_TRY(d.String("route_name", layout.dns_route_name));
    int64_t ttl = layout.dns_ttl, negative = layout.dns_negative_ttl, sidecar = layout.dns_sidecar_port;
    NATSTACK_TRY(d.Int("ttl", ttl, 1, 86400));
    NATSTACK_TRY(d.Int("negative_ttl", negative, 1, 86400));
    NATSTACK_TRY(d.String("when_none", layout.dns_when_none));
    NATSTACK_TRY(d.Int("sidecar_port", sidecar, 1, 65535));
    NATSTACK_TRY(Duration(d, "probe_interval", layout.dns_probe_interval_s, 1, 3600));
    NATSTACK_TRY(Duration(d, "reconcile_interval", layout.dns_reconcile_interval_s, 1, 86400));
    layout.dns_ttl = static_cast<int>(ttl);
    layout.dns_negative_ttl = static_cast<int>(negative);
    layout.dns_sidecar_port = static_cast<int>(sidecar);
    if (layout.dns_when_none != "keep" && layout.dns_when_none != "delete")
      return d.Invalid("when_none", "\"" + layout.dns_when_none.substr(0, 40) +
                                        "\" is neither \"keep\" nor \"delete\"");
    // Every name kept normalised (NormalDnsName); errors quote it as the spec wrote it.
    struct Name {
      const char* key;
      std::string* value;
      std::string written;
    } names[] = {{"public_zone", &layout.dns_public_zone, ""},
                 {"public_name", &layout.dns_public_name, ""},
                 {"private_zone", &layout.dns_private_zone, ""},
                 {"route_name", &layout.dns_route_name, ""}};
    for (Name& n : names) {
      n.written = *n.value;
      *n.value = NormalDnsName(*n.value);
      if (!IsDnsName(*n.value))
        return d.Invalid(n.key, "\"" + n.written.substr(0, 80) + "\" is not a DNS name");
    }
    const std::string& public_zone = layout.dns_public_zone;
    const std::string& private_zone = layout.dns_private_zone;
    const std::string& written_public = names[0].written;
    const std::string& written_private = names[2].written;
    if (private_zone == public_zone)
      return d.Invalid("private_zone", "is the public zone too: the route seed is not public");
    if (IsBelow(private_zone, public_zone))
      return d.Invalid("private_zone", "\"" + written_private + "\" is inside public_zone \"" +
                                           written_public +
                                           "\": the route seed is not public, so its zone must "
                                           "not be part of the public one");
    if (IsBelow(public_zone, private_zone))
      return d.Invalid("public_zone", "\"" + written_public + "\" is inside private_zone \"" +
                                          written_private +
                                          "\": the route seed's zone is not public, so the public "
                                          "zone cannot be part of it");
    // A name below its zone ("routes.cluster.internal" in "cluster.internal").
    auto inside = [&](const Name& name, const char* zone_key, const Name& zone) -> Status {
      if (IsBelow(*name.value, *zone.value)) return Ok();
      return d.Invalid(name.key, "\"" + name.written.substr(0, 80) + "\" is not a name inside " +
                                     zone_key + " \"" + zone.written + "\"");
    };
    NATSTACK_TRY(inside(names[3], "private_zone", names[2]));
    NATSTACK_TRY(inside(names[1], "public_zone", names[0]));
    return d.Finish();
  }));
  NATSTACK_TRY(r.Object("supervisor", Required::kNo, [&](ConfigReader& s) -> Status {
    NATSTACK_TRY(HostPortValue(s, "listen", layout.supervisor_host, layout.supervisor_port,
                               /*loopback=*/true));
    return s.Finish();
  }));
  NATSTACK_TRY(r.Finish());
  const std::string written_endpoint = layout.endpoint_name;
  layout.endpoint_name = NormalDnsName(layout.endpoint_name);
  if (!IsDnsName(layout.endpoint_name)) {
    return Fail(r.InvalidError("endpoint", "\"" + written_endpoint.substr(0, 80) +
                                               "\" is not a DNS name (the name clients dial, "
                                               "which the certificate must carry)"));
  }

  NATSTACK_TRY(CheckLayoutWith(r, layout, doc.lines, use));
  if (tls_files) {
    ConfigReader t(doc.root["tls"], src, "tls.", &doc.lines);
    NATSTACK_TRY(CheckTlsFiles(t, layout));
  }
  return layout;
}

Status CheckLayoutWith(ConfigReader& r, const StackLayout& layout, const KeyLines& lines,
                       SpecUse use) {
  // The renderer's own checks, in the spec's words and lines.
  if (auto checked = CheckShape(NodeRenderInput(layout)); !checked) {
    const std::string& message = checked.error().message;
    const size_t colon = message.find(": ");
    if (colon == std::string::npos) return Fail(checked.error());
    return Fail(r.InvalidError(SpecKeyOfField(message.substr(0, colon)), message.substr(colon + 2)));
  }
  NATSTACK_TRY(CheckServiceListeners(r, layout, lines));
  if (use == SpecUse::kLocal) NATSTACK_TRY(CheckLocal(r, layout));
  // Last, so a one-node draft hears about its other mistakes first.
  if (layout.nodes.size() < 2)
    return Fail(r.InvalidError("nodes", "needs at least two nodes: they form a JetStream "
                                        "cluster, which nats-server does not start without routes"));
  return Ok();
}

Status CheckLayout(const StackLayout& layout, SpecUse use) {
  static const nlohmann::json kNoDocument = nlohmann::json::object();
  ConfigReader r(kNoDocument, "flags", "");
  auto checked = CheckLayoutWith(r, layout, KeyLines{}, use);
  if (checked) return Ok();
  // "flags: idp.listen: ..." -> name the flag that set it.
  std::string message = checked.error().message;
  static const std::pair<std::string_view, std::string_view> kFlags[] = {
      {"flags: idp.listen", "--idp-listen"},
      {"flags: supervisor.listen", "--supervisor-listen"},
      {"flags: nodes", "--addresses: nodes"},
  };
  for (const auto& [from, to] : kFlags)
    if (message.rfind(from, 0) == 0) message = std::string(to) + message.substr(from.size());
  return Fail(Code::kInvalidArgument, message);
}

Result<StackLayout> LoadSpecFile(const std::string& path, const std::string& state_dir,
                                 SpecUse use) {
  NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseSpec(text, path, state_dir, use);
}

}  // namespace natstack::cluster
