// Developer harness for the attention family of issue 3 (not shipped):
//   family_check check            every family kernel vs its float64 reference (odd lengths,
//                                 FC_MAX_LEN=n keeps those <= n; causal and not, several pairs,
//                                 P = 1,2,3,8, zigzag, GQA, every block pattern), ring == flash, ring-dilated
//                                 == dilated, kv-cache == kv-cache-recompute, bad parameters, pattern cache
//   family_check dilated-scaling  dilated time over 16K..1M (fixed pairs), fitted exponent
//                                 [--max 1048576] [--heads 2] [--threads 2]
//   family_check kv-decode        kv-cache decode GB/s at caches >= 8K vs measured stream
//   family_check ring             ring telemetry sample (per-step per-rank ns, bytes)
//   family_check half             fp32 <-> fp16 / bf16 conversions: every SIMD level bit-exact
//                                 against the scalar definitions (all 16-bit patterns, fp32
//                                 patterns on a stride and dense around the rounding edges);
//                                 kv-cache / flash on half storage vs the float64 reference
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/errors.h"
#include "core/kernel.h"
#include "core/memory_pool.h"
#include "core/pattern_cache.h"
#include "core/session.h"
#include "core/thread_pool.h"
#include "cpu/convert_half.h"
#include "cpu/family.h"
#include "reference/reference_family.h"

using namespace dilbench;

namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& e : x) e = d(g);
  return x;
}

struct Inputs {
  std::vector<float> q, k, v;
};
Inputs makeInputs(const AttentionProblem& p) {
  return {randn(size_t(p.qElements()), p.seed), randn(size_t(p.kvElements()), p.seed + 1),
          randn(size_t(p.kvElements()), p.seed + 2)};
}

struct RunOut {
  std::vector<float> o;
  KernelTelemetry tel;
  double ns = 0;
  uint64_t peakPool = 0;
  uint64_t workspace = 0;
};

RunOut runKernel(const AttentionProblem& p, const Inputs& in, int threads, PatternCache* cache,
                 int iters = 1) {
  auto kernel = KernelRegistry::instance().create(p.implementation, Device::CPU);
  p.validateCommon();
  kernel->validate(p);
  MemoryPool pool(hostAllocator(), true);
  ExecContext ctx;
  ctx.pool = &pool;
  ctx.threadPool = &ThreadPool::global();
  ctx.threads = threads;
  ctx.patterns = cache;
  RunOut r;
  r.o.assign(size_t(p.qElements()), std::nanf(""));
  Tensors t{in.q.data(), in.k.data(), in.v.data(), r.o.data()};
  r.workspace = kernel->workspaceBytes(p, threads);
  double best = 1e300;
  for (int i = 0; i < iters; ++i) {
    pool.resetPeak();
    const auto t0 = std::chrono::steady_clock::now();
    kernel->run(p, t, ctx);
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  r.ns = best;
  r.peakPool = pool.stats().peakBytesInUse;
  if (auto* ts = dynamic_cast<const TelemetrySource*>(kernel.get())) r.tel = ts->telemetry();
  return r;
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
    const double d = double(o[i]) - ref[i];
    e.maxAbs = std::max(e.maxAbs, std::fabs(d));
    num += d * d;
    den += ref[i] * ref[i];
  }
  e.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (!e.finite) e.maxAbs = e.relL2 = INFINITY;
  return e;
}
Err compareF(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> bd(b.begin(), b.end());
  return compare(a, bd);
}

int failures = 0, cases = 0;
struct Worst {
  double maxAbs = 0, relL2 = 0;
  int n = 0;
};
std::vector<std::pair<std::string, Worst>> worst;
void record(const std::string& impl, const std::string& desc, const Err& e, double tolAbs = 1e-4,
            double tolRel = 1e-5) {
  ++cases;
  const bool ok = e.finite && e.maxAbs <= tolAbs && e.relL2 <= tolRel;
  if (!ok) {
    ++failures;
    std::printf("FAIL %-20s %-60s max %.3e rel %.3e\n", impl.c_str(), desc.c_str(), e.maxAbs, e.relL2);
  }
  auto it = std::find_if(worst.begin(), worst.end(), [&](auto& w) { return w.first == impl; });
  if (it == worst.end()) {
    worst.push_back({impl, {}});
    it = worst.end() - 1;
  }
  it->second.maxAbs = std::max(it->second.maxAbs, e.maxAbs);
  it->second.relL2 = std::max(it->second.relL2, e.relL2);
  it->second.n++;
}

