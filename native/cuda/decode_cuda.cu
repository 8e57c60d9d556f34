// kv-cache decode step on CUDA, flash-decoding style (split-K over the cache):
//  1. decodeSplitKernel: grid (splits, batch * heads / GH); a block streams one chunk of one kv
//     head's cache exactly once for the GH query heads that share it (grouped-query), 16-byte
//     loads, several rows in flight per lane group, online softmax in base 2; writes the chunk's
//     (max, sum, unnormalised output) in fp32.
//  2. decodeCombineKernel: one block per (batch, head) merges the chunks (log-sum-exp weights)
//     and writes the output row.
// Memory-bound: the bytes are the cache rows read (2 * rows * headDim * sizeof(T) per kv head).
#include <cmath>

#include "cuda_common.cuh"

namespace dilbench {
namespace cuda {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kThreads = 128;
constexpr int kRowsInFlight = 4;  // rows per lane group per iteration
constexpr int kMinRowsPerSplit = 256;

struct DecodeParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* pm;    // [bh][splits] running max (base 2)
  float* pl;    // [bh][splits] sum
  float* pacc;  // [bh][splits][D]
  long long L;  // rows per head
  int pos, heads, kvHeads, group, splits, chunk;
  float scaleLog2;
};

template <class T>
__device__ __forceinline__ void unpack(const uint4& r, float (&f)[16 / sizeof(T)]);
template <>
__device__ __forceinline__ void unpack<float>(const uint4& r, float (&f)[4]) {
  f[0] = __uint_as_float(r.x);
  f[1] = __uint_as_float(r.y);
  f[2] = __uint_as_float(r.z);
  f[3] = __uint_as_float(r.w);
}
template <>
__device__ __forceinline__ void unpack<__half>(const uint4& r, float (&f)[8]) {
  const __half2* h = reinterpret_cast<const __half2*>(&r);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 x = __half22float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}
template <>
__device__ __forceinline__ void unpack<__nv_bfloat16>(const uint4& r, float (&f)[8]) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&r);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 x = __bfloat1622float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}

__device__ __forceinline__ uint4 ldStream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

template <class T, int D, int GH>
__global__ void __launch_bounds__(kThreads) decodeSplitKernel(DecodeParams p) {
  constexpr int VEC = 16 / sizeof(T);  // elements per 16-byte load
  constexpr int LPR = D / VEC;         // lanes per cache row
  static_assert(LPR >= 1 && LPR <= 32 && (32 % LPR) == 0, "headDim / dtype combination");
  constexpr int SG = 32 / LPR;  // lane groups per warp
  constexpr int NSG = (kThreads / 32) * SG;
  constexpr int U = kRowsInFlight;
  __shared__ float sM[NSG][GH], sL[NSG][GH];
  __shared__ float sAcc[NSG][GH][D];

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int sub = lane / LPR, li = lane % LPR, sg = warp * SG + sub;
  const int split = blockIdx.x;
  const int blocksPerBatch = p.heads / GH;
  const int b = blockIdx.y / blocksPerBatch, h0 = (blockIdx.y % blocksPerBatch) * GH;
  const int kvh = h0 / p.group;
  const size_t kvBase = static_cast<size_t>(b * p.kvHeads + kvh) * p.L * D;
  const T* K = static_cast<const T*>(p.k) + kvBase;
  const T* V = static_cast<const T*>(p.v) + kvBase;
  const int n = p.pos + 1;
  const int c0 = split * p.chunk, c1 = min(n, c0 + p.chunk);

  float qv[GH][VEC];
#pragma unroll
  for (int g = 0; g < GH; ++g) {
    const T* qrow =
        static_cast<const T*>(p.q) + (static_cast<size_t>(b * p.heads + h0 + g) * p.L + p.pos) * D + li * VEC;
    float f[VEC];
    unpack<T>(*reinterpret_cast<const uint4*>(qrow), f);
#pragma unroll
    for (int e = 0; e < VEC; ++e) qv[g][e] = f[e] * p.scaleLog2;
  }
  float m[GH], l[GH], acc[GH][VEC];
#pragma unroll
  for (int g = 0; g < GH; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[g][e] = 0.f;
  }

  // Warp-uniform trip count (the shuffles below take the full warp); each lane group owns U
  // consecutive rows of the warp's SG * U, rows past the chunk are masked.
  for (int jw = c0 + warp * SG * U; jw < c1; jw += NSG * U) {
    const int j0 = jw + sub * U;
    uint4 kr[U], vr[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int j = max(c0, min(j0 + u, c1 - 1));  // clamp: a duplicate row is masked below
      kr[u] = ldStream(K + static_cast<size_t>(j) * D + li * VEC);
      vr[u] = ldStream(V + static_cast<size_t>(j) * D + li * VEC);
    }
    float s[U][GH];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float kf[VEC];
      unpack<T>(kr[u], kf);
#pragma unroll
      for (int g = 0; g < GH; ++g) {
        float d = 0.f;
#pragma unroll
        for (int e = 0; e < VEC; ++e) d = fmaf(qv[g][e], kf[e], d);
#pragma unroll
        for (int o = LPR / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[u][g] = (j0 + u < c1) ? d : -INFINITY;
      }
    }
#pragma unroll
    for (int g = 0; g < GH; ++g) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < U; ++u) mx = fmaxf(mx, s[u][g]);
      const float base = mx == -INFINITY ? 0.f : mx;
      const float alpha = exp2f(m[g] - base);
      m[g] = mx;
      l[g] *= alpha;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[g][e] *= alpha;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const float pu = exp2f(s[u][g] - base);
        l[g] += pu;
        float vf[VEC];
        unpack<T>(vr[u], vf);
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[g][e] = fmaf(pu, vf[e], acc[g][e]);
      }
    }
  }

  // Merge the lane groups of the block, then write the chunk's partial result.
