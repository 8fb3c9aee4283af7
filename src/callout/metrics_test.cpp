#include "callout/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace natstack::callout {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(MetricsTest, CountsDecisionsByOutcomeAndReasonWithALatencyHistogram) {
  Metrics m;
  Outcome admitted;
  admitted.kind = Outcome::Kind::kAdmitted;
  admitted.reason = "admitted";
  Outcome expired;
  expired.kind = Outcome::Kind::kRefused;
  expired.reason = "expired";
  m.Record(admitted, 300us);
  m.Record(admitted, 3ms);
  m.Record(expired, 2500ms);  // past the 2 s bucket: only +Inf
  const std::string text = m.Render({12.5, 1, 2});
  EXPECT_THAT(text, HasSubstr("natstack_callout_decisions_total{outcome=\"admitted\",reason=\"admitted\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decisions_total{outcome=\"refused\",reason=\"expired\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"2\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_decision_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_age_seconds 12.5\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_fetch_failures_total 1\n"));
  EXPECT_THAT(text, HasSubstr("natstack_callout_jwks_keys 2\n"));
}

TEST(MetricsTest, NeverFetchedJwksHasNoAge) {
  Metrics m;
  EXPECT_THAT(m.Render({std::nullopt, 0, 0}), HasSubstr("natstack_callout_jwks_age_seconds NaN\n"));
}

}  // namespace
}  // namespace natstack::callout
