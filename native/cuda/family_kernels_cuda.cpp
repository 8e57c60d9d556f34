// Kernel-registry entries of the CUDA attention family (Device::CUDA): dilated, dilated-grouped,
// ring, ring-dilated and block-sparse. Parameters are resolved and validated by the same
// functions as the CPU kernels (native/cpu/family.h: same messages, same default pairs, same
// block mask), counts() gives the CPU kernels' flops (bytes in the run's dtype), the launches
// come from family_cuda_plan.h and run on the session's stream with workspace from its pool;
// cancel is polled between launches and nothing waits for the device inside run().
// Ring telemetry: per (step, rank) compute time from CUDA events recorded between the launches,
// resolved when telemetry() is read (after the run's own synchronisation).
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "attention_cuda.h"
#include "core/errors.h"
#include "core/kernel.h"
#include "core/memory_pool.h"
#include "cpu/family.h"
#include "family_cuda_plan.h"
#include "family_cuda_problem.h"
#include "kernels_cuda_common.h"

namespace dilbench {
namespace {

using cuda::FamilyLaunch;
namespace fm = cuda::family_math;

// ring / ring-dilated launch P * P (times pairs) kernels per run; beyond this the launches alone
// would dominate (the CPU kernels accept any ringSize <= seqLen).
constexpr int64_t kMaxRingSizeCuda = 256;

using cuda_glue::elem;
using cuda_glue::pollCancel;
using cuda_glue::raise;

void validateFamilyCuda(const AttentionProblem& p, const std::string& name) {
  cuda_glue::validateCommonCuda(p, name);
  if (!fm::headDimSupported(p.headDim))
    throwInvalid("headDim",
                 name + " (cuda) supports headDim 32, 64, 96 and 128, got " + std::to_string(p.headDim));
}

void validateRingSizeCuda(const AttentionProblem& p, const std::string& name) {
  validateRingSize(p);
  if (p.ringSize > kMaxRingSizeCuda)
    throwInvalid("ringSize", name + " (cuda) simulates at most " + std::to_string(kMaxRingSizeCuda) +
                                 " ranks (one launch per step and rank), got " + std::to_string(p.ringSize));
}

// The CPU kernels' flops; bytes: q, k, v read once and o written once, in the run's dtype.
KernelCounts familyCounts(const AttentionProblem& p) {
  KernelCounts c;
  c.flops = cuda::familyFlops(p);
  c.bytesMoved = family::denseBytesMoved(p);
  return c;
}

// CUDA events bracketing the (step, rank) groups of launches of a ring run: index 0 before the
// first launch, index t * P + p + 1 after the launches of step t, rank p.
class StepEvents {
 public:
  StepEvents() = default;
  StepEvents(const StepEvents&) = delete;
  StepEvents& operator=(const StepEvents&) = delete;
  ~StepEvents() { destroy(); }
  void prepare(size_t count) {
    if (events_.size() == count) return;
    destroy();
    for (size_t i = 0; i < count; ++i) {
      cudaEvent_t e = nullptr;
      const cudaError_t err = cudaEventCreate(&e);
      if (err != cudaSuccess) {
        cudaGetLastError();
        throw Error(ErrorCode::Internal, std::string("CUDA cudaEventCreate: ") + cudaGetErrorString(err));
      }
      events_.push_back(e);
    }
  }
  void record(size_t i, void* stream) {
    const cudaError_t err = cudaEventRecord(events_.at(i), static_cast<cudaStream_t>(stream));
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw Error(ErrorCode::Internal, std::string("CUDA cudaEventRecord: ") + cudaGetErrorString(err));
    }
  }
  // Nanoseconds between event i and i + 1 for every i, once the last one completed.
  std::vector<double> gapsNs() const {
    std::vector<double> out;
    if (events_.size() < 2) return out;
    cudaError_t err = cudaEventSynchronize(events_.back());
    for (size_t i = 0; err == cudaSuccess && i + 1 < events_.size(); ++i) {
      float ms = 0.f;
      err = cudaEventElapsedTime(&ms, events_[i], events_[i + 1]);
      out.push_back(double(ms) * 1e6);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw Error(ErrorCode::Internal, std::string("CUDA ring step timing: ") + cudaGetErrorString(err));
    }
    return out;
  }

