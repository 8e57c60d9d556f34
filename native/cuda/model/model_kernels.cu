// Kernels of the CUDA transformer model (see model_kernels.h): embedding, norms, rope,
// activations, GEMM / GEMV, head-layout copies, a fallback row attention and argmax. All simple
// and safe: fp32 arithmetic and accumulation, bounds-checked, no atomics (deterministic).
#include <cmath>
#include <cstdint>

#include "../cuda_common.cuh"
#include "model_kernels.h"

namespace dilbench {
namespace cuda {
namespace model {
namespace {

constexpr unsigned kFull = 0xffffffffu;

cudaStream_t asStream(void* s) { return static_cast<cudaStream_t>(s); }

// 1-D grid for `total` elements, grid-stride loops cover the rest.
unsigned blocksFor(int64_t total, int threads) {
  const int64_t b = (total + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float blockSum(float v, float* shared32) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpSum(v);
  __syncthreads();  // shared32 may still be read by a previous call
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  float s = lane < warps ? shared32[lane] : 0.f;
  s = warpSum(s);
  return s;
}

// 16 bytes of T as floats.
template <class T>
struct Vec {
  static constexpr int N = 16 / sizeof(T);
};
template <class T>
__device__ __forceinline__ void unpack16(const uint4& r, float (&f)[Vec<T>::N]);
template <>
__device__ __forceinline__ void unpack16<float>(const uint4& r, float (&f)[4]) {
  f[0] = __uint_as_float(r.x);
  f[1] = __uint_as_float(r.y);
  f[2] = __uint_as_float(r.z);
  f[3] = __uint_as_float(r.w);
}
template <>
__device__ __forceinline__ void unpack16<__half>(const uint4& r, float (&f)[8]) {
  const __half2* h = reinterpret_cast<const __half2*>(&r);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __half22float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}
template <>
__device__ __forceinline__ void unpack16<__nv_bfloat16>(const uint4& r, float (&f)[8]) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&r);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __bfloat1622float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}

// ---- embedding ----------------------------------------------------------------------------------

template <class T>
__global__ void embedKernel(const int32_t* __restrict__ tokens, int64_t n, int64_t pos0,
                            const T* __restrict__ wte, int64_t vocab, const T* __restrict__ wpe, int64_t E,
                            float* __restrict__ x) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int64_t tok = tokens[i];
    float* xr = x + i * E;
    if (tok < 0 || tok >= vocab) {
      for (int64_t k = threadIdx.x; k < E; k += blockDim.x) xr[k] = __int_as_float(0x7fc00000);
      continue;
    }
    const T* er = wte + tok * E;
    const T* pr = wpe ? wpe + (pos0 + i) * E : nullptr;
    for (int64_t k = threadIdx.x; k < E; k += blockDim.x) xr[k] = toF(er[k]) + (pr ? toF(pr[k]) : 0.f);
  }
}

// ---- norms --------------------------------------------------------------------------------------

template <class TO>
__global__ void normKernel(const float* __restrict__ x, int64_t n, int64_t E, const float* __restrict__ gamma,
                           const float* __restrict__ beta, float eps, TO* __restrict__ y) {
  __shared__ float red[32];
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* xr = x + i * E;
    TO* yr = y + i * E;
    float mean = 0.f;
    if (beta) {
      float s = 0.f;
      for (int64_t k = threadIdx.x; k < E; k += blockDim.x) s += xr[k];
      mean = blockSum(s, red) / static_cast<float>(E);
    }
    float ss = 0.f;
    for (int64_t k = threadIdx.x; k < E; k += blockDim.x) {
      const float d = xr[k] - mean;
      ss += d * d;
    }
    const float r = 1.f / sqrtf(blockSum(ss, red) / static_cast<float>(E) + eps);
    for (int64_t k = threadIdx.x; k < E; k += blockDim.x) {
      const float v = (xr[k] - mean) * r * gamma[k];
      yr[k] = fromF<TO>(beta ? v + beta[k] : v);
    }
  }
}

// ---- rope ---------------------------------------------------------------------------------------

