// 2^x on 4 fp32 lanes for the NEON files only (attention_block_neon.cpp, kv_decode_neon.cpp):
// one definition, so the tile engine and the decode kernel cannot drift apart.
#pragma once
#include <arm_neon.h>

namespace dilbench {
namespace cpu {

// 2^x = 2^n * p(f), n = round(x) (to nearest even), f in [-0.5, 0.5]; the degree-5 fit of the
// x86 levels with p(0) == 1 exactly (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every
// online-softmax step that keeps the row max would rescale the running sums by a slightly wrong
// alpha. x <= -126 (including -inf) gives exactly 0, so no denormal ever enters the P.V products.
static inline float32x4_t exp2Neon(float32x4_t x) {
  const uint32x4_t live = vcgtq_f32(x, vdupq_n_f32(-126.f));
  x = vmaxq_f32(x, vdupq_n_f32(-127.f));
  const float32x4_t n = vrndnq_f32(x);
  const float32x4_t f = vsubq_f32(x, n);
  float32x4_t p = vdupq_n_f32(1.3219338723e-03f);
  p = vfmaq_f32(vdupq_n_f32(9.6717035107e-03f), p, f);
  p = vfmaq_f32(vdupq_n_f32(5.5508907007e-02f), p, f);
  p = vfmaq_f32(vdupq_n_f32(2.4022237912e-01f), p, f);
  p = vfmaq_f32(vdupq_n_f32(6.9314685764e-01f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, f);
  // 2^n from the exponent bits (n >= -127, so the biased exponent is >= 0).
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t r = vmulq_f32(p, vreinterpretq_f32_s32(e));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(r), live));
}

}  // namespace cpu
}  // namespace dilbench
