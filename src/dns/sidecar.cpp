#include "dns/sidecar.hpp"

#include "core/prometheus.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/file.hpp"
#include "core/json_config.hpp"
#include "crypto/secure_bytes.hpp"
#include "http/server.hpp"

namespace natstack::dns {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::string_view kComponent = "dns";
constexpr size_t kMaxNodes = 1000;
constexpr size_t kMinEventsTokenChars = 16;

/// 127.0.0.0/8, ::1 or ::ffff:127.x: the only peers process events are taken from.
bool IsLoopbackPeer(const std::string& address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// "example.test" or "example.test." -> "example.test."; "" when it is not a host name (labels
/// of 1-63 letters, digits, '-' or '_', 253 characters at most).
std::string DnsName(std::string text) {
  if (!text.empty() && text.back() == '.') text.pop_back();
  if (text.empty() || text.size() > 253) return {};
  size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) return {};
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return {};
    if (++label > 63) return {};
  }
  if (label == 0) return {};
  return text + ".";
}

/// A dotted quad exactly as a DNS server writes it back (inet_ntop of itself): a value in any
/// other spelling would read back different and look like drift forever.
bool IsCanonicalIpv4(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
  char buf[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, &a, buf, sizeof buf) != nullptr && text == buf;
}

bool IsIpAddress(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool IsHttpUrl(const std::string& s) {
  const std::string scheme = Lower(s.substr(0, 8));
  const size_t start = scheme.rfind("http://", 0) == 0 ? 7 : scheme.rfind("https://", 0) == 0 ? 8 : 0;
  if (start == 0 || s.size() <= start || s[start] == '/' ||
      s.find_first_of(" \t\r\n") != std::string::npos)
    return false;
  // An '@' in the userinfo must be percent-encoded: two of them leave the host ambiguous.
  const size_t end = s.find_first_of("/?#", start);
  const std::string authority = s.substr(start, end == std::string::npos ? end : end - start);
  return std::count(authority.begin(), authority.end(), '@') <= 1;
}

/// "scheme://host:port" of a health URL, lower-case, with the default port made explicit and
/// the port's leading zeros gone: two spellings of one endpoint compare equal.
std::string HealthEndpoint(const std::string& url) {
  const std::string lower = Lower(url);
  const bool https = lower.rfind("https://", 0) == 0;
  const size_t start = https ? 8 : 7;
  const size_t end = lower.find_first_of("/?#", start);
  std::string authority = lower.substr(start, end == std::string::npos ? end : end - start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  std::string host = authority, port = https ? "443" : "80";
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    port.erase(0, std::min(port.find_first_not_of('0'), port.size() ? port.size() - 1 : 0));
  }
  return (https ? "https://" : "http://") + host + ":" + port;
}

/// A duration: a number of seconds, or a string "<number><unit>" with unit ms, s, m or h.
Status Duration(ConfigReader& r, const std::string& key, milliseconds& out, milliseconds min,
                milliseconds max) {
  const json* v = r.Raw(key);
  if (v == nullptr || v->is_null()) return Ok();
  const std::string expected = "expected a duration such as \"2s\" or \"500ms\"";
  double ms = 0;
  if (v->is_number()) {
    ms = v->get<double>() * 1000;
  } else if (v->is_string()) {
    const std::string text = v->get<std::string>();
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
      ++digits;
    const std::string number = text.substr(0, digits);
    const std::string unit = text.substr(digits);
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1)
      return r.Invalid(key, expected + ", got \"" + text + "\"");
    const double n = std::stod(number);
    if (unit == "ms") {
      ms = n;
    } else if (unit == "s") {
      ms = n * 1000;
    } else if (unit == "m") {
      ms = n * 60 * 1000;
    } else if (unit == "h") {
      ms = n * 3600 * 1000;
    } else {
      return r.Invalid(key, expected + " (units ms, s, m, h), got \"" + text + "\"");
    }
  } else {
    return r.Invalid(key, expected);
  }
  auto show = [](milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                                 : std::to_string(d.count()) + "ms";
  };
  if (!std::isfinite(ms) || ms < static_cast<double>(min.count()) ||
      ms > static_cast<double>(max.count()))
    return r.Invalid(key, "must be between " + show(min) + " and " + show(max));
  out = milliseconds(static_cast<int64_t>(std::llround(ms)));
  return Ok();
}