#pragma unroll
  for (int g = 0; g < GH; ++g) {
    if (li == 0) {
      sM[sg][g] = m[g];
      sL[sg][g] = l[g];
    }
#pragma unroll
    for (int e = 0; e < VEC; ++e) sAcc[sg][g][li * VEC + e] = acc[g][e];
  }
  __syncthreads();
  for (int t = tid; t < GH * D; t += kThreads) {
    const int g = t / D, d = t % D;
    float M = -INFINITY;
    for (int i = 0; i < NSG; ++i) M = fmaxf(M, sM[i][g]);
    const float base = M == -INFINITY ? 0.f : M;
    float Lsum = 0.f, A = 0.f;
    for (int i = 0; i < NSG; ++i) {
      const float w = exp2f(sM[i][g] - base);
      Lsum += sL[i][g] * w;
      A += sAcc[i][g][d] * w;
    }
    const size_t bh = static_cast<size_t>(b * p.heads + h0 + g);
    p.pacc[(bh * p.splits + split) * D + d] = A;
    if (d == 0) {
      p.pm[bh * p.splits + split] = M;
      p.pl[bh * p.splits + split] = Lsum;
    }
  }
}

template <class T, int D>
__global__ void __launch_bounds__(128) decodeCombineKernel(DecodeParams p) {
  const size_t bh = blockIdx.x;
  float M = -INFINITY;
  for (int s = 0; s < p.splits; ++s) M = fmaxf(M, p.pm[bh * p.splits + s]);
  const float base = M == -INFINITY ? 0.f : M;
  float Lsum = 0.f;
  for (int s = 0; s < p.splits; ++s) Lsum += p.pl[bh * p.splits + s] * exp2f(p.pm[bh * p.splits + s] - base);
  const float inv = Lsum > 0.f ? 1.f / Lsum : 0.f;
  T* o = static_cast<T*>(p.o) + (bh * p.L + p.pos) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float A = 0.f;
    for (int s = 0; s < p.splits; ++s)
      A += p.pacc[(bh * p.splits + s) * D + d] * exp2f(p.pm[bh * p.splits + s] - base);
    o[d] = fromF<T>(A * inv);
  }
}

int groupHeads(int64_t group) {
  for (int gh : {8, 4, 2})
    if (group % gh == 0) return gh;
  return 1;
}

int maxSplitsFor(int64_t rows) {
  return static_cast<int>(std::max<int64_t>(1, (rows + kMinRowsPerSplit - 1) / kMinRowsPerSplit));
}