std::string describe(const AttentionProblem& p) {
  char buf[256];
  std::string pairs;
  for (size_t i = 0; i < p.segmentLengths.size(); ++i) {
    pairs += std::to_string(p.segmentLengths[i]) + "/" + std::to_string(p.dilationRates[i]) + " ";
  }
  std::snprintf(buf, sizeof buf, "L=%lld B=%lld H=%lld KV=%lld D=%lld c=%d P=%lld %s%s bs=%lld",
                (long long)p.seqLen, (long long)p.batch, (long long)p.heads, (long long)p.kvHeads,
                (long long)p.headDim, int(p.causal), (long long)p.ringSize, pairs.c_str(),
                p.blockPattern.c_str(), (long long)p.blockSize);
  return buf;
}

void checkVsRef(const AttentionProblem& p, PatternCache* cache, RunOut* keep = nullptr,
                const Inputs* given = nullptr) {
  const Inputs in = given ? *given : makeInputs(p);
  RunOut r = runKernel(p, in, 2, cache);
  const auto ref = referenceFamily(p, in.q.data(), in.k.data(), in.v.data());
  record(p.implementation, describe(p), compare(r.o, ref));
  // The pool hands out size classes (up to +25% over the request): the bound must hold up to that.
  if (double(r.peakPool) > 1.25 * double(r.workspace) + 256.0) {
    ++failures;
    std::printf("FAIL %s workspace %llu < pool peak %llu (%s)\n", p.implementation.c_str(),
                (unsigned long long)r.workspace, (unsigned long long)r.peakPool, describe(p).c_str());
  }
  if (p.implementation == "block-sparse") {  // stats (closed form) vs brute force over the mask
    double pairs = 0;
    for (int64_t i = 0; i < p.seqLen; ++i)
      for (int64_t j = 0; j < p.seqLen; ++j)
        if ((!p.causal || j <= i) && blockSparseAllowed(p, i / p.blockSize, j / p.blockSize)) ++pairs;
    const BlockSparseStats st = blockSparseStats(p);
    const double want = 4.0 * double(p.headDim * p.batch * p.heads) * pairs;
    ++cases;
    if (st.flops != want || st.blocksComputed != r.tel.blocksComputed || st.sparsity != r.tel.sparsity) {
      ++failures;
      std::printf("FAIL block-sparse stats %s: flops %.0f vs %.0f, blocks %lld vs %lld\n",
                  describe(p).c_str(), st.flops, want, (long long)st.blocksComputed,
                  (long long)r.tel.blocksComputed);
    }
  }
  if (keep) *keep = std::move(r);
}

AttentionProblem base(const std::string& impl, int64_t L, bool causal, int64_t H = 4, int64_t KV = 2,
                      int64_t D = 64, int64_t B = 1) {
  AttentionProblem p;
  p.implementation = impl;
  p.seqLen = L;
  p.causal = causal;
  p.heads = H;
  p.kvHeads = KV;
  p.headDim = D;
  p.batch = B;
  p.seed = 1234 + uint64_t(L) * 7 + (causal ? 1 : 0);
  return p;
}

void expectInvalid(AttentionProblem p, const std::string& field) {
  ++cases;
  try {
    auto kernel = KernelRegistry::instance().create(p.implementation, Device::CPU);
    kernel->validate(p);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidConfig && e.field() == field) return;
    ++failures;
    std::printf("FAIL bad-param %s: got code %d field '%s' (%s), want %s\n", p.implementation.c_str(),
                int(e.code()), e.field().c_str(), e.what(), field.c_str());
    return;
  }
  ++failures;
  std::printf("FAIL bad-param %s: no error, want InvalidConfig on %s\n", p.implementation.c_str(),
              field.c_str());
}

