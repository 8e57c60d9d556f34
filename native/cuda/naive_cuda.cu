// naive attention on CUDA: materialises S = scale * Q K^T (fp32, seqLen x seqLen per head) in
// the workspace, masks and softmaxes each row in place, then O = P V. Own SIMT GEMMs (fp32
// arithmetic, no cuBLAS to ship). O(seqLen^2) memory on purpose: it is the baseline.
// Also: the fp32 <-> dtype conversion kernels used by the backend's upload/download.
#include <cmath>

#include "cuda_common.cuh"

namespace dilbench {
namespace cuda {
namespace {

// C[z][m][n] = alpha * sum_k A[z][m][k] * B(z)(k, n)
// A row-major [M][K] (lda); B either [N][K] (BT, e.g. K for Q K^T) or [K][N] (e.g. V).
// B's batch index follows grouped-query attention: z = b*heads + h -> b*kvHeads + h/group.
template <class TA, class TB, class TC, bool BT>
__global__ void __launch_bounds__(256)
    gemmKernel(const TA* __restrict__ A, const TB* __restrict__ B, TC* __restrict__ C, int M, int N, int K,
               int lda, int ldb, int ldc, size_t strideA, size_t strideB, size_t strideC, int heads,
               int kvHeads, int group, float alpha) {
  constexpr int TM = 64, TN = 64, TK = 16;
  __shared__ float As[TK][TM + 4];
  __shared__ float Bs[TK][TN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN, z = blockIdx.z;
  const int b = z / heads, h = z % heads;
  A += z * strideA;
  B += static_cast<size_t>(b * kvHeads + h / group) * strideB;
  C += z * strideC;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += TK) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      int idx = tid + i * 256;
      int r = idx / TK, kk = idx % TK;
      As[kk][r] = (m0 + r < M && k0 + kk < K) ? toF(A[static_cast<size_t>(m0 + r) * lda + k0 + kk]) : 0.f;
      if (BT) {
        Bs[kk][r] = (n0 + r < N && k0 + kk < K) ? toF(B[static_cast<size_t>(n0 + r) * ldb + k0 + kk]) : 0.f;
      } else {
        int kr = idx / TN, c = idx % TN;
        Bs[kr][c] = (k0 + kr < K && n0 + c < N) ? toF(B[static_cast<size_t>(k0 + kr) * ldb + n0 + c]) : 0.f;
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < TK; ++kk) {
      float a[4], bb[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bb[j] = Bs[kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], bb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    int m = m0 + ty * 4 + i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int nn = n0 + tx * 4 + j;
      if (nn < N) C[static_cast<size_t>(m) * ldc + nn] = fromF<TC>(alpha * acc[i][j]);
    }
  }
}

// One block per score row: mask (keys past the query when causal), softmax in place; masked
// entries become exactly 0. A row with no allowed key would become all zeros (cannot happen
// for dense attention, kept for safety).
__global__ void __launch_bounds__(256) softmaxRowsKernel(float* S, int n, int causal) {
  const size_t rowId = blockIdx.x;  // z * n + i
  const int i = static_cast<int>(rowId % n);
  float* row = S + rowId * n;
  const int allowed = causal ? i + 1 : n;
  __shared__ float red[32];
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < allowed; j += blockDim.x) mx = fmaxf(mx, row[j]);
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (threadIdx.x == 0) red[0] = v;
  }
  __syncthreads();
  mx = red[0];
  __syncthreads();
  const float base = mx == -INFINITY ? 0.f : mx;
  float sum = 0.f;
  for (int j = threadIdx.x; j < allowed; j += blockDim.x) {
    float e = __expf(row[j] - base);
    row[j] = e;
    sum += e;
  }
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) red[0] = v;
  }
  __syncthreads();
  const float inv = red[0] > 0.f ? 1.f / red[0] : 0.f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] = j < allowed ? row[j] * inv : 0.f;
}

