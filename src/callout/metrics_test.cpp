#include "callout/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace natstack::callout {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

Outcome Make(Outcome::Kind kind, const char* reason, const char* source, int64_t expires_at = 0) {
  Outcome o;
  o.kind = kind;
  o.reason = reason;
  o.source = source;
  o.expires_at = expires_at;
  return o;
}

TEST(MetricsTest, CountsDecisionsByOutcomeReasonAndSourceWithALatencyHistogram) {
  Metrics m;
  const int64_t now = 1000;
  m.Record(Make(Outcome::Kind::kAdmitted, "admitted", "dev", now + 600), 300us, now);
  m.Record(Make(Outcome::Kind::kAdmitted, "admitted", "dev", now + 7200), 3ms, now);
  m.Record(Make(Outcome::Kind::kRefused, "expired", "dev"), 2500ms, now);  // past 2 s
  m.Record(Make(Outcome::Kind::kDropped, "bad_request", ""), 1ms, now);
  Metrics::State s;
  s.jwks.push_back({"dev", 12.5, 1, 2, 300});
  const std::string text = m.Render(s);
  EXPECT_THAT(text, HasSubstr("natstack_callout_decisions_total{outcome=\"admitted\",reason=\"admitted\",source=\"dev\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decisions_total{outcome=\"refused\",reason=\"expired\",source=\"dev\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decisions_total{outcome=\"dropped\",reason=\"bad_request\",source=\"\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"0.005\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"2\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_count 4\n"));
  // User JWT lifetimes: one of 600 s, one of 7200 s.
  EXPECT_THAT(text, HasSubstr("natstack_callout_user_jwt_ttl_seconds_bucket{le=\"900\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_user_jwt_ttl_seconds_bucket{le=\"14400\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_age_seconds{issuer=\"dev\"} 12.5\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_fetch_failures_total{issuer=\"dev\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_keys{issuer=\"dev\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_refresh_interval_seconds{issuer=\"dev\"} 300\n"));
}

TEST(MetricsTest, NeverFetchedJwksHasNoAge) {
  Metrics m;
  Metrics::State s;
  s.jwks.push_back({"late", std::nullopt, 3, 0, 300});
  EXPECT_THAT(m.Render(s), HasSubstr("natstack_callout_jwks_age_seconds{issuer=\"late\"} NaN\n"));
}

TEST(MetricsTest, QueueDenyListAndKickGauges) {
  Metrics m;
  m.ObserveAuthTimeout(2);
  m.RecordKick(3, 0);
  m.RecordKick(0, 1);
  Metrics::State s;
  s.ready = true;
  s.workers = 4;
  s.queue_capacity = 1024;
  s.queue_depth = 7;
  s.running = 2;
  s.overloaded = 5;
  std::string text = m.Render(s);
  EXPECT_THAT(text, HasSubstr("natstack_callout_ready 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_auth_timeout_seconds 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_workers 4\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_queue_capacity 1024\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_queue_depth 7\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_in_progress 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_overloaded_total 5\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_kicked_connections_total 3\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_kick_failures_total 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("natstack_callout_revoked_entries")));  // no deny-list
  s.revoked_entries = 2;
  s.revocation_reloads = 1;
  text = m.Render(s);
  EXPECT_THAT(text, HasSubstr("natstack_callout_revoked_entries 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_revocation_reloads_total 1\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m;
  m.Record(Make(Outcome::Kind::kRefused, "expired", "a\"b\\c\nd"), 1ms, 0);
  EXPECT_THAT(m.Render({}), HasSubstr("source=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace natstack::callout
