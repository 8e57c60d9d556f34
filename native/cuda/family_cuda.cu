// The attention family on CUDA (dilated, dilated-grouped, ring, ring-dilated, block-sparse):
// one SIMT kernel, the structure of flash's SIMT path (flash_cuda.cu: 8 warps, a few query rows
// per warp, key tiles of 32 in shared memory, one key per lane for the scores, headDim / 32
// output columns per lane), generalised to the rows and keys a FamilyLaunch describes. Which
// rows and keys, the masks and the merge arithmetic are the __host__ __device__ functions of
// family_cuda_math.cuh, which tools/family_cuda_check.cpp runs on the CPU over every row; the
// warp code below (shuffles, shared memory, barriers) only ran through nvcc, never on a GPU yet.
// fp16 / bf16 / fp32 inputs, fp32 arithmetic and accumulation.
#include <algorithm>
#include <cmath>

#include "cuda_common.cuh"
#include "family_cuda_math.cuh"
#include "family_cuda_plan.h"

namespace dilbench {
namespace cuda {
namespace {

using namespace family_math;

struct DeviceBuffers {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* acc;
  float* lse;
};

// One CTA = one task of the launch for one (batch, query head): at most BM query rows.
template <class T, int D>
__global__ void __launch_bounds__(kThreads)
    familyAttentionKernel(const FamilyLaunch L, const DeviceBuffers buf) {
  constexpr int RW = rowsPerWarp(D), BM = kWarps * RW, BN = kKeyTile, DL = D / 32;
  static_assert(D % 32 == 0 && BN == 32, "one key per lane, headDim / 32 columns per lane");
  __shared__ float sQ[BM][D];
  __shared__ float sK[BN][D + 1];  // +1: lanes read different rows of the same column
  __shared__ float sV[BN][D];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t task = blockIdx.x;
  const int64_t b = blockIdx.y / L.headCount;
  const int64_t h = L.headBegin + blockIdx.y % L.headCount;
  Span qs;
  if (!queryTile(L, task, h, qs)) return;  // the same answer for the whole CTA, before any barrier
  const int64_t n = L.seqLen;
  const int64_t bhq = b * L.heads + h;
  const int64_t bhk = b * L.kvHeads + h / (L.heads / L.kvHeads);
  const T* Q = static_cast<const T*>(buf.q) + bhq * n * D;
  const T* K = static_cast<const T*>(buf.k) + bhk * n * D;
  const T* V = static_cast<const T*>(buf.v) + bhk * n * D;

  for (int i = tid; i < BM * D; i += kThreads) {
    const int r = i / D, c = i % D;
    sQ[r][c] = r < qs.count ? toF(Q[qs.pos(r) * D + c]) * L.scaleLog2 : 0.f;
  }
  float acc[RW][DL], mRow[RW], lRow[RW];
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    mRow[r] = -INFINITY;
    lRow[r] = 0.f;
#pragma unroll
    for (int d = 0; d < DL; ++d) acc[r][d] = 0.f;
  }

