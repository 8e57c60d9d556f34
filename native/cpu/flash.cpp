// "flash" on the CPU: tiled dense attention with an online softmax (FlashAttention-2 order:
// a query tile stays resident, key/value tiles stream past it). Parallel over
// (batch, head, query tile) on the ThreadPool, heaviest (causal) tiles first. Per worker it
// holds Q^T of its tile (pre-scaled by scale*log2 e), one Tk x Tq score tile, the Tq x D
// accumulator and the row statistics: O(seqLen)-free, O(tile) memory.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "../core/kernel.h"
#include "../core/thread_pool.h"
#include "attention_block_ops.h"
#include "dense_common.h"

namespace dilbench {
namespace {

struct FlashTiles {
  int64_t tq = 64;   // query rows per task (multiple of 16)
  int64_t tk = 128;  // key rows per step
};

FlashTiles flashTiles() {
  FlashTiles t;
  // Tuning overrides for the developer harness; not part of the public interface.
  if (const char* e = std::getenv("DILBENCH_FLASH_TQ")) {
    int64_t x = std::atoll(e);
    if (x >= 16 && x <= 512) t.tq = x / 16 * 16;
  }
  if (const char* e = std::getenv("DILBENCH_FLASH_TK")) {
    int64_t x = std::atoll(e);
    if (x >= 1 && x <= 4096) t.tk = x;
  }
  return t;
}

int64_t perWorkerFloats(const AttentionProblem& p, const FlashTiles& t) {
  const int64_t D = p.headDim;
  return cpu::roundUp16(D * t.tq)      // Q^T
         + cpu::roundUp16(t.tk * t.tq)  // scores / probabilities
         + cpu::roundUp16(t.tq * D)     // accumulator
         + 3 * cpu::roundUp16(t.tq);    // m2, l, alpha
}

int workersFor(int threads) { return std::max(1, threads); }

class FlashCpu final : public Kernel {
 public:
  std::string name() const override { return "flash"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Tiled attention with online softmax (FlashAttention-2 order), SIMD microkernels, "
           "O(tile) workspace per thread, causal tile skipping";
  }
  void validate(const AttentionProblem& p) const override { cpu::validateDenseCpu(p, "flash"); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    // The single pool request run() makes, rounded to the pool's size class.
    return MemoryPool::sizeClass(static_cast<size_t>(perWorkerFloats(p, flashTiles()) * workersFor(threads)) *
                                 sizeof(float));
  }
  KernelCounts counts(const AttentionProblem& p) const override { return cpu::denseCounts(p); }

  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const FlashTiles tiles = flashTiles();
    const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, N = p.seqLen, D = p.headDim;
    const int64_t group = H / KH;
    const int64_t TQ = tiles.tq, TK = tiles.tk;
    const int64_t nqt = (N + TQ - 1) / TQ;
    const int workers = workersFor(ctx.threads);
    const int64_t per = perWorkerFloats(p, tiles);
    PoolBuffer<float> ws(*ctx.pool, static_cast<size_t>(per * workers));
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
    pool.parallelFor(B * H * nqt, workers, [&](int64_t task, int worker) {
      cpu::pollCancel(cancel);
      // Head-major, so the workers share one head's K/V in the caches; within a head the last
      // (heaviest when causal) query tile first, for dynamic load balance.
      const int64_t bh = task / nqt;
      const int64_t qtile = nqt - 1 - task % nqt;
      const int64_t b = bh / H, h = bh % H, kh = h / group;
      const int64_t q0 = qtile * TQ;
      const int64_t qr = std::min(TQ, N - q0);
      const int64_t qPad = cpu::padLanes(qr);
      float* base = ws.data() + per * worker;
      float* qt = base;
      float* s = qt + cpu::roundUp16(D * TQ);
      float* acc = s + cpu::roundUp16(TK * TQ);
      float* m2 = acc + cpu::roundUp16(TQ * D);
      float* l = m2 + cpu::roundUp16(TQ);
      float* alpha = l + cpu::roundUp16(TQ);

      const float* Q = q + ((b * H + h) * N + q0) * D;
      const float* K = k + (b * KH + kh) * N * D;
      const float* V = v + (b * KH + kh) * N * D;
      float* O = o + ((b * H + h) * N + q0) * D;

      ops.packQT(Q, D, qr, D, mul, qt, qPad);
      for (int64_t i = 0; i < qPad; ++i) {
        m2[i] = kNegInf;
        l[i] = 0.f;
      }
      const int64_t kvEnd = causal ? std::min(N, q0 + qr) : N;
      bool first = true;
      for (int64_t k0 = 0; k0 < kvEnd; k0 += TK) {
        const int64_t kr = std::min(TK, kvEnd - k0);
        ops.scoresT(qt, qPad, D, K + k0 * D, D, kr, s, qPad);
        if (causal && k0 + kr - 1 > q0) {
          // key k0+j is masked for query q0+i when i < k0 + j - q0
          for (int64_t j = 0; j < kr; ++j) {
            const int64_t lim = std::min(qPad, k0 + j - q0);
            float* sj = s + j * qPad;
            for (int64_t i = 0; i < lim; ++i) sj[i] = kNegInf;
          }
        }
        ops.softmaxStep(s, qPad, kr, qPad, m2, l, alpha);
        ops.pv(s, qPad, qr, V + k0 * D, D, kr, D, acc, D, first ? nullptr : alpha);
        first = false;
      }
      for (int64_t i = 0; i < qr; ++i) {
        const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
        const float* a = acc + i * D;
        float* out = O + i * D;
        if (inv == 0.f) {
          std::fill(out, out + D, 0.f);
        } else {
          for (int64_t d = 0; d < D; ++d) out[d] = a[d] * inv;
        }
      }
    });
  }
};

}  // namespace
}  // namespace dilbench

using dilbench::FlashCpu;
DILBENCH_REGISTER_KERNEL(FlashCpu, "flash", CPU)
