// A team for the model's KV-cache decode. A gpt2 decode step is ~50 small parallel pieces (4
// GEMVs per layer and the LM head; attention over a long cache too), each of which would
// otherwise be one ThreadPool::parallelFor. parallelFor returns only once every participating
// worker has checked in, even a worker that woke up after the caller had done all the tasks, so
// on a loaded machine each piece can wait a scheduler time slice for a descheduled worker
// (NOTES.md). A StepTeam is one ThreadPool job for a whole step: member 0 (the driver) runs the
// step and publishes each parallel piece as a stage; the other members claim the stage's tasks
// while they run. A stage ends when all of its tasks are done, not when every member has looked
// at it, so a member that is descheduled between tasks delays nobody.
#pragma once
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

#include "../core/errors.h"
#include "../core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DILBENCH_TEAM_PAUSE() _mm_pause()
#else
#define DILBENCH_TEAM_PAUSE() ((void)0)
#endif

namespace dilbench {
namespace model {

class StepTeam {
 public:
  using TaskFn = std::function<void(int64_t task, int member)>;

  // Runs driver(team) on one member of a team of `threads` (one ThreadPool job) while the others
  // help with its stages; returns when driver returned and rethrows what driver or a stage threw.
  template <class Driver>
  static void run(int threads, Driver& driver) {
    StepTeam team(std::max(1, threads));
    auto job = [&](int64_t task, int) {
      if (task == 0) {
        Finish finish{team};  // releases the helpers on every exit of the driver
        driver(team);
      } else {
        team.help(static_cast<int>(task));
      }
    };
    ThreadPool::global().parallelFor(team.size_, team.size_, std::ref(job));
  }

  int size() const { return size_; }

  // Driver only: runs fn(task, member) for task in [0, tasks) on the team (member < size());
  // returns when all of them are done; rethrows the first exception a task threw.
  void stage(int64_t tasks, const TaskFn& fn) {
    if (tasks <= 0) return;
    if (tasks > kMaxTasks) {
      throw Error(ErrorCode::Internal,
                  "StepTeam::stage: tasks " + std::to_string(tasks) + " above the limit 2^31");
    }
    const uint64_t epoch = (claim_.load(std::memory_order_relaxed) >> 32) + 1;
    Slot& s = slots_[epoch & 1];
    s.fn.store(&fn, std::memory_order_relaxed);
    s.tasks.store(tasks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(epoch << 32, std::memory_order_release);  // publishes the slot
    work(0);
    for (int spins = 0; done_.load(std::memory_order_acquire) < tasks;) backoff(spins);
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  static constexpr int64_t kMaxTasks = int64_t(1) << 31;
  // Stage descriptors, alternating: slot (e & 1) is rewritten for stage e + 2 only after stage
  // e + 1 was published, and a claim on stage e succeeds only while e is the published stage,
  // so a member that read slot (e & 1) and then claimed a task of e ran stage e's fn.
  struct Slot {
    std::atomic<const TaskFn*> fn{nullptr};
    std::atomic<int64_t> tasks{0};
  };
  struct Finish {
    StepTeam& t;
    ~Finish() { t.finished_.store(true, std::memory_order_release); }
  };

  explicit StepTeam(int size) : size_(size) {}

  // Spin briefly, then yield: a waiting member must not keep a descheduled one off the CPU.
  static void backoff(int& spins) {
    if (++spins < kSpinsBeforeYield) {
      DILBENCH_TEAM_PAUSE();
    } else {
      sched_yield();
    }
  }
  static constexpr int kSpinsBeforeYield = 2000;

  // Claims and runs tasks of the published stage until none is left.
  void work(int member) {
    for (;;) {
      uint64_t v = claim_.load(std::memory_order_acquire);
      const Slot& s = slots_[(v >> 32) & 1];
      const int64_t next = static_cast<int64_t>(v & 0xffffffffu);
      const int64_t tasks = s.tasks.load(std::memory_order_relaxed);
      const TaskFn* fn = s.fn.load(std::memory_order_relaxed);
      if (next >= tasks) return;
      if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
        continue;
      try {
        (*fn)(next, member);
      } catch (...) {
        std::lock_guard<std::mutex> lk(errorMutex_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void help(int member) {
    uint64_t seen = 0;  // epoch 0 has no tasks
    for (int spins = 0;;) {
      if (finished_.load(std::memory_order_acquire)) return;
      const uint64_t epoch = claim_.load(std::memory_order_acquire) >> 32;
      if (epoch == seen) {
        backoff(spins);
        continue;
      }
      seen = epoch;
      spins = 0;
      work(member);
    }
  }

  // Own cache lines: members spin on claim_ / finished_ while the driver counts done_.
  const int size_;
  Slot slots_[2];
  alignas(64) std::atomic<uint64_t> claim_{0};  // published stage << 32 | next unclaimed task
  alignas(64) std::atomic<int64_t> done_{0};    // tasks of the published stage that finished
  alignas(64) std::atomic<bool> finished_{false};
  std::mutex errorMutex_;
  std::exception_ptr error_;
};

}  // namespace model
}  // namespace dilbench
