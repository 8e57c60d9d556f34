// Shared bits of the dense CPU kernels (naive, flash): exact work counts, checks, cancel polling.
#pragma once
#include <cstdint>

#include "../core/cancel.h"
#include "../core/errors.h"
#include "../core/kernel.h"
#include "../core/problem.h"

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
  c.flops = 4.0 * static_cast<double>(p.batch * p.heads) * static_cast<double>(p.headDim) *
            denseAllowedPairs(p);
  c.bytesMoved = 4.0 * (2.0 * static_cast<double>(p.qElements()) + 2.0 * static_cast<double>(p.kvElements()));
  return c;
}

inline void validateDenseCpu(const AttentionProblem& p, const char* name) {
  if (p.device != Device::CPU)
    throw Error(ErrorCode::Unsupported, std::string(name) + " (cpu) runs on the CPU only", "device");
  if (p.dtype != DType::F32)
    throw Error(ErrorCode::Unsupported, std::string(name) + " on the CPU supports fp32 only", "dtype");
}

inline void pollCancel(const CancelToken* c) {
  if (c && c->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

inline int64_t roundUp16(int64_t x) { return (x + 15) / 16 * 16; }

}  // namespace cpu
}  // namespace dilbench
