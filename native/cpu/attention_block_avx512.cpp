// AVX-512 (F/DQ/BW/VL) instance of the attention building blocks. Compiled with -mavx512*.
// GCC 12 warns (falsely) about the undefined vectors inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "attention_block_ops.h"
#include "exp2_avx512.h"

namespace {

struct VT {
  using R = __m512;
  static constexpr int W = 16;
  static constexpr int SQ = 4;  // 64 query lanes per score block
  static constexpr int krFor(int nqv) { return nqv >= 4 ? 6 : (nqv == 2 ? 12 : 8); }
  static constexpr int PVN = 4;  // 64 head-dim columns per P.V block
  static constexpr int rbFor(int nv) { return nv >= 4 ? 6 : (nv == 3 ? 7 : (nv == 2 ? 11 : 8)); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R x) { _mm512_storeu_ps(p, x); }
  static R loadN(const float* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  static void storeN(float* p, R x, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), x);
  }
  static R set1(float x) { return _mm512_set1_ps(x); }
  static R zero() { return _mm512_setzero_ps(); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R exp2(R x) { return dilbench::cpu::exp2Avx512(x); }  // exp2_avx512.h
};

}  // namespace

#include "attention_block_impl.h"

namespace dilbench {
namespace cpu {
const BlockOps& blockOpsAvx512() {
  static const BlockOps t = BlockImpl<VT>::table(SimdLevel::AVX512);
  return t;
}
}  // namespace cpu
}  // namespace dilbench
