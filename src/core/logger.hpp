#pragma once
/// Logger: leveled, line-oriented, thread-safe. Passed by reference; never global.
///
/// Never log secrets: seeds, private keys, whole tokens or requests, passwords. Log a key's
/// public half, a `kid`, a `sub`, a fingerprint.

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace natstack {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };

std::string_view LogLevelName(LogLevel level);
/// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view component, std::string_view message) = 0;
  virtual LogLevel MinLevel() const = 0;

  void Debug(std::string_view c, std::string_view m) { Log(LogLevel::kDebug, c, m); }
  void Info(std::string_view c, std::string_view m) { Log(LogLevel::kInfo, c, m); }
  void Warn(std::string_view c, std::string_view m) { Log(LogLevel::kWarn, c, m); }
  void Error(std::string_view c, std::string_view m) { Log(LogLevel::kError, c, m); }
};

/// Writes "2026-12-03T16:57:08.123Z INFO  component: message" lines to a stdio stream. The
/// component and message go through EscapeText (core/text.hpp): one entry is always one line.
class StreamLogger final : public Logger {
 public:
  explicit StreamLogger(std::FILE* out, LogLevel min_level = LogLevel::kInfo)
      : out_(out), min_level_(min_level) {}
  void Log(LogLevel level, std::string_view component, std::string_view message) override;
  LogLevel MinLevel() const override { return min_level_; }

 private:
  std::mutex mu_;
  std::FILE* out_;
  LogLevel min_level_;
};

/// Discards everything (for tests that do not look at logs).
class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view, std::string_view) override {}
  LogLevel MinLevel() const override { return LogLevel::kError; }
};

}  // namespace natstack