  const int64_t qLast = qs.last();
  KeyTiles it;
  Span kt;
  while (nextKeyTile(L, task, h, qLast, it, kt)) {
    __syncthreads();  // the previous tile is consumed (and sQ is written, on the first pass)
    for (int i = tid; i < BN * D; i += kThreads) {
      const int r = i / D, c = i % D;
      const bool ok = r < kt.count;
      const int64_t row = ok ? kt.pos(r) : 0;
      sK[r][c] = ok ? toF(K[row * D + c]) : 0.f;
      sV[r][c] = ok ? toF(V[row * D + c]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < RW; ++r) {
      const int lrow = warp * RW + r;
      const int64_t qpos = qs.pos(lrow);  // rows past qs.count compute on zeros, never stored
      float sc = 0.f;
#pragma unroll 8
      for (int d = 0; d < D; ++d) sc = fmaf(sQ[lrow][d], sK[lane][d], sc);
      if (!keyAllowed(lane, kt, qpos, L.causal)) sc = -INFINITY;
      float mx = sc;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      float mNew, base, alpha;
      onlineRescale(mRow[r], mx, mNew, base, alpha);
      mRow[r] = mNew;
      const float pj = exp2f(sc - base);
      float sum = pj;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      lRow[r] = lRow[r] * alpha + sum;
#pragma unroll
      for (int d = 0; d < DL; ++d) acc[r][d] *= alpha;
      for (int j = 0; j < BN; ++j) {
        const float pjj = __shfl_sync(0xffffffffu, pj, j);
#pragma unroll
        for (int d = 0; d < DL; ++d) acc[r][d] = fmaf(pjj, sV[j][lane + 32 * d], acc[r][d]);
      }
    }
  }

  // Epilogue. Every branch below is uniform across the warp (lRow, mRow are warp-reduced).
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    const int lrow = warp * RW + r;
    if (lrow >= qs.count) continue;
    const int64_t row = bhq * n + qs.pos(lrow);
    const float l = lRow[r];
    if (!L.mergeIntoAccumulator) {
      const float inv = l > 0.f ? 1.f / l : 0.f;  // no allowed key: zeros, never NaN
      T* O = static_cast<T*>(buf.o) + row * D;
#pragma unroll
      for (int d = 0; d < DL; ++d) O[lane + 32 * d] = fromF<T>(acc[r][d] * inv);
      continue;
    }
    if (!(l > 0.f)) continue;  // nothing allowed: the running row stays as it is
    const float lseOld = buf.lse[row];
    __syncwarp();  // every lane has read lse before lane 0 overwrites it
    float cOld, cNew, lseOut;
    if (!mergeCoefficients(lseOld, mRow[r] + log2f(l), cOld, cNew, lseOut)) continue;
    const float inv = 1.f / l;
    float* A = buf.acc + row * D;
#pragma unroll
    for (int d = 0; d < DL; ++d) {
      const int c = lane + 32 * d;
      A[c] = A[c] * cOld + acc[r][d] * inv * cNew;
    }
    if (lane == 0) buf.lse[row] = lseOut;
  }
}

__global__ void fillKernel(float* p, size_t count, float value) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    p[i] = value;
}

template <class T, int D>
const char* launchT(const FamilyLaunch& l, const DeviceBuffers& d, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(l.tasks), static_cast<unsigned>(l.batch * l.headCount));
  familyAttentionKernel<T, D><<<grid, kThreads, 0, stream>>>(l, d);
  return lastLaunchError();
}

template <class T>
const char* launchDim(const FamilyLaunch& l, const DeviceBuffers& d, cudaStream_t stream) {
  switch (l.headDim) {
    case 32: return launchT<T, 32>(l, d, stream);
    case 64: return launchT<T, 64>(l, d, stream);
    case 96: return launchT<T, 96>(l, d, stream);
    case 128: return launchT<T, 128>(l, d, stream);
    default: return "family (cuda): headDim must be 32, 64, 96 or 128";
  }
}

}  // namespace

const char* familyBegin(const FamilyBuffers& b, size_t accFloats, size_t lseFloats) {
  if (!b.acc || !b.lse) return "family (cuda): no accumulator / lse workspace";
  cudaStream_t st = static_cast<cudaStream_t>(b.stream);
  cudaError_t e = cudaMemsetAsync(b.acc, 0, accFloats * sizeof(float), st);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(e);
  }
  const unsigned blocks = static_cast<unsigned>(std::min<size_t>(4096, (lseFloats + 255) / 256 + 1));
  fillKernel<<<blocks, 256, 0, st>>>(b.lse, lseFloats, -INFINITY);
  return lastLaunchError();
}

const char* launchFamily(const FamilyLaunch& l, const FamilyBuffers& b) {
  if (const char* e = checkFamilyLaunch(l)) return e;
  if (!b.q || !b.k || !b.v) return "family (cuda): null input tensor";
  if (l.mergeIntoAccumulator ? (!b.acc || !b.lse) : !b.o) return "family (cuda): null output / workspace";
  if (l.tasks == 0 || l.headCount == 0) return nullptr;  // nothing to do (e.g. disjoint ring chunks)
  const DeviceBuffers d{b.q, b.k, b.v, b.o, b.acc, b.lse};
  cudaStream_t st = static_cast<cudaStream_t>(b.stream);
  switch (b.dtype) {
    case ElemType::F32: return launchDim<float>(l, d, st);
    case ElemType::F16: return launchDim<__half>(l, d, st);
    default: return launchDim<__nv_bfloat16>(l, d, st);
  }
}

const char* familyFinish(const FamilyBuffers& b, size_t outElements) {
  if (b.dtype == ElemType::F32) {
    if (static_cast<void*>(b.acc) != b.o) return "family (cuda): fp32 runs accumulate into the output";
    return nullptr;
  }
  return convertFromF32(b.o, b.acc, outElements, b.dtype, b.stream);
}

}  // namespace cuda
}  // namespace dilbench
