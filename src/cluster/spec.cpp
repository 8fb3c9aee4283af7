#include "cluster/spec.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <limits>
#include <regex>

#include "cluster/render.hpp"
#include "core/file.hpp"
#include "core/toml_config.hpp"

namespace natstack::cluster {
namespace {

constexpr std::string_view kDefaultSpec = R"(# natstack cluster spec: the embedded default (`natstack config default`).
# `natstack up --spec FILE` runs another; `natstack config validate FILE` checks one.
# Every key is optional but nodes[].name and nodes[].host; docs/spec.md describes them all.

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

[idp]
# The development IdP (`natstack idp serve`). The callout replicas' metrics listen on the
# following ports of the same host (9401, 9402, ...).
listen = "127.0.0.1:9400"
audience = "natstack"
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

/// host:port with an IPv4 host (the IdP listens on this machine).
Status HostPortValue(ConfigReader& r, const std::string& key, std::string& host, int& port) {
  std::string text;
  NATSTACK_TRY(r.String(key, text));
  if (text.empty()) return Ok();
  const size_t colon = text.rfind(':');
  in_addr addr{};
  const std::string h = colon == std::string::npos ? text : text.substr(0, colon);
  const std::string p = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (colon == std::string::npos || ::inet_pton(AF_INET, h.c_str(), &addr) != 1 || p.empty() ||
      p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(p) < 1 || std::stoi(p) > 65535)
    return r.Invalid(key, "\"" + text.substr(0, 80) + "\" is not IPV4:PORT (e.g. 127.0.0.1:9400)");
  host = h;
  port = std::stoi(p);
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

Result<StackLayout> ParseSpec(std::string_view text, std::string_view source,
                              const std::string& state_dir) {
  NATSTACK_ASSIGN_OR_RETURN(ConfigDocument doc, ParseTomlDocument(text, source));
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
  if (layout.nodes.empty()) return Fail(r.InvalidError("nodes", "needs at least one node"));

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
    return c.Finish();
  }));
  NATSTACK_TRY(r.Object("idp", Required::kNo, [&](ConfigReader& i) -> Status {
    NATSTACK_TRY(HostPortValue(i, "listen", layout.idp_host, layout.idp_port));
    NATSTACK_TRY(i.String("audience", layout.audience, Required::kNo));
    if (layout.audience.empty()) return i.Invalid("audience", "must not be empty");
    if (layout.idp_port + layout.callout_replicas > 65535)
      return i.Invalid("listen", "leaves no port above it for the callout replicas' metrics");
    return i.Finish();
  }));
  NATSTACK_TRY(r.Finish());
  if (!IsDnsName(layout.endpoint_name)) {
    return Fail(r.InvalidError("endpoint", "\"" + layout.endpoint_name.substr(0, 80) +
                                               "\" is not a DNS name (the name clients dial, "
                                               "which the certificate must carry)"));
  }

  // The renderer's own checks, in the spec's words and lines.
  RenderInput shape;
  shape.cluster_name = layout.cluster_name;
  shape.nodes = layout.nodes;
  shape.websocket_allowed_origins = layout.websocket_allowed_origins;
  shape.jetstream_max_memory = layout.jetstream_max_memory;
  shape.jetstream_max_file = layout.jetstream_max_file;
  shape.jetstream_domain = layout.jetstream_domain;
  if (auto checked = CheckShape(shape); !checked) {
    const std::string& message = checked.error().message;
    const size_t colon = message.find(": ");
    if (colon == std::string::npos) return Fail(checked.error());
    return Fail(r.InvalidError(SpecKeyOfField(message.substr(0, colon)), message.substr(colon + 2)));
  }
  return layout;
}

Result<StackLayout> LoadSpecFile(const std::string& path, const std::string& state_dir) {
  NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseSpec(text, path, state_dir);
}

}  // namespace natstack::cluster
