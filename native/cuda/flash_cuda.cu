// flash attention on CUDA: tiled, online softmax, never more than a tile of scores.
//  * fp16 / bf16, headDim 64 and 128: tensor cores through mma.sync.m16n8k16 (fp32 accumulate),
//    ldmatrix from XOR-swizzled shared memory, cp.async loads overlapping the two GEMMs
//    (FlashAttention-2 schedule: K(j+1) loads during P V(j), V(j) loads during Q K(j)^T).
//  * everything else (fp32, other head dims): a SIMT kernel, one warp per query row group.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cuda_common.cuh"

namespace dilbench {
namespace cuda {
namespace {

constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void* src, bool pred) {
  int n = pred ? 16 : 0;  // 0: zero-fill (rows past seqLen)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cpAsyncWaitAll() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrixX4T(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <class T>
struct Mma;
template <>
struct Mma<__half> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};
template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

struct FlashParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  int n;         // rows processed per head (queries and keys)
  long long ld;  // rows allocated per head (head stride = ld * headDim); >= n
  int heads;     // query heads
  int kvHeads;
  int group;  // heads / kvHeads
  float scaleLog2;
  int causal;
};

// Element offset of (row, 16-byte chunk) in a swizzled [rows][D] tile.
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

template <class T, int D>
__device__ __forceinline__ void loadTile(T* s, const T* g, int row0, int rows, int n, int tid) {
  constexpr int CH = D / 8;
  for (int i = tid; i < rows * CH; i += 128) {
    int r = i / CH, c = i % CH;
    int gr = row0 + r;
    bool ok = gr < n;
    const T* src = g + static_cast<size_t>(ok ? gr : 0) * D + c * 8;
    cpAsync16(smemAddr(s + swz<D>(r, c)), src, ok);
  }
}

// 4 warps; warp w owns query rows {mf*64 + w*16 + [0,16)} of the BM = 64*MF row block.
template <class T, int D, int MF, int BN, bool QREG>
__global__ void __launch_bounds__(128) flashMmaKernel(FlashParams p) {
  constexpr int BM = 64 * MF;
  constexpr int KD = D / 16;  // k16 steps over headDim
  constexpr int NS = BN / 8;  // n8 score tiles per row block
  constexpr int ND = D / 8;   // n8 output tiles
  extern __shared__ uint4 smemRaw[];
  T* sQ = reinterpret_cast<T*>(smemRaw);
  T* sK = sQ + BM * D;
  T* sV = sK + BN * D;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int mi = lane >> 3, lr = lane & 7;
  const int mb = p.causal ? (gridDim.x - 1 - blockIdx.x) : blockIdx.x;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh % p.heads;
  const int hk = h / p.group;
  const int n = p.n;
  const int m0 = mb * BM;
  const T* Q = static_cast<const T*>(p.q) + static_cast<size_t>(bh) * p.ld * D;
  const T* K = static_cast<const T*>(p.k) + static_cast<size_t>(b * p.kvHeads + hk) * p.ld * D;
  const T* V = static_cast<const T*>(p.v) + static_cast<size_t>(b * p.kvHeads + hk) * p.ld * D;
  T* O = static_cast<T*>(p.o) + static_cast<size_t>(bh) * p.ld * D;

  int nBlocks = (n + BN - 1) / BN;
  if (p.causal) {
    int lastRow = min(m0 + BM, n);  // exclusive
    nBlocks = min(nBlocks, (lastRow + BN - 1) / BN);
  }

  loadTile<T, D>(sQ, Q, m0, BM, n, tid);
  loadTile<T, D>(sK, K, 0, BN, n, tid);
  cpAsyncCommit();

  float acc[MF][ND][4];
#pragma unroll
  for (int f = 0; f < MF; ++f)
#pragma unroll
    for (int d = 0; d < ND; ++d)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[f][d][e] = 0.f;
  float rowMax[MF][2], rowSum[MF][2];
#pragma unroll
  for (int f = 0; f < MF; ++f) {
    rowMax[f][0] = rowMax[f][1] = -INFINITY;
    rowSum[f][0] = rowSum[f][1] = 0.f;
  }
  uint32_t qf[QREG ? MF : 1][QREG ? KD : 1][4];

  for (int nb = 0; nb < nBlocks; ++nb) {
    cpAsyncWaitAll();
    __syncthreads();  // K(nb) (and Q) landed; every warp finished P V(nb-1)
    if (QREG && nb == 0) {
#pragma unroll
      for (int f = 0; f < (QREG ? MF : 1); ++f)
#pragma unroll
        for (int kk = 0; kk < (QREG ? KD : 1); ++kk)
          ldmatrixX4(qf[f][kk],
                     smemAddr(sQ + swz<D>(f * 64 + warp * 16 + (mi & 1) * 8 + lr, kk * 2 + (mi >> 1))));
    }
    const int n0 = nb * BN;
    loadTile<T, D>(sV, V, n0, BN, n, tid);
    cpAsyncCommit();

    float s[MF][NS][4];
#pragma unroll
    for (int f = 0; f < MF; ++f)
#pragma unroll
      for (int t = 0; t < NS; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[f][t][e] = 0.f;

#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
      uint32_t a[MF][4];
#pragma unroll
      for (int f = 0; f < MF; ++f) {
        if constexpr (QREG) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a[f][e] = qf[f][kk][e];
        } else {
          ldmatrixX4(a[f], smemAddr(sQ + swz<D>(f * 64 + warp * 16 + (mi & 1) * 8 + lr, kk * 2 + (mi >> 1))));
        }
      }
#pragma unroll
      for (int nn = 0; nn < BN / 16; ++nn) {
        uint32_t bf[4];
        ldmatrixX4(bf, smemAddr(sK + swz<D>(nn * 16 + (mi >> 1) * 8 + lr, kk * 2 + (mi & 1))));
#pragma unroll
        for (int f = 0; f < MF; ++f) {
          Mma<T>::run(s[f][2 * nn], a[f], bf[0], bf[1]);
          Mma<T>::run(s[f][2 * nn + 1], a[f], bf[2], bf[3]);
        }
      }
    }

    // Mask keys past seqLen and, if causal, keys after the query.
    const bool needMask = (n0 + BN > n) || (p.causal && n0 + BN - 1 > m0);
    if (needMask) {
#pragma unroll
      for (int f = 0; f < MF; ++f)
#pragma unroll
        for (int t = 0; t < NS; ++t)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            int row = m0 + f * 64 + warp * 16 + (lane >> 2) + ((e >> 1) << 3);
            int col = n0 + t * 8 + (lane & 3) * 2 + (e & 1);
            if (col >= n || (p.causal && col > row)) s[f][t][e] = -INFINITY;
          }
    }