__global__ void ropeKernel(float* __restrict__ x, int64_t ld, int64_t n, int64_t heads, int64_t D,
                           int64_t pos0, const double* __restrict__ invFreq) {
  const int64_t half = D / 2;
  const int64_t total = n * heads * half;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = t % half;
    const int64_t h = (t / half) % heads;
    const int64_t i = t / (half * heads);
    // The angle in double, as the CPU model, so both rotate by the same fp32 factors.
    double sn, cs;
    sincos(static_cast<double>(pos0 + i) * invFreq[j], &sn, &cs);
    const float c = static_cast<float>(cs), s = static_cast<float>(sn);
    float* r = x + i * ld + h * D;
    const float a = r[j], b = r[j + half];
    r[j] = a * c - b * s;
    r[j + half] = b * c + a * s;
  }
}

// ---- activations --------------------------------------------------------------------------------

template <class T>
__global__ void activateKernel(int act, const float* __restrict__ f, int64_t n, int64_t I,
                               T* __restrict__ out) {
  const int64_t F = act == static_cast<int>(Act::SwiGLU) ? 2 * I : I;
  const int64_t total = n * I;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = t / I, j = t % I;
    const float v = f[i * F + j];
    float y;
    if (act == static_cast<int>(Act::Gelu)) {
      // The CPU model's form of the tanh approximation: tanh(u) = 1 - 2 / (1 + e^(2u)).
      const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
      y = 0.5f * v * (2.f - 2.f / (1.f + expf(2.f * u)));
    } else if (act == static_cast<int>(Act::Relu)) {
      y = v > 0.f ? v : 0.f;
    } else {
      y = v / (1.f + expf(-v)) * f[i * F + I + j];
    }
    out[t] = fromF<T>(y);
  }
}

// ---- GEMM / GEMV --------------------------------------------------------------------------------

constexpr int kTile = 64, kTileK = 16, kGemmThreads = 256;

// C tile 64 x 64 per block; thread (tx, ty) of 16 x 16 owns rows ty + 16 r, columns tx + 16 c.
// A and W tiles are converted to fp32 in shared memory (k-major, padded).
template <class T>
__global__ void __launch_bounds__(kGemmThreads)
    gemmTiledKernel(int64_t M, int64_t N, int64_t K, const T* __restrict__ A, int64_t lda,
                    const T* __restrict__ W, const float* __restrict__ bias, float* __restrict__ C,
                    int64_t ldc, int accumulate) {
  __shared__ float As[kTileK][kTile + 4];
  __shared__ float Ws[kTileK][kTile + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
#pragma unroll
    for (int r = 0; r < (kTile * kTileK) / kGemmThreads; ++r) {
      const int e = tid + r * kGemmThreads;
      const int row = e / kTileK, kk = e % kTileK;
      const int64_t k = k0 + kk;
      const int64_t m = m0 + row, nn = n0 + row;
      As[kk][row] = (m < M && k < K) ? toF(A[m * lda + k]) : 0.f;
      Ws[kk][row] = (nn < N && k < K) ? toF(W[nn * K + k]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) a[r] = As[kk][ty + 16 * r];
#pragma unroll
      for (int c = 0; c < 4; ++c) b[c] = Ws[kk][tx + 16 * c];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = fmaf(a[r], b[c], acc[r][c]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t m = m0 + ty + 16 * r;
    if (m >= M) continue;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int64_t nn = n0 + tx + 16 * c;
      if (nn >= N) continue;
      float v = acc[r][c] + (bias ? bias[nn] : 0.f);
      float* out = C + m * ldc + nn;
      if (accumulate) v += *out;
      *out = v;
    }
  }
}

constexpr int kGemvWarps = 8;

// out[n] = dot(a, W[n, :]) (+ bias, += out): one warp per row n; Vectorized: 16-byte loads of a
// and of the row (K % Vec::N == 0 and both 16-byte aligned, checked by the launcher).
template <class T, bool Vectorized>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemvKernel(int64_t N, int64_t K, const T* __restrict__ a, const T* __restrict__ W,
               const float* __restrict__ bias, float* __restrict__ C, int accumulate) {
  const int lane = threadIdx.x & 31;
  const int64_t n = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  if (n >= N) return;  // the whole warp leaves together: n is uniform in a warp
  const T* w = W + n * K;
  float s = 0.f;
  if (Vectorized) {
    constexpr int V = Vec<T>::N;
    const uint4* w4 = reinterpret_cast<const uint4*>(w);
    const uint4* a4 = reinterpret_cast<const uint4*>(a);
    const int64_t chunks = K / V;
#pragma unroll 4
    for (int64_t c = lane; c < chunks; c += 32) {
      float wf[V], af[V];
      unpack16<T>(__ldg(w4 + c), wf);
      unpack16<T>(__ldg(a4 + c), af);
#pragma unroll
      for (int e = 0; e < V; ++e) s = fmaf(af[e], wf[e], s);
    }
  } else {
    for (int64_t k = lane; k < K; k += 32) s = fmaf(toF(a[k]), toF(w[k]), s);
  }
  s = warpSum(s);
  if (lane == 0) {
    float v = s + (bias ? bias[n] : 0.f);
    if (accumulate) v += C[n];
    C[n] = v;
  }
}

// ---- head layouts -------------------------------------------------------------------------------

template <class T>
__global__ void scatterHeadsKernel(const float* __restrict__ src, int64_t ld, int64_t n, int64_t heads,
                                   int64_t D, T* __restrict__ dst, int64_t rowsPerHead, int64_t row0) {
  const int64_t total = n * heads * D;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = t % D, h = (t / D) % heads, i = t / (D * heads);
    dst[(h * rowsPerHead + row0 + i) * D + d] = fromF<T>(src[i * ld + h * D + d]);
  }
}

