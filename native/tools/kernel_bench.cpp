// Developer harness for the CPU dense kernels (not shipped): validates naive/flash and the
// attendBlock primitive against float64 references at every SIMD level, and benchmarks them
// against the measured FMA peak.
//   kernel_bench check                      full validation matrix (incl. check-gemm)
//   kernel_bench check-gemm                 the model GEMM microkernels at every level
//   kernel_bench bench [options]            GFLOP/s and % of peak
//     --impl flash|naive|both  --n 1024,2048,4096,8192  --threads 2  --batch 1  --heads 8
//     --kvheads 8  --d 64  --causal 0|1  --level generic|avx2|avx512|neon|all  --iters 3
//   kernel_bench peak [seconds]
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/errors.h"
#include "core/kernel.h"
#include "core/memory_pool.h"
#include "core/session.h"
#include "core/thread_pool.h"
#include "cpu/attention_block.h"
#include "model/gemm.h"
#include "reference/reference.h"

using namespace dilbench;

namespace dilbench {
namespace cpu {
double peakFmaLoopAvx512(int64_t iterations);
double peakFmaLoopAvx2(int64_t iterations);
double peakFmaLoopNeon(int64_t iterations);
}  // namespace cpu
}  // namespace dilbench

namespace {

// Process CPU seconds: on a shared, oversubscribed machine, flops per CPU-second (summed over
// threads) is a fairer tuning metric than wall time.
double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// FMA rate of one core per CPU-second at the active level (AVX2/AVX-512/NEON only; 0 otherwise).
double perCorePeakCpuTime() {
  double (*loop)(int64_t) = nullptr;
#if defined(__aarch64__)
  if (activeSimdLevel() == SimdLevel::NEON) loop = &dilbench::cpu::peakFmaLoopNeon;
#else
  if (activeSimdLevel() == SimdLevel::AVX512) loop = &dilbench::cpu::peakFmaLoopAvx512;
  else if (activeSimdLevel() == SimdLevel::AVX2) loop = &dilbench::cpu::peakFmaLoopAvx2;
#endif
  if (!loop) return 0;
  loop(2000000);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double c0 = cpuSeconds();
    const double f = loop(2000000);
    best = std::max(best, f / (cpuSeconds() - c0) / 1e9);
  }
  return best;
}

std::vector<float> randn(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& e : x) e = d(g);
  return x;
}

struct Err {
  double maxAbs = 0, relL2 = 0;
  bool finite = true;
};

Err compare(const std::vector<float>& o, const std::vector<double>& ref) {
  Err e;
  double num = 0, den = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    if (!std::isfinite(o[i])) e.finite = false;
    const double d = static_cast<double>(o[i]) - ref[i];
    e.maxAbs = std::max(e.maxAbs, std::fabs(d));
    num += d * d;
    den += ref[i] * ref[i];
  }
  e.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return e;
}

bool ok(const Err& e) { return e.finite && e.maxAbs <= 1e-4 && e.relL2 <= 1e-5; }

std::vector<SimdLevel> levels() {
  std::vector<SimdLevel> l;
  for (SimdLevel lv : {SimdLevel::Generic, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::NEON})
    if (simdLevelSupported(lv)) l.push_back(lv);
  return l;
}

std::vector<float> runKernel(const AttentionProblem& p, const std::vector<float>& q,
                             const std::vector<float>& k, const std::vector<float>& v, int threads,
                             MemoryPool& pool, uint64_t* peakWs) {
  auto kern = KernelRegistry::instance().create(p.implementation, Device::CPU);
  kern->validate(p);
  std::vector<float> o(q.size(), std::numeric_limits<float>::quiet_NaN());
  Tensors t{q.data(), k.data(), v.data(), o.data()};
  ExecContext ctx;
  ctx.pool = &pool;
  ctx.threadPool = &ThreadPool::global();
  ctx.threads = threads;
  pool.resetPeak();
  const uint64_t before = pool.stats().bytesInUse;
  kern->run(p, t, ctx);
  if (peakWs) *peakWs = pool.stats().peakBytesInUse - before;
  return o;
}

