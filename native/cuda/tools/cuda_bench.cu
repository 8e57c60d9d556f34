// cuda_bench: standalone harness for the CUDA attention kernels (no Node, nothing of native/
// outside native/cuda). Random N(0,1) inputs, float64 CPU reference of dense attention
// (docs/attention-definitions.md), relative-L2 / max-abs errors, NaN/Inf and
// unwritten-output checks (output poisoned with NaN before each run), and CUDA-event timing.
//
//   cuda_bench check                       correctness sweep (small shapes), exit 1 on failure;
//                                          CHECK_FAMILY_ONLY=1: only dilated, dilated-grouped,
//                                          ring, ring-dilated, block-sparse
//   cuda_bench bench [--csv FILE] [--impl flash|naive] [--reps N]
//                                          TFLOP/s at seqLen 4K-16K, heads 16, d 64/128, fp16/bf16
//   cuda_bench bandwidth                   device-to-device copy bandwidth (read + write bytes)
//   cuda_bench decode [--csv FILE]         kv-cache decode step GB/s vs the copy bandwidth
//   cuda_bench info                        device properties
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../attention_cuda.h"
#include "../cuda_info.h"
#include "../family_cuda_math.cuh"
#include "../family_cuda_plan.h"

using namespace dilbench::cuda;

#define CK(x)                                                                                 \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

static const char* tname(ElemType t) {
  return t == ElemType::F32 ? "fp32" : t == ElemType::F16 ? "fp16" : "bf16";
}
static size_t tbytes(ElemType t) { return t == ElemType::F32 ? 4 : 2; }

// Float64 dense attention (the definition): per (b, h, i) over allowed keys.
static void referenceDense(const AttnArgs& a, const std::vector<float>& q, const std::vector<float>& k,
                           const std::vector<float>& v, std::vector<double>& o,
                           const std::vector<int>* onlyRows = nullptr) {
  const int64_t B = a.batch, H = a.heads, HK = a.kvHeads, N = a.seqLen, D = a.headDim;
  const int64_t G = H / HK;
  o.assign(static_cast<size_t>(B * H * N * D), 0.0);
  std::vector<double> s(N);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const float* Q = &q[((b * H + h) * N) * D];
      const float* K = &k[((b * HK + h / G) * N) * D];
      const float* V = &v[((b * HK + h / G) * N) * D];
      double* O = &o[((b * H + h) * N) * D];
      for (int64_t ri = 0; ri < (onlyRows ? int64_t(onlyRows->size()) : N); ++ri) {
        const int64_t i = onlyRows ? (*onlyRows)[ri] : ri;
        const int64_t nk = a.causal ? i + 1 : N;
        double mx = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += double(Q[i * D + d]) * double(K[j * D + d]);
          s[j] = dot * double(a.scale);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < nk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < nk; ++j) {
          const double w = s[j] / sum;
          for (int64_t d = 0; d < D; ++d) O[i * D + d] += w * double(V[j * D + d]);
        }
      }
    }
}

struct DevBuf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DevBuf(size_t b) : bytes(b) { CK(cudaMalloc(&p, std::max<size_t>(b, 16))); }
  ~DevBuf() { cudaFree(p); }
};

// Uploads fp32 values as dtype, and returns the values as the kernel sees them (rounded).
static std::vector<float> makeInput(DevBuf& dst, size_t count, ElemType t, std::mt19937_64& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> h(count);
  for (auto& x : h) x = nd(rng);
  DevBuf tmp(count * 4);
  CK(cudaMemcpy(tmp.p, h.data(), count * 4, cudaMemcpyHostToDevice));
  if (const char* e = convertFromF32(dst.p, static_cast<float*>(tmp.p), count, t, nullptr)) {
    std::fprintf(stderr, "convert: %s\n", e);
    std::exit(2);
  }
  if (const char* e = convertToF32(static_cast<float*>(tmp.p), dst.p, count, t, nullptr)) {
    std::fprintf(stderr, "convert: %s\n", e);
    std::exit(2);
  }
  CK(cudaMemcpy(h.data(), tmp.p, count * 4, cudaMemcpyDeviceToHost));
  return h;
}

