// "flash" on the CPU: tiled dense attention with an online softmax (FlashAttention-2 order:
// a query tile stays resident, key/value tiles stream past it). Parallel over
// (batch, head, query tile) on the ThreadPool, heaviest (causal) tiles first. Per worker it
// holds Q^T of its tile (pre-scaled by scale*log2 e), one Tk x Tq score tile, the Tq x D
// accumulator and the row statistics: O(seqLen)-free, O(tile) memory.
// fp16 / bf16 storage: fp32 compute and accumulation; each worker converts its Q tile and every
// K/V tile it streams into fp32 scratch (two more tiles per worker) and writes its output tile
// rounded to the storage dtype. fp32 reads the tensors in place, exactly as before.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "../core/cpu_features.h"
#include "../core/descriptor.h"
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

// AVX-512 from 4K keys on: 128-row query tiles. Every query tile streams all of its head's K and V
// (2 MB each at 8K, past L2), and the AVX-512 tiles consume them twice as fast as AVX2's; doubling
// the tile halves that traffic per FLOP. Process CPU time, 2 threads, 9 interleaved rounds, quiet
// machine (native/cpu/NOTES.md): 4K -3%, 8K -3.5%, 16K -5.6% against 64 rows; 2K and AVX2 8K
// within +-2% (64 kept there).
// AVX2 from 8 MiB of fp32 K + V per head on (16K keys at headDim 64, 8K at 128): 256-row query
// tiles over 96-key steps. The head no longer stays in the LLC share a busy VM leaves it, and each
// tile reads it 4x less often. Wall time, 2 threads, interleaved both orders, AMD EPYC Zen 3
// (512 KiB L2, 32 MiB L3), native/cpu/NOTES.md: 16K d64 -10 to -12%, causal -8%, 32K -5%, 8K d128
// -15%; 4K and 8K at d64 (4 MiB) within the noise or worse, so 64 rows stay there.
constexpr int64_t kAvx2LargeTileKvBytes = int64_t(8) << 20;

FlashTiles flashTiles(const AttentionProblem& p) {
  FlashTiles t;
  if (activeSimdLevel() == SimdLevel::AVX512 && p.seqLen >= 4096) t.tq = 128;
  if (activeSimdLevel() == SimdLevel::AVX2 &&
      2 * p.seqLen * p.headDim * int64_t(sizeof(float)) >= kAvx2LargeTileKvBytes) {
    t.tq = 256;
    t.tk = 96;
  }
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

// fp32 copies of one K tile (or first the Q tile) and one V tile; half storage only.
int64_t convertedFloats(const AttentionProblem& p, const FlashTiles& t) {
  if (p.dtype == DType::F32) return 0;
  return cpu::roundUp16(std::max(t.tq, t.tk) * p.headDim) + cpu::roundUp16(t.tk * p.headDim);
}

int64_t perWorkerFloats(const AttentionProblem& p, const FlashTiles& t) {
  const int64_t D = p.headDim;
  return cpu::roundUp16(D * t.tq)       // Q^T
         + cpu::roundUp16(t.tk * t.tq)  // scores / probabilities
         + cpu::roundUp16(t.tq * D)     // accumulator
         + 3 * cpu::roundUp16(t.tq)     // m2, l, alpha
         + convertedFloats(p, t);
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
  std::vector<DType> dtypes() const override { return cpu::halfStorageDtypes(); }
  void validate(const AttentionProblem& p) const override { cpu::validateDenseCpu(p, "flash"); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    // The single pool request run() makes, rounded to the pool's size class.
    return MemoryPool::sizeClass(
        static_cast<size_t>(perWorkerFloats(p, flashTiles(p)) * workersFor(threads)) * sizeof(float));
  }
  KernelCounts counts(const AttentionProblem& p) const override { return cpu::denseCounts(p); }

  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const FlashTiles tiles = flashTiles(p);
    const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, N = p.seqLen, D = p.headDim;
    const int64_t group = H / KH;
    const int64_t TQ = tiles.tq, TK = tiles.tk;
    const int64_t nqt = (N + TQ - 1) / TQ;
    const int workers = workersFor(ctx.threads);
    const int64_t per = perWorkerFloats(p, tiles);
    PoolBuffer<float> ws(*ctx.pool, static_cast<size_t>(per * workers));
    const DType dt = p.dtype;
    const bool half = dt != DType::F32;
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
      // half only: the Q tile, then each K tile, in fp32 (kf); each V tile (vf)
      float* kf = half ? alpha + cpu::roundUp16(TQ) : nullptr;
      float* vf = half ? kf + cpu::roundUp16(std::max(TQ, TK) * D) : nullptr;

      const int64_t qOff = ((b * H + h) * N + q0) * D;  // element offsets (any dtype)
      const int64_t kvOff = (b * KH + kh) * N * D;

      ops.packQT(cpu::asF32(cpu::elementAt(t.q, qOff, dt), qr * D, dt, kf), D, qr, D, mul, qt, qPad);
      for (int64_t i = 0; i < qPad; ++i) {
        m2[i] = kNegInf;
        l[i] = 0.f;
      }
      const int64_t kvEnd = causal ? std::min(N, q0 + qr) : N;
      bool first = true;
      for (int64_t k0 = 0; k0 < kvEnd; k0 += TK) {
        const int64_t kr = std::min(TK, kvEnd - k0);
        const float* Kt = cpu::asF32(cpu::elementAt(t.k, kvOff + k0 * D, dt), kr * D, dt, kf);
        const float* Vt = cpu::asF32(cpu::elementAt(t.v, kvOff + k0 * D, dt), kr * D, dt, vf);
        if (causal && k0 + kr - 1 > q0) {
          ops.scoresT(qt, qPad, D, Kt, D, kr, s, qPad);
          // key k0+j is masked for query q0+i when i < k0 + j - q0
          for (int64_t j = 0; j < kr; ++j) {
            const int64_t lim = std::min(qPad, k0 + j - q0);
            float* sj = s + j * qPad;
            for (int64_t i = 0; i < lim; ++i) sj[i] = kNegInf;
          }
          ops.softmaxStep(s, qPad, kr, qPad, m2, l, alpha);
        } else {
          // Unmasked tile: the row max comes from the score registers (alpha holds it until
          // softmaxStepMax overwrites it), one pass over s fewer (native/cpu/NOTES.md).
          std::fill(alpha, alpha + qPad, kNegInf);
          ops.scoresTMax(qt, qPad, D, Kt, D, kr, s, qPad, alpha);
          ops.softmaxStepMax(s, qPad, kr, qPad, m2, l, alpha, alpha);
        }
        ops.pv(s, qPad, qr, Vt, D, kr, D, acc, D, first ? nullptr : alpha);
        first = false;
      }
      // fp32 writes the output in place; half normalises acc in place, then rounds the tile out.
      float* O = half ? acc : static_cast<float*>(t.o) + qOff;
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
      if (half) cpu::convertFromF32(cpu::elementAt(t.o, qOff, dt), acc, static_cast<size_t>(qr * D), dt);
    });
  }
};

}  // namespace
}  // namespace dilbench

using dilbench::FlashCpu;
DILBENCH_REGISTER_KERNEL(FlashCpu, "flash", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"flash", "dense", ::dilbench::ExactDense::Always, "naive", {}, {}})