// The model GEMM (model/gemm.h) at every level against a float64 product: row counts around each
// level's microkernel height, column counts around the 32-wide panel, both packings, bias and
// accumulate. Tolerance: |err| <= 1e-5 * (sum_k |a_k b_k| + |bias| + |c|) per element, the fp32
// rounding of a K-term sum with margin.
int checkGemm() {
  int failures = 0, cases = 0;
  MemoryPool pool(hostAllocator(), true);
  for (SimdLevel lv : levels()) {
    setSimdLevel(lv);
    const int failuresBefore = failures;
    double worst = 0;
    for (int64_t M : {1, 2, 5, 6, 7, 12, 13, 25}) {
      for (int64_t K : {1, 17, 64}) {
        for (int64_t N : {1, 16, 31, 32, 33, 100}) {
          for (int variant = 0; variant < 4; ++variant) {
            const bool transposed = variant & 1, extras = variant & 2;
            const auto A = randn(size_t(M * K), 11 + M);
            const auto B = randn(size_t(K * N), 13 + N);  // [K, N], or [N, K] when transposed
            const auto bias = randn(size_t(N), 17);
            const auto C0 = randn(size_t(M * N), 19);
            model::PackedMatrix pm;
            pm.K = K;
            pm.N = N;
            pm.buf = PoolBuffer<float>(pool, size_t(model::PackedMatrix::floatsFor(K, N)));
            model::packB(B.data(), transposed ? K : N, transposed, K, N, pm.buf.data());
            std::vector<float> C = C0;
            model::gemm(M, A.data(), K, pm, extras ? bias.data() : nullptr, C.data(), N, extras, 2);
            ++cases;
            double bad = 0;
            for (int64_t i = 0; i < M; ++i)
              for (int64_t n = 0; n < N; ++n) {
                double s = 0, mag = 0;
                for (int64_t k = 0; k < K; ++k) {
                  const double b = transposed ? B[n * K + k] : B[k * N + n];
                  s += double(A[i * K + k]) * b;
                  mag += std::fabs(double(A[i * K + k]) * b);
                }
                if (extras) {
                  s += double(bias[n]) + double(C0[i * N + n]);
                  mag += std::fabs(double(bias[n])) + std::fabs(double(C0[i * N + n]));
                }
                const double err = std::fabs(double(C[i * N + n]) - s) / (1e-5 * mag + 1e-30);
                if (!(err <= 1.0)) bad = std::max(bad, std::isfinite(err) ? err : 1e30);
                if (std::isfinite(err)) worst = std::max(worst, err);
              }
            if (bad > 0) {
              ++failures;
              std::printf(
                  "FAIL gemm %-7s M=%lld K=%lld N=%lld transposed=%d bias+acc=%d: error %.2f x tolerance\n",
                  simdLevelName(lv), (long long)M, (long long)K, (long long)N, int(transposed), int(extras),
                  bad);
            }
          }
        }
      }
    }
    std::printf("%s gemm   %-7s worst error %.3f x tolerance\n", failures == failuresBefore ? "ok  " : "FAIL",
                simdLevelName(lv), worst);
  }
  setSimdLevel(detectedSimdLevel());
  std::printf("gemm: %d cases, %d failures\n", cases, failures);
  return failures;
}

