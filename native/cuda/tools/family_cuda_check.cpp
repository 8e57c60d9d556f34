// family_cuda_check: the CUDA family kernels' index maths and arithmetic, run on the CPU.
// Built with g++ (no nvcc, no GPU): it includes native/cuda/family_cuda_math.cuh, whose
// __host__ __device__ functions decide on the GPU which query rows each CTA owns, which key
// tiles it visits, the masks, the online-softmax rescaling and the lse merge, and runs them over
// every query row of every launch that native/cuda/family_cuda_problem.h plans for a problem,
// exactly as family_cuda.cu sequences them (key tiles of 32, fp32 arithmetic, fmaf dot products
// in the kernel's order, fp16 / bf16 rounding of inputs and outputs). It then checks
//   * structure: query rows in range and owned by at most one task per launch, the rows each
//     launch covers = the rows the definition selects, key tiles ascending and in range, and for
//     sampled rows the key set visited across all launches = the definition's (each key once);
//   * numbers: the emulated output against the float64 references (attention-definitions.md
//     tolerances per dtype) and against the CPU kernels (fp32);
//   * counts: allowed (query, key) pairs visited * 4 * headDim = the kernels' flops;
//   * parity of the host helpers with the CPU kernels: PatternCache patterns, ring chunks, the
//     block mask and key-block lists, ring / ring-dilated bytes sent, head groups;
//   * work per token of dilated at 128K..1M (linear in seqLen), by counting tiles.
// What it cannot check: the warp-level code (shuffles, shared memory, barriers), launch geometry
// limits on a real device, and the device's exp2f / log2f (a few ulp from the host's).
//
//   family_cuda_check [--quick]      exit 1 on any failure
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/kernel.h"
#include "core/memory_pool.h"
#include "core/pattern_cache.h"
#include "core/thread_pool.h"
#include "cpu/convert_half.h"  // the scalar fp16 / bf16 round-to-nearest-even converters
#include "cpu/family.h"
#include "cuda/family_cuda_math.cuh"
#include "cuda/family_cuda_plan.h"
#include "cuda/family_cuda_problem.h"
#include "reference/reference_family.h"

using namespace dilbench;
namespace fm = dilbench::cuda::family_math;
using cuda::FamilyLaunch;

namespace {

int failures = 0;
long long checks = 0;

void fail(const std::string& what) {
  ++failures;
  if (failures <= 60) std::printf("FAIL %s\n", what.c_str());
}
void expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) fail(what);
}

// ---- dtype rounding as the device does it (round to nearest even) ----------------------------
float roundTo(float x, DType t) {
  if (t == DType::F16) return cpu::f16ToF32Scalar(cpu::f32ToF16Scalar(x));
  if (t == DType::BF16) return cpu::bf16ToF32Scalar(cpu::f32ToBf16Scalar(x));
  return x;
}

std::vector<float> randn(size_t n, uint64_t seed, DType t) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& e : x) e = roundTo(d(g), t);
  return x;
}

std::string describe(const AttentionProblem& p) {
  std::string pairs;
  for (size_t i = 0; i < p.segmentLengths.size(); ++i)
    pairs += std::to_string(p.segmentLengths[i]) + "/" + std::to_string(p.dilationRates[i]) + " ";
  char buf[320];
  std::snprintf(
      buf, sizeof buf,
      "%s %s L=%lld B=%lld H=%lld/%lld D=%lld causal=%d P=%lld pairs=[%s] %s bs=%lld w=%lld s=%lld dens=%.2f",
      p.implementation.c_str(), dtypeName(p.dtype), (long long)p.seqLen, (long long)p.batch,
      (long long)p.heads, (long long)p.kvHeads, (long long)p.headDim, int(p.causal), (long long)p.ringSize,
      pairs.c_str(), p.blockPattern.c_str(), (long long)p.blockSize, (long long)p.window, (long long)p.stride,
      p.density);
  return buf;
}

// ---- the emulator ---------------------------------------------------------------------------

struct Emulated {
  std::vector<float> out;
  double allowedPairs = 0;  // (query, key) pairs that entered a softmax, all launches
  double tiles = 0;         // key tiles visited by all CTAs (the device's work unit)
};

