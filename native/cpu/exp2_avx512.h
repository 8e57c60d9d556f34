// 2^x on 16 fp32 lanes for the AVX-512 files only (attention_block_avx512.cpp,
// kv_decode_avx512.cpp): include it from *_avx512.cpp, which are the only files built with
// -mavx512f. One definition, so the tile engine and the decode kernel cannot drift apart.
#pragma once
#include <immintrin.h>

namespace dilbench {
namespace cpu {

// 2^x = 2^n * p(f), n = round(x), f in [-0.5, 0.5]; degree-5 fit with p(0) == 1 exactly
// (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every online-softmax step that
// keeps the row max would rescale the running sums by a slightly wrong alpha.
// x <= -126 (including -inf) gives exactly 0, so no denormal ever enters the P.V products.
static inline __m512 exp2Avx512(__m512 x) {
  const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.f), _CMP_GT_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-127.f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.3219338723e-03f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6717035107e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5508907007e-02f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022237912e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314685764e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(live, p, n);
}

}  // namespace cpu
}  // namespace dilbench
