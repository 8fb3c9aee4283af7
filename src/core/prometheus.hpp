#pragma once
/// The Prometheus text exposition format (0.0.4), for every service's /metrics.
///
///   std::string out;
///   PrometheusHeader(out, "natstack_dns_ready", "gauge", "1 once the record has been read.");
///   out += "natstack_dns_ready " + PrometheusNumber(1) + "\n";

#include <string>

namespace natstack {

/// "# HELP name help" and "# TYPE name type" lines.
void PrometheusHeader(std::string& out, const char* name, const char* type, const char* help);

/// A label value escaped as the format wants: \ as \\, " as \", newline as \n.
std::string PrometheusLabel(const std::string& value);

/// A sample value: "%.6g" (integers print without a decimal point).
std::string PrometheusNumber(double value);

}  // namespace natstack
