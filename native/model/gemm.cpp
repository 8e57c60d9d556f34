// Packing, SIMD dispatch and the threaded driver of the model GEMMs (see gemm.h).
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "../core/cpu_features.h"
#include "../core/thread_pool.h"
#include "gemm_tile_portable.h"
#include "step_team.h"

namespace dilbench {
namespace model {

void gemmTileGeneric(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                     float* C, int64_t ldc, int64_t ncols, bool accumulate) {
  portableTileDispatch(mr, K, A, lda, P, bias, C, ldc, ncols, accumulate);
}

void packB(const float* B, int64_t ld, bool transposed, int64_t K, int64_t N, float* dst) {
  const int64_t np = (N + kNR - 1) / kNR;
  for (int64_t p = 0; p < np; ++p) {
    float* out = dst + p * K * kNR;
    const int64_t n0 = p * kNR;
    const int64_t w = std::min<int64_t>(kNR, N - n0);
    if (!transposed) {
      for (int64_t k = 0; k < K; ++k) {
        float* o = out + k * kNR;
        std::memcpy(o, B + k * ld + n0, static_cast<size_t>(w) * sizeof(float));
        for (int64_t j = w; j < kNR; ++j) o[j] = 0.f;
      }
    } else {
      for (int64_t k = 0; k < K; ++k) {
        float* o = out + k * kNR;
        for (int64_t j = 0; j < w; ++j) o[j] = B[(n0 + j) * ld + k];
        for (int64_t j = w; j < kNR; ++j) o[j] = 0.f;
      }
    }
  }
}

void gemm(int64_t M, const float* A, int64_t lda, const PackedMatrix& B, const float* bias, float* C,
          int64_t ldc, bool accumulate, int threads, StepTeam* team) {
  if (M <= 0 || B.N <= 0) return;
  TileFn fn = gemmTileGeneric;
  int64_t mr = kMrGeneric;
  const SimdLevel lvl = activeSimdLevel();
#if defined(__aarch64__)
  if (lvl == SimdLevel::NEON) {
    fn = gemmTileNeon;
    mr = kMrNeon;
  }
#else
  if (lvl == SimdLevel::AVX512) {
    fn = gemmTileAvx512;
    mr = kMrAvx512;
  } else if (lvl == SimdLevel::AVX2) {
    fn = gemmTileAvx2;
    mr = kMrAvx2;
  }
#endif
  const int64_t K = B.K;
  const int64_t np = B.panels();
  // Row blocks of a few microkernel strips (a panel stays in L2 across them); panel groups sized
  // so that every worker gets several tasks.
  const int64_t mBlock = std::max<int64_t>(mr, (M <= 8 * mr) ? M : 8 * mr);
  const int64_t mBlocks = (M + mBlock - 1) / mBlock;
  const int t = std::max(1, threads);
  int64_t pg = std::max<int64_t>(1, np / (8 * t) / std::max<int64_t>(1, mBlocks));
  pg = std::min<int64_t>(pg, 16);
  const int64_t groups = (np + pg - 1) / pg;
  auto body = [&](int64_t task, int) {
    const int64_t g = task % groups, mb = task / groups;
    const int64_t m0 = mb * mBlock, m1 = std::min(M, m0 + mBlock);
    const int64_t p1 = std::min(np, (g + 1) * pg);
    for (int64_t p = g * pg; p < p1; ++p) {
      const int64_t n0 = p * kNR;
      const int64_t w = std::min<int64_t>(kNR, B.N - n0);
      fn(m1 - m0, K, A + m0 * lda, lda, B.panel(p), bias ? bias + n0 : nullptr, C + m0 * ldc + n0, ldc, w,
         accumulate);
    }
  };
  const int64_t tasks = groups * mBlocks;
  if (t == 1 || tasks == 1) {
    for (int64_t i = 0; i < tasks; ++i) body(i, 0);
  } else if (team) {
    team->stage(tasks, std::ref(body));
  } else {
    // std::ref: the std::function holds a reference in place, no heap allocation per GEMV
    ThreadPool::global().parallelFor(tasks, t, std::ref(body));
  }
}

}  // namespace model
}  // namespace dilbench
