#include "cluster/render.hpp"

#include <arpa/inet.h>
#include <crypt.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "core/file.hpp"

namespace natstack::cluster {
namespace {

// The variables the secrets file defines and the main file references. Every one that is
// defined must be referenced (nats-server reports an unused top-level key as unknown).
constexpr std::string_view kRoutePasswordVar = "NATSTACK_ROUTE_PASSWORD";
constexpr std::string_view kRoutesVar = "NATSTACK_ROUTES";
constexpr std::string_view kCalloutHashVar = "NATSTACK_CALLOUT_PASSWORD_HASH";
constexpr std::string_view kSysHashVar = "NATSTACK_SYS_PASSWORD_HASH";

constexpr std::string_view kSysAccount = "SYS";
// Seconds a route or client has to finish the TLS handshake / route CONNECT.
constexpr int kTlsTimeoutSeconds = 2;
constexpr int kRouteAuthTimeoutSeconds = 2;
constexpr size_t kMaxNodeName = 63;
// bcrypt uses the first 72 bytes of a password and ignores the rest.
constexpr size_t kBcryptMaxPassword = 72;

tl::unexpected<Error> Invalid(const std::string& field, const std::string& problem) {
  return Fail(Code::kInvalidArgument, field + ": " + problem);
}

bool HasControlChars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Subject-safe and file-name-safe: no '.', '*', '>', spaces, '/'.
bool IsSafeName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNodeName &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsValidDnsHost(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (const char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
        return false;
    }
    if (end == name.size()) return true;
    start = end + 1;
  }
}

struct Host {
  std::string canonical;  // lower-case DNS name, or inet_ntop text of the address
  bool ipv6 = false;
};

Result<Host> ParseHost(const std::string& text, const std::string& field) {
  if (text.empty()) return Invalid(field, "is empty");
  std::array<unsigned char, 16> addr{};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_pton(AF_INET, text.c_str(), addr.data()) == 1) {
    if (std::all_of(addr.begin(), addr.begin() + 4, [](unsigned char b) { return b == 0; }))
      return Invalid(field, "0.0.0.0 cannot be dialled by peers; use the node's own address");
    inet_ntop(AF_INET, addr.data(), buf.data(), buf.size());
    return Host{buf.data(), false};
  }
  if (inet_pton(AF_INET6, text.c_str(), addr.data()) == 1) {
    if (std::all_of(addr.begin(), addr.end(), [](unsigned char b) { return b == 0; }))
      return Invalid(field, ":: cannot be dialled by peers; use the node's own address");
    inet_ntop(AF_INET6, addr.data(), buf.data(), buf.size());
    return Host{buf.data(), true};
  }
  // A host name; digits-and-dots that failed inet_pton (e.g. "1.2.3") are not names either.
  const bool all_numeric = std::all_of(text.begin(), text.end(),
                                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (all_numeric || !IsValidDnsHost(text))
    return Invalid(field, "\"" + text + "\" is neither an IP address nor a DNS host name");
  return Host{Lower(text), false};
}

std::string HostPort(const Host& host, int port) {
  return (host.ipv6 ? "[" + host.canonical + "]" : host.canonical) + ":" + std::to_string(port);
}

bool IsValidPort(int port) { return port >= 1 && port <= 65535; }

// Shape of an NKey public key: 56 characters of base32 (RFC 4648 alphabet), role letter first.
// nats-server -t also checks the CRC.
bool LooksLikePublicKey(std::string_view key, char role) {
  return key.size() == 56 && key.front() == role && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
         });
}

// What nats-server's isBcrypt accepts (`^\$2[abxy]\$\d{2}\$.*`), narrowed to a whole,
// well-formed hash: cost 04-31, 22 salt + 31 hash characters of bcrypt's base64.
bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60 || hash.substr(0, 2) != "$2" || hash[3] != '$' || hash[6] != '$')
    return false;
  if (std::string_view("abxy").find(hash[2]) == std::string_view::npos) return false;
  if (!std::isdigit(static_cast<unsigned char>(hash[4])) ||
      !std::isdigit(static_cast<unsigned char>(hash[5])))
    return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
  });
}

