// Baseline x86-64 (SSE2, no FMA) instance of the attention building blocks.
#include <emmintrin.h>

#include "attention_block_ops.h"

namespace {

struct VT {
  using R = __m128;
  static constexpr int W = 4;
  static constexpr int SQ = 2;
  static constexpr int krFor(int nqv) { return nqv >= 2 ? 6 : 8; }
  static constexpr int PVN = 2;
  static constexpr int rbFor(int nv) { return nv >= 2 ? 6 : 8; }
  static R load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, R x) { _mm_storeu_ps(p, x); }
  static R loadN(const float* p, int n) {
    alignas(16) float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return _mm_load_ps(t);
  }
  static void storeN(float* p, R x, int n) {
    alignas(16) float t[4];
    _mm_store_ps(t, x);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static R set1(float x) { return _mm_set1_ps(x); }
  static R zero() { return _mm_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static R mul(R a, R b) { return _mm_mul_ps(a, b); }
  static R add(R a, R b) { return _mm_add_ps(a, b); }
  static R sub(R a, R b) { return _mm_sub_ps(a, b); }
  static R max(R a, R b) { return _mm_max_ps(a, b); }
  // 2^x = 2^n * p(f), n = round(x), f in [-0.5, 0.5]; degree-5 fit with p(0) == 1 exactly
  // (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every online-softmax step that
  // keeps the row max would rescale the running sums by a slightly wrong alpha.
  static R exp2(R x) {
    x = _mm_max_ps(x, _mm_set1_ps(-127.f));
    const __m128i ni = _mm_cvtps_epi32(x);  // round to nearest (default MXCSR)
    const R n = _mm_cvtepi32_ps(ni);
    const R f = _mm_sub_ps(x, n);
    R p = _mm_set1_ps(1.3219338723e-03f);
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(9.6717035107e-03f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(5.5508907007e-02f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(2.4022237912e-01f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(6.9314685764e-01f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(1.0f));
    const __m128i e = _mm_slli_epi32(_mm_add_epi32(ni, _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
  }
};

}  // namespace

#include "attention_block_impl.h"

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsGeneric() {
  static const BlockOps t = BlockImpl<VT>::table(SimdLevel::Generic);
  return t;
}
}  // namespace cpu
}  // namespace dilbench