template <class T>
__global__ void gatherHeadsKernel(const T* __restrict__ src, int64_t rowsPerHead, int64_t row0, int64_t n,
                                  int64_t heads, int64_t D, T* __restrict__ dst) {
  const int64_t total = n * heads * D;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = t % D, h = (t / D) % heads, i = t / (D * heads);
    dst[t] = src[(h * rowsPerHead + row0 + i) * D + d];
  }
}

// ---- fallback row attention -------------------------------------------------------------------

constexpr int kRowAttnWarps = 4;

// One warp per (query row, head); lane owns dimensions lane + 32 r (r < R). Per kv row: a warp
// dot product (shuffle sum), then the online-softmax update of (max, sum, acc) in fp32.
template <class T, int R>
__global__ void __launch_bounds__(kRowAttnWarps * 32) rowAttnKernel(RowAttnArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t task = int64_t(blockIdx.x) * kRowAttnWarps + (threadIdx.x >> 5);
  if (task >= a.nq * a.heads) return;  // uniform per warp
  const int64_t i = task / a.heads, h = task % a.heads;
  const int64_t g = h / (a.heads / a.kvHeads);
  const int64_t D = a.headDim;
  const T* q = static_cast<const T*>(a.q) + (h * a.qRowsPerHead + a.qRow0 + i) * D;
  const T* kh = static_cast<const T*>(a.k) + g * a.kvRowsPerHead * D;
  const T* vh = static_cast<const T*>(a.v) + g * a.kvRowsPerHead * D;
  T* o = static_cast<T*>(a.o) + (h * a.qRowsPerHead + a.qRow0 + i) * D;
  int64_t len = a.kvLen;
  if (a.causal && a.qPos0 + i + 1 < len) len = a.qPos0 + i + 1;
  float qf[R], acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t d = lane + 32 * r;
    qf[r] = d < D ? toF(q[d]) : 0.f;
    acc[r] = 0.f;
  }
  float mx = -INFINITY, sum = 0.f;
  for (int64_t j = 0; j < len; ++j) {
    const T* kr = kh + j * D;
    float dot = 0.f;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t d = lane + 32 * r;
      if (d < D) dot = fmaf(qf[r], toF(kr[d]), dot);
    }
    const float s = warpSum(dot) * a.scale;
    const float mNew = fmaxf(mx, s);
    const float corr = expf(mx - mNew);  // 0 on the first row (mx = -inf)
    const float p = expf(s - mNew);
    sum = sum * corr + p;
    const T* vr = vh + j * D;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t d = lane + 32 * r;
      if (d < D) acc[r] = fmaf(p, toF(vr[d]), acc[r] * corr);
    }
    mx = mNew;
  }
  const float inv = len > 0 ? 1.f / sum : 0.f;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t d = lane + 32 * r;
    if (d < D) o[d] = fromF<T>(acc[r] * inv);
  }
}

// ---- argmax -------------------------------------------------------------------------------------

constexpr int kArgmaxThreads = 1024;

