#include "core/delay_queue.hpp"

namespace natstack {

DelayQueue::DelayQueue() : thread_([this] { Run(); }) {}

DelayQueue::~DelayQueue() { Stop(); }

void DelayQueue::At(std::chrono::steady_clock::time_point when, Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      tasks_.emplace(when, std::move(task));
      cv_.notify_one();
      return;
    }
  }
  // Stopping: too late to wait; run it now rather than lose it.
  try {
    task();
  } catch (...) {
  }
}

size_t DelayQueue::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void DelayQueue::Stop() {
  // Two callers used to both see thread_ joinable and both join it: undefined (with glibc the
  // second join throws or never returns).
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DelayQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    if (!stopping_ && first->first > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    Task task = std::move(first->second);
    tasks_.erase(first);
    lock.unlock();
    try {
      task();
    } catch (...) {
    }
    task = nullptr;
    lock.lock();
  }
}

}  // namespace natstack