int splitsFor(const DecodeArgs& a, int sms) {
  const int64_t n = a.pos + 1;
  const int64_t blocks = a.batch * a.heads / groupHeads(a.heads / a.kvHeads);
  const int64_t want = (4LL * sms + blocks - 1) / blocks;  // about 4 blocks per SM
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(want, (n + kMinRowsPerSplit - 1) / kMinRowsPerSplit)));
}

int smCount() {
  static int sms = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      return 108;
    }
    return n;
  }();
  return sms;
}

template <class T, int D, int GH>
const char* launchT3(const DecodeArgs& a, DecodeParams& p) {
  cudaStream_t st = static_cast<cudaStream_t>(a.stream);
  dim3 grid(static_cast<unsigned>(p.splits), static_cast<unsigned>(a.batch * a.heads / GH));
  decodeSplitKernel<T, D, GH><<<grid, kThreads, 0, st>>>(p);
  if (const char* e = lastLaunchError()) return e;
  decodeCombineKernel<T, D><<<static_cast<unsigned>(a.batch * a.heads), 128, 0, st>>>(p);
  return lastLaunchError();
}

template <class T, int D>
const char* launchT2(const DecodeArgs& a, DecodeParams& p) {
  switch (groupHeads(a.heads / a.kvHeads)) {
    case 8: return launchT3<T, D, 8>(a, p);
    case 4: return launchT3<T, D, 4>(a, p);
    case 2: return launchT3<T, D, 2>(a, p);
    default: return launchT3<T, D, 1>(a, p);
  }
}

template <class T>
const char* launchT(const DecodeArgs& a, DecodeParams& p) {
  switch (a.headDim) {
    case 64: return launchT2<T, 64>(a, p);
    case 128: return launchT2<T, 128>(a, p);
    default: return "kv-cache (cuda): decode supports headDim 64 and 128";
  }
}

}  // namespace

bool decodeSupports(ElemType, int64_t headDim) { return headDim == 64 || headDim == 128; }

size_t decodeWorkspaceBytes(const DecodeArgs& a) {
  const size_t splits = static_cast<size_t>(maxSplitsFor(a.rowsPerHead));
  return static_cast<size_t>(a.batch * a.heads) * splits * (static_cast<size_t>(a.headDim) + 2) *
         sizeof(float);
}

int decodeSplits(const DecodeArgs& a) { return splitsFor(a, smCount()); }

const char* launchDecode(const DecodeArgs& a, void* workspace) {
  if (!decodeSupports(a.dtype, a.headDim)) return "kv-cache (cuda): decode supports headDim 64 and 128";
  if (a.pos < 0 || a.pos >= a.rowsPerHead) return "kv-cache (cuda): pos out of range";
  if (a.heads % a.kvHeads) return "kv-cache (cuda): heads % kvHeads != 0";
  if (!workspace) return "kv-cache (cuda): no workspace";
  const int splits = splitsFor(a, smCount());
  const int maxSplits = maxSplitsFor(a.rowsPerHead);
  DecodeParams p;
  p.q = a.q;
  p.k = a.k;
  p.v = a.v;
  p.o = a.o;
  const size_t bh = static_cast<size_t>(a.batch * a.heads);
  p.pm = static_cast<float*>(workspace);
  p.pl = p.pm + bh * maxSplits;
  p.pacc = p.pl + bh * maxSplits;
  p.L = a.rowsPerHead;
  p.pos = static_cast<int>(a.pos);
  p.heads = static_cast<int>(a.heads);
  p.kvHeads = static_cast<int>(a.kvHeads);
  p.group = static_cast<int>(a.heads / a.kvHeads);
  p.splits = std::min(splits, maxSplits);
  p.chunk = static_cast<int>((a.pos + 1 + p.splits - 1) / p.splits);
  p.scaleLog2 = a.scale * kLog2e;
  switch (a.dtype) {
    case ElemType::F32: return launchT<float>(a, p);
    case ElemType::F16: return launchT<__half>(a, p);
    default: return launchT<__nv_bfloat16>(a, p);
  }
}

}  // namespace cuda
}  // namespace dilbench
