#pragma once
/// Runs callbacks at a later time on one background thread (e.g. refusals held back so their
/// timing says nothing). Times are std::chrono::steady_clock points: this waits in real time,
/// so it takes no injected Clock. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace natstack {

class DelayQueue {
 public:
  using Task = std::function<void()>;
  DelayQueue();
  /// Runs every pending task at once (in time order), then joins.
  ~DelayQueue();
  DelayQueue(const DelayQueue&) = delete;
  DelayQueue& operator=(const DelayQueue&) = delete;

  /// Runs `task` at `when` (at once when it has passed). Tasks must not throw.
  void At(std::chrono::steady_clock::time_point when, Task task);
  /// Tasks waiting now.
  size_t pending() const;
  /// Runs what is pending now, then stops. Idempotent; a caller racing another Stop returns
  /// only once the pending tasks have run. Never call it from a task.
  void Stop();

 private:
  void Run();
  std::mutex stop_mu_;  // held through a whole Stop: thread_ is joined (and read) by one caller
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace natstack