// RFC 3986 userinfo: everything but unreserved characters percent-encoded, so Go's url.Parse
// in nats-server gives back the exact bytes.
std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

// An allowed origin as browsers send it: "http(s)://host[:port]", nothing after. Returns the
// host, the key nats-server files origins under (server/websocket.go wsSetOriginOptions).
Result<std::string> ParseOrigin(const std::string& origin, const std::string& field) {
  const std::string shape = "\"" + origin + "\" is not http(s)://host[:port] (no path, no user)";
  std::string_view rest(origin);
  if (rest.substr(0, 8) == "https://")
    rest.remove_prefix(8);
  else if (rest.substr(0, 7) == "http://")
    rest.remove_prefix(7);
  else
    return Invalid(field, shape);
  std::string host;
  std::string_view after;
  std::array<unsigned char, 16> addr{};
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Invalid(field, shape);
    host = std::string(rest.substr(1, close - 1));
    after = rest.substr(close + 1);
    if (inet_pton(AF_INET6, host.c_str(), addr.data()) != 1) return Invalid(field, shape);
  } else {
    const size_t colon = rest.find(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) after = rest.substr(colon);
    if (inet_pton(AF_INET, host.c_str(), addr.data()) != 1 && !IsValidDnsHost(host))
      return Invalid(field, shape);
  }
  if (!after.empty()) {
    const std::string_view port = after.substr(1);
    const bool digits =
        !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        });
    if (after.front() != ':' || !digits || !IsValidPort(std::stoi(std::string(port))))
      return Invalid(field, shape);
  }
  return Lower(host);
}

struct ValidNode {
  const NodeSpec* spec;
  Host host;
};

std::string NodeField(size_t index, const NodeSpec& node, std::string_view member) {
  std::string field = "nodes[" + std::to_string(index) + "]";
  if (!node.name.empty() && !HasControlChars(node.name)) field += " (\"" + node.name + "\")";
  return field + "." + std::string(member);
}

Status ValidatePath(const std::string& path, const std::string& field) {
  if (path.empty()) return Invalid(field, "is empty");
  if (path.front() != '/')
    return Invalid(field,
                   "\"" + path + "\" is not absolute (nats-server reload re-reads paths as given)");
  if (HasControlChars(path)) return Invalid(field, "contains control characters");
  return Ok();
}

Status ValidateUser(const std::string& user, const std::string& field) {
  if (user.empty()) return Invalid(field, "is empty");
  if (HasControlChars(user)) return Invalid(field, "contains control characters");
  return Ok();
}

Result<std::vector<ValidNode>> ValidateShape(const RenderInput& in);

// The route password goes into configs as a quoted string and into route URLs.
Status ValidateRoutePassword(const std::string& password) {
  if (password.empty()) return Invalid("route_password", "is empty");
  if (HasControlChars(password)) return Invalid("route_password", "contains control characters");
  return Ok();
}

Result<std::vector<ValidNode>> Validate(const RenderInput& in) {
  if (!IsSafeName(in.cluster_name))
    return Invalid("cluster_name", "\"" + in.cluster_name + "\" must be 1-63 of [A-Za-z0-9_-]");
  if (in.nodes.empty()) return Invalid("nodes", "needs at least one node");
  NATSTACK_TRY(ValidatePath(in.state_dir, "state_dir"));
  NATSTACK_TRY(ValidatePath(in.cert_file, "cert_file"));
  NATSTACK_TRY(ValidatePath(in.key_file, "key_file"));
  if (!LooksLikePublicKey(in.issuer_account_public, 'A'))
    return Invalid("issuer_account_public",
                   "is not an account public key (56 characters, \"A...\")");
  if (!LooksLikePublicKey(in.callout_xkey_public, 'X'))
    return Invalid("callout_xkey_public",
                   "is not a curve (xkey) public key (56 characters, \"X...\")");
  NATSTACK_TRY(ValidateUser(in.callout_user, "callout_user"));
  NATSTACK_TRY(ValidateUser(in.sys_user, "sys_user"));
  NATSTACK_TRY(ValidateUser(in.route_user, "route_user"));
  if (in.callout_user == in.sys_user)
    return Invalid("sys_user",
                   "must differ from callout_user (a user name is unique across accounts)");
  if (!IsBcryptHash(in.callout_password_hash))
    return Invalid("callout_password_hash", "is not a bcrypt hash ($2b$NN$...); use BcryptHash");
  if (!IsBcryptHash(in.sys_password_hash))
    return Invalid("sys_password_hash", "is not a bcrypt hash ($2b$NN$...); use BcryptHash");
  NATSTACK_TRY(ValidateRoutePassword(in.route_password));
  return ValidateShape(in);
}