Status ParseNode(ConfigReader& r, Node& n) {
  NATSTACK_TRY(r.String("name", n.name, Required::kYes));
  NATSTACK_TRY(r.String("address", n.address, Required::kYes));
  NATSTACK_TRY(r.String("health_url", n.health_url, Required::kYes));
  NATSTACK_TRY(r.Finish());
  if (!IsNodeName(n.name))
    return r.Invalid("name", "expected 1-64 letters, digits, '-', '_' or '.'");
  if (!IsCanonicalIpv4(n.address))
    return r.Invalid("address",
                     "expected an IPv4 address such as 203.0.113.10, got \"" + n.address + "\"");
  // A client can dial none of these: publishing one sends clients nowhere (or everywhere).
  in_addr a{};
  ::inet_pton(AF_INET, n.address.c_str(), &a);
  const uint32_t v = ntohl(a.s_addr);
  if ((v >> 24) == 0)
    return r.Invalid("address", n.address + " is in 0.0.0.0/8 (\"this network\"): no client can dial it");
  if ((v >> 28) == 0xE)
    return r.Invalid("address", n.address + " is a multicast address: no client can connect to it");
  if ((v >> 28) == 0xF)
    return r.Invalid("address", n.address + " is reserved or the broadcast address: no client can "
                                            "connect to it");
  if (!IsHttpUrl(n.health_url))
    return r.Invalid(
        "health_url",
        "expected an http(s) URL such as http://10.0.0.1:8222/healthz?js-enabled-only=true");
  return Ok();
}

}  // namespace

