#pragma once
/// What `natstack status` shows: live facts read from the nodes (their monitoring endpoints and
/// the certificate each one serves), the callout's counters, and the table printed from the
/// supervisor's status document (GET /v1/status).

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cluster/render.hpp"
#include "core/error.hpp"
#include "http/client.hpp"
#include "pki/local_ca.hpp"

namespace natstack::cluster {

/// Sums of natstack_callout_decisions_total by outcome, from a callout's /metrics text.
struct CalloutCounts {
  double admitted = 0;
  double refused = 0;
  double dropped = 0;
};
CalloutCounts ParseCalloutMetrics(std::string_view metrics_text);

/// The names of the routes' remote servers on `node`'s /routez; error when it does not answer.
Result<std::set<std::string>> RoutePeers(http::Client& http, const NodeSpec& node);

/// The leaf certificate `host:port` presents in a TLS handshake (SNI `server_name`), without
/// verifying it: status reports what is served, whoever signed it.
Result<pki::CertInfo> FetchServedCertificate(const std::string& host, int port,
                                             const std::string& server_name,
                                             std::chrono::milliseconds timeout);

/// One node's live facts: {"name", "client_url", "monitor_url", "reachable", "server_id",
/// "version", "connections", "uptime", "routes", "route_names", "certificate": {"serial",
/// "not_after", "days_left", "names"} or {"error"}}. Never fails: what cannot be read is
/// reported as such.
nlohmann::json LiveNodeStatus(http::Client& http, const NodeSpec& node,
                              const std::string& server_name);

/// The human table of a status document.
std::string FormatStatus(const nlohmann::json& status);

}  // namespace natstack::cluster