// What a cluster spec decides: names, addresses, ports, tags, origins, JetStream settings.
Result<std::vector<ValidNode>> ValidateShape(const RenderInput& in) {
  if (!IsSafeName(in.cluster_name))
    return Invalid("cluster_name", "\"" + in.cluster_name + "\" must be 1-63 of [A-Za-z0-9_-]");
  if (in.nodes.empty()) return Invalid("nodes", "needs at least one node");
  if (in.jetstream_max_memory <= 0) return Invalid("jetstream_max_memory", "must be positive");
  if (in.jetstream_max_file <= 0) return Invalid("jetstream_max_file", "must be positive");
  if (!in.jetstream_domain.empty() && !IsSafeName(in.jetstream_domain))
    return Invalid("jetstream_domain",
                   "\"" + (HasControlChars(in.jetstream_domain) ? std::string("?") : in.jetstream_domain) +
                       "\" must be 1-63 of [A-Za-z0-9_-]");
  if (!IsSafeName(in.callout_account))
    return Invalid("callout_account",
                   "\"" + (HasControlChars(in.callout_account) ? std::string("?") : in.callout_account) +
                       "\" must be 1-63 of [A-Za-z0-9_-]");
  if (in.callout_account == kSysAccount)
    return Invalid("callout_account", "\"SYS\" is the system account, which clients never join");
  if (in.auth_timeout_s < 1 || in.auth_timeout_s > 60)
    return Invalid("auth_timeout_s", std::to_string(in.auth_timeout_s) + " is not 1-60 seconds");

  std::map<std::string, std::string> origin_hosts;  // host -> field that named it first
  for (size_t i = 0; i < in.websocket_allowed_origins.size(); ++i) {
    const std::string field = "websocket_allowed_origins[" + std::to_string(i) + "]";
    const std::string& origin = in.websocket_allowed_origins[i];
    if (HasControlChars(origin)) return Invalid(field, "contains control characters");
    NATSTACK_ASSIGN_OR_RETURN(const std::string host, ParseOrigin(origin, field));
    // nats-server keeps one origin per host (a map keyed by host): a second entry for the same
    // host silently replaces the first.
    const auto [it, inserted] = origin_hosts.emplace(host, field);
    if (!inserted)
      return Invalid(field, "has the same host as " + it->second +
                                " (nats-server keeps only one scheme/port per host)");
  }

  std::vector<ValidNode> nodes;
  std::map<std::string, std::string> names;      // lower-case name -> field
  std::map<std::string, std::string> listeners;  // host:port -> field
  for (size_t i = 0; i < in.nodes.size(); ++i) {
    const NodeSpec& node = in.nodes[i];
    if (!IsSafeName(node.name))
      return Invalid(
          NodeField(i, node, "name"),
          "\"" + (HasControlChars(node.name) ? std::string("?") : node.name) +
              "\" must be 1-63 of [A-Za-z0-9_-] (it becomes a subject token and a file name)");
    const auto [name_it, name_new] = names.emplace(Lower(node.name), NodeField(i, node, "name"));
    if (!name_new) return Invalid(NodeField(i, node, "name"), "duplicates " + name_it->second);
    NATSTACK_ASSIGN_OR_RETURN(Host host, ParseHost(node.host, NodeField(i, node, "host")));
    for (size_t t = 0; t < node.tags.size(); ++t) {
      const std::string& tag = node.tags[t];
      const std::string field = NodeField(i, node, "tags[" + std::to_string(t) + "]");
      const bool printable = std::all_of(tag.begin(), tag.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != '\\';
      });
      if (tag.empty() || tag.size() > 64 || !printable)
        return Invalid(field, "must be 1-64 printable characters without spaces, commas, quotes "
                              "or backslashes");
      if (Lower(tag).rfind("node:", 0) == 0)
        return Invalid(field, "\"node:\" tags are natstack's: each node has \"node:<name>\" as "
                              "its unique JetStream tag");
    }
    const std::array<std::pair<std::string_view, int>, 4> ports = {{
        {"client_port", node.client_port},
        {"cluster_port", node.cluster_port},
        {"monitor_port", node.monitor_port},
        {"websocket_port", node.websocket_port},
    }};
    for (const auto& [member, port] : ports) {
      const std::string field = NodeField(i, node, member);
      if (!IsValidPort(port))
        return Invalid(field, std::to_string(port) + " is not a port (1-65535)");
      const auto [it, inserted] = listeners.emplace(HostPort(host, port), field);
      if (!inserted)
        return Invalid(field, HostPort(host, port) + " is already the listener of " + it->second);
    }
    nodes.push_back(ValidNode{&node, std::move(host)});
  }
  return nodes;
}

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += QuoteConfigString(items[i]);
  }
  return out + "]";
}

