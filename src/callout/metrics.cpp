#include "callout/metrics.hpp"

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

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void Metrics::Record(const Outcome& outcome, std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mu_);
  ++decisions_[{OutcomeLabel(outcome.kind), outcome.reason}];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) ++buckets_[i];
  ++latency_count_;
  latency_sum_ += seconds;
}

std::string Metrics::Render(const JwksState& jwks) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP natstack_callout_decisions_total Authorization requests by outcome and reason.\n";
  out += "# TYPE natstack_callout_decisions_total counter\n";
  for (const auto& [key, count] : decisions_) {
    // Reasons are fixed labels from the code, never client input: no escaping needed.
    out += "natstack_callout_decisions_total{outcome=\"" + key.first + "\",reason=\"" +
           key.second + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP natstack_callout_decision_seconds Time from request to reply.\n";
  out += "# TYPE natstack_callout_decision_seconds histogram\n";
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    out += "natstack_callout_decision_seconds_bucket{le=\"" + Number(kLatencyBuckets[i]) + "\"} " +
           std::to_string(buckets_[i]) + "\n";
  }
  out += "natstack_callout_decision_seconds_bucket{le=\"+Inf\"} " + std::to_string(latency_count_) +
         "\n";
  out += "natstack_callout_decision_seconds_sum " + Number(latency_sum_) + "\n";
  out += "natstack_callout_decision_seconds_count " + std::to_string(latency_count_) + "\n";
  out += "# HELP natstack_callout_jwks_age_seconds Seconds since the JWKS was last fetched.\n";
  out += "# TYPE natstack_callout_jwks_age_seconds gauge\n";
  out += "natstack_callout_jwks_age_seconds " +
         (jwks.age_seconds ? Number(*jwks.age_seconds) : std::string("NaN")) + "\n";
  out += "# HELP natstack_callout_jwks_fetch_failures_total JWKS fetches that failed.\n";
  out += "# TYPE natstack_callout_jwks_fetch_failures_total counter\n";
  out += "natstack_callout_jwks_fetch_failures_total " + std::to_string(jwks.fetch_failures) + "\n";
  out += "# HELP natstack_callout_jwks_keys Keys in the JWKS in use.\n";
  out += "# TYPE natstack_callout_jwks_keys gauge\n";
  out += "natstack_callout_jwks_keys " + std::to_string(jwks.keys) + "\n";
  return out;
}

}  // namespace natstack::callout