template <class T>
const char* naiveT(const AttnArgs& a, float* S) {
  cudaStream_t st = static_cast<cudaStream_t>(a.stream);
  const int n = static_cast<int>(a.seqLen), d = static_cast<int>(a.headDim);
  const int z = static_cast<int>(a.batch * a.heads);
  const int heads = static_cast<int>(a.heads), kvh = static_cast<int>(a.kvHeads);
  const int group = heads / kvh;
  const size_t nn = static_cast<size_t>(n) * n, nd = static_cast<size_t>(n) * d;
  dim3 g1((n + 63) / 64, (n + 63) / 64, z);
  gemmKernel<T, T, float, true><<<g1, 256, 0, st>>>(static_cast<const T*>(a.q), static_cast<const T*>(a.k), S,
                                                    n, n, d, d, d, n, nd, nd, nn, heads, kvh, group, a.scale);
  if (const char* e = lastLaunchError()) return e;
  softmaxRowsKernel<<<static_cast<unsigned>(static_cast<size_t>(z) * n), 256, 0, st>>>(S, n,
                                                                                       a.causal ? 1 : 0);
  if (const char* e = lastLaunchError()) return e;
  dim3 g2((d + 63) / 64, (n + 63) / 64, z);
  gemmKernel<float, T, T, false><<<g2, 256, 0, st>>>(S, static_cast<const T*>(a.v), static_cast<T*>(a.o), n,
                                                     d, n, n, d, d, nn, nd, nd, heads, kvh, group, 1.f);
  return lastLaunchError();
}

template <class TO, class TI>
__global__ void convertKernel(TO* dst, const TI* src, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = fromF<TO>(toF(src[i]));
}

template <class TO, class TI>
const char* convert(TO* dst, const TI* src, size_t count, void* stream) {
  if (count == 0) return nullptr;
  size_t blocks = (count + 255) / 256;
  if (blocks > 65535u * 8u) blocks = 65535u * 8u;
  convertKernel<TO, TI>
      <<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(stream)>>>(dst, src, count);
  return lastLaunchError();
}

}  // namespace

size_t naiveWorkspaceBytes(const AttnArgs& a) {
  return static_cast<size_t>(a.batch * a.heads) * static_cast<size_t>(a.seqLen) *
         static_cast<size_t>(a.seqLen) * sizeof(float);
}

bool naiveSupports(ElemType, int64_t headDim) { return headDim >= 1 && headDim <= 512; }

const char* launchNaive(const AttnArgs& a, void* workspace) {
  if (!naiveSupports(a.dtype, a.headDim)) return "naive (cuda): headDim must be 1..512";
  if (a.seqLen <= 0 || a.batch <= 0 || a.heads <= 0 || a.kvHeads <= 0 || a.heads % a.kvHeads)
    return "naive (cuda): bad shape";
  if (a.batch * a.heads > 65535) return "naive (cuda): batch*heads must be <= 65535";
  if (static_cast<size_t>(a.batch * a.heads) * a.seqLen > 0x7fffffffu)
    return "naive (cuda): batch*heads*seqLen too large";
  if (!workspace) return "naive (cuda): no workspace";
  float* S = static_cast<float*>(workspace);
  switch (a.dtype) {
    case ElemType::F32: return naiveT<float>(a, S);
    case ElemType::F16: return naiveT<__half>(a, S);
    default: return naiveT<__nv_bfloat16>(a, S);
  }
}

const char* convertFromF32(void* dst, const float* src, size_t count, ElemType t, void* stream) {
  switch (t) {
    case ElemType::F32: return convert(static_cast<float*>(dst), src, count, stream);
    case ElemType::F16: return convert(static_cast<__half*>(dst), src, count, stream);
    default: return convert(static_cast<__nv_bfloat16*>(dst), src, count, stream);
  }
}

const char* convertToF32(float* dst, const void* src, size_t count, ElemType t, void* stream) {
  switch (t) {
    case ElemType::F32: return convert(dst, static_cast<const float*>(src), count, stream);
    case ElemType::F16: return convert(dst, static_cast<const __half*>(src), count, stream);
    default: return convert(dst, static_cast<const __nv_bfloat16*>(src), count, stream);
  }
}

}  // namespace cuda
}  // namespace dilbench
