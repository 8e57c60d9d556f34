// AVX2 + FMA instance of the attention building blocks. Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "attention_block_ops.h"
#include "exp2_avx2.h"

namespace {

inline __m256i laneMask8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct VT {
  using R = __m256;
  static constexpr int W = 8;
  static constexpr int SQ = 2;  // 16 query lanes per score block
  static constexpr int krFor(int nqv) { return nqv >= 2 ? 6 : 8; }
  static constexpr int PVN = 2;
  static constexpr int rbFor(int nv) { return nv >= 2 ? 6 : 8; }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R x) { _mm256_storeu_ps(p, x); }
  static R loadN(const float* p, int n) { return _mm256_maskload_ps(p, laneMask8(n)); }
  static void storeN(float* p, R x, int n) { _mm256_maskstore_ps(p, laneMask8(n), x); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R zero() { return _mm256_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R exp2(R x) { return dilbench::cpu::exp2Avx2(x); }  // exp2_avx2.h, shared with the decode kernel
};

}  // namespace

#include "attention_block_impl.h"

namespace {

// packQT by 8 x 8 transposes: the generic loop stores one float at a time, which was 2.6 % of a
// dilated-grouped run at 8K (its Q tiles meet only 1024 keys each; flash's meet all 8192).
void packQTAvx2(const float* q, int64_t ldq, int64_t qRows, int64_t D, float mul, float* qt, int64_t qPad) {
  const __m256 m = _mm256_set1_ps(mul);
  const int64_t rows8 = qRows / 8 * 8, d8 = D / 8 * 8;
  for (int64_t i = 0; i < rows8; i += 8) {
    const float* q0 = q + i * ldq;
    for (int64_t d = 0; d < d8; d += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(q0 + j * ldq + d);
      __m256 t[8], u[8];
      for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
      }
      for (int j = 0; j < 8; j += 4) {
        u[j] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      // column c of the 8 x 8 block: low halves from rows 0-3 (u[c & 3]), high from rows 4-7
      for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(qt + (d + c) * qPad + i,
                         _mm256_mul_ps(_mm256_permute2f128_ps(u[c], u[c + 4], 0x20), m));
        _mm256_storeu_ps(qt + (d + c + 4) * qPad + i,
                         _mm256_mul_ps(_mm256_permute2f128_ps(u[c], u[c + 4], 0x31), m));
      }
    }
    for (int64_t d = d8; d < D; ++d)
      for (int64_t j = 0; j < 8; ++j) qt[d * qPad + i + j] = q0[j * ldq + d] * mul;
  }
  for (int64_t i = rows8; i < qRows; ++i)
    for (int64_t d = 0; d < D; ++d) qt[d * qPad + i] = q[i * ldq + d] * mul;
  for (int64_t d = 0; d < D; ++d)
    for (int64_t i = qRows; i < qPad; ++i) qt[d * qPad + i] = 0.f;
}

}  // namespace

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsAvx2() {
  static const BlockOps t = [] {
    BlockOps ops = BlockImpl<VT>::table(SimdLevel::AVX2);
    ops.packQT = &packQTAvx2;
    return ops;
  }();
  return t;
}
}  // namespace cpu
}  // namespace dilbench
