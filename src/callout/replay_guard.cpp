#include "callout/replay_guard.hpp"

#include <algorithm>

namespace natstack::callout {

ReplayGuard::ReplayGuard(size_t max_keys) : max_keys_(std::max<size_t>(1, max_keys)) {}

void ReplayGuard::ForgetExpired(int64_t now) {
  // Deadlines grow with insertion time up to the servers' differing auth timeouts, so an
  // entry may outlive its time behind a later one by a few seconds: harmless, and bounded.
  while (!order_.empty() && order_.front().first <= now) {
    auto it = forget_at_.find(order_.front().second);
    if (it != forget_at_.end() && it->second == order_.front().first) forget_at_.erase(it);
    order_.pop_front();
  }
}

bool ReplayGuard::FirstSight(std::string_view key, int64_t forget_at, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetExpired(now);
  std::string k(key);
  if (auto it = forget_at_.find(k); it != forget_at_.end()) {
    if (it->second > now) return false;
    forget_at_.erase(it);  // expired but still queued behind a later deadline
  }
  while (forget_at_.size() >= max_keys_ && !order_.empty()) {
    auto it = forget_at_.find(order_.front().second);
    if (it != forget_at_.end() && it->second == order_.front().first) forget_at_.erase(it);
    order_.pop_front();
  }
  forget_at_.emplace(k, forget_at);
  order_.emplace_back(forget_at, std::move(k));
  return true;
}

size_t ReplayGuard::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return forget_at_.size();
}

}  // namespace natstack::callout
