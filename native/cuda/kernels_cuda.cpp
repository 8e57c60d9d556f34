// Kernel-registry entries of the CUDA kernels (Device::CUDA): naive, flash and kv-cache (the
// attention family's entries, dilated to block-sparse, are in family_kernels_cuda.cpp). The kernels
// themselves live in naive_cuda.cu / flash_cuda.cu behind the plain launchers of
// attention_cuda.h; this file adapts them to the Kernel interface (validation, workspace from
// the session's pool, exact counts, the session's stream).
#include <cuda_runtime.h>

#include <string>

#include "attention_cuda.h"
#include "core/errors.h"
#include "core/kernel.h"
#include "cpu/family.h"  // resolveKvCache, kvCacheCounts: the split and counts shared with the CPU
#include "kernels_cuda_common.h"

namespace dilbench {
namespace {

using cuda_glue::elem;
using cuda_glue::pollCancel;
using cuda_glue::raise;
using cuda_glue::validateCommonCuda;

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
  KernelCounts c;
  c.flops = 4.0 * static_cast<double>(p.batch * p.heads) * static_cast<double>(p.headDim) *
            family::pairCount(p.seqLen, p.causal);
  c.bytesMoved = family::denseBytesMoved(p);
  return c;
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
      throwInvalid("headDim",
                   "flash (cuda) supports headDim 32, 64, 96 and 128, got " + std::to_string(p.headDim));
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

// kv-cache (attention-definitions.md, "kv-cache (decoding)"), the same rows as the CPU kernel:
// rows < promptLen from the prefill (flash over the cached prompt; causal, or bidirectional
// within the prompt when !causal), row promptLen + t from decode step t, which appends k, v row
// promptLen + t to the cache and attends it with one query per head (split-K flash-decoding).
class KvCacheCuda final : public Kernel {
 public:
  std::string name() const override { return "kv-cache"; }
  Device device() const override { return Device::CUDA; }
  std::vector<DType> dtypes() const override { return {DType::F32, DType::F16, DType::BF16}; }
  std::string description() const override {
    return "Decoding with a KV cache on the GPU: prefill (flash) into a pool-allocated cache, then "
           "per token one k, v row appended and one query per head attended with split-K "
           "flash-decoding (memory-bound: the cache is streamed once per step)";
  }
  void validate(const AttentionProblem& p) const override {
    validateCommonCuda(p, "kv-cache");
    resolveKvCache(p);
    if (!cuda::decodeSupports(elem(p.dtype), p.headDim) || !cuda::flashSupports(elem(p.dtype), p.headDim))
      throwInvalid("headDim",
                   "kv-cache (cuda) supports headDim 64 and 128, got " + std::to_string(p.headDim));
  }
  uint64_t workspaceBytes(const AttentionProblem& p, int) const override {
    return 2ull * uint64_t(p.kvElements()) * dtypeBytes(p.dtype) +
           cuda::decodeWorkspaceBytes(dargs(p, Tensors{}, nullptr, 0));
  }
  KernelCounts counts(const AttentionProblem& p) const override { return family::kvCacheCounts(p, false); }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    pollCancel(ctx);
    if (!ctx.pool) throw Error(ErrorCode::Internal, "kv-cache (cuda): no memory pool in the context");
    const KvCacheSplit sp = resolveKvCache(p);
    const int64_t L = p.seqLen, D = p.headDim, P = sp.promptLen;
    const size_t es = dtypeBytes(p.dtype);
    const size_t headBytes = size_t(L) * size_t(D) * es;
    const size_t kvHeadsTotal = size_t(p.batch * p.kvHeads);
    cudaStream_t st = static_cast<cudaStream_t>(ctx.stream);
    PoolBuffer<unsigned char> kc(*ctx.pool, kvHeadsTotal * headBytes);
    PoolBuffer<unsigned char> vc(*ctx.pool, kvHeadsTotal * headBytes);
    PoolBuffer<unsigned char> ws(*ctx.pool, cuda::decodeWorkspaceBytes(dargs(p, t, st, 0)));
    auto copyRows = [&](int64_t row0, int64_t rows) {
      if (rows <= 0) return;
      const size_t off = size_t(row0) * size_t(D) * es, width = size_t(rows) * size_t(D) * es;
      cudaError_t e =
          cudaMemcpy2DAsync(kc.data() + off, headBytes, static_cast<const unsigned char*>(t.k) + off,
                            headBytes, width, kvHeadsTotal, cudaMemcpyDeviceToDevice, st);
      if (e == cudaSuccess)
        e = cudaMemcpy2DAsync(vc.data() + off, headBytes, static_cast<const unsigned char*>(t.v) + off,
                              headBytes, width, kvHeadsTotal, cudaMemcpyDeviceToDevice, st);
      if (e != cudaSuccess) {
        cudaGetLastError();
        throw Error(ErrorCode::Internal,
                    std::string("kv-cache (cuda): cache copy failed: ") + cudaGetErrorString(e));
      }
    };
    if (P > 0 && !sp.attendPrompt) {  // prefill "skip": the prompt fills the cache, its rows are 0
      copyRows(0, P);
      cudaError_t e =
          cudaMemset2DAsync(t.o, headBytes, 0, size_t(P) * size_t(D) * es, size_t(p.batch * p.heads), st);
      if (e != cudaSuccess) {
        cudaGetLastError();
        throw Error(ErrorCode::Internal,
                    std::string("kv-cache (cuda): zeroing the prompt rows failed: ") + cudaGetErrorString(e));
      }
    } else if (P > 0) {
      copyRows(0, P);
      cuda::AttnArgs a = args(p, t, st);
      a.k = kc.data();
      a.v = vc.data();
      a.seqLen = P;
      a.headStrideRows = L;
      raise(cuda::launchFlash(a), "kv-cache prefill");
    }
    for (int64_t pos = P; pos < L; ++pos) {
      pollCancel(ctx);
      copyRows(pos, 1);
      cuda::DecodeArgs d = dargs(p, t, st, pos);
      d.k = kc.data();
      d.v = vc.data();
      raise(cuda::launchDecode(d, ws.data()), "kv-cache decode");
    }
  }

 private:
  static cuda::DecodeArgs dargs(const AttentionProblem& p, const Tensors& t, void* stream, int64_t pos) {
    cuda::DecodeArgs d;
    d.dtype = elem(p.dtype);
    d.batch = p.batch;
    d.heads = p.heads;
    d.kvHeads = p.kvHeads;
    d.headDim = p.headDim;
    d.rowsPerHead = p.seqLen;
    d.pos = pos;
    d.scale = static_cast<float>(p.resolvedScale());
    d.q = t.q;
    d.k = t.k;
    d.v = t.v;
    d.o = t.o;
    d.stream = stream;
    return d;
  }
};

}  // namespace

DILBENCH_REGISTER_KERNEL(FlashCuda, "flash", CUDA)
DILBENCH_REGISTER_KERNEL(NaiveCuda, "naive", CUDA)
DILBENCH_REGISTER_KERNEL(KvCacheCuda, "kv-cache", CUDA)

}  // namespace dilbench
