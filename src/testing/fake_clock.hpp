#pragma once
/// FakeClock: a Clock whose time moves only when a test says so. Test-only.

#include <atomic>
#include <chrono>

#include "core/clock.hpp"

namespace natstack::testing {

class FakeClock final : public Clock {
 public:
  /// Starts at `unix_seconds` wall time (default 2026-01-01T00:00:00Z).
  explicit FakeClock(int64_t unix_seconds = 1767225600) : offset_ns_(0), wall_s_(unix_seconds) {}

  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(wall_s_.load())) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               std::chrono::nanoseconds(offset_ns_.load()));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(offset_ns_.load()));
  }
  /// Moves both clocks forward.
  void Advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }
  /// Sets wall time (seconds) without touching the monotonic clock.
  void SetUnixSeconds(int64_t s) {
    wall_s_ = s;
    offset_ns_ = 0;
  }

 private:
  std::atomic<int64_t> offset_ns_;
  std::atomic<int64_t> wall_s_;
};

}  // namespace natstack::testing