// One launch over every (batch, head, task), as familyAttentionKernel computes it.
void emulateLaunch(const FamilyLaunch& L, int64_t launchId, const float* q, const float* k, const float* v,
                   float* acc, float* lse, float* out, DType dtype, std::vector<int64_t>& stamp, Emulated& em,
                   const std::string& desc) {
  const int64_t D = L.headDim, n = L.seqLen;
  std::vector<fm::Span> tiles;
  std::vector<float> qsc(static_cast<size_t>(D)), a(static_cast<size_t>(D));
  float sc[fm::kKeyTile], pj[fm::kKeyTile];
  for (int64_t y = 0; y < L.batch * L.headCount; ++y) {
    const int64_t b = y / L.headCount, h = L.headBegin + y % L.headCount;
    const int64_t bhq = b * L.heads + h, bhk = b * L.kvHeads + h / (L.heads / L.kvHeads);
    for (int64_t task = 0; task < L.tasks; ++task) {
      fm::Span qs;
      if (!fm::queryTile(L, task, h, qs)) continue;
      if (qs.count < 1 || qs.count > L.tileRows || qs.base < 0 || qs.last() >= n || qs.stride < 1) {
        fail("query tile out of range: " + desc);
        continue;
      }
      tiles.clear();
      fm::KeyTiles it;
      fm::Span kt;
      int64_t prev = -1;
      while (fm::nextKeyTile(L, task, h, qs.last(), it, kt)) {
        if (kt.count < 1 || kt.count > fm::kKeyTile || kt.base <= prev || kt.last() >= n || kt.stride < 1) {
          fail("key tile out of range or not ascending: " + desc);
          break;
        }
        prev = kt.last();
        tiles.push_back(kt);
      }
      em.tiles += double(tiles.size());
      for (int64_t lrow = 0; lrow < qs.count; ++lrow) {
        const int64_t qpos = qs.pos(lrow);
        const float* qr = q + (bhq * n + qpos) * D;
        for (int64_t d = 0; d < D; ++d) qsc[size_t(d)] = qr[d] * L.scaleLog2;
        float m = -INFINITY, l = 0.f;
        std::fill(a.begin(), a.end(), 0.f);
        for (const fm::Span& t : tiles) {
          float mx = -INFINITY;
          for (int j = 0; j < fm::kKeyTile; ++j) {
            float s = 0.f;
            if (j < t.count) {
              const float* kr = k + (bhk * n + t.pos(j)) * D;
              for (int64_t d = 0; d < D; ++d) s = std::fmaf(qsc[size_t(d)], kr[d], s);
            }
            if (!fm::keyAllowed(j, t, qpos, L.causal)) {
              s = -INFINITY;
            } else {
              em.allowedPairs += 1;
            }
            sc[j] = s;
            mx = std::max(mx, s);
          }
          float mNew, base, alpha;
          fm::onlineRescale(m, mx, mNew, base, alpha);
          m = mNew;
          float sum = 0.f;
          for (int j = 0; j < fm::kKeyTile; ++j) sum += (pj[j] = exp2f(sc[j] - base));
          l = l * alpha + sum;
          for (int64_t d = 0; d < D; ++d) a[size_t(d)] *= alpha;
          for (int j = 0; j < t.count; ++j) {  // rows past count are zeros on the device
            const float* vr = v + (bhk * n + t.pos(j)) * D;
            for (int64_t d = 0; d < D; ++d) a[size_t(d)] = std::fmaf(pj[j], vr[d], a[size_t(d)]);
          }
        }
        const int64_t row = bhq * n + qpos;
        if (stamp[size_t(row)] == launchId) {
          fail("row owned by two tasks of one launch: " + desc);
          continue;
        }
        stamp[size_t(row)] = launchId;
        if (!L.mergeIntoAccumulator) {
          const float inv = l > 0.f ? 1.f / l : 0.f;
          for (int64_t d = 0; d < D; ++d) out[row * D + d] = roundTo(a[size_t(d)] * inv, dtype);
          continue;
        }
        if (!(l > 0.f)) continue;
        float cOld, cNew, lseOut;
        if (!fm::mergeCoefficients(lse[row], m + log2f(l), cOld, cNew, lseOut)) continue;
        const float inv = 1.f / l;
        for (int64_t d = 0; d < D; ++d)
          acc[row * D + d] = acc[row * D + d] * cOld + a[size_t(d)] * inv * cNew;
        lse[row] = lseOut;
      }
    }
  }
}

