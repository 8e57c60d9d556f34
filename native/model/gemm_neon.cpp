// NEON microkernel of the model GEMMs (aarch64 builds only): each 16-column half of the 32-column
// panel in turn, 6 rows x 16 columns in 24 of the 32 vector registers, the packed panel's 4
// vectors loaded once per k and reused by the 6 rows (fmla by a scalar). A is read once per half,
// from L1.
#include <arm_neon.h>

#include "gemm.h"

namespace dilbench {
namespace model {
namespace {

// Rows [0, MR) x columns [h, h + 16) of the tile; cols: how many of those 16 are stored.
template <int MR>
inline void half(int64_t K, const float* A, int64_t lda, const float* P, int64_t h, const float* bias,
                 float* C, int64_t ldc, int64_t cols, bool accumulate) {
  float32x4_t c[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 4; ++v) c[i][v] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < K; ++k) {
    const float* p = P + k * 32 + h;
    const float32x4_t b0 = vld1q_f32(p), b1 = vld1q_f32(p + 4), b2 = vld1q_f32(p + 8), b3 = vld1q_f32(p + 12);
    for (int i = 0; i < MR; ++i) {
      const float a = A[i * lda + k];
      c[i][0] = vfmaq_n_f32(c[i][0], b0, a);
      c[i][1] = vfmaq_n_f32(c[i][1], b1, a);
      c[i][2] = vfmaq_n_f32(c[i][2], b2, a);
      c[i][3] = vfmaq_n_f32(c[i][3], b3, a);
    }
  }
  for (int i = 0; i < MR; ++i) {
    float t[16];
    for (int v = 0; v < 4; ++v) vst1q_f32(t + 4 * v, c[i][v]);
    float* ci = C + i * ldc + h;
    for (int64_t j = 0; j < cols; ++j) {
      float x = t[j];
      if (bias) x += bias[h + j];
      if (accumulate) x += ci[j];
      ci[j] = x;
    }
  }
}

template <int MR>
inline void tile(int64_t K, const float* A, int64_t lda, const float* P, const float* bias, float* C,
                 int64_t ldc, int64_t ncols, bool accumulate) {
  half<MR>(K, A, lda, P, 0, bias, C, ldc, ncols < 16 ? ncols : 16, accumulate);
  if (ncols > 16) half<MR>(K, A, lda, P, 16, bias, C, ldc, ncols - 16, accumulate);
}

}  // namespace

void gemmTileNeon(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                  float* C, int64_t ldc, int64_t ncols, bool accumulate) {
  int64_t i = 0;
  for (; i + 6 <= mr; i += 6) tile<6>(K, A + i * lda, lda, P, bias, C + i * ldc, ldc, ncols, accumulate);
  A += i * lda;
  C += i * ldc;
  switch (mr - i) {
    case 0: break;
    case 1: tile<1>(K, A, lda, P, bias, C, ldc, ncols, accumulate); break;
    case 2: tile<2>(K, A, lda, P, bias, C, ldc, ncols, accumulate); break;
    case 3: tile<3>(K, A, lda, P, bias, C, ldc, ncols, accumulate); break;
    case 4: tile<4>(K, A, lda, P, bias, C, ldc, ncols, accumulate); break;
    default: tile<5>(K, A, lda, P, bias, C, ldc, ncols, accumulate); break;
  }
}

}  // namespace model
}  // namespace dilbench
