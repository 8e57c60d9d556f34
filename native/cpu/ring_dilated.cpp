// "ring-dilated": `dilated` computed across P simulated ranks (attention-definitions.md).
// The sequence is split into P contiguous chunks (also when causal: dilated segments are local
// structure, so no zigzag). At step t rank p holds the key/value rows of rank (p - t) mod P:
// step 0 covers every segment that lies inside the rank (local); for segments spanning several
// ranks the sparsified (every r-th, per head offset) keys/values of the visiting rank are
// attended and lse-merged into the running output, which is the same logaddexp merge that
// mixes the pairs, so the result equals `dilated`. Per (step, rank) compute time is measured,
// and the bytes of sparsified rows a rank forwards are recorded (KernelTelemetry).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <set>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "../core/pattern_cache.h"
#include "family.h"

namespace dilbench {
namespace {

// Range of pattern indices [lo, hi) of segment `seg` whose positions fall in [cb, ce).
inline void rowsIn(const DilatedPattern& pat, int64_t seg, int64_t cb, int64_t ce, int64_t& lo, int64_t& hi) {
  const int64_t* a = pat.positions.data() + pat.segmentStart[seg];
  const int64_t* z = pat.positions.data() + pat.segmentStart[seg + 1];
  lo = std::lower_bound(a, z, cb) - pat.positions.data();
  hi = std::lower_bound(a, z, ce) - pat.positions.data();
}

class RingDilatedCpu final : public Kernel, public TelemetrySource {
 public:
  std::string name() const override { return "ring-dilated"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Dilated (LongNet) attention across P simulated ranks: local segments stay local, "
           "sparsified keys/values of spanning segments travel around the ring";
  }
  void validate(const AttentionProblem& p) const override {
    resolveDilatedPairs(p);
    validateRingSize(p);
  }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    const int64_t seg = family::maxSegmentRows(resolveDilatedPairs(p));
    return uint64_t(p.batch * p.heads * p.seqLen) * sizeof(float) +
           uint64_t(std::max(1, threads)) *
               uint64_t(2 * family::align16(seg * p.headDim) + family::tileScratchFloats(p.headDim)) *
               sizeof(float);
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    const auto pairs = resolveDilatedPairs(p);
    return family::dilatedCounts(p, [&](int64_t h) { return family::longNetParts(pairs, h); });
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const auto pairs = resolveDilatedPairs(p);
    validateRingSize(p);
    const int64_t B = p.batch, H = p.heads, L = p.seqLen, D = p.headDim, P = p.ringSize;
    const int64_t G = p.groupSize();
    const int workers = family::workerCount(ctx);
    const int64_t seg = family::maxSegmentRows(pairs);
    const int64_t perWorker = 2 * family::align16(seg * D) + family::tileScratchFloats(D);
    PoolBuffer<float> lseBuf(*ctx.pool, size_t(B * H * L));
    PoolBuffer<float> ws(*ctx.pool, size_t(workers) * size_t(perWorker));
    std::fill(lseBuf.data(), lseBuf.data() + B * H * L, -std::numeric_limits<float>::infinity());
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    std::memset(o, 0, sizeof(float) * size_t(B * H * L * D));
    const float scale = float(p.resolvedScale());
    std::vector<RowRange> chunk(P);
    for (int64_t r = 0; r < P; ++r) chunk[r] = ringRankChunks(L, P, false, r)[0];
    auto rankOf = [&](int64_t pos) {
      // chunk r = [r*L/P, (r+1)*L/P): the largest r with r*L/P <= pos.
      int64_t r = std::min<int64_t>(P - 1, (pos * P) / L);
      while (r > 0 && chunk[r].begin > pos) --r;
      while (r + 1 < P && chunk[r + 1].begin <= pos) ++r;
      return r;
    };

    // Patterns per (pair, offset) used by any head.
    struct Used {
      size_t pair;
      int64_t offset;
      std::shared_ptr<const DilatedPattern> pat;
    };
    std::vector<std::vector<Used>> headParts(H);
    for (int64_t h = 0; h < H; ++h) {
      for (size_t i = 0; i < pairs.size(); ++i) {
        const int64_t off = h % pairs[i].r;
        headParts[h].push_back({i, off, PatternCache::fetch(ctx.patterns, L, pairs[i].w, pairs[i].r, off)});
      }
    }