Result<SidecarConfig> ParseSidecarConfig(std::string_view json_text, std::string_view source) {
  NATSTACK_ASSIGN_OR_RETURN(json doc, ParseJsonDocument(json_text, source));
  ConfigReader r(doc, std::string(source), "");
  SidecarConfig c;
  int64_t port = c.port, ttl = c.ttl, down_after = c.down_after, up_after = c.up_after;
  std::string when_none = WhenNoneName(c.when_none);
  NATSTACK_TRY(r.String("server", c.server));
  NATSTACK_TRY(r.Int("port", port, 1, 65535));
  NATSTACK_TRY(r.String("zone", c.zone, Required::kYes));
  NATSTACK_TRY(r.String("tsig_key_file", c.tsig_key_file, Required::kYes));
  NATSTACK_TRY(r.String("name", c.name, Required::kYes));
  NATSTACK_TRY(r.Int("ttl", ttl, 1, 86400));
  NATSTACK_TRY(r.ObjectList("nodes", Required::kYes, [&](ConfigReader& sub, size_t) {
    c.nodes.emplace_back();
    return ParseNode(sub, c.nodes.back());
  }));
  NATSTACK_TRY(Duration(r, "interval", c.interval, milliseconds(100), std::chrono::hours(1)));
  NATSTACK_TRY(
      Duration(r, "probe_timeout", c.probe_timeout, milliseconds(10), std::chrono::minutes(1)));
  NATSTACK_TRY(r.Int("down_after", down_after, 1, 100));
  NATSTACK_TRY(r.Int("up_after", up_after, 1, 100));
  NATSTACK_TRY(r.String("when_none", when_none));
  NATSTACK_TRY(Duration(r, "reconcile_interval", c.reconcile_interval, std::chrono::seconds(1),
                        std::chrono::hours(24)));
  NATSTACK_TRY(
      Duration(r, "dns_timeout", c.dns_timeout, milliseconds(100), std::chrono::minutes(1)));
  NATSTACK_TRY(r.String("http_listen", c.http_listen));
  NATSTACK_TRY(r.String("events_token_file", c.events_token_file));
  NATSTACK_TRY(r.String("log_level", c.log_level));
  NATSTACK_TRY(r.Finish());

  c.port = static_cast<uint16_t>(port);
  c.ttl = static_cast<uint32_t>(ttl);
  c.down_after = static_cast<int>(down_after);
  c.up_after = static_cast<int>(up_after);
  if (!IsIpAddress(c.server))
    return r.Invalid("server",
                     "expected the DNS server's IPv4 or IPv6 address, got \"" + c.server + "\"");
  const std::string zone = DnsName(c.zone);
  if (zone.empty()) return r.Invalid("zone", "\"" + c.zone + "\" is not a DNS name");
  c.zone = zone;
  const std::string name = DnsName(c.name);
  if (name.empty()) return r.Invalid("name", "\"" + c.name + "\" is not a DNS name");
  c.name = name;
  if (Lower(name) != Lower(zone) &&
      (name.size() <= zone.size() ||
       Lower(name.substr(name.size() - zone.size() - 1)) != "." + Lower(zone)))
    return r.Invalid("name", name + " is not inside the zone " + zone);
  if (c.tsig_key_file.empty()) return r.Invalid("tsig_key_file", "is empty");
  if (c.nodes.empty()) return r.Invalid("nodes", "lists no node");
  // One DNS UPDATE must carry the whole record (64 KiB over TCP; about 33 bytes a value).
  if (c.nodes.size() > kMaxNodes)
    return r.Invalid("nodes", std::to_string(c.nodes.size()) + " nodes, more than " +
                                  std::to_string(kMaxNodes) + ": one DNS update must hold the record");
  std::map<std::string, size_t> names, addresses, health_urls;
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    const std::string at = "nodes[" + std::to_string(i) + "]";
    // Names are labels in metrics and logs: "n1" and "N1" would be two nodes one reader confuses.
    if (auto [it, fresh] = names.emplace(Lower(c.nodes[i].name), i); !fresh)
      return r.Invalid(at + ".name", "\"" + c.nodes[i].name + "\" is also nodes[" +
                                         std::to_string(it->second) + "]'s name");
    // One address twice would be one A record value for two nodes: a copy-paste slip.
    if (auto [it, fresh] = addresses.emplace(c.nodes[i].address, i); !fresh)
      return r.Invalid(at + ".address", c.nodes[i].address + " is also nodes[" +
                                            std::to_string(it->second) + "]'s address");
    // One monitoring endpoint for two nodes would let one node's health decide the other's
    // place, however the two URLs are spelled.
    if (auto [it, fresh] = health_urls.emplace(HealthEndpoint(c.nodes[i].health_url), i); !fresh)
      return r.Invalid(at + ".health_url", "names the same endpoint as nodes[" +
                                               std::to_string(it->second) +
                                               "]'s: each node must be probed itself");
  }
  if (when_none == "keep") {
    c.when_none = WhenNone::kKeep;
  } else if (when_none == "delete") {
    c.when_none = WhenNone::kDelete;
  } else {
    return r.Invalid("when_none", "must be \"keep\" or \"delete\", got \"" + when_none + "\"");
  }
  if (c.probe_timeout > c.interval)
    return r.Invalid("probe_timeout", "must not be longer than interval (" +
                                          std::to_string(c.interval.count()) +
                                          "ms): a round's probes end before the next round");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return r.Invalid("log_level", "must be debug, info, warn or error");
  if (!c.http_listen.empty()) {
    const auto colon = c.http_listen.rfind(':');
    const std::string p =
        colon == std::string::npos ? std::string() : c.http_listen.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || p.empty() || p.size() > 5 ||
        p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535)
      return r.Invalid("http_listen", "expected HOST:PORT, got \"" + c.http_listen + "\"");
  }
  if (!c.events_token_file.empty() && c.http_listen.empty())
    return r.Invalid("events_token_file", "needs http_listen: process events arrive over HTTP");
  return c;
}

