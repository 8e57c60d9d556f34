// Persistent worker pool: created lazily on first use with hardwareThreads() - 1 workers (the
// caller is worker 0). One job runs at a time (concurrent callers queue on a mutex); a
// parallelFor called from inside a task runs inline. Workers that took part in a job spin
// briefly for the next one, then sleep on a condition variable, so back-to-back iterations do
// not pay a wake-up while idle workers cost nothing.
//
// A job ends when its tasks are done, not when every worker has checked in: workers join a job
// (a CAS on state_, which carries the job id, a closed bit and the joined count), and once the
// caller has run out of tasks it closes the job and waits only for workers still inside one. A
// worker the OS has not scheduled yet finds the job closed and touches nothing; on a loaded
// machine that is the difference between a job costing its work and costing a time slice.
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

  void parallelFor(int64_t tasks, int threads, const std::function<void(int64_t, int)>& fn) override {
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
    error_ = nullptr;
    jobId_ = jobId_ % 0xffffffffu + 1;  // 1 .. 2^32-1: id 0 means no job yet
    // open for joining; the release publishes the job's parameters to whoever joins it
    state_.store(jobId_ << kIdShift, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lk(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    runTasks(0);
    // No task is left to hand out: close the job and wait for the workers still running one.
    if (joinedCount(state_.fetch_or(kClosed, std::memory_order_acq_rel)) > 0) {
      for (int i = 0; i < kSpinIterations && joinedCount(state_.load(std::memory_order_acquire)) > 0; ++i)
        DILBENCH_PAUSE();
      if (joinedCount(state_.load(std::memory_order_acquire)) > 0) {
        std::unique_lock<std::mutex> lk(mutex_);
        doneCv_.wait(lk, [&] { return joinedCount(state_.load(std::memory_order_acquire)) == 0; });
      }
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
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      spin = false;
      if (!join()) continue;  // closed already: its tasks are done without us
      // joined: the job cannot end (nor its parameters change) until we leave
      if (worker < threads_.load(std::memory_order_relaxed)) {
        spin = true;
        runTasks(worker);
      }
      leave();
    }
  }

  static constexpr int kIdShift = 32;
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kCountMask = kClosed - 1;
  static int64_t joinedCount(uint64_t s) { return static_cast<int64_t>(s & kCountMask); }

  /** Joins the open job, if there is one (the job id in state_ rules out joining a stale one). */
  bool join() {
    uint64_t s = state_.load(std::memory_order_acquire);
    while (!(s & kClosed) && (s >> kIdShift) != 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
    return false;
  }

  void leave() {
    const uint64_t prev = state_.fetch_sub(1, std::memory_order_acq_rel);
    if ((prev & kClosed) && joinedCount(prev) == 1) {
      std::lock_guard<std::mutex> lk(mutex_);
      doneCv_.notify_one();
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
  uint64_t jobId_ = 0;              // guarded by jobMutex_
  std::atomic<uint64_t> state_{0};  // jobId << 32 | closed << 31 | workers joined
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