// Every launch of p's plan, begin / launches / finish as family_kernels_cuda.cpp runs them.
Emulated emulate(const AttentionProblem& p, const std::vector<float>& q, const std::vector<float>& k,
                 const std::vector<float>& v) {
  const std::vector<FamilyLaunch> launches = cuda::familyLaunches(p);
  const std::string desc = describe(p);
  Emulated em;
  const int64_t rows = p.batch * p.heads * p.seqLen;
  std::vector<float> acc(size_t(p.qElements()), 0.f), lse(size_t(rows), -INFINITY);
  em.out.assign(size_t(p.qElements()), std::nanf(""));  // unwritten rows show up as NaN
  std::vector<int64_t> stamp(size_t(rows), -1);
  bool merged = false;
  for (size_t i = 0; i < launches.size(); ++i) {
    if (const char* e = cuda::checkFamilyLaunch(launches[i])) {
      fail(std::string("planned launch rejected (") + e + "): " + desc);
      continue;
    }
    merged = merged || launches[i].mergeIntoAccumulator;
    emulateLaunch(launches[i], int64_t(i), q.data(), k.data(), v.data(), acc.data(), lse.data(),
                  em.out.data(), p.dtype, stamp, em, desc);
  }
  if (merged)
    for (size_t i = 0; i < acc.size(); ++i) em.out[i] = roundTo(acc[i], p.dtype);
  return em;
}

// ---- comparisons ----------------------------------------------------------------------------

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

std::map<std::string, Err> worst;  // per "impl dtype"
void note(const std::string& key, const Err& e) {
  Err& w = worst[key];
  w.maxAbs = std::max(w.maxAbs, e.maxAbs);
  w.relL2 = std::max(w.relL2, e.relL2);
}

struct CpuRun {
  std::vector<float> o;
  KernelTelemetry tel;
  double flops = 0;
};
CpuRun runCpu(const AttentionProblem& p, const std::vector<float>& q, const std::vector<float>& k,
              const std::vector<float>& v) {
  AttentionProblem c = p;
  c.device = Device::CPU;
  c.dtype = DType::F32;
  auto kernel = KernelRegistry::instance().create(c.implementation, Device::CPU);
  c.validateCommon();
  kernel->validate(c);
  MemoryPool pool(hostAllocator(), true);
  PatternCache cache;
  ExecContext ctx;
  ctx.pool = &pool;
  ctx.threadPool = &ThreadPool::global();
  ctx.threads = 2;
  ctx.patterns = &cache;
  CpuRun r;
  r.o.assign(size_t(c.qElements()), std::nanf(""));
  Tensors t{q.data(), k.data(), v.data(), r.o.data()};
  kernel->run(c, t, ctx);
  if (auto* ts = dynamic_cast<const TelemetrySource*>(kernel.get())) r.tel = ts->telemetry();
  r.flops = kernel->counts(c).flops;
  return r;
}

double tolRel(DType t) { return t == DType::BF16 ? 1e-2 : t == DType::F16 ? 2e-3 : 1e-5; }

// Emulates p, compares with the float64 reference (doc tolerances), the CPU kernel (fp32) and
// the counts; ring kernels: also their bytes-sent telemetry against the CPU kernel's.
void checkCase(const AttentionProblem& p) {
  const std::string desc = describe(p);
  const auto q = randn(size_t(p.qElements()), p.seed, p.dtype);
  const auto k = randn(size_t(p.kvElements()), p.seed + 1, p.dtype);
  const auto v = randn(size_t(p.kvElements()), p.seed + 2, p.dtype);
  const Emulated em = emulate(p, q, k, v);
  AttentionProblem rp = p;
  rp.device = Device::CPU;
  const std::vector<double> ref = referenceFamily(rp, q.data(), k.data(), v.data());
  const Err e = compare(em.out, ref);
  note(p.implementation + " " + dtypeName(p.dtype) + " vs float64", e);
  const bool ok = e.finite && e.relL2 <= tolRel(p.dtype) && (p.dtype != DType::F32 || e.maxAbs <= 1e-4);
  char buf[128];
  std::snprintf(buf, sizeof buf, " (relL2 %.3e, maxAbs %.3e)", e.relL2, e.maxAbs);
  expect(ok, "vs float64 reference" + std::string(buf) + ": " + desc);
  const double flops = cuda::familyFlops(p);
  expect(em.allowedPairs * 4.0 * double(p.headDim) == flops,
         "visited pairs * 4D (" + std::to_string(em.allowedPairs * 4.0 * double(p.headDim)) + ") != flops (" +
             std::to_string(flops) + "): " + desc);
  if (p.dtype != DType::F32) return;
  const CpuRun cpu = runCpu(p, q, k, v);
  std::vector<double> cpuD(cpu.o.begin(), cpu.o.end());
  const Err c = compare(em.out, cpuD);
  note(p.implementation + " fp32 vs CPU kernel", c);
  expect(c.finite && c.maxAbs <= 2e-4 && c.relL2 <= 2e-5, "vs CPU kernel: " + desc);
  expect(cpu.flops == flops, "CPU counts().flops differ: " + desc);
  if (p.implementation == "ring" || p.implementation == "ring-dilated") {
    const int64_t P = p.ringSize;
    const cuda::FamilyShape s = cuda::familyShape(p);
    std::vector<uint64_t> perSrc(static_cast<size_t>(P));
    if (p.implementation == "ring") {
      for (int64_t r = 0; r < P; ++r)
        perSrc[size_t(r)] = 2ull * uint64_t(p.batch * p.kvHeads) *
                            uint64_t(cuda::ringRankRows(p.seqLen, P, p.causal, r)) * uint64_t(p.headDim) * 4;
    } else {
      const auto rows = cuda::ringDilatedSendRows(s, cuda::familyPairs(p), P);
      for (int64_t r = 0; r < P; ++r)
        perSrc[size_t(r)] = 2ull * uint64_t(p.batch) * rows[size_t(r)] * uint64_t(p.headDim) * 4;
    }
    bool same = cpu.tel.ringSize == P;
    for (int64_t t = 0; same && t < P; ++t)
      for (int64_t r = 0; r < P; ++r) {
        const uint64_t want = t + 1 < P ? perSrc[size_t(((r - t) % P + P) % P)] : 0;
        if (cpu.tel.stepRankBytesSent[size_t(t)][size_t(r)] != want) same = false;
      }
    expect(same, "bytes sent per (step, rank) differ from the CPU kernel's: " + desc);
  }
}

