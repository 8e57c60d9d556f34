// Stress test of the global ThreadPool (native/core/thread_pool.cpp), meant to be built with
// -fsanitize=thread. Three threads call parallelFor concurrently with varying task and thread
// counts, nested calls (which run inline) and thrown exceptions; every task must run exactly
// once, every throw must reach its caller. Built with -Dsched_getaffinity=stress_getaffinity the
// pool sees STRESS_CPUS cpus on any machine, so 8 workers oversubscribe 2 cores: the case where
// a worker wakes after its job has ended.
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "thread_pool.h"

#ifndef STRESS_CPUS
#define STRESS_CPUS 8
#endif

extern "C" int stress_getaffinity(pid_t, size_t, cpu_set_t* set) noexcept {
  CPU_ZERO(set);
  for (int i = 0; i < STRESS_CPUS; ++i) CPU_SET(i, set);
  return 0;
}

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3000;
  auto& pool = dilbench::ThreadPool::global();
  std::atomic<long> failures{0};
  auto caller = [&](int seed) {
    for (int r = 0; r < rounds; ++r) {
      const int64_t tasks = 1 + (r * 7 + seed) % 37;
      const int threads = 1 + (r + seed) % (STRESS_CPUS + 1);
      std::vector<std::atomic<int>> hit(static_cast<size_t>(tasks));
      for (auto& h : hit) h.store(0);
      const bool throwIt = (r % 97) == 5;
      try {
        pool.parallelFor(tasks, threads, [&](int64_t t, int) {
          hit[static_cast<size_t>(t)].fetch_add(1);
          if (throwIt && t == tasks / 2) throw std::runtime_error("planted");
          if (r % 11 == 0) pool.parallelFor(3, 2, [](int64_t, int) {});  // nested: runs inline
        });
        if (throwIt) {
          ++failures;
          std::fprintf(stderr, "round %d: the planted exception did not reach the caller\n", r);
        }
        for (auto& h : hit)
          if (h.load() != 1) {
            ++failures;
            std::fprintf(stderr, "round %d: a task ran %d times\n", r, h.load());
            break;
          }
      } catch (const std::runtime_error&) {
        if (!throwIt) ++failures;
        for (auto& h : hit)
          if (h.load() > 1) {
            ++failures;
            break;
          }
      }
    }
  };
  std::thread a(caller, 1), b(caller, 2);
  caller(3);
  a.join();
  b.join();
  std::printf("workers %d, rounds %d x 3 callers, failures %ld\n", pool.hardwareThreads(), rounds,
              failures.load());
  return failures.load() ? 1 : 0;
}