int cmdCheck() {
  PatternCache cache;
  const std::vector<int64_t> lengths = {1, 7, 127, 1000};
  const std::vector<std::vector<std::pair<int64_t, int64_t>>> pairSets = {
      {},  // defaults (shrink to seqLen)
      {{4, 1}, {8, 2}, {16, 4}},
      {{5, 1}, {7, 3}},
      {{64, 1}, {128, 2}, {256, 4}},
      {{300, 1}, {1000, 8}},
  };
  auto setPairs = [](AttentionProblem& p, const std::vector<std::pair<int64_t, int64_t>>& ps) {
    p.segmentLengths.clear();
    p.dilationRates.clear();
    for (auto& pr : ps) {
      p.segmentLengths.push_back(pr.first);
      p.dilationRates.push_back(pr.second);
    }
  };
  // FC_MAX_LEN: only the lengths up to it (the emulated aarch64 run, scripts/check-arm64.sh).
  const char* maxLenEnv = std::getenv("FC_MAX_LEN");
  const int64_t maxLen = maxLenEnv ? std::atoll(maxLenEnv) : INT64_MAX;
  for (int64_t L : lengths) {
    if (L > maxLen) continue;
    for (bool causal : {false, true}) {
      // dilated, dilated-grouped (GQA 4/2; also 5 heads / 5 kv heads for the uneven groups)
      for (size_t si = 0; si < pairSets.size(); ++si) {
        bool valid = true;
        for (auto& pr : pairSets[si]) valid = valid && pr.second <= pr.first;
        if (!valid) continue;
        for (const char* impl : {"dilated", "dilated-grouped"}) {
          auto p = base(impl, L, causal);
          setPairs(p, pairSets[si]);
          checkVsRef(p, si % 2 ? &cache : nullptr);
          if (si == 1) {
            auto p5 = base(impl, L, causal, 5, 5, 32, 2);
            setPairs(p5, pairSets[si]);
            checkVsRef(p5, &cache);
          }
        }
      }
      // ring / ring-dilated, P = 1, 2, 3, 8
      for (int64_t P : {1, 2, 3, 8}) {
        if (P > L) continue;
        auto p = base("ring", L, causal);
        p.ringSize = P;
        RunOut ringOut;
        Inputs in = makeInputs(p);
        checkVsRef(p, nullptr, &ringOut, &in);
        if (P == 3 && causal) {  // zigzag telemetry sanity
          int64_t bytes = 0;
          for (auto& row : ringOut.tel.stepRankBytesSent)
            for (auto b : row) bytes += int64_t(b);
          if (!ringOut.tel.valid || ringOut.tel.stepRankNs.size() != size_t(P) || bytes <= 0) {
            ++failures;
            std::printf("FAIL ring telemetry\n");
          }
        }
        // ring == flash (fp32 vs fp32)
        auto pf = p;
        pf.implementation = "flash";
        RunOut flashOut = runKernel(pf, in, 2, nullptr);
        record("ring==flash", describe(p), compareF(ringOut.o, flashOut.o));
        for (size_t si : {size_t(1), size_t(3), size_t(4)}) {
          auto pd = base("ring-dilated", L, causal);
          pd.ringSize = P;
          setPairs(pd, pairSets[si]);
          RunOut rd;
          Inputs ind = makeInputs(pd);
          checkVsRef(pd, &cache, &rd, &ind);
          auto pdd = pd;
          pdd.implementation = "dilated";
          RunOut dd = runKernel(pdd, ind, 2, &cache);
          record("ring-dilated==dilated", describe(pd), compareF(rd.o, dd.o));
        }
      }
      // block-sparse, every pattern
      for (const char* pat : {"local", "strided", "dilated", "random"}) {
        for (int64_t bs : {16, 64}) {
          auto p = base("block-sparse", L, causal);
          p.blockPattern = pat;
          p.blockSize = bs;
          p.window = 3;
          p.stride = 2;
          p.density = 0.3;
          checkVsRef(p, nullptr);
          if (bs == 16 && L == 1000) {
            p.window = 5;
            p.stride = 3;
            p.density = 1.0;
            checkVsRef(p, nullptr);
          }
        }
      }
      // kv-cache and the recompute path: defaults and explicit splits
      for (int64_t nt : {int64_t(0), L, std::min<int64_t>(L, 5)}) {
        auto p = base("kv-cache", L, causal);
        p.newTokens = nt;
        RunOut cached;
        Inputs in = makeInputs(p);
        checkVsRef(p, nullptr, &cached, &in);
        auto pr = p;
        pr.implementation = "kv-cache-recompute";
        RunOut rec;
        checkVsRef(pr, nullptr, &rec, &in);
        record("kv-cache==recompute", describe(p), compareF(cached.o, rec.o));
      }
    }
  }
  // GQA with 8 query heads on one kv head, batch 2, head dim 128
  {
    auto p = base("kv-cache", 300, true, 8, 1, 128, 2);
    p.promptLen = 100;
    checkVsRef(p, nullptr);
    auto r = base("ring", 300, true, 8, 1, 128, 2);
    r.ringSize = 3;
    checkVsRef(r, nullptr);
    auto d = base("dilated", 300, true, 8, 1, 128, 2);
    d.segmentLengths = {32, 64};
    d.dilationRates = {1, 4};
    checkVsRef(d, &cache);
  }
  // kv-cache with a long prompt (split-K over several cache chunks)
  {
    auto p = base("kv-cache", 2600, true, 2, 1, 64, 1);
    p.newTokens = 4;
    checkVsRef(p, nullptr);
  }

  // bad parameters
  {
    auto d = base("dilated", 100, false);
    d.segmentLengths = {0, 8};
    d.dilationRates = {1, 2};
    expectInvalid(d, "segmentLengths");
    d.segmentLengths = {4, 8};
    d.dilationRates = {1, 9};
    expectInvalid(d, "dilationRates");
    d.dilationRates = {1};
    expectInvalid(d, "dilationRates");
    d.dilationRates = {1, 0};
    expectInvalid(d, "dilationRates");
    auto g = d;
    g.implementation = "dilated-grouped";
    expectInvalid(g, "dilationRates");
    auto r = base("ring", 10, false);
    r.ringSize = 11;
    expectInvalid(r, "ringSize");
    r.ringSize = 0;
    expectInvalid(r, "ringSize");
    auto rd = base("ring-dilated", 10, false);
    rd.ringSize = 11;
    expectInvalid(rd, "ringSize");
    auto b = base("block-sparse", 100, false);
    b.density = 0;
    expectInvalid(b, "density");
    b.density = 1.5;
    expectInvalid(b, "density");
    b.density = 0.5;
    b.blockSize = 0;
    expectInvalid(b, "blockSize");
    b.blockSize = 16;
    b.blockPattern = "diagonal";
    expectInvalid(b, "blockPattern");
    b.blockPattern = "local";
    b.window = 0;
    expectInvalid(b, "window");
    b.window = 2;
    b.stride = 0;
    expectInvalid(b, "stride");
    b.stride = 2;
    b.blockPattern = "random";
    b.seqLen = 20000;
    b.blockSize = 1;
    expectInvalid(b, "blockSize");  // random walks blocks^2: at most 16384 blocks
    b.blockPattern = "local";
    b.seqLen = int64_t(1) << 27;
    expectInvalid(b, "blockSize");  // analytic patterns: at most 2^26 blocks
    auto k = base("kv-cache", 100, true);
    k.promptLen = 60;
    k.newTokens = 50;
    expectInvalid(k, "promptLen");
    k.promptLen = 0;
    k.newTokens = 101;
    expectInvalid(k, "newTokens");
    k.newTokens = -1;
    expectInvalid(k, "newTokens");
    k.newTokens = 0;
    k.promptLen = 101;
    expectInvalid(k, "promptLen");
  }

  // cancellation: a cancelled token stops every family kernel with Error(Cancelled)
  for (const char* impl : {"dilated", "dilated-grouped", "ring", "ring-dilated", "block-sparse", "kv-cache",
                           "kv-cache-recompute"}) {
    auto p = base(impl, 300, true);
    p.ringSize = 3;
    Inputs in = makeInputs(p);
    auto kernel = KernelRegistry::instance().create(impl, Device::CPU);
    MemoryPool pool(hostAllocator(), true);
    CancelToken token;
    token.cancel();
    ExecContext ctx;
    ctx.pool = &pool;
    ctx.threadPool = &ThreadPool::global();
    ctx.threads = 2;
    ctx.cancel = &token;
    std::vector<float> o(size_t(p.qElements()));
    Tensors t{in.q.data(), in.k.data(), in.v.data(), o.data()};
    ++cases;
    bool ok = false;
    try {
      kernel->run(p, t, ctx);
    } catch (const Error& e) {
      ok = e.code() == ErrorCode::Cancelled;
    }
    if (!ok || pool.stats().bytesInUse != 0) {
      ++failures;
      std::printf("FAIL cancel %s\n", impl);
    }
  }
  // one thread gives the same output as two
  {
    auto p = base("ring-dilated", 777, true);
    p.ringSize = 3;
    p.segmentLengths = {64, 256};
    p.dilationRates = {1, 4};
    Inputs in = makeInputs(p);
    RunOut a = runKernel(p, in, 1, nullptr), b = runKernel(p, in, 2, nullptr);
    record("threads1==threads2", describe(p), compareF(a.o, b.o), 0.0, 0.0);
  }

  // pattern cache statistics and LRU
  {
    PatternCache c(1 << 20);
    auto a = c.get(1000, 100, 2, 0);
    auto a2 = c.get(1000, 100, 2, 0);
    auto b = c.get(1000, 100, 2, 1);
    auto s = c.stats();
    bool ok = s.hits == 1 && s.misses == 2 && s.entries == 2 && s.evictions == 0 &&
              std::fabs(s.hitRate - 1.0 / 3.0) < 1e-12 && s.bytes == a->bytes() + b->bytes() &&
              a.get() == a2.get() && a->positions.size() == 500;
    c.setCapacity(a->bytes() + 1);  // room for one
    s = c.stats();
    ok = ok && s.entries == 1 && s.evictions == 1;
    c.get(1000, 100, 2, 0);  // the evicted one was the LRU: a (b was used last)
    s = c.stats();
    ok = ok && s.misses == 3 && s.evictions == 2;
    auto big = c.get(1 << 20, 1 << 20, 1, 0);  // larger than capacity: returned, not cached
    s = c.stats();
    ok = ok && big->positions.size() == (1u << 20) && s.entries == 1;
    ++cases;
    if (!ok) {
      ++failures;
      std::printf("FAIL pattern cache stats\n");
    }
    const auto st = cache.stats();
    std::printf(
        "pattern cache during check: hits %llu misses %llu evictions %llu hit rate %.3f "
        "entries %llu bytes %llu\n",
        (unsigned long long)st.hits, (unsigned long long)st.misses, (unsigned long long)st.evictions,
        st.hitRate, (unsigned long long)st.entries, (unsigned long long)st.bytes);
  }

  std::printf("\n%-24s %6s %12s %12s\n", "kernel", "cases", "max abs", "rel L2");
  for (auto& w : worst) {
    std::printf("%-24s %6d %12.3e %12.3e\n", w.first.c_str(), w.second.n, w.second.maxAbs, w.second.relL2);
  }
  std::printf("\n%d cases, %d failures\n", cases, failures);
  return failures ? 1 : 0;
}