int checkDense() {
  int failures = 0, cases = 0;
  MemoryPool pool(hostAllocator(), true);
  struct Shape {
    int64_t n, b, h, kh;
    std::vector<int64_t> dims;
  };
  std::vector<Shape> shapes = {
      {1, 2, 4, 2, {32, 64, 128, 17}},
      {7, 2, 4, 2, {32, 64, 128, 40, 17}},
      {127, 2, 4, 2, {32, 64, 128, 40, 17}},
      {1000, 1, 2, 1, {32, 64, 128, 40}},
      {4096, 1, 2, 1, {64, 128}},
  };
  const char* onlyN = std::getenv("KB_ONLY_N");  // developer shortcut: one sequence length
  for (const Shape& s : shapes) {
    if (onlyN && std::atoll(onlyN) != s.n) continue;
    for (int64_t D : s.dims) {
      for (int causal = 0; causal < 2; ++causal) {
        AttentionProblem p;
        p.implementation = "flash";
        p.batch = s.b;
        p.heads = s.h;
        p.kvHeads = s.kh;
        p.seqLen = s.n;
        p.headDim = D;
        p.causal = causal;
        p.validateCommon();
        auto q = randn(p.qElements(), 1 + s.n * 7 + D);
        auto k = randn(p.kvElements(), 2 + s.n * 7 + D);
        auto v = randn(p.kvElements(), 3 + s.n * 7 + D);
        const auto ref = referenceAttention(p, q.data(), k.data(), v.data());
        for (SimdLevel lv : levels()) {
          setSimdLevel(lv);
          for (const char* impl : {"naive", "flash"}) {
            for (int threads : {1, 2}) {
              if (threads > ThreadPool::global().hardwareThreads()) continue;
              p.implementation = impl;
              uint64_t ws = 0;
              auto o = runKernel(p, q, k, v, threads, pool, &ws);
              auto kern = KernelRegistry::instance().create(impl, Device::CPU);
              const uint64_t bound = kern->workspaceBytes(p, threads);
              const Err e = compare(o, ref);
              const bool good = ok(e) && ws <= bound;
              ++cases;
              if (!good) ++failures;
              if (!good || (threads == 2 && lv == detectedSimdLevel()))
                std::printf(
                    "%-4s %-6s %-7s N=%-5lld D=%-3lld B=%lld H=%lld KH=%lld causal=%d thr=%d  maxAbs=%.2e relL2=%.2e ws=%llu/%llu\n",
                    good ? "ok" : "FAIL", impl, simdLevelName(lv), (long long)s.n, (long long)D,
                    (long long)s.b, (long long)s.h, (long long)s.kh, causal, threads, e.maxAbs, e.relL2,
                    (unsigned long long)ws, (unsigned long long)bound);
            }
          }
        }
        setSimdLevel(detectedSimdLevel());
      }
    }
  }
  std::printf("dense: %d cases, %d failures\n", cases, failures);
  return failures;
}

