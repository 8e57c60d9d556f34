// "naive" on the CPU: materialises the score matrix S = scale * Q K^T of one (batch, head) at a
// time (seqLen x seqLen floats from the pool, stored transposed in 64-query panels), applies the
// mask, a two-pass row softmax (max, then exp and sum, then normalise), then O = P V. The heads
// run one after another; the query panels of a head run in parallel on the ThreadPool, each
// worker writing its own rows of the shared matrix. The matrix products use the same SIMD
// microkernels as flash, so the gap between the two is the memory traffic, not the arithmetic.
// fp16 / bf16 storage: fp32 compute; each kv head's K and V are converted once into one shared
// fp32 buffer (2 * seqLen * headDim floats, read by every panel of the heads of its group), each
// worker converts its Q panel into fp32 scratch and writes its output rows there before rounding
// them out.
#include <algorithm>
#include <limits>

#include "../core/descriptor.h"
#include "../core/kernel.h"
#include "../core/thread_pool.h"
#include "attention_block_ops.h"
#include "dense_common.h"

namespace dilbench {
namespace {

constexpr int64_t kPanel = 64;  // query rows per panel (multiple of 16)

int64_t matrixFloats(const AttentionProblem& p) {
  const int64_t panels = (p.seqLen + kPanel - 1) / kPanel;
  return panels * kPanel * p.seqLen;  // seqLen x seqLen, query dimension padded to the panel
}

bool halfStorage(const AttentionProblem& p) { return p.dtype != DType::F32; }

int64_t perWorkerFloats(const AttentionProblem& p) {
  // Q^T panel; m2, l, alpha, 1/l; half only: the Q panel rows, later the output rows, in fp32
  return cpu::roundUp16(p.headDim * kPanel) + 4 * kPanel + (halfStorage(p) ? kPanel * p.headDim : 0);
}

// half only: the current kv head's K then V in fp32.
int64_t headKvFloats(const AttentionProblem& p) { return 2 * p.seqLen * p.headDim; }

class NaiveCpu final : public Kernel {
 public:
  std::string name() const override { return "naive"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Materialises the full seqLen x seqLen score matrix per head, masked row softmax, "
           "then P V (SIMD microkernels, O(seqLen^2) workspace on purpose)";
  }
  std::vector<DType> dtypes() const override { return cpu::halfStorageDtypes(); }
  void validate(const AttentionProblem& p) const override { cpu::validateDenseCpu(p, "naive"); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    // The pool requests run() makes (two, three with half storage), each rounded to the pool's
    // size class.
    const int workers = std::max(1, threads);
    return MemoryPool::sizeClass(static_cast<size_t>(matrixFloats(p)) * sizeof(float)) +
           MemoryPool::sizeClass(static_cast<size_t>(perWorkerFloats(p) * workers) * sizeof(float)) +
           (halfStorage(p) ? MemoryPool::sizeClass(static_cast<size_t>(headKvFloats(p)) * sizeof(float)) : 0);
  }
  KernelCounts counts(const AttentionProblem& p) const override { return cpu::denseCounts(p); }

  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, N = p.seqLen, D = p.headDim;
    const int64_t group = H / KH;
    const int64_t panels = (N + kPanel - 1) / kPanel;
    const int workers = std::max(1, ctx.threads);
    const int64_t per = perWorkerFloats(p);
    PoolBuffer<float> matrix(*ctx.pool, static_cast<size_t>(matrixFloats(p)));
    PoolBuffer<float> scratch(*ctx.pool, static_cast<size_t>(per * workers));
    const DType dt = p.dtype;
    const bool half = halfStorage(p);
    PoolBuffer<float> headKv;
    if (half) headKv = PoolBuffer<float>(*ctx.pool, static_cast<size_t>(headKvFloats(p)));
    const float mul = static_cast<float>(p.resolvedScale()) * cpu::kLog2e;
    const bool causal = p.causal;
    const cpu::BlockOps& ops = cpu::blockOps();
    const CancelToken* cancel = ctx.cancel;
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    ThreadPool& pool = ctx.threadPool ? *ctx.threadPool : ThreadPool::global();

    for (int64_t b = 0; b < B; ++b) {
      const float* K = nullptr;
      const float* V = nullptr;
      for (int64_t h = 0; h < H; ++h) {
        cpu::pollCancel(cancel);
        const int64_t kh = h / group;
        const int64_t qOff = (b * H + h) * N * D;  // element offsets (any dtype)
        if (h % group == 0) {  // the group's heads share K and V: half storage converts them once
          const int64_t kvOff = (b * KH + kh) * N * D;
          K = cpu::asF32(cpu::elementAt(t.k, kvOff, dt), N * D, dt, headKv.data());
          V = cpu::asF32(cpu::elementAt(t.v, kvOff, dt), N * D, dt, half ? headKv.data() + N * D : nullptr);
        }
        pool.parallelFor(panels, workers, [&](int64_t task, int worker) {
          const int64_t panel = panels - 1 - task;  // heaviest first when causal
          const int64_t q0 = panel * kPanel;
          const int64_t qr = std::min(kPanel, N - q0);
          const int64_t qPad = cpu::padLanes(qr);
          float* S = matrix.data() + panel * kPanel * N;  // this panel's rows: [key][query lane]
          float* qt = scratch.data() + per * worker;
          float* m2 = qt + cpu::roundUp16(D * kPanel);
          float* l = m2 + kPanel;
          float* alpha = l + kPanel;
          float* inv = alpha + kPanel;
          float* rows = half ? inv + kPanel : nullptr;  // half: Q panel rows, then output rows
          const int64_t kvEnd = causal ? q0 + qr : N;   // later keys are masked for every row

          // 1. scores
          ops.packQT(cpu::asF32(cpu::elementAt(t.q, qOff + q0 * D, dt), qr * D, dt, rows), D, qr, D, mul, qt,
                     qPad);
          ops.scoresT(qt, qPad, D, K, D, kvEnd, S, qPad);
          // 2. mask
          if (causal) {
            for (int64_t j = q0 + 1; j < kvEnd; ++j) {
              const int64_t lim = std::min(qPad, j - q0);
              float* sj = S + j * qPad;
              for (int64_t i = 0; i < lim; ++i) sj[i] = kNegInf;
            }
          }
          // 3. row softmax: max, exp and sum (one step from an empty state), normalise
          for (int64_t i = 0; i < qPad; ++i) {
            m2[i] = kNegInf;
            l[i] = 0.f;
          }
          ops.softmaxStep(S, qPad, kvEnd, qPad, m2, l, alpha);
          for (int64_t i = 0; i < qPad; ++i) inv[i] = l[i] > 0.f ? 1.f / l[i] : 0.f;
          ops.scaleColumns(S, qPad, kvEnd, qPad, inv);
          // 4. O = P V
          if (!half) {
            ops.pv(S, qPad, qr, V, D, kvEnd, D, static_cast<float*>(t.o) + qOff + q0 * D, D, nullptr);
          } else {
            ops.pv(S, qPad, qr, V, D, kvEnd, D, rows, D, nullptr);
            cpu::convertFromF32(cpu::elementAt(t.o, qOff + q0 * D, dt), rows, static_cast<size_t>(qr * D),
                                dt);
          }
        });
      }
    }
  }
};

}  // namespace
}  // namespace dilbench

using dilbench::NaiveCpu;
DILBENCH_REGISTER_KERNEL(NaiveCpu, "naive", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"naive", "dense", ::dilbench::ExactDense::Always, "flash", {}, {}})
