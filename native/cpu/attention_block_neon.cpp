// NEON (AArch64 Advanced SIMD) instance of the attention building blocks. ASIMD is baseline on
// aarch64, so this file needs no extra flags; it is built only for aarch64 (core_sources.cmake).
// 4 lanes per vector but 32 registers: score blocks of 16 query lanes x 6 keys (24 accumulators)
// and P.V blocks of 6 query rows x 16 head-dim columns, the register budget of the AVX2 level's
// 16-lane tiles.
#include <arm_neon.h>

#include "attention_block_ops.h"
#include "exp2_neon.h"

namespace {

struct VT {
  using R = float32x4_t;
  static constexpr int W = 4;
  static constexpr int SQ = 4;  // 16 query lanes per score block (qPad is a multiple of 16)
  static constexpr int krFor(int nqv) { return nqv >= 4 ? 6 : 11; }
  static constexpr int PVN = 4;  // 16 head-dim columns per P.V block
  static constexpr int rbFor(int nv) { return nv >= 4 ? 6 : (nv == 3 ? 7 : 11); }
  static R load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, R x) { vst1q_f32(p, x); }
  static R loadN(const float* p, int n) {
    float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static void storeN(float* p, R x, int n) {
    float t[4];
    vst1q_f32(t, x);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static R set1(float x) { return vdupq_n_f32(x); }
  static R zero() { return vdupq_n_f32(0.f); }
  static R fma(R a, R b, R c) { return vfmaq_f32(c, a, b); }  // a * b + c, one rounding
  static R mul(R a, R b) { return vmulq_f32(a, b); }
  static R add(R a, R b) { return vaddq_f32(a, b); }
  static R sub(R a, R b) { return vsubq_f32(a, b); }
  static R max(R a, R b) { return vmaxq_f32(a, b); }
  static R exp2(R x) { return dilbench::cpu::exp2Neon(x); }  // exp2_neon.h
};

}  // namespace

#include "attention_block_impl.h"

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsNeon() {
  static const BlockOps t = BlockImpl<VT>::table(SimdLevel::NEON);
  return t;
}
}  // namespace cpu
}  // namespace dilbench