// attendBlock with arbitrary positions, several blocks accumulated, vs a float64 reference.
int checkAttendBlock() {
  int failures = 0, cases = 0;
  std::mt19937_64 g(7);
  for (SimdLevel lv : levels()) {
    setSimdLevel(lv);
    for (int64_t qRows : {1, 5, 16, 64, 100}) {
      for (int64_t kvRows : {1, 3, 37, 300}) {
        for (int64_t D : {1, 3, 8, 17, 32, 64, 128}) {
          for (int mode = 0; mode < 3; ++mode) {  // 0: no mask, 1: causal positions, 2: causal, sparse rows
            const int blocks = 2;
            const int64_t ld = D + 3;  // row strides larger than headDim
            auto q = randn(qRows * ld, g());
            std::vector<std::vector<float>> ks, vs;
            std::vector<std::vector<int64_t>> kp;
            std::vector<int64_t> qp(qRows);
            for (auto& x : qp)
              x = static_cast<int64_t>(g() % (mode == 2 ? 400 : 1000)) + (mode == 2 ? 0 : 50);
            for (int b = 0; b < blocks; ++b) {
              ks.push_back(randn(kvRows * ld, g()));
              vs.push_back(randn(kvRows * ld, g()));
              std::vector<int64_t> pos(kvRows);
              for (auto& x : pos) x = static_cast<int64_t>(g() % 1000) + (mode == 2 ? 300 : 0);
              kp.push_back(pos);
            }
            const float scale = 1.f / std::sqrt(static_cast<float>(D));
            std::vector<float> acc(qRows * D), mx(qRows), sm(qRows);
            OnlineSoftmaxState st{acc.data(), mx.data(), sm.data(), qRows, D};
            resetOnlineSoftmax(st);
            std::vector<float> scratch(attendBlockScratchFloats(qRows, kvRows, D) + 16, std::nanf(""));
            for (int b = 0; b < blocks; ++b) {
              BlockMask m;
              if (mode) {
                m.causal = true;
                m.qPos = qp.data();
                m.kPos = kp[b].data();
              }
              attendBlock(q.data(), ld, qRows, ks[b].data(), vs[b].data(), ld, kvRows, D, scale, m, st,
                          scratch.data());
            }
            std::vector<float> out(qRows * (D + 1)), lse(qRows);
            finalizeOnlineSoftmax(st, out.data(), D + 1, lse.data());
            // reference
            double worst = 0, num = 0, den = 0, lseErr = 0;
            bool finite = true;
            for (int64_t i = 0; i < qRows; ++i) {
              std::vector<double> s, w;
              std::vector<const float*> vr;
              double m = -INFINITY;
              for (int b = 0; b < blocks; ++b)
                for (int64_t j = 0; j < kvRows; ++j) {
                  if (mode && kp[b][j] > qp[i]) continue;
                  double d = 0;
                  for (int64_t x = 0; x < D; ++x) d += double(q[i * ld + x]) * ks[b][j * ld + x];
                  s.push_back(d * scale);
                  vr.push_back(&vs[b][j * ld]);
                  m = std::max(m, s.back());
                }
              double sum = 0;
              for (double x : s) sum += std::exp(x - m);
              for (int64_t x = 0; x < D; ++x) {
                double r = 0;
                for (size_t j = 0; j < s.size(); ++j) r += std::exp(s[j] - m) / sum * vr[j][x];
                const float got = out[i * (D + 1) + x];
                if (!std::isfinite(got)) finite = false;
                worst = std::max(worst, std::fabs(got - r));
                num += (got - r) * (got - r);
                den += r * r;
              }
              const double lr = s.empty() ? -INFINITY : m + std::log(sum);
              if (s.empty()) {
                if (!(std::isinf(lse[i]) && lse[i] < 0)) lseErr = 1;
              } else {
                lseErr = std::max(lseErr, std::fabs(lse[i] - lr));
              }
            }
            const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
            // relL2 is meaningless on a handful of outputs that cancel to ~0 (qRows * D < 64).
            const bool good = finite && worst <= 1e-4 && (rel <= 1e-5 || qRows * D < 64) && lseErr <= 1e-4;
            ++cases;
            if (!good) {
              ++failures;
              std::printf(
                  "FAIL attendBlock %s qRows=%lld kvRows=%lld D=%lld mode=%d maxAbs=%.2e relL2=%.2e lseErr=%.2e\n",
                  simdLevelName(lv), (long long)qRows, (long long)kvRows, (long long)D, mode, worst, rel,
                  lseErr);
            }
          }
        }
      }
    }
  }
  // Many small blocks (as ring/dilated feed it): 4096 keys in blocks of 4, no drift allowed.
  for (SimdLevel lv : levels()) {
    setSimdLevel(lv);
    const int64_t qRows = 16, D = 64, kvRows = 4, blocks = 1024, N = kvRows * blocks;
    auto q = randn(qRows * D, 11), k = randn(N * D, 12), v = randn(N * D, 13);
    std::vector<float> acc(qRows * D), mx(qRows), sm(qRows), out(qRows * D);
    OnlineSoftmaxState st{acc.data(), mx.data(), sm.data(), qRows, D};
    resetOnlineSoftmax(st);
    std::vector<float> scratch(attendBlockScratchFloats(qRows, kvRows, D));
    const float scale = 0.125f;
    for (int64_t b = 0; b < blocks; ++b)
      attendBlock(q.data(), D, qRows, k.data() + b * kvRows * D, v.data() + b * kvRows * D, D, kvRows, D,
                  scale, BlockMask{}, st, scratch.data());
    finalizeOnlineSoftmax(st, out.data(), D, nullptr);
    AttentionProblem p;
    p.implementation = "flash";
    p.heads = p.kvHeads = 1;
    p.seqLen = N;
    p.headDim = D;
    // Reference with N queries would be wasteful: compute the 16 rows directly.
    double worst = 0, num = 0, den = 0;
    for (int64_t i = 0; i < qRows; ++i) {
      std::vector<double> s(N);
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < N; ++j) {
        double d = 0;
        for (int64_t x = 0; x < D; ++x) d += double(q[i * D + x]) * k[j * D + x];
        s[j] = d * scale;
        m = std::max(m, s[j]);
      }
      for (auto& x : s) sum += (x = std::exp(x - m));
      for (int64_t x = 0; x < D; ++x) {
        double r = 0;
        for (int64_t j = 0; j < N; ++j) r += s[j] / sum * v[j * D + x];
        const double e = out[i * D + x] - r;
        worst = std::max(worst, std::fabs(e));
        num += e * e;
        den += r * r;
      }
    }
    const double rel = std::sqrt(num / den);
    ++cases;
    const bool good = worst <= 1e-4 && rel <= 1e-5;
    if (!good) ++failures;
    std::printf("%s attendBlock %s 1024 blocks of 4 keys: maxAbs=%.2e relL2=%.2e\n", good ? "ok  " : "FAIL",
                simdLevelName(lv), worst, rel);
  }
  setSimdLevel(detectedSimdLevel());
  std::printf("attendBlock: %d cases, %d failures\n", cases, failures);
  return failures;
}

