// fp32 <-> fp16 / bf16 storage conversion for the CPU backend and the CPU kernels.
// Semantics (identical at every SIMD level, bit for bit):
//   to fp32:   exact (fp16 subnormals become normal fp32; NaN stays NaN with its sign).
//   from fp32: round to nearest, ties to even; overflow rounds to +-Inf; +-Inf and +-0 kept;
//              NaN stays NaN (quieted, sign and top payload bits kept); fp16 subnormals produced.
// One entry point per direction, dispatched on activeSimdLevel(): generic scalar,
// AVX2 + F16C (convert_half_avx2.cpp), AVX-512 (convert_half_avx512.cpp), NEON
// (convert_half_neon.cpp). bf16 is converted with integer shifts at every level: AVX512_BF16's
// vcvtneps2bf16 flushes fp32 subnormal inputs to zero, so the levels would stop agreeing for no
// measurable gain (conversion is never the bottleneck).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/cpu_features.h"
#include "../core/problem.h"

namespace dilbench {
namespace cpu {

// dst[0..n) = src[0..n) as fp32; src holds n elements of dtype (fp32: a plain copy).
void convertToF32(float* dst, const void* src, size_t n, DType dtype);
// dst[0..n) = src[0..n) rounded to dtype (fp32: a plain copy).
void convertFromF32(void* dst, const float* src, size_t n, DType dtype);

// The per-level routines (tests compare every level against the scalar definitions below).
struct ConvertOps {
  SimdLevel level;
  void (*f16ToF32)(float* dst, const uint16_t* src, size_t n);
  void (*f32ToF16)(uint16_t* dst, const float* src, size_t n);
  void (*bf16ToF32)(float* dst, const uint16_t* src, size_t n);
  void (*f32ToBf16)(uint16_t* dst, const float* src, size_t n);
};
const ConvertOps& convertOpsGeneric();
const ConvertOps& convertOpsAvx2();
const ConvertOps& convertOpsAvx512();
const ConvertOps& convertOpsNeon();  // aarch64 builds only (convert_half_neon.cpp)
const ConvertOps& convertOpsFor(SimdLevel level);

// ---- scalar definitions ------------------------------------------------------------------------

inline uint32_t floatBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}
inline float bitsFloat(uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

inline float f16ToF32Scalar(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  const uint32_t m = h & 0x3FFu;
  if (e == 0x1F) return bitsFloat(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));  // Inf / quiet NaN
  if (e == 0) {
    // zero or subnormal: m * 2^-24, exact in fp32
    const float mag = float(m) * 5.9604644775390625e-8f;
    return bitsFloat(sign | floatBits(mag));
  }
  return bitsFloat(sign | ((e + 112u) << 23) | (m << 13));  // rebias 15 -> 127
}

inline uint16_t f32ToF16Scalar(float f) {
  const uint32_t x = floatBits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));  // quiet NaN
  if (ax >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // >= 65520 (incl. Inf): ties to even go up
  if (ax >= 0x38800000u) {  // normal fp16 (>= 2^-14): drop 13 mantissa bits, ties to even
    const uint32_t r = ax + 0xFFFu + ((ax >> 13) & 1u);
    return uint16_t(sign | ((r - 0x38000000u) >> 13));  // rebias 127 -> 15 (the carry may reach 2^-14)
  }
  // subnormal fp16 (or zero): round |f| / 2^-24 to an integer, ties to even
  const uint32_t e = ax >> 23;
  const int shift = 126 - int(e);         // |f| = mant * 2^(e-150) = (mant >> shift) units of 2^-24
  if (e == 0 || shift > 24) return sign;  // below 2^-25 (fp32 subnormals too): rounds to zero
  const uint32_t mant = (ax & 0x7FFFFFu) | 0x800000u;
  uint32_t r = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;
  return uint16_t(sign | r);
}

inline float bf16ToF32Scalar(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

inline uint16_t f32ToBf16Scalar(float f) {
  const uint32_t x = floatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
  return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);                  // ties to even; overflow -> Inf
}

}  // namespace cpu
}  // namespace dilbench
