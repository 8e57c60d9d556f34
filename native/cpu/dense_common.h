// Shared bits of the dense CPU kernels (naive, flash): exact work counts, checks, cancel polling,
// and the fp16 / bf16 storage helpers (fp32 compute: half tiles are converted into fp32 scratch).
#pragma once
#include <cstdint>
#include <vector>

#include "../core/cancel.h"
#include "../core/errors.h"
#include "../core/kernel.h"
#include "../core/problem.h"
#include "convert_half.h"
#include "family.h"

namespace dilbench {
namespace cpu {

// Allowed (query, key) pairs per (batch, head): N^2, or N(N+1)/2 when causal.
inline double denseAllowedPairs(const AttentionProblem& p) {
  const double n = static_cast<double>(p.seqLen);
  return p.causal ? n * (n + 1.0) / 2.0 : n * n;
}

inline KernelCounts denseCounts(const AttentionProblem& p) {
  KernelCounts c;
  // QK^T and P.V: 2 flops per multiply-add each, over the allowed pairs only.
  c.flops =
      4.0 * static_cast<double>(p.batch * p.heads) * static_cast<double>(p.headDim) * denseAllowedPairs(p);
  c.bytesMoved = family::denseBytesMoved(p);
  return c;
}

// Storage dtypes of the kernels that convert half tiles to fp32 (flash, naive, kv-cache).
inline std::vector<DType> halfStorageDtypes() { return {DType::F32, DType::F16, DType::BF16}; }

inline void validateDenseCpu(const AttentionProblem& p, const char* name) {
  if (p.device != Device::CPU)
    throw Error(ErrorCode::Unsupported, std::string(name) + " (cpu) runs on the CPU only", "device");
  if (p.dtype != DType::F32 && p.dtype != DType::F16 && p.dtype != DType::BF16)
    throw Error(ErrorCode::Unsupported, std::string(name) + " on the CPU supports fp32, fp16 and bf16 only",
                "dtype");
}

// Element `index` of a tensor stored in `dtype`.
inline const void* elementAt(const void* base, int64_t index, DType dtype) {
  return static_cast<const char*>(base) + index * static_cast<int64_t>(dtypeBytes(dtype));
}
inline void* elementAt(void* base, int64_t index, DType dtype) {
  return static_cast<char*>(base) + index * static_cast<int64_t>(dtypeBytes(dtype));
}

// n elements at src as fp32: src itself for fp32 (no copy), else converted into scratch.
inline const float* asF32(const void* src, int64_t n, DType dtype, float* scratch) {
  if (dtype == DType::F32) return static_cast<const float*>(src);
  convertToF32(scratch, src, static_cast<size_t>(n), dtype);
  return scratch;
}

inline void pollCancel(const CancelToken* c) {
  if (c && c->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

inline int64_t roundUp16(int64_t x) { return (x + 15) / 16 * 16; }

}  // namespace cpu
}  // namespace dilbench
