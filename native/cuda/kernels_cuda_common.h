// Helpers shared by the CUDA kernel-registry files (kernels_cuda.cpp, family_kernels_cuda.cpp):
// the dtype mapping, the limits every CUDA kernel checks, cancel polling and launch errors.
#pragma once
#include <string>

#include "attention_cuda.h"
#include "core/errors.h"
#include "core/kernel.h"

namespace dilbench {
namespace cuda_glue {

inline cuda::ElemType elem(DType t) {
  switch (t) {
    case DType::F16: return cuda::ElemType::F16;
    case DType::BF16: return cuda::ElemType::BF16;
    default: return cuda::ElemType::F32;
  }
}

// Device, grid (batch * heads on gridDim.y) and 32-bit row-index limits of every CUDA kernel.
inline void validateCommonCuda(const AttentionProblem& p, const std::string& name) {
  if (p.device != Device::CUDA)
    throw Error(ErrorCode::Unsupported, name + " (cuda) runs on CUDA devices only", "device");
  if (p.batch * p.heads > 65535)
    throwInvalid("batch",
                 name + " (cuda) needs batch * heads <= 65535, got " + std::to_string(p.batch * p.heads));
  if (p.seqLen > (int64_t(1) << 30)) throwInvalid("seqLen", name + " (cuda) supports seqLen <= 2^30");
}

inline void pollCancel(const ExecContext& ctx) {
  if (ctx.cancel && ctx.cancel->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

// The launchers return nullptr or the CUDA error string.
inline void raise(const char* msg, const std::string& name) {
  if (msg) throw Error(ErrorCode::Internal, name + " (cuda) launch failed: " + msg);
}

}  // namespace cuda_glue
}  // namespace dilbench