// Keeps (value, index) with the larger value, the smaller index on ties; index -1 = none.
__device__ __forceinline__ void better(float& bv, int64_t& bi, float v, int64_t i) {
  if (i < 0) return;
  if (bi < 0 || v > bv || (v == bv && i < bi)) {
    bv = v;
    bi = i;
  }
}

__global__ void __launch_bounds__(kArgmaxThreads)
    argmaxKernel(const float* __restrict__ v, int64_t n, int32_t* __restrict__ out) {
  __shared__ float sv[32];
  __shared__ long long si[32];
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) better(bv, bi, v[i], i);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(kFull, bv, off);
    const long long oi = __shfl_xor_sync(kFull, static_cast<long long>(bi), off);
    better(bv, bi, ov, oi);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = bv;
    si[warp] = bi;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x >> 5;
    bv = lane < warps ? sv[lane] : -INFINITY;
    bi = lane < warps ? si[lane] : -1;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float ov = __shfl_xor_sync(kFull, bv, off);
      const long long oi = __shfl_xor_sync(kFull, static_cast<long long>(bi), off);
      better(bv, bi, ov, oi);
    }
    if (lane == 0) out[0] = static_cast<int32_t>(bi < 0 ? 0 : bi);
  }
}

// ---- dispatch -----------------------------------------------------------------------------------

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

bool validType(ElemType t) { return t == ElemType::F32 || t == ElemType::F16 || t == ElemType::BF16; }

template <class T>
const char* gemmT(int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W,
                  const float* bias, float* C, int64_t ldc, bool accumulate, cudaStream_t st) {
  const T* a = static_cast<const T*>(A);
  const T* w = static_cast<const T*>(W);
  if (M == 1) {
    const unsigned blocks = static_cast<unsigned>((N + kGemvWarps - 1) / kGemvWarps);
    if (K % Vec<T>::N == 0 && aligned16(A) && aligned16(W)) {
      gemvKernel<T, true><<<blocks, kGemvWarps * 32, 0, st>>>(N, K, a, w, bias, C, accumulate ? 1 : 0);
    } else {
      gemvKernel<T, false><<<blocks, kGemvWarps * 32, 0, st>>>(N, K, a, w, bias, C, accumulate ? 1 : 0);
    }
    return lastLaunchError();
  }
  dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile), static_cast<unsigned>((M + kTile - 1) / kTile));
  gemmTiledKernel<T><<<grid, kGemmThreads, 0, st>>>(M, N, K, a, lda, w, bias, C, ldc, accumulate ? 1 : 0);
  return lastLaunchError();
}

template <class T>
const char* rowAttnT(const RowAttnArgs& a) {
  const unsigned blocks = static_cast<unsigned>((a.nq * a.heads + kRowAttnWarps - 1) / kRowAttnWarps);
  cudaStream_t st = asStream(a.stream);
  const int64_t r = (a.headDim + 31) / 32;
  if (r <= 1) rowAttnKernel<T, 1><<<blocks, kRowAttnWarps * 32, 0, st>>>(a);
  else if (r <= 2) rowAttnKernel<T, 2><<<blocks, kRowAttnWarps * 32, 0, st>>>(a);
  else if (r <= 4) rowAttnKernel<T, 4><<<blocks, kRowAttnWarps * 32, 0, st>>>(a);
  else rowAttnKernel<T, 8><<<blocks, kRowAttnWarps * 32, 0, st>>>(a);
  return lastLaunchError();
}

}  // namespace

const char* embedRows(ElemType t, const int32_t* tokens, int64_t n, int64_t pos0, const void* wte,
                      int64_t vocab, const void* wpe, int64_t E, float* x, void* stream) {
  if (!validType(t)) return "embedRows: bad element type";
  if (!tokens || !wte || !x || n < 1 || E < 1 || vocab < 1 || pos0 < 0) return "embedRows: bad arguments";
  const unsigned blocks = static_cast<unsigned>(n < 65535 ? n : 65535);
  cudaStream_t st = asStream(stream);
  switch (t) {
    case ElemType::F32:
      embedKernel<float><<<blocks, 256, 0, st>>>(tokens, n, pos0, static_cast<const float*>(wte), vocab,
                                                 static_cast<const float*>(wpe), E, x);
      break;
    case ElemType::F16:
      embedKernel<__half><<<blocks, 256, 0, st>>>(tokens, n, pos0, static_cast<const __half*>(wte), vocab,
                                                  static_cast<const __half*>(wpe), E, x);
      break;
    default:
      embedKernel<__nv_bfloat16><<<blocks, 256, 0, st>>>(tokens, n, pos0,
                                                         static_cast<const __nv_bfloat16*>(wte), vocab,
                                                         static_cast<const __nv_bfloat16*>(wpe), E, x);
  }
  return lastLaunchError();
}

