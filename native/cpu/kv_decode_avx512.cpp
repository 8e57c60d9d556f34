// kv-cache decode microkernel for AVX-512 (compiled with AVX-512 flags, dispatched at run time
// from kv_cache.cpp). A decode step is a matrix-vector product against the cache, memory-bound:
// attendBlock's tiles pad the query rows to 16 lanes, which for 1..8 query rows would spend most
// of its work on padding, so decode streams K once (dot products, one horizontal sum per key) and
// V once (axpy per key) instead. headDim must be a multiple of 16 (else the generic path runs).
// The cache may hold fp32, fp16 or bf16: half rows are widened to fp32 in registers as they are
// loaded (vcvtph2ps / a 16-bit shift), so a step reads half the bytes and computes in fp32.
// GCC 12 warns (falsely) about the undefined vectors inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace dilbench {
namespace family {
namespace {

// 16 consecutive cache elements as fp32.
struct LoadF32 {
  using T = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
};
struct LoadF16 {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
};
struct LoadBF16 {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
};

inline float hsum(__m512 x) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  __m128 l = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  l = _mm_add_ps(l, _mm_movehl_ps(l, l));
  l = _mm_add_ss(l, _mm_movehdup_ps(l));
  return _mm_cvtss_f32(l);
}

template <class L>
void decodeAttendImpl(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
                      int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  using T = typename L::T;
  const int64_t nv = D / 16;
  // Pass 1: scores s[g * n + j] = scale * dot(q_g, k_j); K streamed once.
  for (int64_t j = 0; j < n; ++j) {
    const T* kr = k + j * D;
    if (j + 4 < n) _mm_prefetch(reinterpret_cast<const char*>(kr + 4 * D), _MM_HINT_T0);
    for (int64_t g = 0; g < G; ++g) {
      const float* qg = q + g * ldq;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
      int64_t c = 0;
      for (; c + 1 < nv; c += 2) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + 16 * c), L::load(kr + 16 * c), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + 16 * c + 16), L::load(kr + 16 * c + 16), a1);
      }
      if (c < nv) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + 16 * c), L::load(kr + 16 * c), a0);
      s[g * n + j] = scale * hsum(_mm512_add_ps(a0, a1));
    }
  }
  // Pass 2: p = exp(s - max), out = sum p v / sum p; V streamed once.
  float maxv[64], sum[64];
  for (int64_t g0 = 0; g0 < G; g0 += 64) {
    const int64_t gr = G - g0 < 64 ? G - g0 : 64;
    for (int64_t g = 0; g < gr; ++g) {
      float m = -std::numeric_limits<float>::infinity();
      const float* sg = s + (g0 + g) * n;
      for (int64_t j = 0; j < n; ++j) m = sg[j] > m ? sg[j] : m;
      maxv[g] = m;
      float z = 0;
      float* sw = s + (g0 + g) * n;
      for (int64_t j = 0; j < n; ++j) {
        const float p = std::exp(sw[j] - m);
        sw[j] = p;
        z += p;
      }
      sum[g] = z;
      float* og = out + (g0 + g) * D;
      for (int64_t c = 0; c < nv; ++c) _mm512_storeu_ps(og + 16 * c, _mm512_setzero_ps());
    }
    for (int64_t j = 0; j < n; ++j) {
      const T* vr = v + j * D;
      if (j + 4 < n) _mm_prefetch(reinterpret_cast<const char*>(vr + 4 * D), _MM_HINT_T0);
      for (int64_t g = 0; g < gr; ++g) {
        const __m512 p = _mm512_set1_ps(s[(g0 + g) * n + j]);
        float* og = out + (g0 + g) * D;
        for (int64_t c = 0; c < nv; ++c) {
          _mm512_storeu_ps(og + 16 * c, _mm512_fmadd_ps(p, L::load(vr + 16 * c), _mm512_loadu_ps(og + 16 * c)));
        }
      }
    }
    for (int64_t g = 0; g < gr; ++g) {
      float* og = out + (g0 + g) * D;
      const __m512 inv = _mm512_set1_ps(1.0f / sum[g]);
      for (int64_t c = 0; c < nv; ++c) _mm512_storeu_ps(og + 16 * c, _mm512_mul_ps(inv, _mm512_loadu_ps(og + 16 * c)));
      lse[g0 + g] = maxv[g] + std::log(sum[g]);
    }
  }
}

}  // namespace

void decodeAttendAvx512(const float* q, int64_t ldq, int64_t G, const float* k, const float* v,
                        int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF32>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx512F16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                           int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx512BF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                            int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadBF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}

}  // namespace family
}  // namespace dilbench