std::string RenderConfig(const RenderInput& in, const ValidNode& node) {
  const NodeSpec& spec = *node.spec;
  auto tls_block = [&](const std::string& indent, bool with_timeout) {
    std::string b = indent + "tls {\n";
    b += indent + "  cert_file: " + QuoteConfigString(in.cert_file) + "\n";
    b += indent + "  key_file: " + QuoteConfigString(in.key_file) + "\n";
    if (with_timeout) b += indent + "  timeout: " + std::to_string(kTlsTimeoutSeconds) + "\n";
    return b + indent + "}\n";
  };
  // nats-server adds its own "jetstream" directory below store_dir.
  const std::string store_dir = StripTrailingSlashes(in.state_dir) + "/nodes/" + spec.name;

  std::string c;
  c += "# nats-server configuration for node \"" + spec.name + "\" of cluster \"" +
       in.cluster_name + "\".\n";
  c += "# Rendered by natstack: do not edit, re-render. Secrets (password hashes, route\n";
  c += "# credentials) live in the included files, mode 0600, referenced below as $VARIABLES.\n";
  c += "# The includes are relative: nats-server joins them to this file's directory.\n";
  c += "include " + QuoteConfigString(SecretsFileName(spec.name)) + "\n";
  c += "include " + QuoteConfigString(RoutesFileName(spec.name)) + "\n";
  c += "\n";
  c += "server_name: " + QuoteConfigString(spec.name) + "\n";
  std::vector<std::string> tags = {"node:" + spec.name};
  tags.insert(tags.end(), spec.tags.begin(), spec.tags.end());
  c += "server_tags: " + QuotedList(tags) + "\n";
  c += "# CONNECT carries the client's IdP token; real ones with group or role claims outgrow\n";
  c += "# the default 4 KB control line.\n";
  c += "max_control_line: 32768\n";
  c += "\n";
  c += "# Client port: TLS required.\n";
  c += "listen: " + QuoteConfigString(HostPort(node.host, spec.client_port)) + "\n";
  c += tls_block("", true);
  c += "\n";
  c += "# Monitoring: /healthz, /varz, /routez, ...\n";
  c += "http: " + QuoteConfigString(HostPort(node.host, spec.monitor_port)) + "\n";
  c += "\n";
  c += "websocket {\n";
  c += "  listen: " + QuoteConfigString(HostPort(node.host, spec.websocket_port)) + "\n";
  c += tls_block("  ", false);
  c += std::string("  compression: ") + (in.websocket_compression ? "true" : "false") + "\n";
  c += std::string("  same_origin: ") + (in.websocket_same_origin ? "true" : "false") + "\n";
  c += "  allowed_origins: " + QuotedList(in.websocket_allowed_origins) + "\n";
  c += "}\n";
  c += "\n";
  c += "jetstream {\n";
  c += "  store_dir: " + QuoteConfigString(store_dir) + "\n";
  c += "  max_memory_store: " + std::to_string(in.jetstream_max_memory) + "\n";
  c += "  max_file_store: " + std::to_string(in.jetstream_max_file) + "\n";
  c += "  unique_tag: \"node:\"\n";
  if (!in.jetstream_domain.empty()) c += "  domain: " + QuoteConfigString(in.jetstream_domain) + "\n";
  c += "}\n";
  c += "\n";
  c += "cluster {\n";
  c += "  name: " + QuoteConfigString(in.cluster_name) + "\n";
  c += "  listen: " + QuoteConfigString(HostPort(node.host, spec.cluster_port)) + "\n";
  c += "  # Gossiped route URLs otherwise carry the outbound source address (127.0.0.1 on\n";
  c += "  # shared loopback), which peers cannot dial back.\n";
  c += "  advertise: " + QuoteConfigString(HostPort(node.host, spec.cluster_port)) + "\n";
  c += "  authorization {\n";
  c += "    user: " + QuoteConfigString(in.route_user) + "\n";
  c += "    password: $" + std::string(kRoutePasswordVar) + "\n";
  c += "    timeout: " + std::to_string(kRouteAuthTimeoutSeconds) + "\n";
  c += "  }\n";
  c += "  # One route per peer, explicitly (" + RoutesFileName(spec.name) + "): a DNS name with\n";
  c += "  # several addresses as one route is not reliable.\n";
  c += "  routes: $" + std::string(kRoutesVar) + "\n";
  c += "}\n";
  c += "\n";
  c += "accounts {\n";
  c += "  " + in.callout_account + " {\n";
  c += "    users: [\n";
  c += "      { user: " + QuoteConfigString(in.callout_user) + ", password: $" +
       std::string(kCalloutHashVar) + " }\n";
  c += "    ]\n";
  c += "    jetstream: enabled\n";
  c += "  }\n";
  c += "  " + std::string(kSysAccount) + " {\n";
  c += "    users: [\n";
  c += "      { user: " + QuoteConfigString(in.sys_user) + ", password: $" +
       std::string(kSysHashVar) + " }\n";
  c += "    ]\n";
  c += "  }\n";
  c += "}\n";
  c += "system_account: " + QuoteConfigString(kSysAccount) + "\n";
  c += "\n";
  c += "# Lame duck (SIGUSR2: `natstack node stop`, a systemd stop): take no new clients, tell\n";
  c += "# connected ones to move, wait the grace period, then close the rest across the\n";
  c += "# duration (at most one a second; 30 s is nats-server's minimum).\n";
  c += "lame_duck_grace_period: \"2s\"\n";
  c += "lame_duck_duration: \"30s\"\n";
  c += "\n";
  c += "# Every client not in auth_users is authorized by the callout service. Changing this\n";
  c += "# block cannot be reloaded: restart the node. The timeout is how long a client has to\n";
  c += "# be authorized, and so how long each callout request stays valid.\n";
  c += "authorization {\n";
  c += "  timeout: " + std::to_string(in.auth_timeout_s) + "\n";
  c += "  auth_callout {\n";
  c += "    issuer: " + QuoteConfigString(in.issuer_account_public) + "\n";
  c += "    auth_users: " + QuotedList({in.callout_user, in.sys_user}) + "\n";
  c += "    account: " + QuoteConfigString(in.callout_account) + "\n";
  c += "    xkey: " + QuoteConfigString(in.callout_xkey_public) + "\n";
  c += "  }\n";
  c += "}\n";
  return c;
}

