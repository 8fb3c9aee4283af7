#include "callout/metrics.hpp"

#include "core/prometheus.hpp"

#include <cstdio>

namespace natstack::callout {
namespace {

const char* OutcomeLabel(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kAdmitted: return "admitted";
    case Outcome::Kind::kRefused: return "refused";
    case Outcome::Kind::kDropped: return "dropped";
  }
  return "unknown";
}

template <size_t N>
void Histogram(std::string& out, const char* name, const std::array<double, N>& bounds,
               const std::array<uint64_t, N>& counts, uint64_t total, double sum) {
  for (size_t i = 0; i < N; ++i) {
    out += std::string(name) + "_bucket{le=\"" + PrometheusNumber(bounds[i]) + "\"} " +
           std::to_string(counts[i]) + "\n";
  }
  out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(total) + "\n";
  out += std::string(name) + "_sum " + PrometheusNumber(sum) + "\n";
  out += std::string(name) + "_count " + std::to_string(total) + "\n";
}

}  // namespace

void Metrics::Record(const Outcome& outcome, std::chrono::nanoseconds latency, int64_t now_unix) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mu_);
  ++decisions_[{OutcomeLabel(outcome.kind), outcome.reason, outcome.source}];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) ++buckets_[i];
  ++latency_count_;
  latency_sum_ += seconds;
  if (outcome.kind == Outcome::Kind::kAdmitted && outcome.expires_at > 0) {
    const double t = outcome.expires_at > now_unix
                         ? static_cast<double>(outcome.expires_at - now_unix)
                         : 0.0;
    for (size_t i = 0; i < kTtlBuckets.size(); ++i)
      if (t <= kTtlBuckets[i]) ++ttl_buckets_[i];
    ++ttl_count_;
    ttl_sum_ += t;
  }
}

void Metrics::ObserveAuthTimeout(int64_t seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auth_timeout_s_ = seconds;
}

void Metrics::RecordKick(size_t closed, size_t failures) {
  std::lock_guard<std::mutex> lock(mu_);
  kicked_ += closed;
  kick_failures_ += failures;
}