    // Bytes each source rank's sparsified rows of spanning segments amount to (per kv head the
    // distinct offsets its query heads use, per pair).
    std::vector<uint64_t> sendRows(P, 0);
    for (int64_t kh = 0; kh < p.kvHeads; ++kh) {
      for (size_t i = 0; i < pairs.size(); ++i) {
        std::set<int64_t> offs;
        for (int64_t h = kh * G; h < (kh + 1) * G; ++h) offs.insert(h % pairs[i].r);
        for (int64_t off : offs) {
          const auto& pat = *headParts[off % H][i].pat;  // head `off` has offset off for pair i
          const int64_t segs = int64_t(pat.segmentStart.size()) - 1;
          for (int64_t s = 0; s < segs; ++s) {
            const int64_t sb = s * pairs[i].w, se = std::min(L, (s + 1) * pairs[i].w);
            if (rankOf(sb) == rankOf(se - 1)) continue;  // local segment: nothing travels
            for (int64_t r = rankOf(sb); r <= rankOf(se - 1); ++r) {
              int64_t lo, hi;
              rowsIn(pat, s, chunk[r].begin, chunk[r].end, lo, hi);
              sendRows[r] += uint64_t(hi - lo);
            }
          }
        }
      }
    }

    KernelTelemetry tel;
    tel.ringSize = P;
    tel.stepRankNs.assign(P, std::vector<double>(P, 0.0));
    tel.stepRankBytesSent.assign(P, std::vector<uint64_t>(P, 0));
    for (int64_t step = 0; step < P; ++step) {
      for (int64_t rank = 0; rank < P; ++rank) {
        family::throwIfCancelled(ctx);
        const int64_t src = ((rank - step) % P + P) % P;
        const RowRange qc = chunk[rank], kc = chunk[src];
        const auto t0 = std::chrono::steady_clock::now();
        family::parallelFor(ctx, B * H, [&](int64_t bh, int worker) {
          const int64_t b = bh / H, h = bh % H;
          const int64_t kvh = b * p.kvHeads + h / G;
          float* base = ws.data() + int64_t(worker) * perWorker;
          float* kBuf = base;
          float* vBuf = kBuf + family::align16(seg * D);
          const family::TileScratch s = family::carveTileScratch(vBuf + family::align16(seg * D), D);
          if (qc.size() <= 0 || kc.size() <= 0) return;
          for (const auto& u : headParts[h]) {
            const DilatedPattern& pat = *u.pat;
            const int64_t w = pairs[u.pair].w;
            // Segments overlapping both the query chunk and the key chunk.
            const int64_t sFirst = std::max(qc.begin, kc.begin) / w;
            const int64_t sLast = std::min(qc.end - 1, kc.end - 1) / w;
            for (int64_t sg = sFirst; sg <= sLast; ++sg) {
              int64_t ql, qh, kl, kh2;
              rowsIn(pat, sg, qc.begin, qc.end, ql, qh);
              if (qh <= ql) continue;
              rowsIn(pat, sg, kc.begin, kc.end, kl, kh2);
              if (kh2 <= kl) continue;
              const int64_t* qpos = pat.positions.data() + ql;
              const int64_t* kpos = pat.positions.data() + kl;
              const float* kk = family::gatherRows(k + kvh * L * D, kpos, kh2 - kl, D, kBuf);
              const float* vv = family::gatherRows(v + kvh * L * D, kpos, kh2 - kl, D, vBuf);
              family::attendRowsMerge(q + bh * L * D, qpos, qh - ql, kk, vv, D, kpos, kh2 - kl, D, scale,
                                      p.causal, o + bh * L * D, lseBuf.data() + bh * L, s, ctx.cancel);
            }
          }
        });
        const auto t1 = std::chrono::steady_clock::now();
        tel.stepRankNs[step][rank] = std::chrono::duration<double, std::nano>(t1 - t0).count();
        if (step + 1 < P) {
          tel.stepRankBytesSent[step][rank] =
              2ull * uint64_t(B) * sendRows[src] * uint64_t(D) * sizeof(float);
        }
      }
    }
    tel.valid = true;
    tel_ = std::move(tel);
  }
  KernelTelemetry telemetry() const override { return tel_; }

 private:
  KernelTelemetry tel_;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(RingDilatedCpu, "ring-dilated", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"ring-dilated",
                                  "dilated",
                                  ExactDense::Never,
                                  "dilated",
                                  {"segmentLengths", "dilationRates", "ringSize"},
                                  {"ringSize", "stepRankNs", "stepRankBytesSent"}})
}  // namespace dilbench
