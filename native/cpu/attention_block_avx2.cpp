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

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsAvx2() {
  static const BlockOps t = BlockImpl<VT>::table(SimdLevel::AVX2);
  return t;
}
}  // namespace cpu
}  // namespace dilbench
