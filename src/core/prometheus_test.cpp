#include "core/prometheus.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

TEST(PrometheusTest, LabelsAreEscapedAndNumbersCompact) {
  EXPECT_EQ(PrometheusLabel("plain"), "plain");
  EXPECT_EQ(PrometheusLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(PrometheusNumber(3), "3");
  EXPECT_EQ(PrometheusNumber(0.25), "0.25");
  std::string out;
  PrometheusHeader(out, "x_total", "counter", "Things.");
  EXPECT_EQ(out, "# HELP x_total Things.\n# TYPE x_total counter\n");
}

}  // namespace
}  // namespace natstack
