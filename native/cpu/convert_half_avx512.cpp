// AVX-512 (F/BW/VL) level of the fp32 <-> fp16 / bf16 conversions (convert_half.h):
// vcvtph2ps / vcvtps2ph for fp16, integer shifts for bf16; tails with masked loads and stores.
// GCC 12 warns (falsely) about the undefined vectors inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "convert_half.h"

namespace dilbench {
namespace cpu {
namespace {

inline __m512 f16ToF32(__m256i h) { return _mm512_cvtph_ps(h); }
inline __m256i f32ToF16(__m512 x) {
  return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline __m512 bf16ToF32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
// Round to nearest even by adding 0x7FFF + lsb and truncating; NaN lanes keep their top bits, quieted.
inline __m256i f32ToBf16(__m512 f) {
  const __m512i x = _mm512_castps_si512(f);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  const __m512i nanBits = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  const __mmask16 isNan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7FFFFFFF)),
                                                  _mm512_set1_epi32(0x7F800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(isNan, rounded, nanBits));
}

template <__m512 (*Cvt)(__m256i)>
void toF32(float* dst, const uint16_t* src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, Cvt(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, Cvt(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

template <__m256i (*Cvt)(__m512)>
void fromF32(uint16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), Cvt(_mm512_loadu_ps(src + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(dst + i, m, Cvt(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

}  // namespace

const ConvertOps& convertOpsAvx512() {
  static const ConvertOps t{SimdLevel::AVX512, &toF32<f16ToF32>, &fromF32<f32ToF16>, &toF32<bf16ToF32>,
                            &fromF32<f32ToBf16>};
  return t;
}

}  // namespace cpu
}  // namespace dilbench
