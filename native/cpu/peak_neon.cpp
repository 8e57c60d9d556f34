// NEON throughput loop for measureCpuPeak (aarch64 builds only): 12 independent fmla chains of
// 4 lanes (enough to cover fmla's latency on two or four FP pipes).
#include <arm_neon.h>

#include <cstdint>

namespace dilbench {
namespace cpu {

double peakFmaLoopNeon(int64_t iterations) {
  // Twelve named chains (an array would be kept in memory around the asm barriers).
  float32x4_t a0 = vdupq_n_f32(1.0f), a1 = vdupq_n_f32(1.1f), a2 = vdupq_n_f32(1.2f), a3 = vdupq_n_f32(1.3f);
  float32x4_t a4 = vdupq_n_f32(1.4f), a5 = vdupq_n_f32(1.5f), a6 = vdupq_n_f32(1.6f), a7 = vdupq_n_f32(1.7f);
  float32x4_t a8 = vdupq_n_f32(1.8f), a9 = vdupq_n_f32(1.9f), a10 = vdupq_n_f32(2.0f),
              a11 = vdupq_n_f32(2.1f);
  const float32x4_t m = vdupq_n_f32(0.9999999f);
  const float32x4_t c = vdupq_n_f32(1e-7f);
#define DB_STEP(x)        \
  x = vfmaq_f32(c, x, m); \
  __asm__ volatile("" : "+w"(x));
  for (int64_t it = 0; it < iterations; ++it) {
    DB_STEP(a0)
    DB_STEP(a1)
    DB_STEP(a2)
    DB_STEP(a3)
    DB_STEP(a4)
    DB_STEP(a5)
    DB_STEP(a6)
    DB_STEP(a7)
    DB_STEP(a8)
    DB_STEP(a9)
    DB_STEP(a10)
    DB_STEP(a11)
  }
#undef DB_STEP
  float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)),
                            vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
  s = vaddq_f32(s, vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)));
  volatile float sink = vaddvq_f32(s);
  (void)sink;
  return static_cast<double>(iterations) * 12 * 4 * 2;
}

}  // namespace cpu
}  // namespace dilbench
