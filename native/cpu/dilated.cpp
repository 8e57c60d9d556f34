// "dilated": LongNet dilated attention (attention-definitions.md, "dilated (LongNet)").
// Per (batch, head): for every pair (w, r) with head offset h mod r, the selected rows of each
// segment are gathered into contiguous tiles (no copy when r == 1) and fed to attendBlock; each
// pair's (o_i, lse_i) is merged into the running output with the logaddexp rule, which is exactly
// the softmax-denominator weighting alpha_i = exp(lse_i) / sum_j exp(lse_j). Cost per pair is
// ~4 * seqLen * w * D / r^2 per head: linear in seqLen. Index patterns come from the
// PatternCache (ctx.patterns) or are rebuilt per request when it is off.
#include <algorithm>
#include <cstring>
#include <limits>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "../core/pattern_cache.h"
#include "family.h"

namespace dilbench {
namespace family {

int64_t maxSegmentRows(const std::vector<DilatedPair>& pairs) {
  int64_t m = 1;
  for (const auto& pr : pairs) m = std::max(m, (pr.w + pr.r - 1) / pr.r);
  return m;
}

static double segmentFlops(int64_t len, int64_t r, int64_t offset, int64_t D, bool causal) {
  if (offset >= len) return 0;
  const int64_t n = (len - offset + r - 1) / r;
  return 4.0 * double(D) * pairCount(n, causal);
}

double dilatedHeadFlops(const std::vector<DilatedPart>& parts, int64_t L, int64_t D, bool causal) {
  double f = 0;
  for (const auto& part : parts) {
    const int64_t w = part.pair.w, r = part.pair.r;
    const int64_t full = L / w, rest = L % w;
    f += double(full) * segmentFlops(w, r, part.offset, D, causal);
    if (rest) f += segmentFlops(rest, r, part.offset, D, causal);
  }
  return f;
}

void dilatedHead(const float* qHead, const float* kHead, const float* vHead, int64_t L, int64_t D,
                 float scale, bool causal, const std::vector<DilatedPart>& parts,
                 PatternCache* cache, float* o, float* lse, float* kBuf, float* vBuf,
                 const TileScratch& s, const ExecContext& ctx) {
  for (const auto& part : parts) {
    auto pat = PatternCache::fetch(cache, L, part.pair.w, part.pair.r, part.offset);
    const int64_t segments = static_cast<int64_t>(pat->segmentStart.size()) - 1;
    for (int64_t seg = 0; seg < segments; ++seg) {
      const int64_t b = pat->segmentStart[seg], e = pat->segmentStart[seg + 1];
      const int64_t n = e - b;
      if (n <= 0) continue;
      const int64_t* pos = pat->positions.data() + b;
      const float* k = gatherRows(kHead, pos, n, D, kBuf);
      const float* v = gatherRows(vHead, pos, n, D, vBuf);
      attendRowsMerge(qHead, pos, n, k, v, D, pos, n, D, scale, causal, o, lse, s, ctx.cancel);
    }
  }
}

uint64_t dilatedWorkspaceBytes(const AttentionProblem& p, int threads,
                                 const std::vector<DilatedPair>& pairs) {
    const int64_t seg = maxSegmentRows(pairs);
    const uint64_t perWorker = uint64_t(align16(p.seqLen) + 2 * align16(seg * p.headDim) +
                                        tileScratchFloats(p.headDim));
    return uint64_t(std::max(1, threads)) * perWorker * sizeof(float);
}

void runDilated(const AttentionProblem& p, const Tensors& t, ExecContext& ctx,
                const std::vector<DilatedPair>& pairs,
                const std::function<std::vector<DilatedPart>(int64_t head)>& partsOf) {
    const int workers = workerCount(ctx);
    const int64_t L = p.seqLen, D = p.headDim, seg = maxSegmentRows(pairs);
    const int64_t perWorker = align16(L) + 2 * align16(seg * D) + tileScratchFloats(D);
    PoolBuffer<float> ws(*ctx.pool, size_t(workers) * size_t(perWorker));
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    const float scale = float(p.resolvedScale());
    const int64_t G = p.groupSize();
    parallelFor(ctx, p.batch * p.heads, [&](int64_t task, int worker) {
      throwIfCancelled(ctx);
      const int64_t b = task / p.heads, h = task % p.heads;
      float* base = ws.data() + int64_t(worker) * perWorker;
      float* lse = base;
      float* kBuf = lse + align16(L);
      float* vBuf = kBuf + align16(seg * D);
      const TileScratch s = carveTileScratch(vBuf + align16(seg * D), D);
      float* oh = o + (b * p.heads + h) * L * D;
      std::memset(oh, 0, sizeof(float) * L * D);
      std::fill(lse, lse + L, -std::numeric_limits<float>::infinity());
      const int64_t kvh = b * p.kvHeads + h / G;
      const std::vector<DilatedPart> parts = partsOf(h);
      dilatedHead(q + (b * p.heads + h) * L * D, k + kvh * L * D, v + kvh * L * D, L, D, scale,
                  p.causal, parts, ctx.patterns, oh, lse, kBuf, vBuf, s, ctx);
    });
}

}  // namespace family

namespace {

class DilatedCpu final : public Kernel, public TelemetrySource {
 public:
  std::string name() const override { return "dilated"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "LongNet dilated attention: segment/dilation pairs, gathered tiles, outputs mixed by "
           "softmax denominators (lse) across pairs; linear in seqLen";
  }
  void validate(const AttentionProblem& p) const override { resolveDilatedPairs(p); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    return family::dilatedWorkspaceBytes(p, threads, resolveDilatedPairs(p));
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    const auto pairs = resolveDilatedPairs(p);
    return family::dilatedCounts(p, [&](int64_t h) { return family::longNetParts(pairs, h); });
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const auto pairs = resolveDilatedPairs(p);
    family::runDilated(p, t, ctx, pairs, [&](int64_t h) { return family::longNetParts(pairs, h); });
    tel_.valid = true;
  }
  KernelTelemetry telemetry() const override { return tel_; }

 private:
  KernelTelemetry tel_;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(DilatedCpu, "dilated", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"dilated", "dilated", ExactDense::Never, "ring-dilated", {"segmentLengths", "dilationRates"}, {}})
}  // namespace dilbench