 private:
  void destroy() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    events_.clear();
  }
  std::vector<cudaEvent_t> events_;
};

class FamilyCudaKernel : public Kernel, public TelemetrySource {
 public:
  // ring: a ring kernel (ring, ring-dilated): its runs record per-(step, rank) events.
  explicit FamilyCudaKernel(bool ring = false) : ring_(ring) {}
  Device device() const override { return Device::CUDA; }
  std::vector<DType> dtypes() const override { return {DType::F32, DType::F16, DType::BF16}; }
  uint64_t workspaceBytes(const AttentionProblem& p, int) const override { return mergedWorkspaceBytes(p); }
  KernelCounts counts(const AttentionProblem& p) const override { return familyCounts(p); }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    validate(p);
    runMerged(p, t, ctx, cuda::familyLaunches(p), ring_ ? p.ringSize : 0);
  }
  // Ring kernels: the per-step times and bytes are resolved here, after the run, so neither the
  // event queries nor the byte accounting fall inside the timed run.
  KernelTelemetry telemetry() const override {
    if (!tel_.valid || !ringPending_) return tel_;
    const int64_t P = tel_.ringSize;
    const std::vector<double> gaps = events_.gapsNs();
    const std::vector<uint64_t> bytes = forwardedBytes(ran_);
    for (int64_t t = 0; t < P; ++t)
      for (int64_t r = 0; r < P; ++r) {
        tel_.stepRankNs[size_t(t)][size_t(r)] = gaps.at(size_t(t * P + r));
        // What rank r forwards after step t: the chunk it holds, rank (r - t) mod P's; nothing
        // after the last step.
        if (t + 1 < P) tel_.stepRankBytesSent[size_t(t)][size_t(r)] = bytes.at(size_t(((r - t) % P + P) % P));
      }
    ringPending_ = false;
    return tel_;
  }

 protected:
  // Workspace of runMerged, in the pool's size classes (what the pool hands out).
  static uint64_t mergedWorkspaceBytes(const AttentionProblem& p) {
    const cuda::FamilyShape s = cuda::familyShape(p);
    const bool f32 = p.dtype == DType::F32;
    uint64_t bytes = MemoryPool::sizeClass(cuda::familyLseFloats(s) * sizeof(float));
    if (!f32) bytes += MemoryPool::sizeClass(cuda::familyAccumulatorFloats(s, false) * sizeof(float));
    return bytes;
  }

  // Ring kernels: bytes each source rank's key/value rows amount to when forwarded.
  virtual std::vector<uint64_t> forwardedBytes(const AttentionProblem&) const { return {}; }

  // Runs merged launches into the running (acc, lse2), then writes o. ringSize > 0: events
  // around each (step, rank) group of launches feed tel_.stepRankNs.
  void runMerged(const AttentionProblem& p, const Tensors& t, ExecContext& ctx,
                 const std::vector<FamilyLaunch>& launches, int64_t ringSize) {
    if (!ctx.pool) throw Error(ErrorCode::Internal, name() + " (cuda): no memory pool in the context");
    tel_ = KernelTelemetry{};
    ringPending_ = false;
    const cuda::FamilyShape s = cuda::familyShape(p);
    const bool f32 = p.dtype == DType::F32;
    PoolBuffer<float> lse(*ctx.pool, cuda::familyLseFloats(s));
    PoolBuffer<float> acc;
    if (!f32) acc = PoolBuffer<float>(*ctx.pool, cuda::familyAccumulatorFloats(s, false));
    cuda::FamilyBuffers b;
    b.dtype = elem(p.dtype);
    b.q = t.q;
    b.k = t.k;
    b.v = t.v;
    b.o = t.o;
    b.acc = f32 ? static_cast<float*>(t.o) : acc.data();
    b.lse = lse.data();
    b.stream = ctx.stream;
    const size_t outElements = size_t(p.qElements());
    raise(cuda::familyBegin(b, outElements, cuda::familyLseFloats(s)), name());
    if (ringSize > 0) {
      events_.prepare(size_t(ringSize * ringSize + 1));
      events_.record(0, ctx.stream);
    }
    for (size_t i = 0; i < launches.size(); ++i) {
      pollCancel(ctx);
      const FamilyLaunch& l = launches[i];
      raise(cuda::launchFamily(l, b), name());
      const bool groupEnds =
          i + 1 == launches.size() || launches[i + 1].step != l.step || launches[i + 1].rank != l.rank;
      if (ringSize > 0 && groupEnds) events_.record(size_t(l.step * ringSize + l.rank + 1), ctx.stream);
    }
    raise(cuda::familyFinish(b, outElements), name());
    if (ringSize > 0) {
      tel_.ringSize = ringSize;
      tel_.stepRankNs.assign(size_t(ringSize), std::vector<double>(size_t(ringSize), 0.0));
      tel_.stepRankBytesSent.assign(size_t(ringSize), std::vector<uint64_t>(size_t(ringSize), 0));
      ran_ = p;
      ringPending_ = true;
    }
    tel_.valid = true;
  }

  const bool ring_;
  mutable KernelTelemetry tel_;
  mutable bool ringPending_ = false;
  AttentionProblem ran_;  // the last ring run's problem
  StepEvents events_;
};

