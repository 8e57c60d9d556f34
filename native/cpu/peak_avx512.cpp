// AVX-512 FMA throughput loop for measureCpuPeak: 12 independent zmm chains (latency 4 x 2 pipes
// needs >= 8), so the loop is bound by FMA throughput, not latency.
// GCC 12 warns (falsely) about the undefined vectors inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

namespace dilbench {
namespace cpu {

double peakFmaLoopAvx512(int64_t iterations) {
  // Twelve named chains (an array would be kept in memory around the asm barriers).
  __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(1.1f), a2 = _mm512_set1_ps(1.2f),
         a3 = _mm512_set1_ps(1.3f);
  __m512 a4 = _mm512_set1_ps(1.4f), a5 = _mm512_set1_ps(1.5f), a6 = _mm512_set1_ps(1.6f),
         a7 = _mm512_set1_ps(1.7f);
  __m512 a8 = _mm512_set1_ps(1.8f), a9 = _mm512_set1_ps(1.9f), a10 = _mm512_set1_ps(2.0f),
         a11 = _mm512_set1_ps(2.1f);
  const __m512 m = _mm512_set1_ps(0.9999999f);
  const __m512 c = _mm512_set1_ps(1e-7f);
#define DB_STEP(x)              \
  x = _mm512_fmadd_ps(x, m, c); \
  __asm__ volatile("" : "+v"(x));
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
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return static_cast<double>(iterations) * 12 * 16 * 2;
}

}  // namespace cpu
}  // namespace dilbench
