// "naive" on the CPU: materialises the score matrix S = scale * Q K^T of one (batch, head) at a
// time (seqLen x seqLen floats from the pool, stored transposed in 64-query panels), applies the
// mask, a two-pass row softmax (max, then exp and sum, then normalise), then O = P V. The heads
// run one after another; the query panels of a head run in parallel on the ThreadPool, each
// worker writing its own rows of the shared matrix. The matrix products use the same SIMD
// microkernels as flash, so the gap between the two is the memory traffic, not the arithmetic.
#include <algorithm>
#include <limits>

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

int64_t perWorkerFloats(const AttentionProblem& p) {
  return cpu::roundUp16(p.headDim * kPanel) + 4 * kPanel;  // Q^T panel; m2, l, alpha, 1/l
}

class NaiveCpu final : public Kernel {
 public:
  std::string name() const override { return "naive"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Materialises the full seqLen x seqLen score matrix per head, masked row softmax, "
           "then P V (SIMD microkernels, O(seqLen^2) workspace on purpose)";
  }
  void validate(const AttentionProblem& p) const override { cpu::validateDenseCpu(p, "naive"); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    // The two pool requests run() makes, each rounded to the pool's size class.
    const int workers = std::max(1, threads);
    return MemoryPool::sizeClass(static_cast<size_t>(matrixFloats(p)) * sizeof(float)) +
           MemoryPool::sizeClass(static_cast<size_t>(perWorkerFloats(p) * workers) * sizeof(float));
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
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    const float mul = static_cast<float>(p.resolvedScale()) * cpu::kLog2e;
    const bool causal = p.causal;
    const cpu::BlockOps& ops = cpu::blockOps();
    const CancelToken* cancel = ctx.cancel;
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    ThreadPool& pool = ctx.threadPool ? *ctx.threadPool : ThreadPool::global();

    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < H; ++h) {
        cpu::pollCancel(cancel);
        const int64_t kh = h / group;
        const float* Qh = q + (b * H + h) * N * D;
        const float* K = k + (b * KH + kh) * N * D;
        const float* V = v + (b * KH + kh) * N * D;
        float* Oh = o + (b * H + h) * N * D;
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
          const int64_t kvEnd = causal ? q0 + qr : N;  // later keys are masked for every row

          // 1. scores
          ops.packQT(Qh + q0 * D, D, qr, D, mul, qt, qPad);
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
          ops.pv(S, qPad, qr, V, D, kvEnd, D, Oh + q0 * D, D, nullptr);
        });
      }
    }
  }
};

}  // namespace
}  // namespace dilbench

using dilbench::NaiveCpu;
DILBENCH_REGISTER_KERNEL(NaiveCpu, "naive", CPU)
