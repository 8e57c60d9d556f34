// 2^x on 8 fp32 lanes for the AVX2 files only (attention_block_avx2.cpp, kv_decode_avx2.cpp):
// include it from *_avx2.cpp, which are the only files built with -mavx2 -mfma. One definition,
// so the tile engine and the decode kernel cannot drift apart.
#pragma once
#include <immintrin.h>

namespace dilbench {
namespace cpu {

// 2^x = 2^n * p(f), n = round(x), f in [-0.5, 0.5]; degree-5 fit with p(0) == 1 exactly
// (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every online-softmax step that
// keeps the row max would rescale the running sums by a slightly wrong alpha.
// x <= -127 (including -inf) gives +0.
static inline __m256 exp2Avx2(__m256 x) {
  // n = round(x) by the 1.5 * 2^23 shifter: x + shifter lands in [2^23, 2^24), where the
  // float's low mantissa bits are the rounded integer itself; with 127 folded in, shifting
  // those bits up by 23 is the exponent field of 2^n. Two adds instead of round + convert +
  // integer add: fewer uops on the FMA ports, which the score and P.V products keep busy.
  const __m256 shifter = _mm256_set1_ps(12582912.f + 127.f);
  x = _mm256_max_ps(x, _mm256_set1_ps(-127.f));
  const __m256 t = _mm256_add_ps(x, shifter);
  const __m256 n = _mm256_sub_ps(t, shifter);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(1.3219338723e-03f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6717035107e-03f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5508907007e-02f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022237912e-01f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314685764e-01f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  // 2^n from the exponent bits; n = -127 gives +0.
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

}  // namespace cpu
}  // namespace dilbench