const char* normRows(const float* x, int64_t n, int64_t E, const float* gamma, const float* beta, float eps,
                     ElemType outType, void* y, void* stream) {
  if (!validType(outType)) return "normRows: bad element type";
  if (!x || !gamma || !y || n < 1 || E < 1 || !(eps > 0.f)) return "normRows: bad arguments";
  const unsigned blocks = static_cast<unsigned>(n < 65535 ? n : 65535);
  cudaStream_t st = asStream(stream);
  switch (outType) {
    case ElemType::F32:
      normKernel<float><<<blocks, 256, 0, st>>>(x, n, E, gamma, beta, eps, static_cast<float*>(y));
      break;
    case ElemType::F16:
      normKernel<__half><<<blocks, 256, 0, st>>>(x, n, E, gamma, beta, eps, static_cast<__half*>(y));
      break;
    default:
      normKernel<__nv_bfloat16>
          <<<blocks, 256, 0, st>>>(x, n, E, gamma, beta, eps, static_cast<__nv_bfloat16*>(y));
  }
  return lastLaunchError();
}

const char* ropeRows(float* x, int64_t ld, int64_t n, int64_t heads, int64_t D, int64_t pos0,
                     const double* invFreq, void* stream) {
  if (!x || !invFreq || n < 1 || heads < 1 || D < 2 || D % 2 || ld < heads * D || pos0 < 0) {
    return "ropeRows: bad arguments";
  }
  ropeKernel<<<blocksFor(n * heads * (D / 2), 256), 256, 0, asStream(stream)>>>(x, ld, n, heads, D, pos0,
                                                                                invFreq);
  return lastLaunchError();
}

const char* activateRows(Act act, const float* f, int64_t n, int64_t I, ElemType t, void* out, void* stream) {
  if (!validType(t)) return "activateRows: bad element type";
  if (!f || !out || n < 1 || I < 1) return "activateRows: bad arguments";
  if (act != Act::Gelu && act != Act::Relu && act != Act::SwiGLU) return "activateRows: bad activation";
  const unsigned blocks = blocksFor(n * I, 256);
  cudaStream_t st = asStream(stream);
  const int a = static_cast<int>(act);
  switch (t) {
    case ElemType::F32:
      activateKernel<float><<<blocks, 256, 0, st>>>(a, f, n, I, static_cast<float*>(out));
      break;
    case ElemType::F16:
      activateKernel<__half><<<blocks, 256, 0, st>>>(a, f, n, I, static_cast<__half*>(out));
      break;
    default:
      activateKernel<__nv_bfloat16><<<blocks, 256, 0, st>>>(a, f, n, I, static_cast<__nv_bfloat16*>(out));
  }
  return lastLaunchError();
}

const char* gemm(ElemType t, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W,
                 const float* bias, float* C, int64_t ldc, bool accumulate, void* stream) {
  if (!validType(t)) return "gemm: bad element type";
  if (!A || !W || !C || M < 1 || N < 1 || K < 1 || lda < K || ldc < N) return "gemm: bad arguments";
  if ((N + kTile - 1) / kTile > 0x7fffffff || (M + kTile - 1) / kTile > 65535)
    return "gemm: matrix too large";
  cudaStream_t st = asStream(stream);
  switch (t) {
    case ElemType::F32: return gemmT<float>(M, N, K, A, lda, W, bias, C, ldc, accumulate, st);
    case ElemType::F16: return gemmT<__half>(M, N, K, A, lda, W, bias, C, ldc, accumulate, st);
    default: return gemmT<__nv_bfloat16>(M, N, K, A, lda, W, bias, C, ldc, accumulate, st);
  }
}