// Device-side N(0,1) fill (hash + Box-Muller) for the large timing inputs: no host RNG cost.
__device__ __forceinline__ uint32_t hash32(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<uint32_t>(x);
}
__global__ void randnKernel(float* dst, size_t count, uint64_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float u1 = (hash32(seed * 0x9E3779B97F4A7C15ULL + 2 * i) + 1.0f) * 2.3283064e-10f;
    float u2 = hash32(seed * 0x9E3779B97F4A7C15ULL + 2 * i + 1) * 2.3283064e-10f;
    dst[i] = sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
  }
}
static void randnDevice(DevBuf& dst, size_t count, ElemType t, uint64_t seed) {
  DevBuf tmp(count * 4);
  randnKernel<<<4096, 256>>>(static_cast<float*>(tmp.p), count, seed);
  CK(cudaGetLastError());
  if (const char* e = convertFromF32(dst.p, static_cast<float*>(tmp.p), count, t, nullptr)) {
    std::fprintf(stderr, "convert: %s\n", e);
    std::exit(2);
  }
  CK(cudaDeviceSynchronize());
}

static double flopsOf(const AttnArgs& a) {
  const double n = double(a.seqLen);
  const double pairs = a.causal ? n * (n + 1) / 2 : n * n;
  return 4.0 * double(a.batch) * double(a.heads) * double(a.headDim) * pairs;
}

static const char* runImpl(const std::string& impl, const AttnArgs& a, DevBuf* ws) {
  if (impl == "flash") return launchFlash(a);
  return launchNaive(a, ws ? ws->p : nullptr);
}

// Decode steps against the causal reference: query row pos over cache rows [0, pos].
static int checkDecode(std::mt19937_64& rng) {
  struct Shape {
    int b, h, hk, L, d;
  };
  const Shape shapes[] = {{1, 4, 1, 1000, 64}, {2, 8, 2, 3000, 128},   {1, 3, 3, 700, 128},
                          {1, 6, 2, 600, 64},  {1, 16, 16, 4099, 128}, {1, 8, 8, 300, 64}};
  const ElemType types[] = {ElemType::F16, ElemType::BF16, ElemType::F32};
  const int maxN = std::getenv("CHECK_MAX_N") ? std::atoi(std::getenv("CHECK_MAX_N")) : 1 << 30;
  int failures = 0;
  for (ElemType t : types)
    for (const Shape& s : shapes) {
      if (s.L > maxN) continue;
      AttnArgs a;
      a.dtype = t, a.batch = s.b, a.heads = s.h, a.kvHeads = s.hk, a.seqLen = s.L, a.headDim = s.d;
      a.causal = true;
      a.scale = float(1.0 / std::sqrt(double(s.d)));
      const size_t qn = size_t(s.b) * s.h * s.L * s.d, kn = size_t(s.b) * s.hk * s.L * s.d;
      DevBuf dq(qn * tbytes(t)), dk(kn * tbytes(t)), dv(kn * tbytes(t)), dout(qn * tbytes(t));
      auto hq = makeInput(dq, qn, t, rng), hk = makeInput(dk, kn, t, rng), hv = makeInput(dv, kn, t, rng);
      CK(cudaMemset(dout.p, 0xff, dout.bytes));
      DecodeArgs d;
      d.dtype = t, d.batch = s.b, d.heads = s.h, d.kvHeads = s.hk, d.headDim = s.d, d.rowsPerHead = s.L;
      d.scale = a.scale, d.q = dq.p, d.k = dk.p, d.v = dv.p, d.o = dout.p;
      DevBuf ws(decodeWorkspaceBytes(d));
      const std::vector<int> poss = {0, 1, 255, 256, s.L / 2, s.L - 1};
      int maxSplit = 0;
      for (int pos : poss) {
        d.pos = pos;
        maxSplit = std::max(maxSplit, decodeSplits(d));
        if (const char* e = launchDecode(d, ws.p)) {
          std::printf("decode launch error: %s\n", e);
          return failures + 1;
        }
      }
      CK(cudaDeviceSynchronize());
      DevBuf tmp(qn * 4);
      convertToF32(static_cast<float*>(tmp.p), dout.p, qn, t, nullptr);
      std::vector<float> ho(qn);
      CK(cudaMemcpy(ho.data(), tmp.p, qn * 4, cudaMemcpyDeviceToHost));
      std::vector<double> ref;
      referenceDense(a, hq, hk, hv, ref, &poss);
      double num = 0, den = 0, maxAbs = 0;
      bool bad = false;
      for (int bh = 0; bh < s.b * s.h; ++bh)
        for (int pos : poss)
          for (int e = 0; e < s.d; ++e) {
            const size_t i = (size_t(bh) * s.L + pos) * s.d + e;
            if (!std::isfinite(ho[i])) bad = true;
            const double diff = double(ho[i]) - ref[i];
            num += diff * diff;
            den += ref[i] * ref[i];
            maxAbs = std::max(maxAbs, std::fabs(diff));
          }
      const double rel = std::sqrt(num / std::max(den, 1e-300));
      const double tol = t == ElemType::BF16 ? 1e-2 : t == ElemType::F16 ? 2e-3 : 1e-5;
      const bool ok = !bad && rel <= tol && (t != ElemType::F32 || maxAbs <= 1e-4);
      if (!ok) ++failures;
      std::printf("%-6s %-5s %-5s %2d %3d %3d %6d %4d %-6s %11.3e %11.3e %s (splits<=%d)\n", "decode",
                  tname(t), "splitk", s.b, s.h, s.hk, s.L, s.d, "steps", rel, maxAbs,
                  ok ? "PASS" : (bad ? "FAIL(nan/inf/unwritten)" : "FAIL"), maxSplit);
    }
  return failures;
}