Result<SidecarConfig> LoadSidecarConfig(const std::string& path) {
  NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  NATSTACK_ASSIGN_OR_RETURN(SidecarConfig c, ParseSidecarConfig(text, path));
  // Files named relative to the config, not to wherever the process happens to start.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  for (std::string* file : {&c.tsig_key_file, &c.events_token_file})
    if (!file->empty() && file->front() != '/') *file = dir + *file;
  return c;
}

KeeperOptions KeeperOptionsOf(const SidecarConfig& c) {
  KeeperOptions o;
  o.name = c.name;
  o.ttl = c.ttl;
  o.nodes = c.nodes;
  o.interval = c.interval;
  o.probe_timeout = c.probe_timeout;
  o.down_after = c.down_after;
  o.up_after = c.up_after;
  o.when_none = c.when_none;
  o.reconcile_interval = c.reconcile_interval;
  return o;
}

Status HttpHealthProbe::Probe(const Node& node, std::chrono::milliseconds timeout) {
  http::RequestOptions options;
  options.timeout = timeout;
  options.max_body_bytes = 64 * 1024;
  auto response = client_.Get(node.health_url, options);
  if (!response) return Fail(response.error());  // it names the method and the URL
  if (response->status == 200) return Ok();
  // nats-server says why in the body: {"status":"unavailable","error":"JetStream ..."}.
  std::string body = response->body.substr(0, 200);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
  // The URL as the client names it in its own errors: no userinfo, no query.
  return Fail(Code::kUnavailable, "GET " + http::RedactUrl(node.health_url) + ": HTTP " +
                                      std::to_string(response->status) +
                                      (body.empty() ? "" : ": " + body));
}

namespace {

void Sample(std::string& out, const char* name, const std::string& labels, double value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += " " + PrometheusNumber(value) + "\n";
}

}  // namespace