std::string RenderSecrets(const RenderInput& in, const ValidNode& node) {
  const NodeSpec& spec = *node.spec;
  std::string s;
  s += "# Secrets for nats-server node \"" + spec.name + "\", included by " +
       ConfigFileName(spec.name) + ".\n";
  s += "# Rendered by natstack. Keep mode 0600; never commit, copy into logs or pass in argv.\n";
  // Implicit (gossiped) routes send the cluster authorization user/password, which is why
  // the route password is plaintext here.
  s += std::string(kRoutePasswordVar) + ": " + QuoteConfigString(in.route_password) + "\n";
  s += std::string(kCalloutHashVar) + ": " + QuoteConfigString(in.callout_password_hash) + "\n";
  s += std::string(kSysHashVar) + ": " + QuoteConfigString(in.sys_password_hash) + "\n";
  return s;
}

// Explicit routes send the URL's credentials.
std::string RenderRoutesOf(const RenderInput& in, const std::string& node,
                           const std::vector<ValidNode>& peers) {
  const std::string userinfo =
      PercentEncode(in.route_user) + ":" + PercentEncode(in.route_password) + "@";
  std::string s;
  s += "# Routes of nats-server node \"" + node + "\", included by " + ConfigFileName(node) + ".\n";
  s += "# Rendered by natstack: one route per peer, from the spec or, with a route seed,\n";
  s += "# rewritten whenever its members change and read when the node starts. Mode 0600:\n";
  s += "# the URLs carry the route credentials.\n";
  s += std::string(kRoutesVar) + ": [\n";
  for (const ValidNode& peer : peers)
    s += "  " +
         QuoteConfigString("nats-route://" + userinfo + HostPort(peer.host, peer.spec->cluster_port)) +
         "\n";
  s += "]\n";
  return s;
}