class DilatedCuda final : public FamilyCudaKernel {
 public:
  std::string name() const override { return "dilated"; }
  std::string description() const override {
    return "LongNet dilated attention on the GPU: per (segment, dilation) pair one launch over every "
           "segment's selected rows (strided rows read in place), fp32 online softmax, merged across "
           "pairs by softmax denominators (lse); SIMT, linear in seqLen";
  }
  void validate(const AttentionProblem& p) const override {
    validateFamilyCuda(p, name());
    resolveDilatedPairs(p);
  }
};

class DilatedGroupedCuda final : public FamilyCudaKernel {
 public:
  std::string name() const override { return "dilated-grouped"; }
  std::string description() const override {
    return "Dilated attention with head groups on the GPU (group g uses pair g, offset g mod r_g; "
           "no division by the number of groups): one launch per group, SIMT, fp32 online softmax";
  }
  void validate(const AttentionProblem& p) const override {
    validateFamilyCuda(p, name());
    resolveDilatedPairs(p);
  }
};

class RingCuda final : public FamilyCudaKernel {
 public:
  RingCuda() : FamilyCudaKernel(true) {}
  std::string name() const override { return "ring"; }
  std::string description() const override {
    return "Ring attention over P simulated ranks on one GPU (zigzag chunks when causal): one launch "
           "per (step, rank), lse merge of the per-step blocks; per-step per-rank time from CUDA "
           "events, bytes a real ring would send";
  }
  void validate(const AttentionProblem& p) const override {
    validateFamilyCuda(p, name());
    validateRingSizeCuda(p, name());
  }

 protected:
  // 2 * batch * kvHeads * rows * headDim * bytes(dtype): the k and v rows of the chunk(s).
  std::vector<uint64_t> forwardedBytes(const AttentionProblem& p) const override {
    std::vector<uint64_t> out;
    for (int64_t src = 0; src < p.ringSize; ++src)
      out.push_back(2ull * uint64_t(p.batch * p.kvHeads) *
                    uint64_t(cuda::ringRankRows(p.seqLen, p.ringSize, p.causal, src)) * uint64_t(p.headDim) *
                    dtypeBytes(p.dtype));
    return out;
  }
};