int intArg(int argc, char** argv, const char* name, int def) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return def;
}

int cmdDilatedScaling(int argc, char** argv) {
  const int64_t maxL = intArg(argc, argv, "--max", 1 << 20);
  const int threads = intArg(argc, argv, "--threads", 2);
  const int64_t heads = intArg(argc, argv, "--heads", 2);
  const int causal = intArg(argc, argv, "--causal", 0);
  PatternCache cache;
  std::vector<double> xs, ys;
  std::printf(
      "dilated, fixed pairs w 512,1024,2048 r 1,2,4, heads %lld, D 64, threads %d, "
      "causal %d\n",
      (long long)heads, threads, causal);
  for (int64_t L = 16384; L <= maxL; L *= 4) {
    AttentionProblem p = base("dilated", L, causal != 0, heads, heads, 64, 1);
    p.segmentLengths = {512, 1024, 2048};
    p.dilationRates = {1, 2, 4};
    Inputs in = makeInputs(p);
    auto kernel = KernelRegistry::instance().create("dilated", Device::CPU);
    const double flops = kernel->counts(p).flops;
    RunOut r = runKernel(p, in, threads, &cache, L >= (1 << 19) ? 2 : 3);
    std::printf("  L=%8lld  %10.2f ms  %7.1f GFLOP/s  %6.1f ns/token/head\n", (long long)L, r.ns / 1e6,
                flops / r.ns, r.ns / double(L * heads));
    xs.push_back(std::log(double(L)));
    ys.push_back(std::log(r.ns));
  }
  const double n = double(xs.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i];
  }
  const double k = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  std::printf("fitted exponent (time ~ L^k): k = %.3f  (%s 1.15)\n", k, k <= 1.15 ? "<=" : ">");
  return k <= 1.15 ? 0 : 1;
}