const char* scatterHeads(ElemType t, const float* src, int64_t ld, int64_t n, int64_t heads, int64_t D,
                         void* dst, int64_t rowsPerHead, int64_t row0, void* stream) {
  if (!validType(t)) return "scatterHeads: bad element type";
  if (!src || !dst || n < 1 || heads < 1 || D < 1 || ld < heads * D || row0 < 0 || row0 + n > rowsPerHead) {
    return "scatterHeads: bad arguments";
  }
  const unsigned blocks = blocksFor(n * heads * D, 256);
  cudaStream_t st = asStream(stream);
  switch (t) {
    case ElemType::F32:
      scatterHeadsKernel<float>
          <<<blocks, 256, 0, st>>>(src, ld, n, heads, D, static_cast<float*>(dst), rowsPerHead, row0);
      break;
    case ElemType::F16:
      scatterHeadsKernel<__half>
          <<<blocks, 256, 0, st>>>(src, ld, n, heads, D, static_cast<__half*>(dst), rowsPerHead, row0);
      break;
    default:
      scatterHeadsKernel<__nv_bfloat16>
          <<<blocks, 256, 0, st>>>(src, ld, n, heads, D, static_cast<__nv_bfloat16*>(dst), rowsPerHead, row0);
  }
  return lastLaunchError();
}

const char* gatherHeads(ElemType t, const void* src, int64_t rowsPerHead, int64_t row0, int64_t n,
                        int64_t heads, int64_t D, void* dst, void* stream) {
  if (!validType(t)) return "gatherHeads: bad element type";
  if (!src || !dst || n < 1 || heads < 1 || D < 1 || row0 < 0 || row0 + n > rowsPerHead) {
    return "gatherHeads: bad arguments";
  }
  const unsigned blocks = blocksFor(n * heads * D, 256);
  cudaStream_t st = asStream(stream);
  switch (t) {
    case ElemType::F32:
      gatherHeadsKernel<float><<<blocks, 256, 0, st>>>(static_cast<const float*>(src), rowsPerHead, row0, n,
                                                       heads, D, static_cast<float*>(dst));
      break;
    case ElemType::F16:
      gatherHeadsKernel<__half><<<blocks, 256, 0, st>>>(static_cast<const __half*>(src), rowsPerHead, row0, n,
                                                        heads, D, static_cast<__half*>(dst));
      break;
    default:
      gatherHeadsKernel<__nv_bfloat16><<<blocks, 256, 0, st>>>(static_cast<const __nv_bfloat16*>(src),
                                                               rowsPerHead, row0, n, heads, D,
                                                               static_cast<__nv_bfloat16*>(dst));
  }
  return lastLaunchError();
}

const char* attendRows(const RowAttnArgs& a) {
  if (!validType(a.dtype)) return "attendRows: bad element type";
  if (!a.q || !a.k || !a.v || !a.o) return "attendRows: null tensor";
  if (a.headDim < 1 || a.headDim > kRowAttnMaxHeadDim) return "attendRows: headDim must be in 1..256";
  if (a.heads < 1 || a.kvHeads < 1 || a.heads % a.kvHeads)
    return "attendRows: heads must be a multiple of kvHeads";
  if (a.nq < 1 || a.qRow0 < 0 || a.qRow0 + a.nq > a.qRowsPerHead || a.qPos0 < 0)
    return "attendRows: bad query rows";
  if (a.kvLen < 1 || a.kvLen > a.kvRowsPerHead) return "attendRows: bad kv length";
  if (!(a.scale > 0.f)) return "attendRows: scale must be > 0";
  if ((a.nq * a.heads + kRowAttnWarps - 1) / kRowAttnWarps > 0x7fffffff) return "attendRows: too many rows";
  switch (a.dtype) {
    case ElemType::F32: return rowAttnT<float>(a);
    case ElemType::F16: return rowAttnT<__half>(a);
    default: return rowAttnT<__nv_bfloat16>(a);
  }
}

const char* argmaxRow(const float* v, int64_t n, int32_t* out, void* stream) {
  if (!v || !out || n < 1 || n > 0x7fffffff) return "argmaxRow: bad arguments";
  argmaxKernel<<<1, kArgmaxThreads, 0, asStream(stream)>>>(v, n, out);
  return lastLaunchError();
}

}  // namespace model
}  // namespace cuda
}  // namespace dilbench