struct CryptDataDeleter {
  void operator()(crypt_data* data) const {
    explicit_bzero(data, sizeof *data);  // it held the password
    delete data;
  }
};

}  // namespace

std::string QuoteConfigString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7F) {
          out += "\\x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0x0F]);
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

std::string ConfigFileName(std::string_view node_name) { return std::string(node_name) + ".conf"; }

std::string SecretsFileName(std::string_view node_name) {
  return std::string(node_name) + ".secrets.conf";
}

std::string RoutesFileName(std::string_view node_name) {
  return std::string(node_name) + ".routes.conf";
}

SeedRoutes RouteSeedPeers(const RenderInput& input, std::string_view node,
                          const std::set<std::string>& seed) {
  // Both sides in canonical form: "127.0.0.1" written two ways is one address.
  std::set<std::string> addresses;
  for (const std::string& a : seed)
    if (auto h = ParseHost(a, "seed"); h) addresses.insert(h->canonical);
  std::vector<NodeSpec> out, others;
  for (const NodeSpec& n : input.nodes) {
    if (n.name == node) continue;
    others.push_back(n);
    auto h = ParseHost(n.host, "host");
    if (h && addresses.count(h->canonical) != 0) out.push_back(n);
  }
  if (out.empty()) return SeedRoutes{std::move(others), false};
  return SeedRoutes{std::move(out), true};
}

Result<std::string> RenderRoutes(const RenderInput& input, std::string_view node,
                                 const std::vector<NodeSpec>& peers) {
  if (!IsSafeName(node)) return Invalid("node", "is not a plain node name");
  NATSTACK_TRY(ValidateUser(input.route_user, "route_user"));
  NATSTACK_TRY(ValidateRoutePassword(input.route_password));
  std::vector<ValidNode> valid;
  for (size_t i = 0; i < peers.size(); ++i) {
    const std::string field = "peers[" + std::to_string(i) + "]";
    NATSTACK_ASSIGN_OR_RETURN(Host host, ParseHost(peers[i].host, field + ".host"));
    if (!IsValidPort(peers[i].cluster_port))
      return Invalid(field + ".cluster_port",
                     std::to_string(peers[i].cluster_port) + " is not a port (1-65535)");
    valid.push_back(ValidNode{&peers[i], std::move(host)});
  }
  return RenderRoutesOf(input, std::string(node), valid);
}

Status CheckShape(const RenderInput& input) {
  NATSTACK_TRY(ValidateShape(input));
  return Ok();
}

Result<std::vector<RenderedNode>> Render(const RenderInput& input) {
  NATSTACK_ASSIGN_OR_RETURN(const std::vector<ValidNode> nodes, Validate(input));
  std::vector<RenderedNode> out;
  out.reserve(nodes.size());
  for (const ValidNode& node : nodes) {
    std::vector<ValidNode> peers;
    for (const ValidNode& peer : nodes)
      if (peer.spec != node.spec) peers.push_back(peer);
    out.push_back(RenderedNode{node.spec->name, RenderConfig(input, node),
                               RenderSecrets(input, node),
                               RenderRoutesOf(input, node.spec->name, peers)});
  }
  return out;
}

Status WriteRendered(const std::vector<RenderedNode>& nodes, const std::string& dir) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!IsSafeName(nodes[i].name))
      return Invalid("nodes[" + std::to_string(i) + "].name", "is not a plain file name");
  }
  NATSTACK_TRY(MakeDirs(dir, 0755));
  for (const RenderedNode& node : nodes) {
    // Includes first: a config never points at an include that is not there yet.
    NATSTACK_TRY(WriteFileAtomic(dir + "/" + SecretsFileName(node.name), node.secrets, 0600));
    NATSTACK_TRY(WriteFileAtomic(dir + "/" + RoutesFileName(node.name), node.routes, 0600));
    NATSTACK_TRY(WriteFileAtomic(dir + "/" + ConfigFileName(node.name), node.config, 0644));
  }
  // A node taken out of the spec leaves no config that looks live (its JetStream data, in its
  // own directory, stays).
  std::set<std::string> current;
  for (const RenderedNode& node : nodes) {
    current.insert(ConfigFileName(node.name));
    current.insert(SecretsFileName(node.name));
    current.insert(RoutesFileName(node.name));
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name.size() > 5 && name.compare(name.size() - 5, 5, ".conf") == 0;
    if (ours && entry.is_regular_file(ec) && current.count(name) == 0)
      std::filesystem::remove(entry.path(), ec);
  }
  return Ok();
}