    // Online softmax (base 2, scale folded in).
#pragma unroll
    for (int f = 0; f < MF; ++f)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int t = 0; t < NS; ++t) mx = fmaxf(mx, fmaxf(s[f][t][2 * r], s[f][t][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mNew = fmaxf(rowMax[f][r], mx * p.scaleLog2);
        const float base = (mNew == -INFINITY) ? 0.f : mNew;
        const float alpha = exp2f(rowMax[f][r] - base);
        rowMax[f][r] = mNew;
        float sum = 0.f;
#pragma unroll
        for (int t = 0; t < NS; ++t) {
          float p0 = exp2f(fmaf(s[f][t][2 * r], p.scaleLog2, -base));
          float p1 = exp2f(fmaf(s[f][t][2 * r + 1], p.scaleLog2, -base));
          s[f][t][2 * r] = p0;
          s[f][t][2 * r + 1] = p1;
          sum += p0 + p1;
        }
        rowSum[f][r] = rowSum[f][r] * alpha + sum;
#pragma unroll
        for (int d = 0; d < ND; ++d) {
          acc[f][d][2 * r] *= alpha;
          acc[f][d][2 * r + 1] *= alpha;
        }
      }

    cpAsyncWaitAll();
    __syncthreads();  // V(nb) landed; every warp finished reading K(nb)
    if (nb + 1 < nBlocks) {
      loadTile<T, D>(sK, K, n0 + BN, BN, n, tid);
      cpAsyncCommit();
    }

#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[MF][4];
#pragma unroll
      for (int f = 0; f < MF; ++f) {
        a[f][0] = Mma<T>::pack(s[f][2 * kk][0], s[f][2 * kk][1]);
        a[f][1] = Mma<T>::pack(s[f][2 * kk][2], s[f][2 * kk][3]);
        a[f][2] = Mma<T>::pack(s[f][2 * kk + 1][0], s[f][2 * kk + 1][1]);
        a[f][3] = Mma<T>::pack(s[f][2 * kk + 1][2], s[f][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dn = 0; dn < D / 16; ++dn) {
        uint32_t bf[4];
        ldmatrixX4T(bf, smemAddr(sV + swz<D>(kk * 16 + (mi & 1) * 8 + lr, dn * 2 + (mi >> 1))));
#pragma unroll
        for (int f = 0; f < MF; ++f) {
          Mma<T>::run(acc[f][2 * dn], a[f], bf[0], bf[1]);
          Mma<T>::run(acc[f][2 * dn + 1], a[f], bf[2], bf[3]);
        }
      }
    }
  }

  // Epilogue: full row sums across the quad, normalise, store.
#pragma unroll
  for (int f = 0; f < MF; ++f)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = rowSum[f][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int row = m0 + f * 64 + warp * 16 + (lane >> 2) + r * 8;
      if (row < n) {
        uint32_t* dst = reinterpret_cast<uint32_t*>(O + static_cast<size_t>(row) * D);
#pragma unroll
        for (int d = 0; d < ND; ++d)
          dst[d * 4 + (lane & 3)] = Mma<T>::pack(acc[f][d][2 * r] * inv, acc[f][d][2 * r + 1] * inv);
      }
    }
}

template <class T, int D, int MF, int BN, bool QREG>
const char* launchMma(const AttnArgs& a) {
  constexpr int BM = 64 * MF;
  constexpr size_t smem = static_cast<size_t>(BM + 2 * BN) * D * sizeof(T);
  static bool configured = false;  // benign race: the attribute call is idempotent
  if (!configured) {
    cudaError_t e = cudaFuncSetAttribute(flashMmaKernel<T, D, MF, BN, QREG>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (e != cudaSuccess) return cudaGetErrorString(e);
    configured = true;
  }
  FlashParams p{a.q,
                a.k,
                a.v,
                a.o,
                static_cast<int>(a.seqLen),
                a.headStrideRows > 0 ? a.headStrideRows : a.seqLen,
                static_cast<int>(a.heads),
                static_cast<int>(a.kvHeads),
                static_cast<int>(a.heads / a.kvHeads),
                a.scale * kLog2e,
                a.causal ? 1 : 0};
  dim3 grid(static_cast<unsigned>((a.seqLen + BM - 1) / BM), static_cast<unsigned>(a.batch * a.heads));
  flashMmaKernel<T, D, MF, BN, QREG><<<grid, 128, smem, static_cast<cudaStream_t>(a.stream)>>>(p);
  return lastLaunchError();
}

// ---- SIMT path -------------------------------------------------------------------------------
// 8 warps x RW query rows per block; key tiles of 32 (one key per lane for the scores,
// headDim/32 output columns per lane for P V). Static shared memory stays under 48 KB.
template <class T, int D>
__host__ __device__ constexpr int simtRows() {
  return D >= 128 ? 2 : 4;
}

template <class T, int D>
__global__ void __launch_bounds__(256) flashSimtKernel(FlashParams p) {
  constexpr int RW = simtRows<T, D>(), BM = 8 * RW, BN = 32, DL = D / 32;
  __shared__ float sQ[BM][D];
  __shared__ float sK[BN][D + 1];
  __shared__ float sV[BN][D];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int mb = p.causal ? (gridDim.x - 1 - blockIdx.x) : blockIdx.x;
  const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads, hk = h / p.group;
  const int n = p.n, m0 = mb * BM;
  const T* Q = static_cast<const T*>(p.q) + static_cast<size_t>(bh) * p.ld * D;
  const T* K = static_cast<const T*>(p.k) + static_cast<size_t>(b * p.kvHeads + hk) * p.ld * D;
  const T* V = static_cast<const T*>(p.v) + static_cast<size_t>(b * p.kvHeads + hk) * p.ld * D;
  T* O = static_cast<T*>(p.o) + static_cast<size_t>(bh) * p.ld * D;

  for (int i = tid; i < BM * D; i += 256) {
    int r = i / D, c = i % D;
    sQ[r][c] = (m0 + r < n) ? toF(Q[static_cast<size_t>(m0 + r) * D + c]) * p.scaleLog2 : 0.f;
  }
  float acc[RW][DL], mRow[RW], lRow[RW];
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    mRow[r] = -INFINITY;
    lRow[r] = 0.f;
#pragma unroll
    for (int d = 0; d < DL; ++d) acc[r][d] = 0.f;
  }
  int nEnd = n;
  if (p.causal) nEnd = min(n, m0 + BM);
  for (int n0 = 0; n0 < nEnd; n0 += BN) {
    __syncthreads();
    for (int i = tid; i < BN * D; i += 256) {
      int r = i / D, c = i % D;
      bool ok = n0 + r < n;
      sK[r][c] = ok ? toF(K[static_cast<size_t>(n0 + r) * D + c]) : 0.f;
      sV[r][c] = ok ? toF(V[static_cast<size_t>(n0 + r) * D + c]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < RW; ++r) {
      const int lrow = warp * RW + r, row = m0 + lrow;
      const int col = n0 + lane;
      float sc = 0.f;
#pragma unroll 8
      for (int d = 0; d < D; ++d) sc = fmaf(sQ[lrow][d], sK[lane][d], sc);
      if (col >= n || (p.causal && col > row)) sc = -INFINITY;
      float mx = sc;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float mNew = fmaxf(mRow[r], mx);
      const float base = (mNew == -INFINITY) ? 0.f : mNew;
      const float alpha = exp2f(mRow[r] - base);
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
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    const int row = m0 + warp * RW + r;
    if (row >= n) continue;
    const float inv = lRow[r] > 0.f ? 1.f / lRow[r] : 0.f;
#pragma unroll
    for (int d = 0; d < DL; ++d) O[static_cast<size_t>(row) * D + lane + 32 * d] = fromF<T>(acc[r][d] * inv);
  }
}

template <class T, int D>
const char* launchSimtT(const AttnArgs& a) {
  FlashParams p{a.q,
                a.k,
                a.v,
                a.o,
                static_cast<int>(a.seqLen),
                a.headStrideRows > 0 ? a.headStrideRows : a.seqLen,
                static_cast<int>(a.heads),
                static_cast<int>(a.kvHeads),
                static_cast<int>(a.heads / a.kvHeads),
                a.scale * kLog2e,
                a.causal ? 1 : 0};
  constexpr int BM = 8 * simtRows<T, D>();
  dim3 grid(static_cast<unsigned>((a.seqLen + BM - 1) / BM), static_cast<unsigned>(a.batch * a.heads));
  flashSimtKernel<T, D><<<grid, 256, 0, static_cast<cudaStream_t>(a.stream)>>>(p);
  return lastLaunchError();
}

template <class T>
const char* launchSimt(const AttnArgs& a) {
  switch (a.headDim) {
    case 32: return launchSimtT<T, 32>(a);
    case 64: return launchSimtT<T, 64>(a);
    case 96: return launchSimtT<T, 96>(a);
    case 128: return launchSimtT<T, 128>(a);
    default: return "flash (cuda): headDim must be 32, 64, 96 or 128";
  }
}

// Tensor-core configuration per (dtype, headDim). DILBENCH_FLASH_CFG (tools only) picks another.
int flashConfig(int64_t headDim) {
  static int forced = [] {
    const char* e = std::getenv("DILBENCH_FLASH_CFG");
    return e ? std::atoi(e) : -1;
  }();
  if (forced >= 0) return forced;
  return headDim == 64 ? 1 : 2;
}

template <class T>
const char* launchTensorCore(const AttnArgs& a) {
  const int cfg = flashConfig(a.headDim);
  if (a.headDim == 64) {
    switch (cfg) {
      case 0: return launchMma<T, 64, 1, 64, true>(a);
      default: return launchMma<T, 64, 2, 64, true>(a);
    }
  }
  switch (cfg) {
    case 0: return launchMma<T, 128, 1, 64, true>(a);
    case 1: return launchMma<T, 128, 2, 32, false>(a);
    default: return launchMma<T, 128, 2, 64, false>(a);
  }
}

bool tensorCorePath(ElemType t, int64_t d) {
  return (t == ElemType::F16 || t == ElemType::BF16) && (d == 64 || d == 128);
}

}  // namespace

bool flashSupports(ElemType, int64_t headDim) {
  return headDim == 32 || headDim == 64 || headDim == 96 || headDim == 128;
}

const char* flashPath(ElemType t, int64_t headDim) {
  return tensorCorePath(t, headDim) ? "tensor cores: mma.sync m16n8k16, fp32 accumulation"
                                    : "SIMT fp32 arithmetic";
}

const char* launchFlash(const AttnArgs& a) {
  if (!flashSupports(a.dtype, a.headDim)) return "flash (cuda): headDim must be 32, 64, 96 or 128";
  if (a.seqLen <= 0 || a.batch <= 0 || a.heads <= 0 || a.kvHeads <= 0 || a.heads % a.kvHeads)
    return "flash (cuda): bad shape";
  if (a.batch * a.heads > 65535) return "flash (cuda): batch*heads must be <= 65535";
  if (a.seqLen > (1LL << 30)) return "flash (cuda): seqLen too large";
  if (tensorCorePath(a.dtype, a.headDim)) {
    return a.dtype == ElemType::F16 ? launchTensorCore<__half>(a) : launchTensorCore<__nv_bfloat16>(a);
  }
  switch (a.dtype) {
    case ElemType::F32: return launchSimt<float>(a);
    case ElemType::F16: return launchSimt<__half>(a);
    default: return launchSimt<__nv_bfloat16>(a);
  }
}

}  // namespace cuda
}  // namespace dilbench