// ---- attention family (dilated, dilated-grouped, ring, ring-dilated, block-sparse) ----------
// Float64 definitions written from docs/attention-definitions.md (loops, no tiling), and
// the kernels run through the same plans and begin / launch / finish sequence as the addon.
namespace fam {
namespace fm = dilbench::cuda::family_math;
using dilbench::cuda::FamilyPair;
using dilbench::cuda::FamilyShape;

// One row of attention in float64 over the keys `keys` (ascending); returns false when empty.
static bool attendRow(const float* Q, const float* K, const float* V, int64_t i,
                      const std::vector<int64_t>& keys, int64_t D, double scale, std::vector<double>& o,
                      double& lse) {
  if (keys.empty()) return false;
  std::vector<double> s(keys.size());
  double mx = -INFINITY;
  for (size_t t = 0; t < keys.size(); ++t) {
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += double(Q[i * D + d]) * double(K[keys[t] * D + d]);
    s[t] = dot * scale;
    mx = std::max(mx, s[t]);
  }
  double sum = 0;
  for (double& x : s) sum += (x = std::exp(x - mx));
  o.assign(size_t(D), 0.0);
  for (size_t t = 0; t < keys.size(); ++t)
    for (int64_t d = 0; d < D; ++d) o[size_t(d)] += s[t] / sum * double(V[keys[t] * D + d]);
  lse = mx + std::log(sum);
  return true;
}

struct Case {
  const char* impl;
  int b, h, hk, n, d;
  bool causal;
  std::vector<FamilyPair> pairs;  // already w <= n
  int ringSize;
  int pattern, blockSize, window, stride;
  double density;
};

// Pairs (pair index, offset) of head h.
static std::vector<std::pair<size_t, int64_t>> partsOf(const Case& c, int64_t h) {
  std::vector<std::pair<size_t, int64_t>> out;
  const bool grouped = std::string(c.impl) == "dilated-grouped";
  const int64_t k = int64_t(c.pairs.size());
  for (int64_t i = 0; i < k; ++i) {
    if (grouped) {
      const int64_t base = c.h / k, extra = c.h % k;
      const int64_t begin = i < extra ? i * (base + 1) : extra * (base + 1) + (i - extra) * base;
      const int64_t count = base + (i < extra ? 1 : 0);
      if (h >= begin && h < begin + count) out.push_back({size_t(i), i % c.pairs[size_t(i)].r});
    } else {
      out.push_back({size_t(i), h % c.pairs[size_t(i)].r});
    }
  }
  return out;
}

static void reference(const Case& c, float scale, const std::vector<float>& q, const std::vector<float>& k,
                      const std::vector<float>& v, std::vector<double>& out) {
  const int64_t B = c.b, H = c.h, HK = c.hk, N = c.n, D = c.d, G = H / HK;
  out.assign(size_t(B * H * N * D), 0.0);
  const std::string impl = c.impl;
  fm::FamilyLaunch mask;  // block-sparse mask parameters for fm::blockAllowed
  mask.pattern = c.pattern, mask.window = c.window, mask.stride = c.stride, mask.density = c.density,
  mask.seed = 77;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const float* Q = &q[size_t((b * H + h) * N * D)];
      const float* K = &k[size_t((b * HK + h / G) * N * D)];
      const float* V = &v[size_t((b * HK + h / G) * N * D)];
      double* O = &out[size_t((b * H + h) * N * D)];
      for (int64_t i = 0; i < N; ++i) {
        std::vector<double> o;
        double lse;
        if (impl == "ring" || impl == "block-sparse") {
          std::vector<int64_t> keys;
          for (int64_t j = 0; j < N; ++j) {
            if (c.causal && j > i) continue;
            if (impl == "block-sparse" && !fm::blockAllowed(mask, i / c.blockSize, j / c.blockSize)) continue;
            keys.push_back(j);
          }
          if (attendRow(Q, K, V, i, keys, D, scale, o, lse))
            for (int64_t d = 0; d < D; ++d) O[i * D + d] = o[size_t(d)];
          continue;
        }
        // dilated kinds: per selecting pair (o_i, lse_i), mixed by exp(lse_i) / sum_j exp(lse_j)
        std::vector<std::vector<double>> os;
        std::vector<double> lses;
        for (auto [pi, off] : partsOf(c, h)) {
          const int64_t w = c.pairs[pi].w, r = c.pairs[pi].r, s0 = i / w * w;
          if (i - s0 < off || (i - s0 - off) % r) continue;
          std::vector<int64_t> keys;
          for (int64_t j = s0 + off; j < std::min<int64_t>(N, s0 + w); j += r)
            if (!c.causal || j <= i) keys.push_back(j);
          if (attendRow(Q, K, V, i, keys, D, scale, o, lse)) os.push_back(o), lses.push_back(lse);
        }
        if (lses.empty()) continue;
        const double m = *std::max_element(lses.begin(), lses.end());
        double z = 0;
        for (double l : lses) z += std::exp(l - m);
        for (size_t t = 0; t < os.size(); ++t)
          for (int64_t d = 0; d < D; ++d) O[i * D + d] += std::exp(lses[t] - m) / z * os[t][size_t(d)];
      }
    }
}

