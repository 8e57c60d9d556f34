// Persistent worker pool (created once, reused by every run) over independent tasks such as
// (batch, head, query tile). Workers spin briefly then sleep, so back-to-back iterations do not
// pay thread start-up.
#pragma once
#include <cstdint>
#include <functional>

namespace dilbench {

class ThreadPool {
 public:
  static ThreadPool& global();
  virtual ~ThreadPool() = default;
  // Hardware threads available to this process (affinity-aware).
  virtual int hardwareThreads() const = 0;
  // Runs fn(task, worker) for task in [0, tasks) on `threads` workers (the caller is worker 0),
  // dynamic scheduling; worker < threads, so per-worker scratch can be indexed by it. Returns
  // after every task finished; rethrows the first exception a task threw.
  virtual void parallelFor(int64_t tasks, int threads,
                           const std::function<void(int64_t task, int worker)>& fn) = 0;
};

}  // namespace dilbench