int cmdKvDecode(int argc, char** argv) {
  const int threads = intArg(argc, argv, "--threads", 2);
  const PeakResult peak = measureCpuPeak(threads, 1.0);
  std::printf("measured stream %.1f GB/s, FMA %.1f GFLOP/s (threads %d, %s)\n", peak.streamGBps,
              peak.fmaGflops, peak.threads, peak.simdLevel);
  for (int64_t cacheLen : {8192, 16384, 32768}) {
    AttentionProblem p = base("kv-cache", cacheLen + 32, true, 8, 8, 64, 1);
    p.promptLen = cacheLen;
    p.newTokens = 32;
    Inputs in = makeInputs(p);
    double bestGBps = 0;
    for (int it = 0; it < 3; ++it) {
      RunOut r = runKernel(p, in, threads, nullptr);
      bestGBps = std::max(bestGBps, r.tel.decodeBytes / r.tel.decodeNs);
    }
    std::printf("  cache %6lld: decode %.1f GB/s = %.0f%% of stream\n", (long long)cacheLen, bestGBps,
                100.0 * bestGBps / peak.streamGBps);
  }
  return 0;
}

int cmdRing() {
  AttentionProblem p = base("ring", 8192, true, 8, 8, 64, 1);
  p.ringSize = 4;
  Inputs in = makeInputs(p);
  RunOut r = runKernel(p, in, 2, nullptr);
  std::printf("ring L=8192 causal zigzag P=4: total %.2f ms\n", r.ns / 1e6);
  for (size_t s = 0; s < r.tel.stepRankNs.size(); ++s) {
    std::printf("  step %zu:", s);
    for (size_t k = 0; k < r.tel.stepRankNs[s].size(); ++k) {
      std::printf("  r%zu %.2f ms %.2f MB", k, r.tel.stepRankNs[s][k] / 1e6,
                  r.tel.stepRankBytesSent[s][k] / 1e6);
    }
    std::printf("\n");
  }
  return 0;
}