// ---- structural checks (index level, no arithmetic) ------------------------------------------

// For every launch: the rows its tasks own = the rows the definition selects for it; for sampled
// rows, the keys visited across all launches of one (pair or ring) = the definition's keys.
void checkCoverage(const AttentionProblem& p, int64_t sampleRows) {
  const std::string desc = describe(p);
  const std::vector<FamilyLaunch> launches = cuda::familyLaunches(p);
  const int64_t L = p.seqLen;
  const bool grouped = p.implementation == "dilated-grouped";
  const auto dpairs = p.implementation == "ring" || p.implementation == "block-sparse"
                          ? std::vector<DilatedPair>{}
                          : resolveDilatedPairs(p);
  // Rows each launch covers, per head (batch does not change the structure).
  for (const FamilyLaunch& l : launches) {
    for (int64_t h = l.headBegin; h < l.headBegin + l.headCount; ++h) {
      std::vector<int64_t> got;
      for (int64_t task = 0; task < l.tasks; ++task) {
        fm::Span qs;
        if (!fm::queryTile(l, task, h, qs)) continue;
        for (int64_t i = 0; i < qs.count; ++i) got.push_back(qs.pos(i));
      }
      std::sort(got.begin(), got.end());
      expect(std::adjacent_find(got.begin(), got.end()) == got.end(), "a row owned twice: " + desc);
      std::vector<int64_t> want;
      if (l.kind == fm::kDilated || l.kind == fm::kRingDilated) {
        const int64_t off = fm::headOffset(l, h);
        auto pat = PatternCache::build(L, l.w, l.r, off);
        const int64_t segs = int64_t(pat->segmentStart.size()) - 1;
        for (int64_t sg = 0; sg < segs; ++sg) {
          if (l.kind == fm::kRingDilated) {
            // CPU ring-dilated: segments overlapping both chunks, rows inside the query chunk.
            if (l.qEnd[0] <= l.qBegin[0] || l.kEnd[0] <= l.kBegin[0]) continue;
            const int64_t sFirst = std::max(l.qBegin[0], l.kBegin[0]) / l.w;
            const int64_t sLast = std::min(l.qEnd[0] - 1, l.kEnd[0] - 1) / l.w;
            if (sg < sFirst || sg > sLast) continue;
          }
          for (int64_t i = pat->segmentStart[size_t(sg)]; i < pat->segmentStart[size_t(sg) + 1]; ++i) {
            const int64_t pos = pat->positions[size_t(i)];
            if (l.kind == fm::kRingDilated && (pos < l.qBegin[0] || pos >= l.qEnd[0])) continue;
            want.push_back(pos);
          }
        }
      } else if (l.kind == fm::kRing) {
        for (const RowRange& c : ringRankChunks(L, p.ringSize, p.causal, l.rank))
          for (int64_t i = c.begin; i < c.end; ++i) want.push_back(i);
        std::sort(want.begin(), want.end());
      } else {
        for (int64_t i = 0; i < L; ++i) want.push_back(i);
      }
      expect(got == want, "rows covered by a launch != the definition's: " + desc);
    }
  }
  // Keys of sampled rows, per head, summed over the launches.
  std::mt19937_64 g(p.seed * 31 + 7);
  for (int64_t h = 0; h < p.heads; ++h) {
    std::vector<int64_t> sample;
    for (int64_t i = 0; i < sampleRows; ++i) sample.push_back(int64_t(g() % uint64_t(L)));
    sample.push_back(0);
    sample.push_back(L - 1);
    for (int64_t qpos : sample) {
      // key multiset visited, grouped per pair index (dilated kinds) or all together.
      std::map<int64_t, std::vector<int64_t>> got;  // group -> keys
      for (size_t li = 0; li < launches.size(); ++li) {
        const FamilyLaunch& l = launches[li];
        if (h < l.headBegin || h >= l.headBegin + l.headCount) continue;
        int64_t group = 0;
        if (l.kind == fm::kDilated || l.kind == fm::kRingDilated) {
          group = -1;
          for (size_t pi = 0; pi < dpairs.size(); ++pi)
            if (dpairs[pi].w == l.w && dpairs[pi].r == l.r)
              group = int64_t(pi);  // (identical pairs merge: fine)
        }
        for (int64_t task = 0; task < l.tasks; ++task) {
          fm::Span qs;
          if (!fm::queryTile(l, task, h, qs)) continue;
          if (qpos < qs.base || qpos > qs.last() || (qpos - qs.base) % qs.stride) continue;
          fm::KeyTiles it;
          fm::Span kt;
          while (fm::nextKeyTile(l, task, h, qs.last(), it, kt))
            for (int64_t j = 0; j < kt.count; ++j)
              if (fm::keyAllowed(j, kt, qpos, l.causal)) got[group].push_back(kt.pos(j));
        }
      }
      for (auto& kv : got) std::sort(kv.second.begin(), kv.second.end());
      std::map<int64_t, std::vector<int64_t>> want;
      if (p.implementation == "ring") {
        for (int64_t j = 0; j <= (p.causal ? qpos : L - 1); ++j) want[0].push_back(j);
      } else if (p.implementation == "block-sparse") {
        for (int64_t kb : blockSparseKeyBlocks(p, qpos / p.blockSize))
          for (int64_t j = kb * p.blockSize; j < std::min(L, (kb + 1) * p.blockSize); ++j)
            if (!p.causal || j <= qpos) want[0].push_back(j);
      } else {
        const auto parts = cuda::familyHeadParts(dpairs, p.heads, h, grouped);
        for (const auto& part : parts) {
          int64_t group = -1;
          for (size_t pi = 0; pi < dpairs.size(); ++pi)
            if (dpairs[pi].w == part.pair.w && dpairs[pi].r == part.pair.r) group = int64_t(pi);
          const int64_t s = qpos / part.pair.w, start = s * part.pair.w;
          if ((qpos - start - part.offset) < 0 || (qpos - start - part.offset) % part.pair.r) continue;
          for (int64_t j = start + part.offset; j < std::min(L, start + part.pair.w); j += part.pair.r)
            if (!p.causal || j <= qpos) want[group].push_back(j);
        }
      }
      for (auto it = want.begin(); it != want.end();)
        it = it->second.empty() ? want.erase(it) : std::next(it);
      for (auto it = got.begin(); it != got.end();) it = it->second.empty() ? got.erase(it) : std::next(it);
      expect(got == want, "keys of row " + std::to_string(qpos) + " head " + std::to_string(h) +
                              " != the definition's: " + desc);
    }
  }
}