static std::vector<dilbench::cuda::FamilyLaunch> plan(const Case& c, const FamilyShape& s) {
  const std::string impl = c.impl;
  if (impl == "dilated") return dilbench::cuda::planDilated(s, c.pairs);
  if (impl == "dilated-grouped") return dilbench::cuda::planDilatedGrouped(s, c.pairs);
  if (impl == "ring") return dilbench::cuda::planRing(s, c.ringSize);
  if (impl == "ring-dilated") return dilbench::cuda::planRingDilated(s, c.pairs, c.ringSize);
  dilbench::cuda::BlockSparseParams bp;
  bp.pattern = c.pattern, bp.blockSize = c.blockSize, bp.window = c.window, bp.stride = c.stride;
  bp.density = c.density, bp.seed = 77;
  return {dilbench::cuda::planBlockSparse(s, bp)};
}

}  // namespace fam

static int checkFamily(std::mt19937_64& rng) {
  using fam::Case;
  const std::vector<FamilyPair> p3 = {{37, 2}, {128, 4}, {300, 8}}, p2 = {{100, 3}, {333, 7}}, p1 = {{10, 4}};
  const std::vector<Case> cases = {
      {"dilated", 1, 4, 2, 333, 64, false, p3, 1, 0, 0, 0, 0, 0},
      {"dilated", 2, 3, 3, 1000, 128, true, p2, 1, 0, 0, 0, 0, 0},
      {"dilated", 1, 8, 1, 100, 32, true, p1, 1, 0, 0, 0, 0, 0},
      {"dilated", 1, 2, 2, 7, 96, false, {{7, 2}, {7, 7}}, 1, 0, 0, 0, 0, 0},
      {"dilated-grouped", 1, 5, 5, 333, 64, true, p3, 1, 0, 0, 0, 0, 0},
      {"dilated-grouped", 1, 2, 1, 1000, 128, false, p3, 1, 0, 0, 0, 0, 0},
      {"ring", 1, 4, 2, 1000, 64, true, {}, 4, 0, 0, 0, 0, 0},
      {"ring", 2, 2, 1, 333, 128, false, {}, 3, 0, 0, 0, 0, 0},
      {"ring", 1, 3, 3, 7, 32, true, {}, 7, 0, 0, 0, 0, 0},
      {"ring-dilated", 1, 4, 2, 1000, 64, true, p3, 4, 0, 0, 0, 0, 0},
      {"ring-dilated", 1, 3, 3, 333, 96, false, p2, 3, 0, 0, 0, 0, 0},
      {"block-sparse", 1, 4, 2, 1000, 64, true, {}, 1, 0, 64, 3, 1, 0.1},
      {"block-sparse", 1, 2, 2, 333, 128, false, {}, 1, 1, 33, 1, 3, 0.1},
      {"block-sparse", 2, 2, 1, 1000, 64, true, {}, 1, 2, 100, 3, 2, 0.1},
      {"block-sparse", 1, 3, 3, 1000, 32, false, {}, 1, 3, 16, 1, 1, 0.2},
  };
  const ElemType types[] = {ElemType::F16, ElemType::BF16, ElemType::F32};
  const int maxN = std::getenv("CHECK_MAX_N") ? std::atoi(std::getenv("CHECK_MAX_N")) : 1 << 30;
  int failures = 0;
  for (ElemType t : types)
    for (const Case& c : cases) {
      if (c.n > maxN) continue;
      FamilyShape s;
      s.batch = c.b, s.heads = c.h, s.kvHeads = c.hk, s.seqLen = c.n, s.headDim = c.d, s.causal = c.causal;
      s.scale = float(1.0 / std::sqrt(double(c.d)));
      const size_t qn = size_t(c.b) * c.h * c.n * c.d, kn = size_t(c.b) * c.hk * c.n * c.d;
      DevBuf dq(qn * tbytes(t)), dk(kn * tbytes(t)), dv(kn * tbytes(t)), dout(qn * tbytes(t));
      auto hq = makeInput(dq, qn, t, rng), hk = makeInput(dk, kn, t, rng), hv = makeInput(dv, kn, t, rng);
      CK(cudaMemset(dout.p, 0xff, dout.bytes));  // NaN poison: an unwritten row fails
      const auto launches = fam::plan(c, s);
      const bool merged = launches.empty() || launches[0].mergeIntoAccumulator;
      DevBuf acc(t == ElemType::F32 ? 16 : qn * 4), lse(size_t(c.b) * c.h * c.n * 4);
      FamilyBuffers fb;
      fb.dtype = t, fb.q = dq.p, fb.k = dk.p, fb.v = dv.p, fb.o = dout.p;
      fb.acc = t == ElemType::F32 ? static_cast<float*>(dout.p) : static_cast<float*>(acc.p);
      fb.lse = static_cast<float*>(lse.p);
      const char* err = merged ? familyBegin(fb, qn, size_t(c.b) * c.h * c.n) : nullptr;
      for (size_t i = 0; !err && i < launches.size(); ++i) err = launchFamily(launches[i], fb);
      if (!err && merged) err = familyFinish(fb, qn);
      if (err) {
        std::printf("%s launch error: %s\n", c.impl, err);
        ++failures;
        continue;
      }
      CK(cudaDeviceSynchronize());
      DevBuf tmp(qn * 4);
      convertToF32(static_cast<float*>(tmp.p), dout.p, qn, t, nullptr);
      std::vector<float> ho(qn);
      CK(cudaMemcpy(ho.data(), tmp.p, qn * 4, cudaMemcpyDeviceToHost));
      std::vector<double> ref;
      fam::reference(c, s.scale, hq, hk, hv, ref);
      double num = 0, den = 0, maxAbs = 0;
      bool bad = false;
      for (size_t i = 0; i < qn; ++i) {
        if (!std::isfinite(ho[i])) bad = true;
        const double diff = double(ho[i]) - ref[i];
        num += diff * diff;
        den += ref[i] * ref[i];
        maxAbs = std::max(maxAbs, std::fabs(diff));
      }
      const double rel = std::sqrt(num / std::max(den, 1e-300));
      const double tol = t == ElemType::BF16 ? 1e-2 : t == ElemType::F16 ? 2e-3 : 1e-5;
      const bool ok = !bad && rel <= tol && (t != ElemType::F32 || maxAbs <= 1e-4);
      if (!ok) ++failures;
      std::printf("%-15s %-5s %-5s %2d %3d %3d %6d %4d %-6s %11.3e %11.3e %s (launches %zu, P %d)\n", c.impl,
                  tname(t), "simt", c.b, c.h, c.hk, c.n, c.d, c.causal ? "yes" : "no", rel, maxAbs,
                  ok ? "PASS" : (bad ? "FAIL(nan/inf/unwritten)" : "FAIL"), launches.size(), c.ringSize);
    }
  return failures;
}

