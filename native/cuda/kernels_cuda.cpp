// Kernel-registry entries of the CUDA kernels (Device::CUDA): naive and flash. The kernels
// themselves live in naive_cuda.cu / flash_cuda.cu behind the plain launchers of
// attention_cuda.h; this file adapts them to the Kernel interface (validation, workspace from
// the session's pool, exact counts, the session's stream).
#include <string>

#include "attention_cuda.h"
#include "core/errors.h"
#include "core/kernel.h"

namespace dilbench {
namespace {

cuda::ElemType elem(DType t) {
  switch (t) {
    case DType::F16: return cuda::ElemType::F16;
    case DType::BF16: return cuda::ElemType::BF16;
    default: return cuda::ElemType::F32;
  }
}

cuda::AttnArgs args(const AttentionProblem& p, const Tensors& t, void* stream) {
  cuda::AttnArgs a;
  a.dtype = elem(p.dtype);
  a.batch = p.batch;
  a.heads = p.heads;
  a.kvHeads = p.kvHeads;
  a.seqLen = p.seqLen;
  a.headDim = p.headDim;
  a.causal = p.causal;
  a.scale = static_cast<float>(p.resolvedScale());
  a.q = t.q;
  a.k = t.k;
  a.v = t.v;
  a.o = t.o;
  a.stream = stream;
  return a;
}

KernelCounts denseCountsCuda(const AttentionProblem& p) {
  const double n = static_cast<double>(p.seqLen);
  const double pairs = p.causal ? n * (n + 1) / 2 : n * n;
  KernelCounts c;
  c.flops = 4.0 * static_cast<double>(p.batch * p.heads) * static_cast<double>(p.headDim) * pairs;
  c.bytesMoved = static_cast<double>(dtypeBytes(p.dtype)) *
                 (2.0 * static_cast<double>(p.qElements()) + 2.0 * static_cast<double>(p.kvElements()));
  return c;
}

void validateCommonCuda(const AttentionProblem& p, const char* name) {
  if (p.device != Device::CUDA)
    throw Error(ErrorCode::Unsupported, std::string(name) + " (cuda) runs on CUDA devices only", "device");
  if (p.batch * p.heads > 65535)
    throwInvalid("batch", std::string(name) + " (cuda) needs batch * heads <= 65535, got " +
                              std::to_string(p.batch * p.heads));
  if (p.seqLen > (int64_t(1) << 30))
    throwInvalid("seqLen", std::string(name) + " (cuda) supports seqLen <= 2^30");
}

void pollCancel(const ExecContext& ctx) {
  if (ctx.cancel && ctx.cancel->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
}

void raise(const char* msg, const char* name) {
  if (msg) throw Error(ErrorCode::Internal, std::string(name) + " (cuda) launch failed: " + msg);
}

class FlashCuda final : public Kernel {
 public:
  std::string name() const override { return "flash"; }
  Device device() const override { return Device::CUDA; }
  std::vector<DType> dtypes() const override { return {DType::F32, DType::F16, DType::BF16}; }
  std::string description() const override {
    return "Tiled attention with online softmax on the GPU: fp16/bf16 at headDim 64/128 on tensor "
           "cores (mma.sync m16n8k16, fp32 accumulation, cp.async + ldmatrix, FlashAttention-2 "
           "schedule); fp32 and headDim 32/96 on a SIMT path. O(seqLen) memory.";
  }
  void validate(const AttentionProblem& p) const override {
    validateCommonCuda(p, "flash");
    if (!cuda::flashSupports(elem(p.dtype), p.headDim))
      throwInvalid("headDim", "flash (cuda) supports headDim 32, 64, 96 and 128, got " +
                                  std::to_string(p.headDim));
  }
  uint64_t workspaceBytes(const AttentionProblem&, int) const override { return 0; }
  KernelCounts counts(const AttentionProblem& p) const override { return denseCountsCuda(p); }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    pollCancel(ctx);
    raise(cuda::launchFlash(args(p, t, ctx.stream)), "flash");
  }
};

class NaiveCuda final : public Kernel {
 public:
  std::string name() const override { return "naive"; }
  Device device() const override { return Device::CUDA; }
  std::vector<DType> dtypes() const override { return {DType::F32, DType::F16, DType::BF16}; }
  std::string description() const override {
    return "Materialised scores on the GPU: S = scale*QK^T in fp32 (batch*heads*seqLen^2 floats), "
           "masked row softmax in place, then O = P V; own SIMT GEMMs (no cuBLAS).";
  }
  void validate(const AttentionProblem& p) const override {
    validateCommonCuda(p, "naive");
    if (!cuda::naiveSupports(elem(p.dtype), p.headDim))
      throwInvalid("headDim", "naive (cuda) supports headDim 1..512, got " + std::to_string(p.headDim));
    if (p.batch * p.heads * p.seqLen > 0x7fffffffLL)
      throwInvalid("seqLen", "naive (cuda) needs batch * heads * seqLen < 2^31");
  }
  uint64_t workspaceBytes(const AttentionProblem& p, int) const override {
    cuda::AttnArgs a;
    a.batch = p.batch;
    a.heads = p.heads;
    a.seqLen = p.seqLen;
    return cuda::naiveWorkspaceBytes(a);
  }
  KernelCounts counts(const AttentionProblem& p) const override { return denseCountsCuda(p); }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    pollCancel(ctx);
    if (!ctx.pool) throw Error(ErrorCode::Internal, "naive (cuda): no memory pool in the context");
    // Stream order keeps this safe: a cached block is reused only by later work on the same
    // stream, and with caching off cudaFree waits for the device.
    PoolBuffer<unsigned char> ws(*ctx.pool, workspaceBytes(p, 1));
    raise(cuda::launchNaive(args(p, t, ctx.stream), ws.data()), "naive");
  }
};

}  // namespace

DILBENCH_REGISTER_KERNEL(FlashCuda, "flash", CUDA)
DILBENCH_REGISTER_KERNEL(NaiveCuda, "naive", CUDA)

}  // namespace dilbench
