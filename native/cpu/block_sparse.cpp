// "block-sparse": dense attention restricted by a block mask (attention-definitions.md). Blocks
// of blockSize queries x blockSize keys are computed fully (through attendBlock, with the causal
// mask only on diagonal blocks) or skipped at no cost: only the allowed key blocks of a query
// block are ever enumerated. Patterns: see blockSparseAllowed() in family.h. The achieved
// sparsity is reported by blockSparseStats() and by telemetry() after a run.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "attention_block.h"
#include "family.h"

namespace dilbench {

namespace {

// The key blocks of query block qb for the analytic patterns form an arithmetic progression
// first, first + step, ..., last (empty when last < first). Not for "random".
struct Progression {
  int64_t first = 0, last = -1, step = 1;
  int64_t count() const { return last < first ? 0 : (last - first) / step + 1; }
};
Progression keyProgression(const AttentionProblem& p, int64_t qb) {
  const int64_t nb = blockSparseBlocks(p);
  const int64_t hiAll = p.causal ? qb : nb - 1;
  Progression pr;
  const std::string& bp = p.blockPattern;
  if (bp == "local") {
    const int64_t reach = std::min(p.window - 1, nb);
    pr.first = std::max<int64_t>(0, qb - reach);
    pr.last = std::min(hiAll, qb + reach);
    pr.step = 1;
  } else if (bp == "strided") {
    pr.step = p.stride;
    pr.first = qb % p.stride;
    pr.last = hiAll < pr.first ? -1 : pr.first + (hiAll - pr.first) / p.stride * p.stride;
  } else {  // dilated: d % stride == 0 && d / stride < window
    pr.step = p.stride;
    const int64_t hops = std::min(p.window - 1, nb);
    pr.first = qb - std::min(hops, qb / p.stride) * p.stride;
    const int64_t upHops = std::min(hops, (hiAll - qb) / p.stride);
    pr.last = qb + upHops * p.stride;
  }
  return pr;
}

}  // namespace

std::vector<int64_t> blockSparseKeyBlocks(const AttentionProblem& p, int64_t qb) {
  std::vector<int64_t> out;
  if (p.blockPattern == "random") {
    const int64_t hiAll = p.causal ? qb : blockSparseBlocks(p) - 1;
    for (int64_t kb = 0; kb <= hiAll; ++kb) {
      if (blockSparseAllowed(p, qb, kb)) out.push_back(kb);
    }
    return out;
  }
  const Progression pr = keyProgression(p, qb);
  out.reserve(size_t(pr.count()));
  for (int64_t kb = pr.first; kb <= pr.last; kb += pr.step) out.push_back(kb);
  return out;
}

// O(blocks) for local / strided / dilated (closed form per query block); O(blocks^2) hash
// evaluations for random (bounded by validateBlockSparse).
BlockSparseStats blockSparseStats(const AttentionProblem& p) {
  BlockSparseStats st;
  const int64_t nb = blockSparseBlocks(p), bs = p.blockSize, L = p.seqLen;
  const int64_t lastLen = L - (nb - 1) * bs;
  st.blocksTotal = p.causal ? nb * (nb + 1) / 2 : nb * nb;
  const bool random = p.blockPattern == "random";
  double pairs = 0;
  for (int64_t qb = 0; qb < nb; ++qb) {
    const double qr = double(std::min(bs, L - qb * bs));
    int64_t count = 0;
    double keyRows = 0;
    if (random) {
      for (int64_t kb : blockSparseKeyBlocks(p, qb)) {
        ++count;
        keyRows += double(std::min(bs, L - kb * bs));
      }
    } else {
      const Progression pr = keyProgression(p, qb);
      count = pr.count();
      keyRows = double(count) * double(bs);
      const int64_t lastKb = nb - 1;
      if (count > 0 && lastKb >= pr.first && lastKb <= pr.last && (lastKb - pr.first) % pr.step == 0) {
        keyRows -= double(bs - lastLen);
      }
    }
    st.blocksComputed += count;
    pairs += qr * keyRows;
    // The diagonal block is always allowed; causal keeps only its lower triangle.
    if (p.causal && count > 0) pairs -= qr * qr - qr * (qr + 1) / 2.0;
  }
  st.sparsity = st.blocksTotal ? 1.0 - double(st.blocksComputed) / double(st.blocksTotal) : 0.0;
  st.flops = 4.0 * double(p.headDim) * double(p.batch * p.heads) * pairs;
  return st;
}

namespace {

class BlockSparseCpu final : public Kernel, public TelemetrySource {
 public:
  std::string name() const override { return "block-sparse"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Block-sparse attention (local, strided, dilated, random block masks); skipped blocks "
           "cost nothing; achieved sparsity reported";
  }
  void validate(const AttentionProblem& p) const override { validateBlockSparse(p); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    return uint64_t(p.seqLen) * sizeof(int64_t) +
           uint64_t(std::max(1, threads)) * uint64_t(family::tileScratchFloats(p.headDim)) * sizeof(float);
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    KernelCounts c;
    c.flops = blockSparseStats(p).flops;
    c.bytesMoved = family::denseBytesMoved(p);
    return c;
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    validateBlockSparse(p);
    const int64_t B = p.batch, H = p.heads, L = p.seqLen, D = p.headDim, bs = p.blockSize;
    const int64_t G = p.groupSize(), nb = blockSparseBlocks(p);
    const int workers = family::workerCount(ctx);
    const int64_t scratchFloats = family::tileScratchFloats(D);
    PoolBuffer<int64_t> iotaBuf(*ctx.pool, size_t(L));
    PoolBuffer<float> scratch(*ctx.pool, size_t(workers) * size_t(scratchFloats));
    std::iota(iotaBuf.data(), iotaBuf.data() + L, int64_t(0));
    const int64_t* iota = iotaBuf.data();
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    const float scale = float(p.resolvedScale());
    std::vector<int64_t> computedPerQb(nb, 0);
    // Task = (query block, batch*head); blocks outermost so a task's key-block list is built once
    // per (qb, bh) cheaply for the analytic patterns.
    family::parallelFor(ctx, nb * B * H, [&](int64_t task, int worker) {
      family::throwIfCancelled(ctx);
      const int64_t qb = task / (B * H), bh = task % (B * H);
      const int64_t b = bh / H, h = bh % H;
      const int64_t kvh = b * p.kvHeads + h / G;
      const std::vector<int64_t> kbs = blockSparseKeyBlocks(p, qb);
      if (bh == 0) computedPerQb[qb] = static_cast<int64_t>(kbs.size());
      const family::TileScratch s =
          family::carveTileScratch(scratch.data() + int64_t(worker) * scratchFloats, D);
      const float* kh = k + kvh * L * D;
      const float* vh = v + kvh * L * D;
      const int64_t qEnd = std::min(L, (qb + 1) * bs);
      for (int64_t i0 = qb * bs; i0 < qEnd; i0 += family::kQTile) {
        const int64_t qr = std::min(family::kQTile, qEnd - i0);
        OnlineSoftmaxState st = family::startRows(s, qr, D);
        for (int64_t kb : kbs) {
          const int64_t kEnd = std::min(L, (kb + 1) * bs);
          for (int64_t j0 = kb * bs; j0 < kEnd; j0 += family::kKvTile) {
            const int64_t kr = std::min(family::kKvTile, kEnd - j0);
            BlockMask mask;
            if (p.causal) {
              if (j0 > i0 + qr - 1) break;  // beyond the tile's last query
              if (j0 + kr - 1 > i0) {
                mask.qPos = iota + i0;
                mask.kPos = iota + j0;
                mask.causal = true;
              }
            }
            attendBlock(q + (bh * L + i0) * D, D, qr, kh + j0 * D, vh + j0 * D, D, kr, D, scale, mask, st,
                        s.block);
          }
        }
        finalizeOnlineSoftmax(st, o + (bh * L + i0) * D, D, nullptr);
      }
    });
    KernelTelemetry tel;
    tel.blocksTotal = p.causal ? nb * (nb + 1) / 2 : nb * nb;
    tel.blocksComputed = std::accumulate(computedPerQb.begin(), computedPerQb.end(), int64_t(0));
    tel.sparsity = tel.blocksTotal ? 1.0 - double(tel.blocksComputed) / double(tel.blocksTotal) : 0.0;
    tel.valid = true;
    tel_ = tel;
  }
  KernelTelemetry telemetry() const override { return tel_; }

 private:
  KernelTelemetry tel_;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(BlockSparseCpu, "block-sparse", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"block-sparse",
                                  "block-sparse",
                                  ExactDense::Never,
                                  "",
                                  {"blockPattern", "blockSize", "window", "stride", "density"},
                                  {"blocksTotal", "blocksComputed", "sparsity"}})
}  // namespace dilbench
