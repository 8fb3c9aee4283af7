#pragma once
/// A fixed set of threads draining a bounded queue. TrySubmit never blocks: when the queue is
/// full it says so at once, so a caller on a latency budget can answer "busy" instead of
/// waiting. Thread-safe.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace natstack {

class WorkerPool {
 public:
  using Task = std::function<void()>;

  /// `threads` >= 1 workers, at most `capacity` >= 1 tasks waiting (not counting running ones).
  WorkerPool(size_t threads, size_t capacity);
  /// Stop(): runs what is queued, then joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; false (the task is dropped, not run) when the queue is full or the pool
  /// is stopping. Tasks must not throw (an exception is caught and counted).
  bool TrySubmit(Task task);
  /// Finishes queued tasks and joins the threads. Idempotent; a caller racing another Stop
  /// returns only once the first has finished. Never call it from a task (a worker cannot join
  /// itself).
  void Stop();

  struct Stats {
    size_t threads = 0;
    size_t capacity = 0;
    size_t queued = 0;   ///< waiting now
    size_t running = 0;  ///< being run now
    uint64_t submitted = 0;
    uint64_t rejected = 0;  ///< TrySubmit returned false
    uint64_t failed = 0;    ///< tasks that threw
  };
  Stats GetStats() const;

 private:
  void Run();

  const size_t capacity_;
  std::mutex stop_mu_;  // held through a whole Stop, so a concurrent Stop waits for the joins
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  size_t running_ = 0;
  uint64_t submitted_ = 0, rejected_ = 0, failed_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace natstack
