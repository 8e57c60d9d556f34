// A benchmark session holds the state of one point (nvbench's "state"): the validated problem,
// its kernel, a private memory pool, and seeded random inputs. The scheduler in TypeScript asks
// it for batches of timed iterations until its stopping rule is met (the "measurement").
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "cancel.h"
#include "kernel.h"
#include "memory_pool.h"
#include "pattern_cache.h"
#include "problem.h"
#include "timer.h"

namespace dilbench {

struct KernelTelemetry;  // ../cpu/family.h

struct SessionOptions {
  int threads = 1;            // 1..hardwareThreads (validated)
  bool useMemoryPool = true;  // false: the pool passes every request straight to the allocator
  bool usePatternCache = true;
  uint64_t memoryLimitBytes = 0;  // 0 = none; over it -> Error(OutOfMemory) before running
};

struct Plan {
  int64_t effectiveSeqLen = 0;
  uint64_t inputBytes = 0;      // q, k, v
  uint64_t outputBytes = 0;     // o
  uint64_t workspaceBytes = 0;  // kernel workspace upper bound
  uint64_t totalBytes = 0;      // what the session will hold at peak (pool size classes included)
  KernelCounts counts;
};

// Validates (problem + options) and sizes the run without allocating anything.
Plan planSession(const AttentionProblem& p, const SessionOptions& o);

class Session {
 public:
  // Validates, allocates inputs and output from the pool and fills q, k, v with N(0, 1) drawn
  // from p.seed (the same seed gives the same inputs on every backend).
  Session(const AttentionProblem& p, const SessionOptions& o);
  ~Session();

  const AttentionProblem& problem() const { return problem_; }
  const Plan& plan() const { return plan_; }

  // Runs `iterations` forward passes, each timed alone; returns nanoseconds per iteration.
  // cold: evict the last-level cache before each iteration (outside the timed region).
  // Polls cancel between iterations and throws Error(Cancelled).
  std::vector<double> sample(int iterations, bool cold, const CancelToken* cancel);
  // The SM clock (MHz) read right after each iteration of the last completed sample() call, one
  // per iteration; empty where the backend reads no clock (CPU) or before any sample().
  const std::vector<double>& lastSampleClocksMHz() const;
  // The device's rated maximum of that clock (MHz); negative when the backend reads no clock.
  double maxClockMHz() const;

  // Copies the output of the last run (runs once if none ran yet) as fp32.
  std::vector<float> output(const CancelToken* cancel);
  // The session's inputs as fp32 (for validation against the reference).
  std::vector<float> input(char which) const;  // 'q' | 'k' | 'v'

  PoolStats poolStats() const;
  // The session's pattern cache statistics; false (out untouched) when usePatternCache is off.
  bool patternCacheStats(PatternCacheStats& out) const;
  // The kernel's telemetry after its last run (family kernels implement TelemetrySource);
  // false when the kernel has none or has not completed a run yet.
  bool telemetry(KernelTelemetry& out) const;

 private:
  struct Impl;
  AttentionProblem problem_;
  SessionOptions options_;
  Plan plan_;
  std::unique_ptr<Impl> impl_;
};

// What computeAttention can keep from one call to the next on a device: the memory pool (kernel
// workspace, and device copies of q, k, v, o where the kernel cannot use the caller's buffers)
// and the dilated-pattern cache, so a repeated call allocates and faults in nothing new. One call
// at a time; the binding keeps idle ones. Holds at most kKeptBytes of cached pool blocks and of
// patterns between calls.
class ComputeResources {
 public:
  static constexpr uint64_t kKeptBytes = 64ull << 20;
  explicit ComputeResources(Device device);
  Device device() const { return device_; }
  MemoryPool& pool() { return pool_; }
  PatternCache& patterns() { return patterns_; }
  // After a call: gives the pool's cached blocks back when they exceed kKeptBytes.
  void trim();

 private:
  Device device_;
  MemoryPool pool_;
  PatternCache patterns_;
};

// One-shot computation on caller-provided fp32 host buffers (computeAttention in the API):
// out[qLen] receives the output. Validates buffer lengths against the problem. CPU fp32 kernels
// read q, k, v and write out in place (no copies); other devices go through pool buffers.
// `resources` supplies the pool and pattern cache; when it is null or belongs to another device
// the call puts fresh ones there (after validating), for the caller to keep for the next call.
// o.useMemoryPool off: the kernel's workspace bypasses the pool's cache as in a session.
void computeAttentionInto(const AttentionProblem& p, const SessionOptions& o, const float* q, size_t qLen,
                          const float* k, size_t kLen, const float* v, size_t vLen, float* out, size_t outLen,
                          const CancelToken* cancel, std::unique_ptr<ComputeResources>& resources);

// The same with fresh resources, returning the output.
std::vector<float> computeAttention(const AttentionProblem& p, const SessionOptions& o, const float* q,
                                    size_t qLen, const float* k, size_t kLen, const float* v, size_t vLen,
                                    const CancelToken* cancel);

// The machine's own limits on the threads the kernels use: FP32 FMA rate and stream bandwidth.
struct PeakResult {
  double fmaGflops = 0;
  double streamGBps = 0;
  int threads = 0;
  const char* simdLevel = "";
};
PeakResult measureCpuPeak(int threads, double durationSeconds);

// The drift sentinel: a fixed workload of `iterationsPerThread` iterations of the peak's FMA loop
// on each of `threads` workers, timed once; returns its rate in GFLOP/s (a few ms of work, so a
// run can repeat it between points and see the machine's speed move).
double runFmaSentinel(int threads, int64_t iterationsPerThread);

}  // namespace dilbench
