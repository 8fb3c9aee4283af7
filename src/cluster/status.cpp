#include "cluster/status.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/json_strict.hpp"
#include "crypto/openssl.hpp"

namespace natstack::cluster {
namespace {

/// A socket fd, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, crypto::OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, crypto::OpenSslDeleter<SSL, SSL_free>>;

Result<int> ConnectTcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return Fail(Code::kInvalidArgument, host + " is not an IPv4 address");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(Code::kInternal, std::string("socket: ") + std::strerror(errno));
  const std::string where = host + ":" + std::to_string(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    return Fail(Code::kUnavailable, where + ": " + std::strerror(err));
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return Fail(Code::kUnavailable,
                where + ": " + (err != 0 ? std::strerror(err) : "connect timed out"));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::string Iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<nlohmann::json> GetJson(http::Client& http, const std::string& url) {
  http::RequestOptions ro;
  ro.timeout = std::chrono::milliseconds(800);
  NATSTACK_ASSIGN_OR_RETURN(http::Response r, http.Get(url, ro));
  if (r.status != 200) return Fail(Code::kUnavailable, url + ": HTTP " + std::to_string(r.status));
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!doc.is_object()) return Fail(Code::kInvalidArgument, url + ": not a JSON object");
  return doc;
}

std::string MonitorBase(const NodeSpec& node) {
  return "http://" + node.host + ":" + std::to_string(node.monitor_port);
}

}  // namespace

CalloutCounts ParseCalloutMetrics(std::string_view text) {
  CalloutCounts counts;
  constexpr std::string_view kName = "natstack_callout_decisions_total{";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, kName.size()) != kName) continue;
    const size_t close = line.rfind('}');
    if (close == std::string_view::npos) continue;
    const std::string value(line.substr(close + 1));
    char* parse_end = nullptr;
    const double v = std::strtod(value.c_str(), &parse_end);
    if (parse_end == value.c_str() || !std::isfinite(v) || v < 0) continue;
    const std::string_view labels = line.substr(kName.size(), close - kName.size());
    if (labels.find("outcome=\"admitted\"") != std::string_view::npos) counts.admitted += v;
    else if (labels.find("outcome=\"refused\"") != std::string_view::npos) counts.refused += v;
    else if (labels.find("outcome=\"dropped\"") != std::string_view::npos) counts.dropped += v;
  }
  return counts;
}

Result<std::set<std::string>> RoutePeers(http::Client& http, const NodeSpec& node) {
  NATSTACK_ASSIGN_OR_RETURN(nlohmann::json doc, GetJson(http, MonitorBase(node) + "/routez"));
  std::set<std::string> peers;
  if (doc.contains("routes") && doc["routes"].is_array()) {
    for (const auto& route : doc["routes"])
      if (route.is_object() && route.contains("remote_name") && route["remote_name"].is_string())
        peers.insert(route["remote_name"].get<std::string>());
  }
  return peers;
}

Result<pki::CertInfo> FetchServedCertificate(const std::string& host, int port,
                                             const std::string& server_name,
                                             std::chrono::milliseconds timeout) {
  NATSTACK_ASSIGN_OR_RETURN(int raw_fd, ConnectTcp(host, port, timeout));
  Fd fd(raw_fd);
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Fail(Code::kInternal, "SSL_CTX_new failed");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // report what is served
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl) return Fail(Code::kInternal, "SSL_new failed");
  SSL_set_fd(ssl.get(), fd.get());
  SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
  const std::string where = host + ":" + std::to_string(port);
  if (SSL_connect(ssl.get()) != 1)
    return Fail(Code::kUnavailable, where + ": no TLS handshake");
  crypto::X509Ptr cert(SSL_get1_peer_certificate(ssl.get()));
  if (!cert) return Fail(Code::kUnavailable, where + ": no certificate presented");
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1)
    return Fail(Code::kInternal, "cannot encode the served certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  SSL_shutdown(ssl.get());
  return pki::InspectCertificate(std::string_view(data, static_cast<size_t>(n)));
}

nlohmann::json LiveNodeStatus(http::Client& http, const NodeSpec& node,
                              const std::string& server_name) {
  nlohmann::json out = {{"name", node.name},
                        {"client_url", "tls://" + node.host + ":" + std::to_string(node.client_port)},
                        {"monitor_url", MonitorBase(node)}};
  auto varz = GetJson(http, MonitorBase(node) + "/varz");
  out["reachable"] = static_cast<bool>(varz);
  if (varz) {
    out["server_id"] = varz->value("server_id", "");
    out["version"] = varz->value("version", "");
    out["connections"] = varz->value("connections", 0);
    out["uptime"] = varz->value("uptime", "");
  } else {
    out["error"] = varz.error().message;
  }
  if (auto peers = RoutePeers(http, node); peers) {
    out["routes"] = peers->size();
    out["route_names"] = *peers;
  }
  // The certificate as served: the WebSocket port speaks TLS from the first byte (the client
  // port sends INFO in plain text first), and both carry the same certificate.
  auto cert = FetchServedCertificate(node.host, node.websocket_port, server_name,
                                     std::chrono::milliseconds(800));
  if (cert) {
    const auto left = cert->not_after - std::chrono::system_clock::now();
    out["certificate"] = {
        {"serial", cert->serial_hex},
        {"issuer", cert->issuer_cn},
        {"not_after", Iso8601(cert->not_after)},
        {"days_left", std::floor(std::chrono::duration<double>(left).count() / 86400.0 * 10) / 10},
        {"names", cert->dns_names},
        {"addresses", cert->ip_addresses}};
  } else {
    out["certificate"] = {{"error", cert.error().message}};
  }
  return out;
}

