// Persistent worker pool: created lazily on first use with hardwareThreads() - 1 workers (the
// caller is worker 0). One job runs at a time (concurrent callers queue on a mutex); a
// parallelFor called from inside a task runs inline. Workers that took part in a job spin
// briefly for the next one, then sleep on a condition variable, so back-to-back iterations do
// not pay a wake-up while idle workers cost nothing.
#include "thread_pool.h"

#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DILBENCH_PAUSE() _mm_pause()
#else
#define DILBENCH_PAUSE() ((void)0)
#endif

namespace dilbench {
namespace {

thread_local bool tlsInsideTask = false;

int affinityThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned h = std::thread::hardware_concurrency();
  return h ? static_cast<int>(h) : 1;
}

constexpr int kSpinIterations = 20000;  // ~50-100 us of pause before sleeping

class GlobalThreadPool final : public ThreadPool {
 public:
  GlobalThreadPool() : hw_(affinityThreads()) {
    for (int w = 1; w < hw_; ++w) workers_.emplace_back([this, w] { workerLoop(w); });
  }
  ~GlobalThreadPool() override {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int hardwareThreads() const override { return hw_; }

  void parallelFor(int64_t tasks, int threads,
                   const std::function<void(int64_t, int)>& fn) override {
    if (tasks <= 0) return;
    if (threads > hw_) threads = hw_;
    if (threads > tasks) threads = static_cast<int>(tasks);
    if (threads <= 1 || tlsInsideTask) {
      bool prev = tlsInsideTask;
      tlsInsideTask = true;
      try {
        for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
      } catch (...) {
        tlsInsideTask = prev;
        throw;
      }
      tlsInsideTask = prev;
      return;
    }
    std::lock_guard<std::mutex> jobLock(jobMutex_);
    fn_ = &fn;
    tasks_ = tasks;
    threads_.store(threads, std::memory_order_relaxed);
    next_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    runTasks(0);
    // Wait for the other participants.
    const int need = threads - 1;
    for (int i = 0; i < kSpinIterations && done_.load(std::memory_order_acquire) < need; ++i)
      DILBENCH_PAUSE();
    if (done_.load(std::memory_order_acquire) < need) {
      std::unique_lock<std::mutex> lk(mutex_);
      doneCv_.wait(lk, [&] { return done_.load(std::memory_order_acquire) >= need; });
    }
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  void runTasks(int worker) {
    tlsInsideTask = true;
    for (;;) {
      int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      try {
        (*fn_)(t, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lk(errorMutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(tasks_, std::memory_order_relaxed);  // hand out no further tasks
      }
    }
    tlsInsideTask = false;
  }

  void workerLoop(int worker) {
    uint64_t seen = 0;
    bool spin = false;  // only a worker that took part in the last job spins for the next one
    for (;;) {
      int i = 0;
      while (spin && generation_.load(std::memory_order_acquire) == seen && i < kSpinIterations) {
        DILBENCH_PAUSE();
        ++i;
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lk(mutex_);
        cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      const uint64_t g = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      const int jobThreads = threads_.load(std::memory_order_relaxed);
      // A late non-participant may read the parameters of a newer job: validate the snapshot
      // (a participant's job cannot be replaced before it reports done).
      std::atomic_thread_fence(std::memory_order_acquire);
      if (generation_.load(std::memory_order_relaxed) != g) continue;
      seen = g;
      spin = worker < jobThreads;
      if (!spin) continue;
      runTasks(worker);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == jobThreads - 1) {
        std::lock_guard<std::mutex> lk(mutex_);
        doneCv_.notify_one();
      }
    }
  }

  const int hw_;
  std::vector<std::thread> workers_;
  std::mutex jobMutex_;  // one job at a time
  std::mutex mutex_;     // guards sleeping/waking
  std::condition_variable cv_, doneCv_;
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  // Current job (written before generation_ is bumped, read after it is observed).
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int> threads_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> done_{0};
  std::mutex errorMutex_;
  std::exception_ptr error_;
};

}  // namespace

ThreadPool& ThreadPool::global() {
  // Intentionally leaked: workers may still be parked at process exit.
  static GlobalThreadPool* pool = new GlobalThreadPool();
  return *pool;
}

}  // namespace dilbench
