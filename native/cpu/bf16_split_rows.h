// The query / output row layout of the bf16 decode kernels that widen a W-lane load of bf16
// values as its even-indexed elements, then its odd-indexed ones (kv_decode_avx2.cpp: W = 8,
// kv_decode_avx512.cpp: W = 16): the fp32 rows are permuted the same way once per call, so every
// dot product and axpy lines up. Plain scalar code, one definition for both ISA files; internal
// linkage, so the copies each ISA file compiles never clash.
#pragma once
#include <cstdint>

namespace dilbench {
namespace family {
namespace {

// Each 2W-element chunk of the G rows of src (stride ld) as its W even-indexed elements, then its
// W odd-indexed ones, into dst (stride D; D % (2W) == 0).
template <int W>
inline void splitRows(const float* src, int64_t ld, int64_t G, int64_t D, float* dst) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < D; c += 2 * W)
      for (int i = 0; i < W; ++i) {
        dst[g * D + c + i] = src[g * ld + c + 2 * i];
        dst[g * D + c + W + i] = src[g * ld + c + 2 * i + 1];
      }
}

// Undoes splitRows in place on G contiguous rows of D elements.
template <int W>
inline void mergeRows(float* rows, int64_t G, int64_t D) {
  for (int64_t r = 0; r < G * D; r += 2 * W) {
    float t[2 * W];
    for (int i = 0; i < W; ++i) {
      t[2 * i] = rows[r + i];
      t[2 * i + 1] = rows[r + W + i];
    }
    for (int i = 0; i < 2 * W; ++i) rows[r + i] = t[i];
  }
}

}  // namespace
}  // namespace family
}  // namespace dilbench
