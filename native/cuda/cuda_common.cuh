// Small device helpers shared by the CUDA kernel files (no dependency outside native/cuda).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_cuda.h"

namespace dilbench {
namespace cuda {

template <class T>
struct ElemOf;
template <>
struct ElemOf<float> {
  static constexpr ElemType value = ElemType::F32;
};
template <>
struct ElemOf<__half> {
  static constexpr ElemType value = ElemType::F16;
};
template <>
struct ElemOf<__nv_bfloat16> {
  static constexpr ElemType value = ElemType::BF16;
};

__device__ __forceinline__ float toF(float x) { return x; }
__device__ __forceinline__ float toF(__half x) { return __half2float(x); }
__device__ __forceinline__ float toF(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T fromF(float x);
template <>
__device__ __forceinline__ float fromF<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half fromF<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromF<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Launch-error check after every launch: returns a message or nullptr.
inline const char* lastLaunchError() {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace cuda
}  // namespace dilbench
