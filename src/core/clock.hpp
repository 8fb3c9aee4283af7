#pragma once
/// Clock: injected wherever time matters (token expiry, backoff, deadlines), so logic is tested
/// with a FakeClock and never with the wall clock.

#include <chrono>
#include <cstdint>

namespace natstack {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time (for JWT iat/exp). Thread-safe.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  /// Monotonic time (for timeouts and latency). Thread-safe.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;

  /// Seconds since the Unix epoch, as JWTs count them.
  int64_t UnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
};

/// The real clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace natstack
