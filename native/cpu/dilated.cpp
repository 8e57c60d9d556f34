// "dilated": LongNet dilated attention (attention-definitions.md, "dilated (LongNet)").
// Per (batch, head): for every pair (w, r) with head offset h mod r, the selected rows of each
// segment attend each other; each pair's (o_i, lse_i) is merged into the running output with the
// logaddexp rule, which is exactly the softmax-denominator weighting
// alpha_i = exp(lse_i) / sum_j exp(lse_j). Cost per pair is ~4 * seqLen * w * D / r^2 per head:
// linear in seqLen. runDilated (shared with dilated-grouped) splits the work into equal-cost tasks
// (family.h); index patterns come from the PatternCache (ctx.patterns) or are rebuilt per run
// when it is off.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "../core/pattern_cache.h"
#include "attention_block_ops.h"
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

namespace {

// Key rows per score tile. 64 x 64 scores (16 KB) beside the 16 KB Q^T tile leave L1 room for
// the K / V rows: at 8K, pairs 1K,2K,4K / 1,2,4, one thread, CPU time, 64 keys beat 128 by ~5 %
// on AVX2 and ~3 % on AVX-512 and 256 (attendBlock's) by ~10 % (native/cpu/NOTES.md).
constexpr int64_t kKeyTile = 64;

// One task of (batch, head) `bh`, one part (`pattern`): either query tiles [t0, t1) (kQTile rows
// each, in selected-row order) of segment seg0 (seg1 == seg0 + 1), or every tile of segments
// [seg0, seg1) (many short segments: one task per segment would only cost bookkeeping). The
// tasks of one (bh, part) write disjoint rows of o / lse.
struct DilatedTask {
  int64_t bh = 0;
  const DilatedPattern* pattern = nullptr;
  int64_t seg0 = 0, seg1 = 0;
  int64_t t0 = 0, t1 = 0;
  bool whole = false;  // every tile of segments [seg0, seg1); else tiles [t0, t1) of seg0
  double cost = 0;     // (query, key) pairs, for the heaviest-first order
};

int64_t perWorkerFloats(int64_t D, int64_t seg) {
  return 2 * align16(seg * D)          // gathered K, V of one segment
         + align16(D * kQTile)         // Q^T of one tile (packQT layout)
         + align16(kKeyTile * kQTile)  // scores
         + align16(kQTile * D)         // accumulator
         + 3 * align16(kQTile);        // m2, l, alpha
}

// Attention of one task's query tiles against its segment's selected keys (FlashAttention-2
// order, the flash kernel's BlockOps), each finalized row merged into o / lse (logaddexp), or,
// when lse is null (every head has one part: nothing to merge), stored into o as it is.
void runSegment(const DilatedPattern& pat, int64_t sg, int64_t t0, int64_t t1, const float* qHead,
                const float* kHead, const float* vHead, int64_t D, float scale, bool causal, float* o,
                float* lse, float* ws, int64_t seg) {
  const cpu::BlockOps& ops = cpu::blockOps();
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int64_t b = pat.segmentStart[sg];
  const int64_t n = pat.segmentStart[sg + 1] - b;
  const int64_t* pos = pat.positions.data() + b;
  const int64_t r = pat.r;  // selected rows of a segment are r rows apart
  const int64_t qEnd = std::min(n, t1 * kQTile);
  const int64_t kEnd = causal ? qEnd : n;  // keys after the last query are masked
  float* kBuf = ws;
  float* vBuf = kBuf + align16(seg * D);
  float* qt = vBuf + align16(seg * D);
  float* s = qt + align16(D * kQTile);
  float* acc = s + align16(kKeyTile * kQTile);
  float* m2 = acc + align16(kQTile * D);
  float* l = m2 + align16(kQTile);
  float* alpha = l + align16(kQTile);
  const float* K = gatherRows(kHead, pos, kEnd, D, kBuf);
  const float* V = gatherRows(vHead, pos, kEnd, D, vBuf);
  const float mul = scale * cpu::kLog2e;
  for (int64_t i0 = t0 * kQTile; i0 < qEnd; i0 += kQTile) {
    const int64_t qr = std::min(kQTile, qEnd - i0);
    const int64_t qPad = cpu::padLanes(qr);
    // Q rows straight from the tensor: row i of the tile is at pos[i0] + i * r.
    ops.packQT(qHead + pos[i0] * D, r * D, qr, D, mul, qt, qPad);
    // The next tile's Q rows are not in cache yet: asking for them now hides that wait behind
    // this tile's keys (packQT went from 1.8 % to 0.5 % of a dilated-grouped run at 8K).
    const int64_t nextEnd = std::min(qEnd, i0 + 2 * kQTile);
    for (int64_t i = i0 + qr; i < nextEnd; ++i)
      for (int64_t d = 0; d < D; d += 16) __builtin_prefetch(qHead + pos[i] * D + d);
    for (int64_t i = 0; i < qPad; ++i) {
      m2[i] = kNegInf;
      l[i] = 0.f;
    }
    const int64_t kvEnd = causal ? i0 + qr : kEnd;
    for (int64_t k0 = 0; k0 < kvEnd; k0 += kKeyTile) {
      const int64_t kr = std::min(kKeyTile, kvEnd - k0);
      if (causal && k0 + kr - 1 > i0) {
        ops.scoresT(qt, qPad, D, K + k0 * D, D, kr, s, qPad);
        // key k0+j is masked for query i0+i when i < k0 + j - i0
        for (int64_t j = 0; j < kr; ++j) {
          const int64_t lim = std::min(qPad, k0 + j - i0);
          float* sj = s + j * qPad;
          for (int64_t i = 0; i < lim; ++i) sj[i] = kNegInf;
        }
        ops.softmaxStep(s, qPad, kr, qPad, m2, l, alpha);
      } else {
        // Unmasked tile: the row max comes from the score registers (alpha holds it until
        // softmaxStepMax overwrites it), one pass over s fewer (native/cpu/NOTES.md).
        std::fill(alpha, alpha + qPad, kNegInf);
        ops.scoresTMax(qt, qPad, D, K + k0 * D, D, kr, s, qPad, alpha);
        ops.softmaxStepMax(s, qPad, kr, qPad, m2, l, alpha, alpha);
      }
      ops.pv(s, qPad, qr, V + k0 * D, D, kr, D, acc, D, k0 == 0 ? nullptr : alpha);
    }
    // Every selected query sees at least itself, so l > 0.
    for (int64_t i = 0; i < qr && !lse; ++i) {
      const float inv = 1.f / l[i];
      float* op = o + pos[i0 + i] * D;
      const float* a = acc + i * D;
      for (int64_t d = 0; d < D; ++d) op[d] = a[d] * inv;
    }
    for (int64_t i = 0; i < qr && lse; ++i) {
      const int64_t p = pos[i0 + i];
      const float inv = 1.f / l[i];
      const float lb = m2[i] * cpu::kLn2 + std::log(l[i]);
      float* op = o + p * D;
      const float* a = acc + i * D;
      float& lp = lse[p];
      if (lp == kNegInf) {
        for (int64_t d = 0; d < D; ++d) op[d] = a[d] * inv;
        lp = lb;
        continue;
      }
      const float m = std::max(lp, lb);
      const float wa = std::exp(lp - m), wb = std::exp(lb - m);
      const float norm = 1.f / (wa + wb);
      const float ca = wa * norm, cb = wb * inv * norm;
      for (int64_t d = 0; d < D; ++d) op[d] = op[d] * ca + a[d] * cb;
      lp = m + std::log(wa + wb);
    }
  }
}

}  // namespace