// fp32 <-> fp16 / bf16: every level against the scalar definitions, bit for bit (NaN payloads,
// signed zeros and subnormals included), then the half-storage kernels against the reference.
int cmdHalf() {
  using namespace dilbench::cpu;
  int bad = 0;
  size_t checked = 0;
  auto fail = [&](const char* what, SimdLevel lvl, uint32_t in, uint32_t got, uint32_t want) {
    if (bad++ < 20)
      std::printf("FAIL %s @%s: input 0x%08x got 0x%08x want 0x%08x\n", what, simdLevelName(lvl), in, got,
                  want);
  };
  std::vector<uint16_t> h(65536 + 13);  // + a tail that is not a multiple of any vector width
  for (size_t i = 0; i < h.size(); ++i) h[i] = uint16_t(i);
  std::vector<float> x;
  for (uint64_t b = 0; b < (1ull << 32); b += 4093) x.push_back(bitsFloat(uint32_t(b)));
  auto dense = [&](uint32_t lo, uint32_t hi) {
    for (uint32_t b = lo; b < hi; ++b) {
      x.push_back(bitsFloat(b));
      x.push_back(bitsFloat(b | 0x80000000u));
    }
  };
  dense(0x33000000u - 4096, 0x33000000u + 4096);  // 2^-25: half of the smallest fp16 subnormal
  dense(0x387FC000u, 0x38804000u);                // 2^-14: the fp16 subnormal / normal edge
  dense(0x477FE000u - 4096, 0x47800000u + 4096);  // 65504 .. 65536: fp16 overflow
  dense(0x7F7F0000u, 0x7F800100u);                // bf16 overflow, Inf, NaN payloads
  dense(0x00000000u, 0x00001000u);                // zeros and fp32 subnormals
  x.push_back(bitsFloat(0x7FFFFFFFu));
  for (SimdLevel lvl : {SimdLevel::Generic, SimdLevel::AVX2, SimdLevel::AVX512, SimdLevel::NEON}) {
    if (!simdLevelSupported(lvl)) {
      std::printf("half: level %s not on this CPU, skipped\n", simdLevelName(lvl));
      continue;
    }
    const ConvertOps& o = convertOpsFor(lvl);
    std::vector<float> f(h.size());
    o.f16ToF32(f.data(), h.data(), h.size());
    for (size_t i = 0; i < h.size(); ++i)
      if (floatBits(f[i]) != floatBits(f16ToF32Scalar(h[i])))
        fail("fp16->fp32", lvl, h[i], floatBits(f[i]), floatBits(f16ToF32Scalar(h[i])));
    o.bf16ToF32(f.data(), h.data(), h.size());
    for (size_t i = 0; i < h.size(); ++i)
      if (floatBits(f[i]) != floatBits(bf16ToF32Scalar(h[i])))
        fail("bf16->fp32", lvl, h[i], floatBits(f[i]), floatBits(bf16ToF32Scalar(h[i])));
    std::vector<uint16_t> r(x.size());
    o.f32ToF16(r.data(), x.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i)
      if (r[i] != f32ToF16Scalar(x[i])) fail("fp32->fp16", lvl, floatBits(x[i]), r[i], f32ToF16Scalar(x[i]));
    o.f32ToBf16(r.data(), x.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i)
      if (r[i] != f32ToBf16Scalar(x[i]))
        fail("fp32->bf16", lvl, floatBits(x[i]), r[i], f32ToBf16Scalar(x[i]));
    checked += 2 * (h.size() + x.size());
  }
  // the scalar definitions at known points (IEEE 754 binary16; bfloat16 = top half of binary32)
  const struct {
    float in;
    uint16_t f16, bf16;
  } known[] = {
      {1.0f, 0x3C00, 0x3F80},           {-2.0f, 0xC000, 0xC000},          {65504.0f, 0x7BFF, 0x4780},
      {65520.0f, 0x7C00, 0x4780},       {-0.0f, 0x8000, 0x8000},          {0x1p-24f, 0x0001, 0x3380},
      {0x1p-25f, 0x0000, 0x3300},       {0x1.8p-24f, 0x0002, 0x33C0},     {1.0f + 0x1p-11f, 0x3C00, 0x3F80},
      {1.0f + 0x1p-8f, 0x3C04, 0x3F80}, {1.0f + 0x3p-8f, 0x3C0C, 0x3F82}, {INFINITY, 0x7C00, 0x7F80},
  };
  for (const auto& k : known) {
    ++checked;
    if (f32ToF16Scalar(k.in) != k.f16 || f32ToBf16Scalar(k.in) != k.bf16) {
      ++bad;
      std::printf("FAIL scalar %a: fp16 0x%04x (want 0x%04x) bf16 0x%04x (want 0x%04x)\n", double(k.in),
                  f32ToF16Scalar(k.in), k.f16, f32ToBf16Scalar(k.in), k.bf16);
    }
  }
  ++checked;
  if (!std::isnan(f16ToF32Scalar(f32ToF16Scalar(std::nanf("")))) ||
      !std::isnan(bf16ToF32Scalar(f32ToBf16Scalar(bitsFloat(0x7F800001u))))) {
    ++bad;
    std::printf("FAIL NaN not preserved\n");
  }
  std::printf("half conversions: %zu values checked, %d mismatches\n", checked, bad);
  failures += bad;

  // kernels on half storage: inputs rounded first (what a session stores), reference on them
  for (DType dt : {DType::F16, DType::BF16}) {
    const double u = dt == DType::F16 ? 0x1p-11 : 0x1p-8;
    for (const char* impl : {"flash", "naive", "kv-cache"}) {
      for (int64_t D : {40, 128}) {
        auto p = base(impl, 700, true, 4, 2, D, 1);
        p.dtype = dt;
        if (std::strcmp(impl, "kv-cache") == 0) p.newTokens = 20;
        Inputs in = makeInputs(p);
        auto roundAll = [&](std::vector<float>& v, std::vector<uint16_t>& store) {
          store.resize(v.size());
          convertFromF32(store.data(), v.data(), v.size(), dt);
          convertToF32(v.data(), store.data(), v.size(), dt);
        };
        std::vector<uint16_t> qs, ks, vs;
        roundAll(in.q, qs);
        roundAll(in.k, ks);
        roundAll(in.v, vs);
        auto kernel = KernelRegistry::instance().create(impl, Device::CPU);
        MemoryPool pool(hostAllocator(), true);
        ExecContext ctx;
        ctx.pool = &pool;
        ctx.threadPool = &ThreadPool::global();
        ctx.threads = 2;
        std::vector<uint16_t> os(size_t(p.qElements()));
        Tensors t{qs.data(), ks.data(), vs.data(), os.data()};
        kernel->run(p, t, ctx);
        std::vector<float> o(os.size());
        convertToF32(o.data(), os.data(), os.size(), dt);
        AttentionProblem pr = p;
        pr.dtype = DType::F32;
        const auto ref = hasFamilyReference(impl) ? referenceFamily(pr, in.q.data(), in.k.data(), in.v.data())
                                                  : referenceDense(pr, in.q.data(), in.k.data(), in.v.data());
        // output rounding (u) on top of the fp32 tolerance; see test/native/native-half.test.ts
        record(std::string(impl) + "/" + dtypeName(dt), describe(p), compare(o, ref), 1e-4 + u * 8.0,
               u + 1.1e-5);
        ++cases;
        if (pool.stats().peakBytesInUse != kernel->workspaceBytes(p, 2)) {
          ++failures;
          std::printf("FAIL %s/%s pool peak %llu != workspace %llu\n", impl, dtypeName(dt),
                      (unsigned long long)pool.stats().peakBytesInUse,
                      (unsigned long long)kernel->workspaceBytes(p, 2));
        }
      }
    }
  }
  std::printf("\n%-24s %6s %12s %12s\n", "kernel", "cases", "max abs", "rel L2");
  for (auto& w : worst) {
    std::printf("%-24s %6d %12.3e %12.3e\n", w.first.c_str(), w.second.n, w.second.maxAbs, w.second.relL2);
  }
  std::printf("\n%d cases, %d failures\n", cases, failures);
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "check";
  // The kernels below run at the active level (DILBENCH_SIMD caps it); say which.
  std::printf("SIMD level: %s (detected %s)\n", simdLevelName(activeSimdLevel()),
              simdLevelName(detectedSimdLevel()));
  try {
    if (cmd == "check") return cmdCheck();
    if (cmd == "dilated-scaling") return cmdDilatedScaling(argc, argv);
    if (cmd == "kv-decode") return cmdKvDecode(argc, argv);
    if (cmd == "ring") return cmdRing();
    if (cmd == "half") return cmdHalf();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "usage: family_check check|dilated-scaling|kv-decode|ring|half\n");
  return 2;
}
