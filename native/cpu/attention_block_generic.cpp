// Baseline instance of the attention building blocks: SSE2 (no FMA) on x86-64; elsewhere
// (aarch64's generic level) plain 4-lane loops in the same order, with no intrinsics at all.
#include "attention_block_ops.h"

#if defined(__SSE2__)
#include <emmintrin.h>

namespace {

struct VT {
  using R = __m128;
  static constexpr int W = 4;
  static constexpr int SQ = 2;
  static constexpr int krFor(int nqv) { return nqv >= 2 ? 6 : 8; }
  static constexpr int PVN = 2;
  static constexpr int rbFor(int nv) { return nv >= 2 ? 6 : 8; }
  static R load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, R x) { _mm_storeu_ps(p, x); }
  static R loadN(const float* p, int n) {
    alignas(16) float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return _mm_load_ps(t);
  }
  static void storeN(float* p, R x, int n) {
    alignas(16) float t[4];
    _mm_store_ps(t, x);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static R set1(float x) { return _mm_set1_ps(x); }
  static R zero() { return _mm_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static R mul(R a, R b) { return _mm_mul_ps(a, b); }
  static R add(R a, R b) { return _mm_add_ps(a, b); }
  static R sub(R a, R b) { return _mm_sub_ps(a, b); }
  static R max(R a, R b) { return _mm_max_ps(a, b); }
  // 2^x = 2^n * p(f), n = round(x), f in [-0.5, 0.5]; degree-5 fit with p(0) == 1 exactly
  // (max rel. error 1.1e-7): exp2(0) must be exactly 1, or every online-softmax step that
  // keeps the row max would rescale the running sums by a slightly wrong alpha.
  static R exp2(R x) {
    x = _mm_max_ps(x, _mm_set1_ps(-127.f));
    const __m128i ni = _mm_cvtps_epi32(x);  // round to nearest (default MXCSR)
    const R n = _mm_cvtepi32_ps(ni);
    const R f = _mm_sub_ps(x, n);
    R p = _mm_set1_ps(1.3219338723e-03f);
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(9.6717035107e-03f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(5.5508907007e-02f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(2.4022237912e-01f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(6.9314685764e-01f));
    p = _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(1.0f));
    const __m128i e = _mm_slli_epi32(_mm_add_epi32(ni, _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
  }
};

}  // namespace
#else
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

struct VT {
  struct R {
    float v[4];
  };
  static constexpr int W = 4;
  static constexpr int SQ = 2;
  static constexpr int krFor(int nqv) { return nqv >= 2 ? 6 : 8; }
  static constexpr int PVN = 2;
  static constexpr int rbFor(int nv) { return nv >= 2 ? 6 : 8; }
  template <class F>
  static R map(F f) {
    R r;
    for (int i = 0; i < 4; ++i) r.v[i] = f(i);
    return r;
  }
  static R load(const float* p) {
    return map([&](int i) { return p[i]; });
  }
  static void store(float* p, R x) { std::memcpy(p, x.v, sizeof x.v); }
  static R loadN(const float* p, int n) {
    return map([&](int i) { return i < n ? p[i] : 0.f; });
  }
  static void storeN(float* p, R x, int n) {
    for (int i = 0; i < n; ++i) p[i] = x.v[i];
  }
  static R set1(float x) {
    return map([&](int) { return x; });
  }
  static R zero() { return set1(0.f); }
  static R fma(R a, R b, R c) {
    return map([&](int i) { return a.v[i] * b.v[i] + c.v[i]; });
  }
  static R mul(R a, R b) {
    return map([&](int i) { return a.v[i] * b.v[i]; });
  }
  static R add(R a, R b) {
    return map([&](int i) { return a.v[i] + b.v[i]; });
  }
  static R sub(R a, R b) {
    return map([&](int i) { return a.v[i] - b.v[i]; });
  }
  static R max(R a, R b) {
    return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; });
  }
  // The SSE2 level's exp2, lane by lane: n = round-to-nearest-even(x), 2^n from the exponent bits.
  static R exp2(R x) {
    return map([&](int i) {
      const float xi = x.v[i] > -127.f ? x.v[i] : -127.f;
      const float n = std::nearbyint(xi);
      const float f = xi - n;
      float p = 1.3219338723e-03f;
      p = p * f + 9.6717035107e-03f;
      p = p * f + 5.5508907007e-02f;
      p = p * f + 2.4022237912e-01f;
      p = p * f + 6.9314685764e-01f;
      p = p * f + 1.0f;
      const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
      float scale;
      std::memcpy(&scale, &bits, sizeof scale);
      return p * scale;
    });
  }
};

}  // namespace
#endif

#include "attention_block_impl.h"

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsGeneric() {
  static const BlockOps t = BlockImpl<VT>::table(SimdLevel::Generic);
  return t;
}
}  // namespace cpu
}  // namespace dilbench
