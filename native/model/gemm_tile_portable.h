// Portable 32-column tile (plain loops the compiler vectorizes for the file's ISA flags):
// included by gemm.cpp (baseline x86-64) and gemm_avx2.cpp (AVX2+FMA) inside their own
// namespaces. MR rows at a time; k unrolled through the 32-wide accumulator rows.
#pragma once
#include <cstdint>

template <int MR>
static inline void portableTile(int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                                float* C, int64_t ldc, int64_t ncols, bool accumulate) {
  float acc[MR][32];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 32; ++j) acc[i][j] = 0.f;
  for (int64_t k = 0; k < K; ++k) {
    const float* p = P + k * 32;
    for (int i = 0; i < MR; ++i) {
      const float a = A[i * lda + k];
      for (int j = 0; j < 32; ++j) acc[i][j] += a * p[j];
    }
  }
  for (int i = 0; i < MR; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < ncols; ++j) {
      float v = acc[i][j];
      if (bias) v += bias[j];
      if (accumulate) v += c[j];
      c[j] = v;
    }
  }
}

static inline void portableTileDispatch(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P,
                                        const float* bias, float* C, int64_t ldc, int64_t ncols,
                                        bool accumulate) {
  int64_t i = 0;
  for (; i + 4 <= mr; i += 4)
    portableTile<4>(K, A + i * lda, lda, P, bias, C + i * ldc, ldc, ncols, accumulate);
  for (; i < mr; ++i) portableTile<1>(K, A + i * lda, lda, P, bias, C + i * ldc, ldc, ncols, accumulate);
}