class RingDilatedCuda final : public FamilyCudaKernel {
 public:
  RingDilatedCuda() : FamilyCudaKernel(true) {}
  std::string name() const override { return "ring-dilated"; }
  std::string description() const override {
    return "Dilated (LongNet) attention across P simulated ranks on one GPU: local segments stay "
           "local, the sparsified keys/values of spanning segments travel around the ring; one "
           "launch per (step, rank, pair), lse merge";
  }
  void validate(const AttentionProblem& p) const override {
    validateFamilyCuda(p, name());
    resolveDilatedPairs(p);
    validateRingSizeCuda(p, name());
  }

 protected:
  // Only the sparsified rows of segments spanning several ranks travel (same rows as the CPU).
  std::vector<uint64_t> forwardedBytes(const AttentionProblem& p) const override {
    std::vector<uint64_t> out;
    for (uint64_t rows : cuda::ringDilatedSendRows(cuda::familyShape(p), cuda::familyPairs(p), p.ringSize))
      out.push_back(2ull * uint64_t(p.batch) * rows * uint64_t(p.headDim) * dtypeBytes(p.dtype));
    return out;
  }
};

class BlockSparseCuda final : public FamilyCudaKernel {
 public:
  std::string name() const override { return "block-sparse"; }
  std::string description() const override {
    return "Block-sparse attention on the GPU (local, strided, dilated, random block masks): each "
           "query tile walks only its allowed key blocks (enumerated on the device, the same mask as "
           "the CPU), fp32 online softmax, rows stored directly; achieved sparsity reported";
  }
  void validate(const AttentionProblem& p) const override {
    validateFamilyCuda(p, name());
    validateBlockSparse(p);
  }
  uint64_t workspaceBytes(const AttentionProblem&, int) const override { return 0; }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    validate(p);
    const FamilyLaunch l = cuda::planBlockSparse(cuda::familyShape(p), cuda::familyBlockSparse(p));
    cuda::FamilyBuffers b;
    b.dtype = elem(p.dtype);
    b.q = t.q;
    b.k = t.k;
    b.v = t.v;
    b.o = t.o;
    b.stream = ctx.stream;
    pollCancel(ctx);
    raise(cuda::launchFamily(l, b), name());
    // The block counts depend only on the mask: computed when telemetry() is first read, outside
    // the timed run (a random pattern costs O(blocks^2) hash evaluations on the host).
    if (!haveStats_ || !sameMask(statsProblem_, p)) {
      statsProblem_ = p;
      haveStats_ = false;
    }
    tel_ = KernelTelemetry{};
    tel_.valid = true;
  }
  KernelTelemetry telemetry() const override {
    if (!tel_.valid) return tel_;
    if (!haveStats_) {
      stats_ = blockSparseStats(statsProblem_);
      haveStats_ = true;
    }
    KernelTelemetry t = tel_;
    t.blocksTotal = stats_.blocksTotal;
    t.blocksComputed = stats_.blocksComputed;
    t.sparsity = stats_.sparsity;
    return t;
  }

 private:
  static bool sameMask(const AttentionProblem& a, const AttentionProblem& b) {
    return a.seqLen == b.seqLen && a.causal == b.causal && a.blockSize == b.blockSize &&
           a.blockPattern == b.blockPattern && a.window == b.window && a.stride == b.stride &&
           a.density == b.density && a.seed == b.seed;
  }
  AttentionProblem statsProblem_;
  mutable BlockSparseStats stats_;
  mutable bool haveStats_ = false;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(DilatedCuda, "dilated", CUDA)
DILBENCH_REGISTER_KERNEL(DilatedGroupedCuda, "dilated-grouped", CUDA)
DILBENCH_REGISTER_KERNEL(RingCuda, "ring", CUDA)
DILBENCH_REGISTER_KERNEL(RingDilatedCuda, "ring-dilated", CUDA)
DILBENCH_REGISTER_KERNEL(BlockSparseCuda, "block-sparse", CUDA)

}  // namespace dilbench