Result<std::string> BcryptHash(std::string_view password, int cost) {
  if (password.empty()) return Fail(Code::kInvalidArgument, "password is empty");
  if (password.find('\0') != std::string_view::npos)
    return Fail(Code::kInvalidArgument, "password contains a NUL byte");
  if (password.size() > kBcryptMaxPassword)
    return Fail(Code::kInvalidArgument, "password is longer than bcrypt's 72 bytes");
  if (cost < 4 || cost > 31) return Fail(Code::kInvalidArgument, "bcrypt cost must be 4..31");

  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  // rbytes = nullptr: libxcrypt draws the salt from the OS random source itself.
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, setting.data(),
                       static_cast<int>(setting.size())) == nullptr)
    return Fail(Code::kInternal, std::string("crypt_gensalt_rn: ") + std::strerror(errno));

  // crypt_data is ~32 KiB: keep it off the stack, zeroed as crypt_rn requires.
  std::unique_ptr<crypt_data, CryptDataDeleter> data(new crypt_data());
  std::string phrase(password);
  const char* hash = crypt_rn(phrase.c_str(), setting.data(), data.get(), sizeof *data);
  const int err = errno;
  explicit_bzero(phrase.data(), phrase.size());
  if (hash == nullptr || hash[0] == '*')
    return Fail(Code::kInternal, std::string("crypt_rn failed: ") + std::strerror(err));
  std::string out(hash);
  if (!IsBcryptHash(out)) return Fail(Code::kInternal, "libcrypt returned a non-bcrypt hash");
  return out;
}

}  // namespace natstack::cluster