// Host helpers against the CPU kernels' own functions.
void checkHelpers(bool quick) {
  // Dilated segments vs PatternCache::build; indicesIn vs lower_bound.
  std::mt19937_64 g(5);
  for (int64_t L : {1, 2, 7, 31, 64, 100, 333, 1000, 4097}) {
    for (int64_t w : {int64_t(1), int64_t(2), int64_t(3), int64_t(10), int64_t(64), int64_t(100), L}) {
      if (w > L) continue;
      for (int64_t r : {1, 2, 3, 4, 7, 16}) {
        if (r > w) continue;
        for (int64_t off = 0; off < r; ++off) {
          auto pat = PatternCache::build(L, w, r, off);
          const int64_t segs = fm::ceilDiv(L, w);
          expect(int64_t(pat->segmentStart.size()) - 1 == segs, "segment count");
          for (int64_t s = 0; s < segs; ++s) {
            const fm::Span sp = fm::segmentRows(L, w, r, off, s);
            const int64_t b = pat->segmentStart[size_t(s)], e = pat->segmentStart[size_t(s) + 1];
            bool same = sp.count == e - b;
            for (int64_t i = 0; same && i < sp.count; ++i) same = sp.pos(i) == pat->positions[size_t(b + i)];
            expect(same, "segmentRows != PatternCache L=" + std::to_string(L) + " w=" + std::to_string(w) +
                             " r=" + std::to_string(r) + " off=" + std::to_string(off) +
                             " s=" + std::to_string(s));
            for (int trial = 0; trial < 4; ++trial) {
              int64_t cb = int64_t(g() % uint64_t(L + 1)), ce = int64_t(g() % uint64_t(L + 1));
              if (cb > ce) std::swap(cb, ce);
              int64_t lo, hi;
              fm::indicesIn(sp, cb, ce, lo, hi);
              const int64_t* a = pat->positions.data() + b;
              const int64_t* z = pat->positions.data() + e;
              const int64_t wlo = std::lower_bound(a, z, cb) - a, whi = std::lower_bound(a, z, ce) - a;
              expect(lo == wlo && hi == whi, "indicesIn != lower_bound");
            }
          }
        }
      }
    }
  }
  // Ring chunks.
  for (int64_t L : {1, 2, 3, 7, 8, 100, 1001})
    for (int64_t P = 1; P <= std::min<int64_t>(L, 9); ++P)
      for (bool causal : {false, true})
        for (int64_t rank = 0; rank < P; ++rank) {
          const auto want = ringRankChunks(L, P, causal, rank);
          for (size_t c = 0; c < want.size(); ++c) {
            int64_t b, e;
            fm::ringChunk(L, P, causal, rank, int(c), b, e);
            expect(b == want[c].begin && e == want[c].end, "ringChunk != ringRankChunks");
          }
        }
  // Head groups: sizes base+1 for the first heads % k groups, then base; contiguous, in order.
  for (int64_t H = 1; H <= 17; ++H)
    for (int64_t k = 1; k <= 6; ++k) {
      int64_t next = 0;
      for (int64_t gi = 0; gi < k; ++gi) {
        int64_t b, c;
        fm::groupHeads(H, k, gi, b, c);
        expect(b == next && c == H / k + (gi < H % k ? 1 : 0), "groupHeads");
        next = b + c;
      }
      expect(next == H, "groupHeads covers every head");
    }
  // Block mask and key-block lists vs the CPU kernel's (every query block).
  const char* patterns[] = {"local", "strided", "dilated", "random"};
  int lists = 0;
  for (const char* pat : patterns)
    for (int64_t L : {1, 5, 64, 100, 1000, 4096, 20000})
      for (int64_t bs : {1, 7, 16, 64, 100, 4096})
        for (int64_t window : {1, 2, 3, 8})
          for (int64_t stride : {1, 2, 3, 5})
            for (double density : {0.05, 0.3, 1.0})
              for (bool causal : {false, true}) {
                if (std::string(pat) != "random" && density != 0.3) continue;
                if (std::string(pat) == "random" && (window != 2 || stride != 2)) continue;
                if (quick && L > 1000) continue;
                AttentionProblem p;
                p.implementation = "block-sparse";
                p.seqLen = L;
                p.blockSize = bs;
                p.blockPattern = pat;
                p.window = window;
                p.stride = stride;
                p.density = density;
                p.causal = causal;
                p.seed = 17 + uint64_t(L);
                p.heads = p.kvHeads = 1;
                try {
                  validateBlockSparse(p);
                } catch (const Error&) {
                  continue;  // too many blocks for random
                }
                const FamilyLaunch l =
                    cuda::planBlockSparse(cuda::familyShape(p), cuda::familyBlockSparse(p));
                const int64_t nb = blockSparseBlocks(p);
                for (int64_t qb = 0; qb < nb; ++qb) {
                  std::vector<int64_t> got;
                  fm::KeyCursor c;
                  fm::Span sp;
                  while (fm::nextKeySpan(l, qb * l.tilesPerBlock, 0, c, sp)) got.push_back(sp.base / bs);
                  ++lists;
                  expect(got == blockSparseKeyBlocks(p, qb),
                         std::string("key blocks != CPU: ") + describe(p) + " qb=" + std::to_string(qb));
                  if (nb <= 200)
                    for (int64_t kb = 0; kb < nb; ++kb)
                      expect(fm::blockAllowed(l, qb, kb) == blockSparseAllowed(p, qb, kb),
                             "blockAllowed != CPU");
                }
              }
  std::printf("helpers: patterns, ring chunks, head groups, %d key-block lists checked\n", lists);
}