std::string Metrics::Render(const State& s) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  PrometheusHeader(out, "natstack_callout_ready", "gauge",
         "1 when keys are loaded and the subscription is active.");
  out += std::string("natstack_callout_ready ") + (s.ready ? "1" : "0") + "\n";

  PrometheusHeader(out, "natstack_callout_decisions_total", "counter",
         "Authorization requests by outcome (admitted, refused = signed error, dropped = no "
         "answer), reason and source (issuer or service).");
  for (const auto& [key, count] : decisions_) {
    const auto& [outcome, reason, source] = key;
    out += "natstack_callout_decisions_total{outcome=\"" + outcome + "\",reason=\"" +
           PrometheusLabel(reason) + "\",source=\"" + PrometheusLabel(source) + "\"} " + std::to_string(count) + "\n";
  }
  PrometheusHeader(out, "natstack_callout_decision_seconds", "histogram",
         "Time from a request's arrival to its reply.");
  Histogram(out, "natstack_callout_decision_seconds", kLatencyBuckets, buckets_, latency_count_,
            latency_sum_);
  PrometheusHeader(out, "natstack_callout_auth_timeout_seconds", "gauge",
         "The servers' auth timeout as the last request showed it (exp - iat): the budget.");
  out += "natstack_callout_auth_timeout_seconds " + std::to_string(auth_timeout_s_) + "\n";
  PrometheusHeader(out, "natstack_callout_user_jwt_ttl_seconds", "histogram",
         "Lifetime of the user JWTs issued (time to expiry at issue).");
  Histogram(out, "natstack_callout_user_jwt_ttl_seconds", kTtlBuckets, ttl_buckets_, ttl_count_,
            ttl_sum_);

  PrometheusHeader(out, "natstack_callout_jwks_age_seconds", "gauge",
         "Seconds since the issuer's JWKS was last fetched (NaN before the first).");
  for (const auto& j : s.jwks)
    out += "natstack_callout_jwks_age_seconds{issuer=\"" + PrometheusLabel(j.issuer) + "\"} " +
           (j.age_seconds ? PrometheusNumber(*j.age_seconds) : std::string("NaN")) + "\n";
  PrometheusHeader(out, "natstack_callout_jwks_fetch_failures_total", "counter",
         "JWKS fetches that failed (the last good keys stay in use).");
  for (const auto& j : s.jwks)
    out += "natstack_callout_jwks_fetch_failures_total{issuer=\"" + PrometheusLabel(j.issuer) + "\"} " +
           std::to_string(j.fetch_failures) + "\n";
  PrometheusHeader(out, "natstack_callout_jwks_waits_refused_total", "counter",
         "Tokens with an unknown kid refused at once because the workers allowed to wait for a "
         "refresh were all waiting.");
  for (const auto& j : s.jwks)
    out += "natstack_callout_jwks_waits_refused_total{issuer=\"" + PrometheusLabel(j.issuer) + "\"} " +
           std::to_string(j.waits_refused) + "\n";
  PrometheusHeader(out, "natstack_callout_jwks_keys", "gauge", "Keys in the issuer's JWKS in use.");
  for (const auto& j : s.jwks)
    out += "natstack_callout_jwks_keys{issuer=\"" + PrometheusLabel(j.issuer) + "\"} " +
           std::to_string(j.keys) + "\n";
  PrometheusHeader(out, "natstack_callout_jwks_refresh_interval_seconds", "gauge",
         "The issuer's JWKS refresh interval (from its cache headers, clamped).");
  for (const auto& j : s.jwks)
    out += "natstack_callout_jwks_refresh_interval_seconds{issuer=\"" + PrometheusLabel(j.issuer) + "\"} " +
           PrometheusNumber(j.refresh_interval_seconds) + "\n";

  PrometheusHeader(out, "natstack_callout_workers", "gauge", "Decision threads.");
  out += "natstack_callout_workers " + std::to_string(s.workers) + "\n";
  PrometheusHeader(out, "natstack_callout_queue_capacity", "gauge", "Requests that may wait for a worker.");
  out += "natstack_callout_queue_capacity " + std::to_string(s.queue_capacity) + "\n";
  PrometheusHeader(out, "natstack_callout_queue_depth", "gauge", "Requests waiting for a worker now.");
  out += "natstack_callout_queue_depth " + std::to_string(s.queue_depth) + "\n";
  PrometheusHeader(out, "natstack_callout_in_progress", "gauge", "Requests being decided now.");
  out += "natstack_callout_in_progress " + std::to_string(s.running) + "\n";
  PrometheusHeader(out, "natstack_callout_overloaded_total", "counter",
         "Requests refused at once because the queue was full.");
  out += "natstack_callout_overloaded_total " + std::to_string(s.overloaded) + "\n";
  PrometheusHeader(out, "natstack_callout_delayed_refusals", "gauge",
         "Refusals held back for refusal_delay_ms right now.");
  out += "natstack_callout_delayed_refusals " + std::to_string(s.in_flight_delayed) + "\n";

  if (s.revoked_entries) {
    PrometheusHeader(out, "natstack_callout_revoked_entries", "gauge", "Entries on the deny-list.");
    out += "natstack_callout_revoked_entries " + std::to_string(*s.revoked_entries) + "\n";
    PrometheusHeader(out, "natstack_callout_revocation_reloads_total", "counter",
           "Deny-list reloads that changed it.");
    out += "natstack_callout_revocation_reloads_total " + std::to_string(s.revocation_reloads) +
           "\n";
    PrometheusHeader(out, "natstack_callout_revocation_reload_failures_total", "counter",
           "Deny-list reloads that failed (the last good list stays in use).");
    out += "natstack_callout_revocation_reload_failures_total " +
           std::to_string(s.revocation_failures) + "\n";
  }
  PrometheusHeader(out, "natstack_callout_kicked_connections_total", "counter",
         "Live connections of revoked identities closed through the system account.");
  out += "natstack_callout_kicked_connections_total " + std::to_string(kicked_) + "\n";
  PrometheusHeader(out, "natstack_callout_kick_failures_total", "counter",
         "Connection lookups or kicks that failed (a server did not answer or refused).");
  out += "natstack_callout_kick_failures_total " + std::to_string(kick_failures_) + "\n";
  return out;
}

}  // namespace natstack::callout
