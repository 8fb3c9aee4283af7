#include "core/worker_pool.hpp"

#include <algorithm>

namespace natstack {

WorkerPool::WorkerPool(size_t threads, size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
  threads = std::max<size_t>(1, threads);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Stop(); }

bool WorkerPool::TrySubmit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= capacity_) {
      ++rejected_;
      return false;
    }
    queue_.push_back(std::move(task));
    ++submitted_;
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Stop() {
  // Without this a second caller found threads_ already taken and returned while the first was
  // still running the queue.
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void WorkerPool::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    bool threw = false;
    try {
      task();
    } catch (...) {
      threw = true;
    }
    task = nullptr;  // destroy captures outside the lock
    lock.lock();
    --running_;
    if (threw) ++failed_;
  }
}

WorkerPool::Stats WorkerPool::GetStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.threads = threads_.size();
  s.capacity = capacity_;
  s.queued = queue_.size();
  s.running = running_;
  s.submitted = submitted_;
  s.rejected = rejected_;
  s.failed = failed_;
  return s;
}

}  // namespace natstack
