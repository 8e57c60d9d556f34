// fp32 GEMM / GEMV of the transformer models (issue 7). Weights are packed once, at model build
// time, into column panels of kNR = 32 floats: panel p holds B[k][32p .. 32p+31] for k = 0..K-1
// contiguously (zero padded past N). A prefill GEMM streams a panel per task through a register
// blocked microkernel (AVX-512: 12 rows x 32 columns in 24 zmm accumulators); a decode GEMV
// (M = 1) streams every panel exactly once, so the weights are read once per token.
// Microkernels per SIMD level (gemm_avx512.cpp, gemm_avx2.cpp, generic in gemm.cpp), picked at run
// time by activeSimdLevel(); work split over the ThreadPool by (panel group, row block).
#pragma once
#include <cstdint>

#include "../core/memory_pool.h"

namespace dilbench {
namespace model {

constexpr int64_t kNR = 32;

// B [K, N] in panels of kNR columns; storage from a MemoryPool.
struct PackedMatrix {
  int64_t K = 0;
  int64_t N = 0;
  PoolBuffer<float> buf;
  int64_t panels() const { return (N + kNR - 1) / kNR; }
  static int64_t floatsFor(int64_t K, int64_t N) { return ((N + kNR - 1) / kNR) * kNR * K; }
  const float* panel(int64_t p) const { return buf.data() + p * K * kNR; }
  // B[k][n]
  float at(int64_t k, int64_t n) const { return buf.data()[(n / kNR) * K * kNR + k * kNR + n % kNR]; }
};

// Packs B into dst (floatsFor(K, N) floats). transposed = false: B is [K, N] with row stride ld
// (Conv1D layout, y = x @ B); transposed = true: B is given as B^T [N, K] with row stride ld
// (nn.Linear / embedding layout, y = x @ B^T^T).
void packB(const float* B, int64_t ld, bool transposed, int64_t K, int64_t N, float* dst);

class StepTeam;  // step_team.h

// C[M, N] = A[M, K] @ B (+ bias[N] when non-null) (+ C when accumulate). Row strides lda, ldc.
// team: run the tasks as a stage of that team (called by its driver; threads = its size)
// instead of as a ThreadPool job.
void gemm(int64_t M, const float* A, int64_t lda, const PackedMatrix& B, const float* bias, float* C,
          int64_t ldc, bool accumulate, int threads, StepTeam* team = nullptr);

// ---- per-ISA microkernels (internal) --------------------------------------------------------
// Computes rows [0, mr) (mr <= maxRows of that level) of one 32-column tile:
// C[i][j] = sum_k A[i*lda + k] * P[k*32 + j] (+ bias[j]) (+ C[i][j]) for j < ncols.
using TileFn = void (*)(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                        float* C, int64_t ldc, int64_t ncols, bool accumulate);
void gemmTileAvx512(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                    float* C, int64_t ldc, int64_t ncols, bool accumulate);
void gemmTileAvx2(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                  float* C, int64_t ldc, int64_t ncols, bool accumulate);
void gemmTileGeneric(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                     float* C, int64_t ldc, int64_t ncols, bool accumulate);
void gemmTileNeon(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                  float* C, int64_t ldc, int64_t ncols, bool accumulate);  // aarch64 only
constexpr int64_t kMrAvx512 = 12;
constexpr int64_t kMrAvx2 = 4;
constexpr int64_t kMrGeneric = 4;
constexpr int64_t kMrNeon = 6;

}  // namespace model
}  // namespace dilbench