static int check() {
  struct Shape {
    int b, h, hk, n, d;
  };
  const Shape shapes[] = {{1, 2, 1, 1, 64},     {1, 2, 2, 7, 64},   {2, 4, 2, 127, 128}, {1, 2, 1, 1000, 64},
                          {1, 2, 2, 1000, 128}, {1, 3, 3, 300, 32}, {1, 2, 2, 129, 96},  {1, 1, 1, 2048, 128},
                          {1, 1, 1, 4096, 64},  {2, 2, 1, 333, 64}};
  const ElemType types[] = {ElemType::F16, ElemType::BF16, ElemType::F32};
  const char* impls[] = {"flash", "naive"};
  const int maxN = std::getenv("CHECK_MAX_N") ? std::atoi(std::getenv("CHECK_MAX_N")) : 1 << 30;
  std::mt19937_64 rng(1234);
  int failures = 0;
  std::printf("%-6s %-5s %-5s %2s %3s %3s %6s %4s %-6s %11s %11s %s\n", "impl", "dtype", "path", "b", "h",
              "hk", "n", "d", "causal", "relL2", "maxAbs", "result");
  for (const char* impl : impls)
    for (ElemType t : types)
      for (const Shape& s : shapes)
        for (int causal = 0; causal < 2; ++causal) {
          if (s.n > maxN || std::getenv("CHECK_DECODE_ONLY") || std::getenv("CHECK_FAMILY_ONLY")) continue;
          AttnArgs a;
          a.dtype = t;
          a.batch = s.b, a.heads = s.h, a.kvHeads = s.hk, a.seqLen = s.n, a.headDim = s.d;
          a.causal = causal;
          a.scale = float(1.0 / std::sqrt(double(s.d)));
          const size_t qn = size_t(s.b) * s.h * s.n * s.d, kn = size_t(s.b) * s.hk * s.n * s.d;
          DevBuf dq(qn * tbytes(t)), dk(kn * tbytes(t)), dv(kn * tbytes(t)), dout(qn * tbytes(t));
          auto hq = makeInput(dq, qn, t, rng), hk = makeInput(dk, kn, t, rng), hv = makeInput(dv, kn, t, rng);
          CK(cudaMemset(dout.p, 0xff, dout.bytes));  // NaN poison
          a.q = dq.p, a.k = dk.p, a.v = dv.p, a.o = dout.p;
          DevBuf* ws = nullptr;
          DevBuf wsb(std::string(impl) == "naive" ? naiveWorkspaceBytes(a) : 16);
          ws = &wsb;
          if (const char* e = runImpl(impl, a, ws)) {
            std::printf("%s launch error: %s\n", impl, e);
            ++failures;
            continue;
          }
          CK(cudaDeviceSynchronize());
          DevBuf tmp(qn * 4);
          if (const char* e = convertToF32(static_cast<float*>(tmp.p), dout.p, qn, t, nullptr)) {
            std::printf("convert: %s\n", e);
            return 2;
          }
          std::vector<float> ho(qn);
          CK(cudaMemcpy(ho.data(), tmp.p, qn * 4, cudaMemcpyDeviceToHost));
          std::vector<double> ref;
          referenceDense(a, hq, hk, hv, ref);
          double num = 0, den = 0, maxAbs = 0;
          bool bad = false;
          for (size_t i = 0; i < qn; ++i) {
            if (!std::isfinite(ho[i])) bad = true;
            const double diff = double(ho[i]) - ref[i];
            num += diff * diff;
            den += ref[i] * ref[i];
            maxAbs = std::max(maxAbs, std::fabs(diff));
          }
          const double rel = std::sqrt(num / std::max(den, 1e-300));
          const double tol = t == ElemType::BF16 ? 1e-2 : t == ElemType::F16 ? 2e-3 : 1e-5;
          const bool ok = !bad && rel <= tol && (t != ElemType::F32 || maxAbs <= 1e-4);
          if (!ok) ++failures;
          std::printf("%-6s %-5s %-5s %2d %3d %3d %6d %4d %-6s %11.3e %11.3e %s\n", impl, tname(t),
                      std::string(impl) == "flash"
                          ? (std::strncmp(flashPath(t, s.d), "tensor", 6) == 0 ? "mma" : "simt")
                          : "gemm",
                      s.b, s.h, s.hk, s.n, s.d, causal ? "yes" : "no", rel, maxAbs,
                      ok ? "PASS" : (bad ? "FAIL(nan/inf/unwritten)" : "FAIL"));
        }
  if (!std::getenv("CHECK_FAMILY_ONLY")) failures += checkDecode(rng);
  failures += checkFamily(rng);
  std::printf("check: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}

static int bench(int argc, char** argv) {
  std::string csv, implFilter;
  int reps = 20;
  bool causalToo = true;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--csv" && i + 1 < argc) csv = argv[++i];
    else if (s == "--impl" && i + 1 < argc) implFilter = argv[++i];
    else if (s == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (s == "--no-causal") causalToo = false;
  }
  FILE* out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (out) std::fprintf(out, "impl,dtype,batch,heads,seqLen,headDim,causal,medianMs,tflops\n");
  struct Shape {
    int b, n;
  };
  const Shape shapes[] = {{4, 4096}, {2, 8192}, {1, 16384}};
  const int dims[] = {64, 128};
  const ElemType types[] = {ElemType::F16, ElemType::BF16};
  std::mt19937_64 rng(99);
  std::printf("%-6s %-5s %2s %3s %6s %4s %-6s %10s %9s\n", "impl", "dtype", "b", "h", "n", "d", "causal",
              "median_ms", "TFLOP/s");
  for (const std::string impl : {"flash", "naive"}) {
    if (!implFilter.empty() && implFilter != impl) continue;
    for (ElemType t : types)
      for (int d : dims)
        for (const Shape& s : shapes)
          for (int causal = 0; causal < (causalToo ? 2 : 1); ++causal) {
            AttnArgs a;
            a.dtype = t, a.batch = s.b, a.heads = 16, a.kvHeads = 16, a.seqLen = s.n, a.headDim = d,
            a.causal = causal;
            a.scale = float(1.0 / std::sqrt(double(d)));
            if (impl == "naive" && naiveWorkspaceBytes(a) > (size_t(24) << 30)) continue;
            const size_t qn = size_t(s.b) * 16 * s.n * d;
            DevBuf dq(qn * 2), dk(qn * 2), dv(qn * 2), dout(qn * 2);
            // random data on the device (via host once; the same for every rep)
            randnDevice(dq, qn, t, rng());
            randnDevice(dk, qn, t, rng());
            randnDevice(dv, qn, t, rng());
            a.q = dq.p, a.k = dk.p, a.v = dv.p, a.o = dout.p;
            DevBuf ws(impl == "naive" ? naiveWorkspaceBytes(a) : 16);
            for (int w = 0; w < 3; ++w)
              if (const char* e = runImpl(impl, a, &ws)) {
                std::printf("launch error: %s\n", e);
                return 2;
              }
            CK(cudaDeviceSynchronize());
            cudaEvent_t e0, e1;
            CK(cudaEventCreate(&e0));
            CK(cudaEventCreate(&e1));
            std::vector<float> ms;
            const int r = impl == "naive" ? std::max(3, reps / 4) : reps;
            for (int i = 0; i < r; ++i) {
              CK(cudaEventRecord(e0));
              runImpl(impl, a, &ws);
              CK(cudaEventRecord(e1));
              CK(cudaEventSynchronize(e1));
              float m = 0;
              CK(cudaEventElapsedTime(&m, e0, e1));
              ms.push_back(m);
            }
            CK(cudaGetLastError());
            cudaEventDestroy(e0);
            cudaEventDestroy(e1);
            std::sort(ms.begin(), ms.end());
            const double med = ms[ms.size() / 2];
            const double tf = flopsOf(a) / (med * 1e-3) / 1e12;
            std::printf("%-6s %-5s %2d %3d %6d %4d %-6s %10.3f %9.1f\n", impl.c_str(), tname(t), s.b, 16, s.n,
                        d, causal ? "yes" : "no", med, tf);
            std::fflush(stdout);
            if (out)
              std::fprintf(out, "%s,%s,%d,16,%d,%d,%d,%.4f,%.2f\n", impl.c_str(), tname(t), s.b, s.n, d,
                           causal, med, tf);
          }
  }
  if (out) std::fclose(out);
  return 0;
}

static double copyBandwidthGBs();

// Decode-step bandwidth: cache bytes read per step over the step's time, cold L2 (flushed before
// every sample, outside the timed region), against the measured device-to-device copy rate.
static int decodeBench(int argc, char** argv) {
  std::string csv;
  for (int i = 2; i < argc; ++i)
    if (std::string(argv[i]) == "--csv" && i + 1 < argc) csv = argv[++i];
  FILE* out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (out) std::fprintf(out, "dtype,batch,heads,kvHeads,cacheLen,headDim,splits,medianUs,GBps,pctOfCopy\n");
  const double copy = copyBandwidthGBs();
  std::printf("device-to-device copy: %.1f GB/s (read+write)\n", copy);
  struct Shape {
    int b, h, hk, L, d;
  };
  const Shape shapes[] = {{1, 32, 8, 8192, 128},  {1, 32, 8, 32768, 128},  {8, 32, 8, 8192, 128},
                          {8, 32, 8, 16384, 128}, {4, 16, 16, 16384, 128}, {16, 32, 8, 8192, 128},
                          {4, 32, 32, 8192, 64},  {2, 64, 8, 65536, 128}};
  int cudaL2 = 0;
  CK(cudaDeviceGetAttribute(&cudaL2, cudaDevAttrL2CacheSize, 0));
  DevBuf flush(size_t(cudaL2) * 4);
  std::mt19937_64 rng(7);
  std::printf("%-5s %2s %3s %3s %6s %4s %6s %10s %9s %7s\n", "dtype", "b", "h", "hk", "cache", "d", "splits",
              "median_us", "GB/s", "%copy");
  for (ElemType t : {ElemType::F16, ElemType::BF16})
    for (const Shape& s : shapes) {
      const size_t qn = size_t(s.b) * s.h * s.L * s.d, kn = size_t(s.b) * s.hk * s.L * s.d;
      DevBuf dq(qn * 2), dk(kn * 2), dv(kn * 2), dout(qn * 2);
      randnDevice(dq, qn, t, rng());
      randnDevice(dk, kn, t, rng());
      randnDevice(dv, kn, t, rng());
      DecodeArgs d;
      d.dtype = t, d.batch = s.b, d.heads = s.h, d.kvHeads = s.hk, d.headDim = s.d, d.rowsPerHead = s.L;
      d.pos = s.L - 1, d.scale = float(1.0 / std::sqrt(double(s.d)));
      d.q = dq.p, d.k = dk.p, d.v = dv.p, d.o = dout.p;
      DevBuf ws(decodeWorkspaceBytes(d));
      for (int w = 0; w < 3; ++w)
        if (const char* e = launchDecode(d, ws.p)) {
          std::printf("decode launch error: %s\n", e);
          return 2;
        }
      CK(cudaDeviceSynchronize());
      cudaEvent_t e0, e1;
      CK(cudaEventCreate(&e0));
      CK(cudaEventCreate(&e1));
      std::vector<float> ms;
      for (int i = 0; i < 30; ++i) {
        CK(cudaMemsetAsync(flush.p, i & 0xff, flush.bytes));
        CK(cudaEventRecord(e0));
        launchDecode(d, ws.p);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float m = 0;
        CK(cudaEventElapsedTime(&m, e0, e1));
        ms.push_back(m);
      }
      CK(cudaGetLastError());
      cudaEventDestroy(e0);
      cudaEventDestroy(e1);
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const double bytes = 2.0 * s.b * s.hk * double(s.L) * s.d * 2 + 2.0 * s.b * s.h * s.d * 2;
      const double gbs = bytes / (med * 1e-3) / 1e9;
      std::printf("%-5s %2d %3d %3d %6d %4d %6d %10.1f %9.1f %6.1f%%\n", tname(t), s.b, s.h, s.hk, s.L, s.d,
                  decodeSplits(d), med * 1e3, gbs, 100.0 * gbs / copy);
      std::fflush(stdout);
      if (out)
        std::fprintf(out, "%s,%d,%d,%d,%d,%d,%d,%.2f,%.1f,%.1f\n", tname(t), s.b, s.h, s.hk, s.L, s.d,
                     decodeSplits(d), med * 1e3, gbs, 100.0 * gbs / copy);
    }
  if (out) std::fclose(out);
  return 0;
}

// Median of 10 timed device-to-device copies of `bytes` (after 3 warm-up copies), in ms.
static float copyMedianMs(size_t bytes) {
  DevBuf a(bytes), b(bytes);
  CK(cudaMemset(a.p, 1, bytes));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(cudaMemcpy(b.p, a.p, bytes, cudaMemcpyDeviceToDevice));
  std::vector<float> ms;
  for (int i = 0; i < 10; ++i) {
    CK(cudaEventRecord(e0));
    CK(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float m;
    CK(cudaEventElapsedTime(&m, e0, e1));
    ms.push_back(m);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

constexpr size_t kCopyBytes = size_t(2) << 30;

// Read + write bandwidth of a 2 GiB device copy, GB/s.
static double copyBandwidthGBs() { return 2.0 * kCopyBytes / (copyMedianMs(kCopyBytes) * 1e-3) / 1e9; }

static int bandwidth() {
  const float med = copyMedianMs(kCopyBytes);
  std::printf("d2d copy %zu MiB: median %.3f ms, %.1f GB/s (read+write)\n", kCopyBytes >> 20, med,
              2.0 * kCopyBytes / (med * 1e-3) / 1e9);
  return 0;
}

static int info() {
  int n = deviceCount();
  std::printf("devices: %d (driver %s, runtime %s)\n", n, driverVersionString().c_str(),
              runtimeVersionString().c_str());
  for (const DeviceInfo& d : listDevices())
    std::printf("  [%d] %s cc %s, %.1f GiB, %d SMs, L2 %.1f MiB, SM clock %d MHz (max %d, %s)\n", d.index,
                d.name.c_str(), d.computeCapability.c_str(), d.totalMemoryBytes / 1073741824.0,
                d.multiProcessors, d.l2CacheBytes / 1048576.0, d.smClockMHz, d.maxSmClockMHz,
                d.clockSource.c_str());
  return 0;
}

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "check";
  if (cmd == "info") return info();
  if (deviceCount() < 1) {
    std::printf("cuda_bench: no CUDA device (%s)\n", deviceCountError().c_str());
    return 3;
  }
  if (cmd == "check") return check();
  if (cmd == "bench") return bench(argc, argv);
  if (cmd == "bandwidth") return bandwidth();
  if (cmd == "decode") return decodeBench(argc, argv);
  std::fprintf(stderr, "usage: cuda_bench check|bench|bandwidth|info\n");
  return 64;
}