std::string RenderMetrics(const KeeperStats& s, std::chrono::steady_clock::time_point now) {
  std::string out;
  auto age = [now](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(now - t).count();
  };
  PrometheusHeader(out, "natstack_dns_ready", "gauge", "1 once the record has been read from the server.");
  Sample(out, "natstack_dns_ready", "", s.ready ? 1 : 0);
  PrometheusHeader(out, "natstack_dns_rounds_total", "counter", "Probe rounds.");
  Sample(out, "natstack_dns_rounds_total", "", static_cast<double>(s.rounds));
  PrometheusHeader(out, "natstack_dns_stale_rounds_total", "counter",
         "Probe rounds discarded because they took longer than 3 probe intervals.");
  Sample(out, "natstack_dns_stale_rounds_total", "", static_cast<double>(s.stale_rounds));
  PrometheusHeader(out, "natstack_dns_record_changes_total", "counter",
         "Writes of the record (one Replace or Delete each).");
  Sample(out, "natstack_dns_record_changes_total", "", static_cast<double>(s.changes));
  PrometheusHeader(out, "natstack_dns_drift_repairs_total", "counter",
         "Reads that found the record changed behind the sidecar's back.");
  Sample(out, "natstack_dns_drift_repairs_total", "", static_cast<double>(s.drift_repairs));
  PrometheusHeader(out, "natstack_dns_provider_errors_total", "counter",
         "Failed DNS provider calls by operation and error code.");
  for (const auto& [key, count] : s.provider_errors)
    Sample(out, "natstack_dns_provider_errors_total",
           "op=\"" + PrometheusLabel(key.first) + "\",code=\"" + PrometheusLabel(key.second) + "\"",
           static_cast<double>(count));
  PrometheusHeader(out, "natstack_dns_probes_total", "counter", "Health probes per node.");
  for (const auto& n : s.nodes)
    Sample(out, "natstack_dns_probes_total", "node=\"" + PrometheusLabel(n.name) + "\"",
           static_cast<double>(n.probes));
  PrometheusHeader(out, "natstack_dns_probe_failures_total", "counter", "Failed health probes per node.");
  for (const auto& n : s.nodes)
    Sample(out, "natstack_dns_probe_failures_total", "node=\"" + PrometheusLabel(n.name) + "\"",
           static_cast<double>(n.probe_failures));
  PrometheusHeader(out, "natstack_dns_node_healthy", "gauge",
         "1 when the node is in the healthy set (after hysteresis).");
  for (const auto& n : s.nodes)
    Sample(out, "natstack_dns_node_healthy",
           "node=\"" + PrometheusLabel(n.name) + "\",address=\"" + PrometheusLabel(n.address) + "\"",
           n.health == NodeHealth::kHealthy ? 1 : 0);
  PrometheusHeader(out, "natstack_dns_healthy_nodes", "gauge", "Nodes in the healthy set.");
  Sample(out, "natstack_dns_healthy_nodes", "", static_cast<double>(s.healthy_nodes));
  PrometheusHeader(out, "natstack_dns_nodes", "gauge", "Configured nodes.");
  Sample(out, "natstack_dns_nodes", "", static_cast<double>(s.nodes.size()));
  if (s.record_size) {
    PrometheusHeader(out, "natstack_dns_record_size", "gauge",
           "Addresses in the record as the server holds it (last known).");
    Sample(out, "natstack_dns_record_size", "", static_cast<double>(*s.record_size));
  }
  PrometheusHeader(out, "natstack_dns_record_in_sync", "gauge",
         "1 when the server holds the wanted record (as last known).");
  Sample(out, "natstack_dns_record_in_sync", "", s.in_sync ? 1 : 0);
  if (s.last_write_ok) {
    PrometheusHeader(out, "natstack_dns_last_write_age_seconds", "gauge",
           "Seconds since the last successful write of the record.");
    Sample(out, "natstack_dns_last_write_age_seconds", "", age(*s.last_write_ok));
  }
  if (s.last_read_ok) {
    PrometheusHeader(out, "natstack_dns_last_read_age_seconds", "gauge",
           "Seconds since the last successful read of the record.");
    Sample(out, "natstack_dns_last_read_age_seconds", "", age(*s.last_read_ok));
  }
  return out;
}

Sidecar::Sidecar(const SidecarConfig& config, Provider& provider, HealthProbe& probe,
                 const Clock& clock, Logger& log, std::function<void()> on_ready)
    : config_(config),
      keeper_(KeeperOptionsOf(config), provider, probe, clock, log),
      clock_(clock),
      log_(log),
      on_ready_(std::move(on_ready)) {}

Sidecar::~Sidecar() { Stop(); }