uint64_t dilatedWorkspaceBytes(const AttentionProblem& p, int threads,
                               const std::vector<DilatedPair>& pairs) {
  const int64_t seg = maxSegmentRows(pairs);
  const uint64_t lse = uint64_t(align16(p.batch * p.heads * p.seqLen));
  return (uint64_t(std::max(1, threads)) * uint64_t(perWorkerFloats(p.headDim, seg)) + lse) * sizeof(float);
}

void runDilated(const AttentionProblem& p, const Tensors& t, ExecContext& ctx,
                const std::vector<DilatedPair>& pairs,
                const std::function<std::vector<DilatedPart>(int64_t head)>& partsOf) {
  const int workers = workerCount(ctx);
  const int64_t L = p.seqLen, D = p.headDim, seg = maxSegmentRows(pairs);
  const int64_t BH = p.batch * p.heads;
  const int64_t perWorker = perWorkerFloats(D, seg);
  PoolBuffer<float> ws(*ctx.pool, size_t(workers) * size_t(perWorker) + size_t(align16(BH * L)));
  float* lseAll = ws.data() + int64_t(workers) * perWorker;  // [B*H, L] running lse
  const float* q = static_cast<const float*>(t.q);
  const float* k = static_cast<const float*>(t.k);
  const float* v = static_cast<const float*>(t.v);
  float* o = static_cast<float*>(t.o);
  const float scale = float(p.resolvedScale());
  const int64_t G = p.groupSize();

  // Parts of every head, and their patterns (fetched once per run).
  std::vector<std::vector<std::shared_ptr<const DilatedPattern>>> patterns(size_t(p.heads));
  size_t phases = 0;
  for (int64_t h = 0; h < p.heads; ++h) {
    for (const DilatedPart& part : partsOf(h)) {
      patterns[size_t(h)].push_back(
          PatternCache::fetch(ctx.patterns, L, part.pair.w, part.pair.r, part.offset));
    }
    phases = std::max(phases, patterns[size_t(h)].size());
  }

  // With one part per head (dilated-grouped, or a single pair) each selected row is written once
  // and nothing merges: no lse, and only the rows no part selects are zeroed beforehand (at 8K,
  // pairs 1K,2K,4K / 1,2,4, dilated-grouped zeroes 6 of the output's 16 MB instead of all of it).
  bool onePart = true;
  for (const auto& hp : patterns) onePart = onePart && hp.size() <= 1;
  parallelFor(ctx, BH, [&](int64_t bh, int) {
    float* oh = o + bh * L * D;
    if (!onePart) {
      std::memset(oh, 0, sizeof(float) * size_t(L * D));
      std::fill(lseAll + bh * L, lseAll + (bh + 1) * L, -std::numeric_limits<float>::infinity());
      return;
    }
    const auto& hp = patterns[size_t(bh % p.heads)];
    int64_t next = 0;  // first row not yet zeroed or selected
    if (!hp.empty()) {
      for (int64_t pos : hp[0]->positions) {
        if (pos > next) std::memset(oh + next * D, 0, sizeof(float) * size_t((pos - next) * D));
        next = pos + 1;
      }
    }
    if (L > next) std::memset(oh + next * D, 0, sizeof(float) * size_t((L - next) * D));
  });

  // Phase i runs part i of every head: tasks of one phase write disjoint rows, so they need no
  // locks; the phases' merges are ordered by the barrier between them. Tasks are (batch, head,
  // segment, query-tile range) or, with very many segments, (batch, head, segment range);
  // heaviest first.
  std::vector<DilatedTask> tasks;
  for (size_t phase = 0; phase < phases; ++phase) {
    tasks.clear();
    int64_t segmentsInPhase = 0;
    for (int64_t h = 0; h < p.heads; ++h) {
      if (patterns[size_t(h)].size() <= phase) continue;
      segmentsInPhase += int64_t(patterns[size_t(h)][phase]->segmentStart.size()) - 1;
    }
    // About 8..64 tasks per worker: enough for dynamic balance, few enough to stay cheap.
    const int64_t total = std::max<int64_t>(1, p.batch * segmentsInPhase);
    const int64_t segsPerTask = std::max<int64_t>(1, total / (64 * int64_t(workers)));
    const int64_t splits =
        segsPerTask > 1 ? 1 : std::max<int64_t>(1, (8 * int64_t(workers) + total - 1) / total);
    for (int64_t b = 0; b < p.batch; ++b) {
      for (int64_t h = 0; h < p.heads; ++h) {
        if (patterns[size_t(h)].size() <= phase) continue;
        const DilatedPattern* pat = patterns[size_t(h)][phase].get();
        const int64_t segments = int64_t(pat->segmentStart.size()) - 1;
        for (int64_t sg = 0; sg < segments && segsPerTask > 1; sg += segsPerTask) {
          DilatedTask tk;
          tk.bh = b * p.heads + h;
          tk.pattern = pat;
          tk.seg0 = sg;
          tk.seg1 = std::min(segments, sg + segsPerTask);
          tk.whole = true;
          for (int64_t x = tk.seg0; x < tk.seg1; ++x) {
            const double n = double(pat->segmentStart[x + 1] - pat->segmentStart[x]);
            tk.cost += p.causal ? n * n / 2 : n * n;
          }
          tasks.push_back(tk);
        }
        for (int64_t sg = 0; sg < segments && segsPerTask == 1; ++sg) {
          const int64_t n = pat->segmentStart[sg + 1] - pat->segmentStart[sg];
          if (n <= 0) continue;
          const int64_t tiles = (n + kQTile - 1) / kQTile;
          const int64_t parts = std::min(tiles, splits);
          for (int64_t c = 0; c < parts; ++c) {
            DilatedTask tk;
            tk.bh = b * p.heads + h;
            tk.pattern = pat;
            tk.seg0 = sg;
            tk.seg1 = sg + 1;
            tk.t0 = c * tiles / parts;
            tk.t1 = (c + 1) * tiles / parts;
            const double q0 = double(tk.t0 * kQTile), q1 = double(std::min(n, tk.t1 * kQTile));
            tk.cost = p.causal ? (q1 * q1 - q0 * q0) / 2 : (q1 - q0) * double(n);
            tasks.push_back(tk);
          }
        }
      }
    }
    std::stable_sort(tasks.begin(), tasks.end(),
                     [](const DilatedTask& a, const DilatedTask& c) { return a.cost > c.cost; });
    parallelFor(ctx, int64_t(tasks.size()), [&](int64_t i, int worker) {
      throwIfCancelled(ctx);
      const DilatedTask& tk = tasks[size_t(i)];
      const int64_t b = tk.bh / p.heads, h = tk.bh % p.heads;
      const int64_t kvh = b * p.kvHeads + h / G;
      for (int64_t sg = tk.seg0; sg < tk.seg1; ++sg) {
        const DilatedPattern& pat = *tk.pattern;
        const int64_t n = pat.segmentStart[sg + 1] - pat.segmentStart[sg];
        if (n <= 0) continue;
        runSegment(pat, sg, tk.whole ? 0 : tk.t0, tk.whole ? (n + kQTile - 1) / kQTile : tk.t1,
                   q + tk.bh * L * D, k + kvh * L * D, v + kvh * L * D, D, scale, p.causal, o + tk.bh * L * D,
                   onePart ? nullptr : lseAll + tk.bh * L, ws.data() + int64_t(worker) * perWorker, seg);
      }
    });
  }
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
DILBENCH_DESCRIBE_IMPLEMENTATION(
    {"dilated", "dilated", ExactDense::Never, "ring-dilated", {"segmentLengths", "dilationRates"}, {}})
}  // namespace dilbench
