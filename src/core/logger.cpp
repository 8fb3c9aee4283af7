#include "core/logger.hpp"

#include "core/text.hpp"

#include <chrono>
#include <ctime>

namespace natstack {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug") *out = LogLevel::kDebug;
  else if (text == "info") *out = LogLevel::kInfo;
  else if (text == "warn") *out = LogLevel::kWarn;
  else if (text == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void StreamLogger::Log(LogLevel level, std::string_view component, std::string_view message) {
  if (level < min_level_) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One entry, one line: whatever a message quotes (a user id from a token, a server's error
  // text) cannot start a line of its own, move the cursor or reorder what a reader sees.
  const std::string safe_component = EscapeText(component);
  const std::string safe_message = EscapeText(RedactJwts(message));
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(out_, "%s.%03dZ %-5.*s %.*s: %.*s\n", stamp, static_cast<int>(millis),
               static_cast<int>(LogLevelName(level).size()), LogLevelName(level).data(),
               static_cast<int>(safe_component.size()), safe_component.data(),
               static_cast<int>(safe_message.size()), safe_message.data());
  std::fflush(out_);
}

}  // namespace natstack