Status Sidecar::Start() {
  if (!config_.events_token_file.empty()) {
    auto token = ReadSecretValue(config_.events_token_file);
    if (!token) return Fail(token.error().Wrap("events_token_file"));
    // A short token could be guessed by whoever reaches the port (natstack up makes 32).
    if (token->size() < kMinEventsTokenChars)
      return Fail(Code::kInvalidArgument,
                  "events_token_file: " + config_.events_token_file + " holds " +
                      std::to_string(token->size()) + " characters; a token needs at least " +
                      std::to_string(kMinEventsTokenChars));
    events_token_ = std::move(*token);
  }
  if (!config_.http_listen.empty()) {
    const auto colon = config_.http_listen.rfind(':');
    http::ServerOptions so;
    so.host = config_.http_listen.substr(0, colon);
    so.port = static_cast<uint16_t>(std::stoi(config_.http_listen.substr(colon + 1)));
    so.handler_threads = 2;
    http_ = std::make_unique<http::Server>(so);
    http_->Get("/healthz", [](const http::Request&) { return http::Text(200, "ok\n"); });
    http_->Get("/readyz", [this](const http::Request&) {
      if (keeper_.Ready()) return http::Text(200, "ready\n");
      const auto stats = keeper_.Stats();
      std::string why = "not ready: " + config_.name + " has not been read from " + config_.server +
                        " port " + std::to_string(config_.port) + " yet";
      if (stats.last_provider_error) why += ": " + stats.last_provider_error->message;
      return http::Text(503, why + "\n");
    });
    http_->Get("/metrics", [this](const http::Request&) {
      http::Response r = http::Text(200, Metrics());
      r.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    });
    if (!events_token_.empty())
      http_->Post("/v1/events", [this](const http::Request& r) { return OnEventRequest(r); });
    if (auto started = http_->Start(); !started) {
      http_.reset();
      return Fail(started.error().Wrap("http_listen"));
    }
  }
  // The first read, here: a wrong key or a name outside the zone is a configuration error that
  // no retry fixes, so it stops the start; a server that is not up yet is retried.
  if (auto read = keeper_.StartSync(); !read) {
    const Code code = read.error().code;
    if (code == Code::kPermissionDenied || code == Code::kNotFound ||
        code == Code::kInvalidArgument) {
      if (http_) http_->Stop();
      return Fail(read.error().Wrap("reading the A record of " + config_.name));
    }
    log_.Warn(kComponent, "the DNS server does not answer yet (" + read.error().message +
                              "); retrying with backoff");
  }
  MaybeNotifyReady();
  log_.Info(kComponent, "keeping the A record of " + config_.name + " (" +
                            std::to_string(config_.nodes.size()) + " nodes, a round every " +
                            std::to_string(config_.interval.count()) +
                            "ms, when_none=" + WhenNoneName(config_.when_none) + ")" +
                            (http_ ? ", metrics at " + http_->BaseUrl() + "/metrics" : ""));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread(&Sidecar::Loop, this);
  return Ok();
}

void Sidecar::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (http_) http_->Stop();
}

Status Sidecar::Report(const ProcessEvent& event) {
  const auto& nodes = config_.nodes;
  if (std::none_of(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == event.node; }))
    return Fail(Code::kNotFound, "no node named " + event.node);
  const auto age = clock_.Now() - event.at;
  const auto bound = keeper_.Options().stale_after;
  if (age > bound || -age > bound) {
    const double seconds = std::chrono::duration<double>(age).count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", seconds < 0 ? -seconds : seconds);
    return Fail(Code::kFailedPrecondition,
                "the event about " + event.node + " is " + buf +
                    (seconds < 0 ? " s in the future" : " s old") + " (more than " +
                    std::to_string(bound.count()) + " ms either way): stale");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    ++events_accepted_[{event.node, ProcessEventKindName(event.kind)}];
  }
  cv_.notify_all();
  return Ok();
}

void Sidecar::CountRefusal(const std::string& reason, const std::string& why) {
  bool log = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++events_refused_[reason];
    // One line a second at most: whoever can reach the port must not be able to fill the log.
    const auto now = clock_.Monotonic();
    if (now - last_refusal_log_ >= std::chrono::seconds(1)) {
      last_refusal_log_ = now;
      log = true;
    }
  }
  if (log) log_.Warn(kComponent, "refused a process event (" + reason + "): " + why);
}

