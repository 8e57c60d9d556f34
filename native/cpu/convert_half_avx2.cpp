// AVX2 + F16C level of the fp32 <-> fp16 / bf16 conversions (convert_half.h). Compiled with
// -mavx2 -mfma -mf16c; reached only when activeSimdLevel() >= AVX2 (which requires F16C).
// Tails go through an 8-lane stack buffer, so every element takes the same instruction path.
#include <immintrin.h>

#include <cstring>

#include "convert_half.h"

namespace dilbench {
namespace cpu {
namespace {

inline __m256 f16x8ToF32(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline void f32x8ToF16(uint16_t* p, __m256 x) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
inline __m256 bf16x8ToF32(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
// Round to nearest even by adding 0x7FFF + lsb and truncating; NaN lanes keep their top bits, quieted.
inline void f32x8ToBf16(uint16_t* p, __m256 f) {
  const __m256i x = _mm256_castps_si256(f);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
  const __m256i nanBits = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  const __m256i isNan =
      _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
  const __m256i r = _mm256_blendv_epi8(rounded, nanBits, isNan);
  const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
}

template <__m256 (*Load)(const uint16_t*)>
void toF32(float* dst, const uint16_t* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, Load(src + i));
  if (i < n) {
    uint16_t in[8] = {0};
    float out[8];
    std::memcpy(in, src + i, (n - i) * sizeof(uint16_t));
    _mm256_storeu_ps(out, Load(in));
    std::memcpy(dst + i, out, (n - i) * sizeof(float));
  }
}

template <void (*Store)(uint16_t*, __m256)>
void fromF32(uint16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) Store(dst + i, _mm256_loadu_ps(src + i));
  if (i < n) {
    float in[8] = {0};
    uint16_t out[8];
    std::memcpy(in, src + i, (n - i) * sizeof(float));
    Store(out, _mm256_loadu_ps(in));
    std::memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
  }
}

}  // namespace

const ConvertOps& convertOpsAvx2() {
  static const ConvertOps t{SimdLevel::AVX2, &toF32<f16x8ToF32>, &fromF32<f32x8ToF16>, &toF32<bf16x8ToF32>,
                            &fromF32<f32x8ToBf16>};
  return t;
}

}  // namespace cpu
}  // namespace dilbench