// Thread pool: coverage of every task exactly once, worker ids in range, exception propagation,
// nested calls, many back-to-back tiny jobs (wake-up races); kernel cancellation.
int checkPoolAndCancel() {
  int failures = 0;
  ThreadPool& pool = ThreadPool::global();
  const int hw = pool.hardwareThreads();
  for (int rep = 0; rep < 20000; ++rep) {
    const int64_t tasks = 1 + rep % 37;
    const int threads = 1 + rep % std::max(1, hw);
    std::vector<std::atomic<int>> hit(static_cast<size_t>(tasks));
    for (auto& h : hit) h = 0;
    std::atomic<int> badWorker{0};
    pool.parallelFor(tasks, threads, [&](int64_t t, int w) {
      if (w < 0 || w >= threads) badWorker = 1;
      hit[static_cast<size_t>(t)]++;
    });
    for (auto& h : hit)
      if (h != 1) {
        ++failures;
        break;
      }
    if (badWorker) ++failures;
  }
  bool caught = false;
  try {
    pool.parallelFor(100, hw, [&](int64_t t, int) {
      if (t == 17) throw Error(ErrorCode::Internal, "boom");
    });
  } catch (const Error& e) {
    caught = e.code() == ErrorCode::Internal;
  }
  if (!caught) ++failures;
  std::atomic<int64_t> nested{0};
  pool.parallelFor(4, hw, [&](int64_t, int) {
    pool.parallelFor(5, hw, [&](int64_t, int w) {
      if (w == 0) nested++;
    });
  });
  if (nested != 20) ++failures;
  // Cancellation: a pre-cancelled token stops both kernels with Error(Cancelled).
  MemoryPool mp(hostAllocator(), true);
  for (const char* impl : {"naive", "flash"}) {
    AttentionProblem p;
    p.implementation = impl;
    p.seqLen = 256;
    p.heads = 2;
    p.kvHeads = 2;
    auto q = randn(p.qElements(), 1), k = randn(p.kvElements(), 2), v = randn(p.kvElements(), 3);
    std::vector<float> o(q.size());
    auto kern = KernelRegistry::instance().create(impl, Device::CPU);
    CancelToken tok;
    tok.cancel();
    Tensors t{q.data(), k.data(), v.data(), o.data()};
    ExecContext ctx;
    ctx.pool = &mp;
    ctx.threadPool = &pool;
    ctx.threads = hw;
    ctx.cancel = &tok;
    bool c = false;
    try {
      kern->run(p, t, ctx);
    } catch (const Error& e) {
      c = e.code() == ErrorCode::Cancelled;
    }
    if (!c) ++failures;
    if (mp.stats().bytesInUse != 0) ++failures;  // workspace returned on the exception path
  }
  std::printf("pool/cancel: %d failures\n", failures);
  return failures;
}

std::vector<int64_t> parseList(const char* s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::atoll(item.c_str()));
  return v;
}

