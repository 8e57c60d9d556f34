// NEON level of the fp32 <-> fp16 / bf16 conversions (convert_half.h), aarch64 builds only.
// fp16 uses the ARMv8-A conversion instructions (fcvtl / fcvtn): exact widening, narrowing by the
// FPCR rounding mode, which Linux leaves at round-to-nearest-even with flush-to-zero and
// default-NaN off, so subnormals, Inf and NaN payloads convert as the scalar definitions say
// (family_check half compares every fp16 pattern and 8.2M fp32 patterns). bf16 by integer
// shifts, as at every level. Tails go through an 8-lane stack buffer, so every element takes the
// same instruction path.
#include <arm_neon.h>

#include <cstring>

#include "convert_half.h"

namespace dilbench {
namespace cpu {
namespace {

struct F32x8 {
  float32x4_t lo, hi;
};

inline F32x8 f16x8ToF32(const uint16_t* p) {
  const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
  return {vcvt_f32_f16(vget_low_f16(h)), vcvt_high_f32_f16(h)};
}
inline void f32x8ToF16(uint16_t* p, F32x8 x) {
  vst1q_u16(p, vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(x.lo), x.hi)));
}
inline F32x8 bf16x8ToF32(const uint16_t* p) {
  const uint16x8_t w = vld1q_u16(p);
  return {vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w), 16)),
          vreinterpretq_f32_u32(vshll_high_n_u16(w, 16))};
}
// Round to nearest even by adding 0x7FFF + lsb and truncating; NaN lanes keep their top bits, quieted.
inline uint16x4_t f32x4ToBf16(float32x4_t f) {
  const uint32x4_t x = vreinterpretq_u32_f32(f);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1));
  const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(x, vaddq_u32(lsb, vdupq_n_u32(0x7FFF))), 16);
  const uint32x4_t nanBits = vorrq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(0x40));
  const uint32x4_t isNan = vcgtq_u32(vandq_u32(x, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
  return vmovn_u32(vbslq_u32(isNan, nanBits, rounded));
}
inline void f32x8ToBf16(uint16_t* p, F32x8 x) {
  vst1q_u16(p, vcombine_u16(f32x4ToBf16(x.lo), f32x4ToBf16(x.hi)));
}

inline F32x8 loadF32x8(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
inline void storeF32x8(float* p, F32x8 x) {
  vst1q_f32(p, x.lo);
  vst1q_f32(p + 4, x.hi);
}

template <F32x8 (*Load)(const uint16_t*)>
void toF32(float* dst, const uint16_t* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) storeF32x8(dst + i, Load(src + i));
  if (i < n) {
    uint16_t in[8] = {0};
    float out[8];
    std::memcpy(in, src + i, (n - i) * sizeof(uint16_t));
    storeF32x8(out, Load(in));
    std::memcpy(dst + i, out, (n - i) * sizeof(float));
  }
}

template <void (*Store)(uint16_t*, F32x8)>
void fromF32(uint16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) Store(dst + i, loadF32x8(src + i));
  if (i < n) {
    float in[8] = {0};
    uint16_t out[8];
    std::memcpy(in, src + i, (n - i) * sizeof(float));
    Store(out, loadF32x8(in));
    std::memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
  }
}

}  // namespace

const ConvertOps& convertOpsNeon() {
  static const ConvertOps t{SimdLevel::NEON, &toF32<f16x8ToF32>, &fromF32<f32x8ToF16>, &toF32<bf16x8ToF32>,
                            &fromF32<f32x8ToBf16>};
  return t;
}

}  // namespace cpu
}  // namespace dilbench
