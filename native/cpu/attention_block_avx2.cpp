// AVX2 + FMA instance of the attention building blocks. Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "attention_block_ops.h"

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
  // 2^x = 2^n * p(f), n = round(x), f in [-0.5, 0.5]; degree-5 fit with p(0) == 1 exactly
  // (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every online-softmax step that
  // keeps the row max would rescale the running sums by a slightly wrong alpha.
  static R exp2(R x) {
    // n = round(x) by the 1.5 * 2^23 shifter: x + shifter lands in [2^23, 2^24), where the
    // float's low mantissa bits are the rounded integer itself; with 127 folded in, shifting
    // those bits up by 23 is the exponent field of 2^n. Two adds instead of round + convert +
    // integer add: fewer uops on the FMA ports, which the score and P.V products keep busy.
    const R shifter = _mm256_set1_ps(12582912.f + 127.f);
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.f));
    const R t = _mm256_add_ps(x, shifter);
    const R n = _mm256_sub_ps(t, shifter);
    const R f = _mm256_sub_ps(x, n);
    R p = _mm256_set1_ps(1.3219338723e-03f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6717035107e-03f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5508907007e-02f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022237912e-01f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314685764e-01f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    // 2^n from the exponent bits; n = -127 gives +0.
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
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
