// measureCpuPeak (session.h): the machine's own ceilings on `threads` workers of the ThreadPool.
// - FP32 FMA rate at the active SIMD level: independent multiply-add chains per worker
//   (generic: SSE2 mul + add pairs on x86, 4-lane vector-extension mul + add elsewhere, counted
//   as 2 flops like an FMA; NEON: fmla).
// - Stream bandwidth: triad a[i] = b[i] + s * c[i] over 3 arrays of 64 MiB (>> the LLC),
//   counting 12 bytes per element (STREAM's convention: no write-allocate traffic).
// Each phase warms up for 20% of its time (clock ramp, AVX-512 licence), then runs rounds of
// ~50 ms in which every worker runs chunks until a shared deadline; the reported rate is the
// best round's total work / wall time (robust against other processes on a shared machine).
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/errors.h"
#include "../core/session.h"
#include "../core/thread_pool.h"

namespace dilbench {
namespace cpu {
double peakFmaLoopAvx512(int64_t iterations);
double peakFmaLoopAvx2(int64_t iterations);
double peakFmaLoopNeon(int64_t iterations);  // peak_neon.cpp, aarch64 builds only

namespace {

#if defined(__SSE2__)
double peakFmaLoopGeneric(int64_t iterations) {
  // Twelve named chains (an array would be kept in memory around the asm barriers).
  __m128 a0 = _mm_set1_ps(1.0f), a1 = _mm_set1_ps(1.1f), a2 = _mm_set1_ps(1.2f), a3 = _mm_set1_ps(1.3f);
  __m128 a4 = _mm_set1_ps(1.4f), a5 = _mm_set1_ps(1.5f), a6 = _mm_set1_ps(1.6f), a7 = _mm_set1_ps(1.7f);
  __m128 a8 = _mm_set1_ps(1.8f), a9 = _mm_set1_ps(1.9f), a10 = _mm_set1_ps(2.0f), a11 = _mm_set1_ps(2.1f);
  const __m128 m = _mm_set1_ps(0.9999999f);
  const __m128 c = _mm_set1_ps(1e-7f);
#define DB_STEP(x)                     \
  x = _mm_add_ps(_mm_mul_ps(x, m), c); \
  __asm__ volatile("" : "+x"(x));
  for (int64_t it = 0; it < iterations; ++it) {
    DB_STEP(a0)
    DB_STEP(a1)
    DB_STEP(a2)
    DB_STEP(a3)
    DB_STEP(a4)
    DB_STEP(a5)
    DB_STEP(a6)
    DB_STEP(a7)
    DB_STEP(a8)
    DB_STEP(a9)
    DB_STEP(a10)
    DB_STEP(a11)
  }
#undef DB_STEP
  __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                        _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
  s = _mm_add_ps(s, _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)));
  volatile float sink = _mm_cvtss_f32(s);
  (void)sink;
  return static_cast<double>(iterations) * 12 * 4 * 2;
}
#else
double peakFmaLoopGeneric(int64_t iterations) {
  typedef float F4 __attribute__((vector_size(16)));
  F4 a0 = {1.0f, 1.0f, 1.0f, 1.0f}, a1 = a0 + 0.1f, a2 = a0 + 0.2f, a3 = a0 + 0.3f, a4 = a0 + 0.4f;
  F4 a5 = a0 + 0.5f, a6 = a0 + 0.6f, a7 = a0 + 0.7f, a8 = a0 + 0.8f, a9 = a0 + 0.9f, a10 = a0 + 1.0f;
  F4 a11 = a0 + 1.1f;
  const F4 m = a0 * 0.9999999f;
  const F4 c = a0 * 1e-7f;
#if defined(__aarch64__)
#define DB_BARRIER(x) __asm__ volatile("" : "+w"(x));
#else
#define DB_BARRIER(x)
#endif
#define DB_STEP(x) \
  x = x * m + c;   \
  DB_BARRIER(x)
  for (int64_t it = 0; it < iterations; ++it) {
    DB_STEP(a0)
    DB_STEP(a1)
    DB_STEP(a2)
    DB_STEP(a3)
    DB_STEP(a4)
    DB_STEP(a5)
    DB_STEP(a6)
    DB_STEP(a7)
    DB_STEP(a8)
    DB_STEP(a9)
    DB_STEP(a10)
    DB_STEP(a11)
  }
#undef DB_STEP
#undef DB_BARRIER
  const F4 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
  volatile float sink = s[0] + s[3];
  (void)sink;
  return static_cast<double>(iterations) * 12 * 4 * 2;
}
#endif

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs work(worker) repeatedly on `threads` workers until `seconds` pass; returns the summed
// return values of work (units of work) and the elapsed wall time.
template <class Work>
double runTimed(int threads, double seconds, Work work, double* elapsed) {
  std::vector<double> perWorker(static_cast<size_t>(threads), 0.0);
  const auto t0 = Clock::now();
  ThreadPool::global().parallelFor(threads, threads, [&](int64_t, int worker) {
    double sum = 0;
    do {
      sum += work(worker);
    } while (secondsSince(t0) < seconds);
    perWorker[static_cast<size_t>(worker)] += sum;
  });
  *elapsed = secondsSince(t0);
  double s = 0;
  for (double x : perWorker) s += x;
  return s;
}

// Best rate over rounds of ~50 ms after a warm-up: on a shared machine the best round is the
// closest estimate of what the hardware does when the kernel has it to itself.
template <class Work>
double bestRate(int threads, double seconds, Work work) {
  double el = 0;
  runTimed(threads, seconds * 0.2, work, &el);  // clocks up, caches and pages warm
  const int rounds = std::max(3, static_cast<int>(seconds * 0.8 / 0.05));
  const double each = seconds * 0.8 / rounds;
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const double units = runTimed(threads, each, work, &el);
    best = std::max(best, units / el);
  }
  return best;
}

}  // namespace
}  // namespace cpu

