// fp32 <-> fp16 / bf16 conversion: the generic (scalar) level and the per-level dispatch.
#include "convert_half.h"

#include <cstring>
#include <string>

#include "../core/errors.h"

namespace dilbench {
namespace cpu {

namespace {

void f16ToF32Generic(float* dst, const uint16_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16ToF32Scalar(src[i]);
}
void f32ToF16Generic(uint16_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32ToF16Scalar(src[i]);
}
void bf16ToF32Generic(float* dst, const uint16_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16ToF32Scalar(src[i]);
}
void f32ToBf16Generic(uint16_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32ToBf16Scalar(src[i]);
}

[[noreturn]] void badDtype(DType dtype) {
  throw Error(ErrorCode::Internal, std::string("no conversion for dtype ") + std::to_string(int(dtype)),
              "dtype");
}

}  // namespace

const ConvertOps& convertOpsGeneric() {
  static const ConvertOps t{SimdLevel::Generic, &f16ToF32Generic, &f32ToF16Generic, &bf16ToF32Generic,
                            &f32ToBf16Generic};
  return t;
}

const ConvertOps& convertOpsFor(SimdLevel level) {
  switch (level) {
#if defined(__aarch64__)
    case SimdLevel::NEON: return convertOpsNeon();
#else
    case SimdLevel::AVX512: return convertOpsAvx512();
    case SimdLevel::AVX2: return convertOpsAvx2();
#endif
    default: return convertOpsGeneric();
  }
}

void convertToF32(float* dst, const void* src, size_t n, DType dtype) {
  if (n == 0) return;
  const ConvertOps& ops = convertOpsFor(activeSimdLevel());
  switch (dtype) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::F16: ops.f16ToF32(dst, static_cast<const uint16_t*>(src), n); return;
    case DType::BF16: ops.bf16ToF32(dst, static_cast<const uint16_t*>(src), n); return;
  }
  badDtype(dtype);
}

void convertFromF32(void* dst, const float* src, size_t n, DType dtype) {
  if (n == 0) return;
  const ConvertOps& ops = convertOpsFor(activeSimdLevel());
  switch (dtype) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::F16: ops.f32ToF16(static_cast<uint16_t*>(dst), src, n); return;
    case DType::BF16: ops.f32ToBf16(static_cast<uint16_t*>(dst), src, n); return;
  }
  badDtype(dtype);
}

}  // namespace cpu
}  // namespace dilbench