int bench(int argc, char** argv) {
  std::string impl = "both", level = "best";
  std::vector<int64_t> ns = {1024, 2048, 4096, 8192};
  int threads = 2, iters = 3;
  int64_t batch = 1, heads = 8, kvheads = -1, d = 64;
  int causal = 0;
  bool withPeak = true;  // --peak 0: skip the peak (e.g. under perf stat, to count only kernel cycles)
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--impl") impl = v;
    else if (a == "--n") ns = parseList(v);
    else if (a == "--threads") threads = std::atoi(v);
    else if (a == "--batch") batch = std::atoll(v);
    else if (a == "--heads") heads = std::atoll(v);
    else if (a == "--kvheads") kvheads = std::atoll(v);
    else if (a == "--d") d = std::atoll(v);
    else if (a == "--causal") causal = std::atoi(v);
    else if (a == "--level") level = v;
    else if (a == "--iters") iters = std::atoi(v);
    else if (a == "--peak") withPeak = std::atoi(v) != 0;
  }
  if (kvheads < 0) kvheads = heads;
  std::vector<SimdLevel> lvls;
  if (level == "all") lvls = levels();
  else if (level == "generic") lvls = {SimdLevel::Generic};
  else if (level == "avx2") lvls = {SimdLevel::AVX2};
  else if (level == "avx512") lvls = {SimdLevel::AVX512};
  else if (level == "neon") lvls = {SimdLevel::NEON};
  else lvls = {detectedSimdLevel()};
  std::vector<std::string> impls =
      impl == "both" ? std::vector<std::string>{"flash", "naive"} : std::vector<std::string>{impl};
  MemoryPool pool(hostAllocator(), true);
  for (SimdLevel lv : lvls) {
    setSimdLevel(lv);
    PeakResult pk;
    pk.fmaGflops = 1;
    double corePeak = 0;
    if (withPeak) {
      pk = measureCpuPeak(threads, 1.0);
      corePeak = perCorePeakCpuTime();
    }
    std::printf(
        "[%s] peak: %.1f GFLOP/s FMA, %.1f GB/s triad on %d threads (wall); %.1f GFLOP/s per busy core\n",
        simdLevelName(lv), pk.fmaGflops, pk.streamGBps, threads, corePeak);
    for (const auto& im : impls) {
      for (int64_t n : ns) {
        AttentionProblem p;
        p.implementation = im;
        p.batch = batch;
        p.heads = heads;
        p.kvHeads = kvheads;
        p.seqLen = n;
        p.headDim = d;
        p.causal = causal;
        p.validateCommon();
        auto q = randn(p.qElements(), 1), k = randn(p.kvElements(), 2), v = randn(p.kvElements(), 3);
        std::vector<float> o(q.size());
        auto kern = KernelRegistry::instance().create(im, Device::CPU);
        Tensors t{q.data(), k.data(), v.data(), o.data()};
        ExecContext ctx;
        ctx.pool = &pool;
        ctx.threadPool = &ThreadPool::global();
        ctx.threads = threads;
        kern->run(p, t, ctx);  // warm-up
        std::vector<double> secs, cpus;
        for (int it = 0; it < iters; ++it) {
          auto t0 = std::chrono::steady_clock::now();
          const double c0 = cpuSeconds();
          kern->run(p, t, ctx);
          cpus.push_back(cpuSeconds() - c0);
          secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(cpus.begin(), cpus.end());
        const double busyGf = kern->counts(p).flops / cpus.front() / 1e9;  // per CPU-second = per busy core
        std::sort(secs.begin(), secs.end());
        const double best = secs.front(), med = secs[secs.size() / 2];
        const double gf = kern->counts(p).flops / med / 1e9;
        std::printf(
            "[%s] %-5s N=%-6lld B=%lld H=%lld KH=%lld D=%lld causal=%d thr=%d  median %.2f ms (best %.2f)  %.1f GFLOP/s  %.0f%% of peak | cpu-time: %.1f GFLOP/s/core = %.0f%% of core peak\n",
            simdLevelName(lv), im.c_str(), (long long)n, (long long)batch, (long long)heads,
            (long long)kvheads, (long long)d, causal, threads, med * 1e3, best * 1e3, gf,
            100.0 * gf / pk.fmaGflops, busyGf, corePeak > 0 ? 100.0 * busyGf / corePeak : 0.0);
        std::fflush(stdout);
      }
    }
  }
  setSimdLevel(detectedSimdLevel());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "check";
    std::printf("detected SIMD: %s, hardware threads: %d\n", simdLevelName(detectedSimdLevel()),
                ThreadPool::global().hardwareThreads());
    if (cmd == "check") {
      int f = checkPoolAndCancel();
      f += checkAttendBlock();
      f += checkGemm();
      f += checkDense();
      std::printf(f ? "CHECK FAILED\n" : "ALL CHECKS PASSED\n");
      return f ? 1 : 0;
    }
    if (cmd == "check-block") return checkAttendBlock() ? 1 : 0;
    if (cmd == "check-gemm") return checkGemm() ? 1 : 0;
    if (cmd == "bench") return bench(argc, argv);
    if (cmd == "peak") {
      const double s = argc > 2 ? std::atof(argv[2]) : 1.0;
      for (int t = 1; t <= ThreadPool::global().hardwareThreads(); ++t)
        for (SimdLevel lv : levels()) {
          setSimdLevel(lv);
          PeakResult r = measureCpuPeak(t, s);
          std::printf("threads=%d %-7s FMA %.1f GFLOP/s  triad %.1f GB/s\n", t, r.simdLevel, r.fmaGflops,
                      r.streamGBps);
        }
      return 0;
    }
    std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "error %s: %s\n", errorCodeName(e.code()), e.what());
    return 1;
  }
}