AttentionProblem make(const std::string& impl, int64_t L, bool causal, int64_t H, int64_t KV, int64_t D,
                      int64_t B, DType dt, uint64_t seed) {
  AttentionProblem p;
  p.implementation = impl;
  p.device = Device::CPU;  // parameter resolution is device-independent
  p.seqLen = L;
  p.causal = causal;
  p.heads = H;
  p.kvHeads = KV;
  p.headDim = D;
  p.batch = B;
  p.dtype = dt;
  p.seed = seed;
  return p;
}

void setPairs(AttentionProblem& p, std::vector<std::pair<int64_t, int64_t>> pairs) {
  p.segmentLengths.clear();
  p.dilationRates.clear();
  for (auto& pr : pairs) {
    p.segmentLengths.push_back(pr.first);
    p.dilationRates.push_back(pr.second);
  }
}

// dilated at fixed pairs: key tiles visited and workspace per token, 128K..1M (index level).
void dilatedScaling() {
  std::printf("dilated work per token (pairs 8192/1, 32768/4, 131072/16; 8 heads, d 64, causal off):\n");
  std::printf("  %8s %14s %12s %16s %14s\n", "seqLen", "key tiles", "tiles/token", "pairs/token",
              "ws bytes/token");
  double first = 0;
  for (int64_t L : {int64_t(1) << 17, int64_t(1) << 18, int64_t(1) << 19, int64_t(1) << 20}) {
    AttentionProblem p = make("dilated", L, false, 8, 8, 64, 1, DType::F16, 1);
    setPairs(p, {{8192, 1}, {32768, 4}, {131072, 16}});
    double tiles = 0;
    for (const FamilyLaunch& l : cuda::familyLaunches(p))
      for (int64_t h = 0; h < l.heads; ++h)
        for (int64_t task = 0; task < l.tasks; ++task) {
          fm::Span qs;
          if (!fm::queryTile(l, task, h, qs)) continue;
          fm::KeyTiles it;
          fm::Span kt;
          while (fm::nextKeyTile(l, task, h, qs.last(), it, kt)) tiles += 1;
        }
    const double perToken = tiles / double(L);
    const double pairsPerToken = cuda::familyFlops(p) / (4.0 * 64) / double(L);
    const double ws = double(cuda::familyLseFloats(cuda::familyShape(p)) +
                             cuda::familyAccumulatorFloats(cuda::familyShape(p), false)) *
                      4.0 / double(L);
    std::printf("  %8lld %14.0f %12.3f %16.1f %14.1f\n", (long long)L, tiles, perToken, pairsPerToken, ws);
    if (first == 0) first = perToken;
    expect(std::fabs(perToken / first - 1.0) < 1e-9, "dilated tiles per token not constant (not linear)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const auto t0 = std::chrono::steady_clock::now();
  checkHelpers(quick);

  std::vector<AttentionProblem> cases;
  const DType dts[] = {DType::F32, DType::F16, DType::BF16};
  uint64_t seed = 100;
  int n = 0;
  auto add = [&](AttentionProblem p) {
    // every case in fp32; every third one also in fp16 and bf16
    p.dtype = DType::F32;
    cases.push_back(p);
    if (n++ % 3 == 0)
      for (DType d : {DType::F16, DType::BF16}) {
        p.dtype = d;
        cases.push_back(p);
      }
  };
  (void)dts;
  // dilated and dilated-grouped
  const std::vector<std::vector<std::pair<int64_t, int64_t>>> pairSets = {
      {},  // defaults by length (shrunk to seqLen)
      {{64, 1}},
      {{100, 3}, {333, 7}},
      {{37, 2}, {128, 4}, {1000, 8}},
      {{10, 4}},  // r does not divide w: offsets select different counts
      {{5, 5}, {16, 1}},
      {{300, 1}, {300, 2}, {300, 3}},
  };
  const int64_t lens[] = {1, 7, 100, 333, 1000, 1100};
  const int64_t headShapes[][2] = {{4, 2}, {3, 3}, {8, 1}, {5, 5}, {2, 1}};
  const int64_t dims[] = {64, 32, 96, 128};
  int pick = 0;
  for (const std::string impl : {"dilated", "dilated-grouped"})
    for (size_t ps = 0; ps < pairSets.size(); ++ps)
      for (int64_t L : lens)
        for (bool causal : {false, true}) {
          if (quick && (L > 400 || ps > 4)) continue;
          const auto& hs = headShapes[pick % 5];
          AttentionProblem p =
              make(impl, L, causal, hs[0], hs[1], dims[pick % 4], 1 + (pick % 7 == 0), DType::F32, seed++);
          ++pick;
          setPairs(p, pairSets[ps]);
          try {
            resolveDilatedPairs(p);
          } catch (const Error&) {
            continue;  // e.g. r > w
          }
          add(p);
        }
  // ring
  for (int64_t L : {1, 2, 7, 100, 333, 1000})
    for (int64_t P : {1, 2, 3, 4, 5, 8})
      for (bool causal : {false, true}) {
        if (P > L || (quick && L > 400)) continue;
        const auto& hs = headShapes[pick % 5];
        AttentionProblem p =
            make("ring", L, causal, hs[0], hs[1], dims[pick % 4], 1 + (pick % 5 == 0), DType::F32, seed++);
        ++pick;
        p.ringSize = P;
        add(p);
      }
  // ring-dilated
  for (int64_t L : {7, 100, 333, 1000})
    for (int64_t P : {1, 2, 3, 4, 7})
      for (size_t ps : {size_t(0), size_t(2), size_t(3), size_t(4)})
        for (bool causal : {false, true}) {
          if (P > L || (quick && L > 400)) continue;
          const auto& hs = headShapes[pick % 5];
          AttentionProblem p =
              make("ring-dilated", L, causal, hs[0], hs[1], dims[pick % 4], 1, DType::F32, seed++);
          ++pick;
          p.ringSize = P;
          setPairs(p, pairSets[ps]);
          try {
            resolveDilatedPairs(p);
          } catch (const Error&) {
            continue;
          }
          add(p);
        }
  // block-sparse
  for (const char* pat : {"local", "strided", "dilated", "random"})
    for (int64_t L : {1, 100, 333, 1000})
      for (int64_t bs : {1, 16, 33, 64, 100})
        for (bool causal : {false, true}) {
          if (quick && L > 400) continue;
          if (bs == 1 && L > 100) continue;  // O(L^2) blocks, slow and no new structure
          const auto& hs = headShapes[pick % 5];
          AttentionProblem p =
              make("block-sparse", L, causal, hs[0], hs[1], dims[pick % 4], 1, DType::F32, seed++);
          ++pick;
          p.blockPattern = pat;
          p.blockSize = bs;
          p.window = 1 + pick % 4;
          p.stride = 1 + pick % 3;
          p.density = pick % 2 ? 0.3 : 0.05;
          add(p);
        }

  int numeric = 0;
  for (const AttentionProblem& p : cases) {
    checkCase(p);
    ++numeric;
    if (p.dtype == DType::F32) checkCoverage(p, p.seqLen > 500 ? 6 : 12);
  }
  std::printf("numeric cases: %d (emulated on every row; coverage and key sets on the fp32 ones)\n", numeric);

  // Larger shapes, structure only (no arithmetic): coverage and sampled key sets.
  if (!quick) {
    for (int64_t L : {int64_t(16384), int64_t(65537)}) {
      AttentionProblem d = make("dilated", L, true, 16, 4, 64, 1, DType::F32, 9);  // default pairs
      checkCoverage(d, 16);
      AttentionProblem g = d;
      g.implementation = "dilated-grouped";
      checkCoverage(g, 16);
      AttentionProblem r = make("ring", L, true, 2, 1, 64, 1, DType::F32, 9);
      r.ringSize = 8;
      checkCoverage(r, 4);
      r.causal = false;
      r.ringSize = 5;
      checkCoverage(r, 4);
      AttentionProblem rd = d;
      rd.implementation = "ring-dilated";
      rd.heads = 4;
      rd.kvHeads = 2;
      rd.ringSize = 8;
      checkCoverage(rd, 8);
      AttentionProblem b = make("block-sparse", L, true, 1, 1, 64, 1, DType::F32, 9);
      for (const char* pat : {"local", "strided", "dilated", "random"}) {
        b.blockPattern = pat;
        b.blockSize = 128;
        b.window = 3;
        b.stride = 4;
        b.density = 0.1;
        checkCoverage(b, 8);
      }
    }
    std::printf(
        "large structure cases: dilated / dilated-grouped / ring / ring-dilated / block-sparse at 16K, 64K+1\n");
    dilatedScaling();
  }

  std::printf("worst errors:\n");
  for (const auto& kv : worst)
    std::printf("  %-40s relL2 %.3e  maxAbs %.3e\n", kv.first.c_str(), kv.second.relL2, kv.second.maxAbs);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("family_cuda_check: %lld checks, %d failure(s), %.1f s\n", checks, failures, secs);
  return failures ? 1 : 0;
}