namespace {
using FmaLoop = double (*)(int64_t);
FmaLoop activeFmaLoop(SimdLevel level) {
#if defined(__aarch64__)
  if (level == SimdLevel::NEON) return &cpu::peakFmaLoopNeon;
#else
  if (level == SimdLevel::AVX512) return &cpu::peakFmaLoopAvx512;
  if (level == SimdLevel::AVX2) return &cpu::peakFmaLoopAvx2;
#endif
  return &cpu::peakFmaLoopGeneric;
}
}  // namespace

double runFmaSentinel(int threads, int64_t iterationsPerThread) {
  ThreadPool& pool = ThreadPool::global();
  if (threads < 1 || threads > pool.hardwareThreads())
    throwInvalid("threads", "must be between 1 and " + std::to_string(pool.hardwareThreads()));
  if (iterationsPerThread < 1) throwInvalid("iterationsPerThread", "must be >= 1");
  const FmaLoop fmaLoop = activeFmaLoop(activeSimdLevel());
  // Each task times its own loop and the rates add up. Timing the whole job instead measured the
  // pool: a reading lasts about a millisecond, about what waking an idle vCPU takes here, so after
  // an idle spell the caller often ran both tasks itself and the reading came out at half the
  // rate, while readings right after a kernel (the worker still spinning) came out whole. The
  // sentinel then "moved" +100% between its start and its checkpoints on a quiet machine.
  // Clock, thermal limits and time stolen while a loop runs still show in its own time; a
  // second core taken away by other processes is the interference check's to report.
  std::vector<double> rates(static_cast<size_t>(threads), 0.0);
  pool.parallelFor(threads, threads, [&](int64_t task, int) {
    const auto t0 = cpu::Clock::now();
    const double flops = fmaLoop(iterationsPerThread);
    const double seconds = cpu::secondsSince(t0);
    rates[static_cast<size_t>(task)] = seconds > 0 ? flops / seconds : 0;
  });
  double total = 0;
  for (double r : rates) total += r;
  return total / 1e9;
}

PeakResult measureCpuPeak(int threads, double durationSeconds) {
  ThreadPool& pool = ThreadPool::global();
  if (threads < 1 || threads > pool.hardwareThreads())
    throwInvalid("threads", "must be between 1 and " + std::to_string(pool.hardwareThreads()));
  if (!(durationSeconds > 0)) durationSeconds = 0.5;
  const SimdLevel level = activeSimdLevel();
  const FmaLoop fmaLoop = activeFmaLoop(level);

  PeakResult r;
  r.threads = threads;
  r.simdLevel = simdLevelName(level);

  // ---- FMA -------------------------------------------------------------------------------------
  const double fmaSeconds = durationSeconds * 0.5;
  const int64_t chunk = 100000;  // ~0.3-1 ms per call
  r.fmaGflops = cpu::bestRate(threads, fmaSeconds, [&](int) { return fmaLoop(chunk); }) / 1e9;

  // ---- stream triad ----------------------------------------------------------------------------
  const size_t n = size_t(16) << 20;  // 16 Mi floats = 64 MiB per array
  const size_t bytes = n * sizeof(float);
  float* a = static_cast<float*>(std::aligned_alloc(64, bytes));
  float* b = static_cast<float*>(std::aligned_alloc(64, bytes));
  float* c = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!a || !b || !c) {
    std::free(a);
    std::free(b);
    std::free(c);
    throw Error(ErrorCode::OutOfMemory, "measureCpuPeak: cannot allocate the stream arrays");
  }
  const size_t per = (n + threads - 1) / threads;
  // First touch by the worker that will use the slice.
  pool.parallelFor(threads, threads, [&](int64_t task, int) {
    const size_t lo = std::min(n, per * static_cast<size_t>(task)), hi = std::min(n, lo + per);
    for (size_t i = lo; i < hi; ++i) {
      a[i] = 0.f;
      b[i] = 1.f;
      c[i] = 2.f;
    }
  });
  const float sc = 0.5f;
  // Each worker owns a fixed slice (workers may pick any task, so slice by worker id).
  auto triad = [&](int worker) {
    const size_t lo = std::min(n, per * static_cast<size_t>(worker)), hi = std::min(n, lo + per);
    for (size_t i = lo; i < hi; ++i) a[i] = b[i] + sc * c[i];
    return static_cast<double>(hi - lo) * 3.0 * sizeof(float);
  };
  const double streamSeconds = durationSeconds * 0.5;
  r.streamGBps = cpu::bestRate(threads, streamSeconds, triad) / 1e9;
  volatile float sink = a[n / 2];
  (void)sink;
  std::free(a);
  std::free(b);
  std::free(c);
  return r;
}

}  // namespace dilbench
