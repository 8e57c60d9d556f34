// AVX2+FMA throughput loop for measureCpuPeak: 12 independent ymm chains.
#include <immintrin.h>

#include <cstdint>

namespace dilbench {
namespace cpu {

double peakFmaLoopAvx2(int64_t iterations) {
  // Twelve named chains (an array would be kept in memory around the asm barriers).
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f),
         a3 = _mm256_set1_ps(1.3f);
  __m256 a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f), a6 = _mm256_set1_ps(1.6f),
         a7 = _mm256_set1_ps(1.7f);
  __m256 a8 = _mm256_set1_ps(1.8f), a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f),
         a11 = _mm256_set1_ps(2.1f);
  const __m256 m = _mm256_set1_ps(0.9999999f);
  const __m256 c = _mm256_set1_ps(1e-7f);
#define DB_STEP(x)              \
  x = _mm256_fmadd_ps(x, m, c); \
  __asm__ volatile("" : "+x"(x));
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
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  volatile float sink = t[0] + t[7];
  (void)sink;
  return static_cast<double>(iterations) * 12 * 8 * 2;
}

}  // namespace cpu
}  // namespace dilbench
