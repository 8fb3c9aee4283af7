#pragma once
/// A Logger that keeps every line, for tests that check what was (or was not) logged.
/// Thread-safe. Test-only.

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/logger.hpp"

namespace natstack::testing {

class CapturingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::string(LogLevelName(level)) + " " + std::string(message));
  }
  LogLevel MinLevel() const override { return LogLevel::kDebug; }
  /// True when a line holds `needle`.
  bool Contains(std::string_view needle) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& line : lines_)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }
  /// Every line, "LEVEL message\n" each.
  std::string All() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace natstack::testing
