#pragma once
/// Remembers the one-time user keys of the requests already answered, so a request captured
/// and published again (by anything that can publish on $SYS.REQ.USER.AUTH) is dropped instead
/// of getting a second signed answer. nats-server makes a fresh user key for every connection
/// attempt (auth-callout-protocol.md), so a key seen twice is a replay.
///
/// Each key is kept until its request's deadline has passed by the verifier's clock leeway:
/// after that the request fails its expiry check anyway. Memory is bounded by `max_keys`; when
/// full, the oldest key is forgotten first. Per replica: a replay routed to another replica of
/// the queue group meets the server's own guard (it accepts one answer per pending user key).
/// Thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace natstack::callout {

class ReplayGuard {
 public:
  explicit ReplayGuard(size_t max_keys = 100000);

  /// True the first time `key` is seen (and remembers it until `forget_at`, Unix seconds);
  /// false when it was seen before and is still remembered.
  bool FirstSight(std::string_view key, int64_t forget_at, int64_t now);

  /// Keys remembered now.
  size_t size() const;

 private:
  void ForgetExpired(int64_t now);

  const size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> forget_at_;
  std::deque<std::pair<int64_t, std::string>> order_;  // insertion order
};

}  // namespace natstack::callout