http::Response Sidecar::OnEventRequest(const http::Request& request) {
  // The supervisor runs on this host; with http_listen beyond loopback (for metrics), nobody
  // elsewhere may take nodes out, token or not.
  if (!IsLoopbackPeer(request.remote_addr)) {
    CountRefusal("unauthorized", "from " + request.remote_addr + ", which is not loopback");
    return http::Text(401, "unauthorized\n");
  }
  const auto auth = request.headers.find("authorization");
  if (auth == request.headers.end() ||
      !crypto::ConstantTimeEquals(auth->second, "Bearer " + events_token_)) {
    CountRefusal("unauthorized", std::string(auth == request.headers.end() ? "no" : "a wrong") +
                                     " bearer token from " + request.remote_addr);
    return http::Text(401, "unauthorized\n");  // nothing more for whoever this is
  }
  auto event = ParseProcessEvent(request.body);
  if (!event) {
    CountRefusal("malformed", event.error().message);
    return http::Text(400, event.error().message + "\n");
  }
  if (auto reported = Report(*event); !reported) {
    const bool unknown = reported.error().code == Code::kNotFound;
    CountRefusal(unknown ? "unknown_node" : "stale", reported.error().message);
    return http::Text(unknown ? 404 : 409, reported.error().message + "\n");
  }
  return http::Text(202, "accepted\n");
}

std::chrono::steady_clock::time_point Sidecar::Step() {
  std::vector<ProcessEvent> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(events_);
  }
  // Before a round: what the supervisor saw is newer than any probe this thread has not run.
  for (const ProcessEvent& e : events) {
    const std::string why = std::string(e.kind == ProcessEventKind::kExited ? "exited" : "is stopping") +
                            " (the supervisor says" +
                            (e.detail.empty() ? std::string() : ": " + e.detail) + ")";
    (void)keeper_.NodeDown(e.node, why);  // Report checked the name
  }
  const auto now = clock_.Monotonic();
  if (!next_round_ || now >= *next_round_) {
    keeper_.Round();
    const auto after = clock_.Monotonic();
    // Keep the cadence, but after a stall start afresh instead of running the missed rounds.
    next_round_ = next_round_ ? *next_round_ + config_.interval : now + config_.interval;
    if (*next_round_ < after) next_round_ = after;
  } else if (now >= keeper_.NextSyncAt()) {
    (void)keeper_.Sync();
  }
  MaybeNotifyReady();
  return std::min(*next_round_, keeper_.NextSyncAt());
}

void Sidecar::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const auto next = Step();
    // Never a busy loop, whatever the clock says; never longer than a round.
    auto wait = std::chrono::duration_cast<milliseconds>(next - clock_.Monotonic());
    wait = std::clamp(wait, milliseconds(5), config_.interval);
    lock.lock();
    cv_.wait_for(lock, wait, [this] { return stop_ || !events_.empty(); });
  }
}

void Sidecar::MaybeNotifyReady() {
  if (notified_.load() || !keeper_.Ready()) return;
  if (notified_.exchange(true)) return;
  log_.Info(kComponent, "ready: the record of " + config_.name + " has been read");
  if (on_ready_) on_ready_();
}

std::string Sidecar::Metrics() const {
  std::string out = RenderMetrics(keeper_.Stats(), clock_.Monotonic());
  if (events_token_.empty()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  PrometheusHeader(out, "natstack_dns_process_events_total", "counter",
                   "Process events accepted from the supervisor (POST /v1/events).");
  for (const auto& [key, n] : events_accepted_)
    Sample(out, "natstack_dns_process_events_total",
           "node=\"" + PrometheusLabel(key.first) + "\",event=\"" + key.second + "\"",
           static_cast<double>(n));
  PrometheusHeader(out, "natstack_dns_process_event_refusals_total", "counter",
                   "Process events refused, by reason.");
  for (const char* reason : {"unauthorized", "malformed", "unknown_node", "stale"}) {
    const auto it = events_refused_.find(reason);
    Sample(out, "natstack_dns_process_event_refusals_total",
           std::string("reason=\"") + reason + "\"",
           static_cast<double>(it == events_refused_.end() ? 0 : it->second));
  }
  return out;
}

std::string Sidecar::BaseUrl() const { return http_ ? http_->BaseUrl() : std::string(); }

}  // namespace natstack::dns