std::string FormatStatus(const nlohmann::json& s) {
  std::string out;
  char line[512];
  auto str = [](const nlohmann::json& j, const char* key, const char* dflt = "-") {
    if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::string(dflt);
    if (j[key].is_string()) return j[key].get<std::string>();
    return j[key].dump();
  };
  std::snprintf(line, sizeof line, "cluster %s (%s), supervisor pid %s, %s\n",
                str(s, "cluster").c_str(), str(s, "phase").c_str(),
                str(s["supervisor"], "pid").c_str(), str(s, "state_dir").c_str());
  out += line;
  out += "\nNODE  STATE     HEALTH     ROUTES  CLIENTS  RESTARTS  SERVER ID                                                 CERT EXPIRES\n";
  for (const auto& n : s.value("nodes", nlohmann::json::array())) {
    const std::string routes = n.contains("routes")
                                   ? std::to_string(n["routes"].get<int>()) + "/" + str(n, "expected_routes")
                                   : "-";
    std::string cert = "-";
    if (n.contains("certificate") && n["certificate"].contains("not_after"))
      cert = str(n["certificate"], "not_after") + " (" + str(n["certificate"], "days_left") + " d)";
    else if (n.contains("certificate"))
      cert = "unreadable";
    std::snprintf(line, sizeof line, "%-5s %-9s %-10s %-7s %-8s %-9s %-57s %s\n",
                  str(n, "name").c_str(), str(n, "state").c_str(),
                  n.value("healthy", false) ? "healthy" : "unhealthy", routes.c_str(),
                  str(n, "connections").c_str(), str(n, "restarts").c_str(),
                  str(n, "server_id").c_str(), cert.c_str());
    out += line;
  }
  const auto& callouts = s.value("callouts", nlohmann::json::array());
  if (callouts.empty()) {
    out += "\ncallout: no replicas run under this supervisor\n";
  } else {
    out += "\nCALLOUT     STATE     HEALTH     RESTARTS  ADMITTED  REFUSED  ADMISSIONS/S\n";
    for (const auto& c : callouts) {
      char rate[32] = "-";
      if (c.contains("admissions_per_second"))
        std::snprintf(rate, sizeof rate, "%.1f", c["admissions_per_second"].get<double>());
      std::snprintf(line, sizeof line, "%-11s %-9s %-10s %-9s %-9s %-8s %s\n",
                    str(c, "name").c_str(), str(c, "state").c_str(),
                    c.value("healthy", false) ? "healthy" : "unhealthy",
                    str(c, "restarts").c_str(), str(c, "admitted_total").c_str(),
                    str(c, "refused_total").c_str(), rate);
      out += line;
    }
  }
  std::snprintf(line, sizeof line, "\nidp: %s %s (%s)\n", str(s["idp"], "url").c_str(),
                str(s["idp"], "state").c_str(),
                s["idp"].value("healthy", false) ? "healthy" : "unhealthy");
  out += line;
  const auto& d = s.contains("dns") ? s["dns"] : nlohmann::json::object();
  if (!d.value("configured", false)) {
    out += "dns: no public record is configured\n";
  } else {
    auto set = [](const nlohmann::json& list) {
      std::string text;
      if (list.is_array())
        for (const auto& v : list) text += (text.empty() ? "" : " ") + v.get<std::string>();
      return "{" + text + "}";
    };
    std::snprintf(line, sizeof line, "dns: %s A %s", str(d, "name").c_str(),
                  d.contains("record") ? set(d["record"]).c_str() : "?");
    out += line;
    if (d.contains("error")) {
      out += " (cannot read it: " + str(d, "error") + ")";
    } else {
      const bool none = d.contains("healthy") && d["healthy"].is_array() && d["healthy"].empty();
      if (d.value("matches_healthy", false)) {
        out += " = the healthy nodes";
      } else if (none && str(d, "when_none") == "keep" && d.contains("record") &&
                 d["record"].is_array() && !d["record"].empty()) {
        out += ": no node is healthy, the last set is kept (when_none = keep)";
      } else {
        out += " != the healthy nodes " + set(d["healthy"]);
      }
    }
    out += " (server " + str(d, "server") + " " + str(d, "server_state") + ", sidecar " +
           str(d, "sidecar_state") + ")\n";
    if (d.contains("route_seed"))
      out += "route seed: " + str(d["route_seed"], "name") + " A " +
             set(d["route_seed"].value("registered", nlohmann::json::array())) + "\n";
  }
  const auto& events = s.value("events", nlohmann::json::array());
  if (!events.empty()) {
    out += "\nlast events:\n";
    const size_t first = events.size() > 8 ? events.size() - 8 : 0;
    for (size_t i = first; i < events.size(); ++i) {
      const auto& e = events[i];
      const auto at = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(static_cast<int64_t>(e.value("at", 0.0) * 1000)));
      out += "  " + Iso8601(at) + "  " + (e.value("warning", false) ? "warning " : "") +
             str(e, "part") + ": " + str(e, "message") + "\n";
    }
  }
  return out;
}

}  // namespace natstack::cluster
