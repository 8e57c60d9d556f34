// "kv-cache" and "kv-cache-recompute": autoregressive decoding (attention-definitions.md,
// "kv-cache (decoding)"). seqLen = promptLen + newTokens (resolveKvCache in family.h documents
// the defaults: newTokens = min(seqLen - 1, 32) when neither is given).
//
// Output rows i < promptLen come from the prefill; row promptLen + t from decode step t, which
// attends positions [0, promptLen + t]. causal == true: the prefill is causal too, so the whole
// output equals causal dense attention. causal == false: the prompt is encoded bidirectionally
// (prefix-LM: prompt rows attend every prompt row), decoded rows stay causal.
//
// kv-cache: the prompt's k, v are copied once into a pool-allocated cache [batch, kvHeads,
// seqLen, headDim]; each step appends one k, v row and attends one query per head over the cache.
// Decode is memory-bound, so a step streams the cache exactly once: the query rows of every head
// sharing a kv head are attended together (ldq jumps between heads), and long caches are split
// across threads (split-K) with an lse merge of the partial results.
// kv-cache-recompute: the non-optimized path; each step recomputes causal attention over the whole
// prefix (every row 0..promptLen+t) and keeps the last row. Both produce the same rows.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/errors.h"
#include "attention_block.h"
#include "../core/cpu_features.h"
#include "family.h"

namespace dilbench {
namespace family {
void decodeAttendAvx512(const float* q, int64_t ldq, int64_t G, const float* k, const float* v,
                        int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
}  // namespace family

namespace {

// Decode partial: G query rows (q + g*ldq) against n cache rows (k, v contiguous, headDim D);
// out [G, D] normalised, lse [G]. s: G * n scratch floats. Generic scalar path.
void decodeAttendGeneric(const float* q, int64_t ldq, int64_t G, const float* k, const float* v,
                         int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t g = 0; g < G; ++g) {
      float dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += q[g * ldq + d] * k[j * D + d];
      s[g * n + j] = scale * dot;
    }
  }
  for (int64_t g = 0; g < G; ++g) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) m = std::max(m, s[g * n + j]);
    float z = 0;
    float* og = out + g * D;
    std::fill(og, og + D, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      const float pj = std::exp(s[g * n + j] - m);
      z += pj;
      for (int64_t d = 0; d < D; ++d) og[d] += pj * v[j * D + d];
    }
    for (int64_t d = 0; d < D; ++d) og[d] /= z;
    lse[g] = m + std::log(z);
  }
}

void decodeAttend(const float* q, int64_t ldq, int64_t G, const float* k, const float* v,
                  int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  if (activeSimdLevel() == SimdLevel::AVX512 && D % 16 == 0) {
    family::decodeAttendAvx512(q, ldq, G, k, v, n, D, scale, out, lse, s);
  } else {
    decodeAttendGeneric(q, ldq, G, k, v, n, D, scale, out, lse, s);
  }
}

constexpr int64_t kSplitRows = 1024;  // cache rows per decode task (at most)
int64_t maxSplits(int64_t seqLen) { return (seqLen + kSplitRows - 1) / kSplitRows; }
constexpr int64_t kPrefillRowsPerTask = 256;

double prefillPairs(int64_t prompt, bool causal) { return family::pairCount(prompt, causal); }

// Dense rows [i0, i1) of one head against keys [0, nk(i)) where, causal: keys <= i, non-causal:
// keys < nkFixed. Writes o rows (ldo = D) via finalize.
void attendRowsDirect(const float* qHead, int64_t i0, int64_t i1, const float* kHead,
                      const float* vHead, int64_t nkFixed, bool causal, int64_t D, float scale,
                      const family::TileScratch& s, const int64_t* iota, float* oHead,
                      int64_t keepOnlyRow) {
  for (int64_t a = i0; a < i1; a += family::kQTile) {
    const int64_t qr = std::min(family::kQTile, i1 - a);
    OnlineSoftmaxState st = family::startRows(s, qr, D);
    const int64_t nk = causal ? a + qr : nkFixed;
    BlockMask mask;  // attendBlock applies it only on key chunks that straddle the diagonal
    if (causal) {
      mask.qPos = iota + a;
      mask.kPos = iota;
      mask.causal = true;
    }
    attendBlock(qHead + a * D, D, qr, kHead, vHead, D, nk, D, scale, mask, st, s.block);
    if (keepOnlyRow < 0) {
      finalizeOnlineSoftmax(st, oHead + a * D, D, nullptr);
    } else {
      finalizeOnlineSoftmax(st, s.outTile, D, nullptr);
      if (keepOnlyRow >= a && keepOnlyRow < a + qr) {
        std::memcpy(oHead + keepOnlyRow * D, s.outTile + (keepOnlyRow - a) * D, sizeof(float) * D);
      }
    }
  }
}

class KvCacheBase : public Kernel, public TelemetrySource {
 public:
  explicit KvCacheBase(bool recompute) : recompute_(recompute) {}
  std::string name() const override { return recompute_ ? "kv-cache-recompute" : "kv-cache"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return recompute_
               ? "Decoding without a cache: each step recomputes causal attention over the whole "
                 "prefix and keeps the last row (the non-optimized baseline of kv-cache)"
               : "Decoding with a KV cache: prefill into a pool-allocated cache, then one row "
                 "appended and one query attended per step (memory-bound, split-K over threads)";
  }
  void validate(const AttentionProblem& p) const override { resolveKvCache(p); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    uint64_t b = uint64_t(p.seqLen) * sizeof(int64_t) +
                 uint64_t(std::max(1, threads)) * uint64_t(family::tileScratchFloats(p.headDim)) *
                     sizeof(float);
    if (!recompute_) {
      b += 2ull * uint64_t(p.kvElements()) * sizeof(float);  // the cache
      b += uint64_t(p.batch * p.heads * maxSplits(p.seqLen) * (p.headDim + 1)) *
           sizeof(float);  // partials
      b += uint64_t(std::max(1, threads)) * uint64_t(p.groupSize() * kSplitRows) *
           sizeof(float);  // decode scores
    }
    return b;
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    const KvCacheSplit sp = resolveKvCache(p);
    const double D = double(p.headDim), BH = double(p.batch * p.heads);
    const double BKv = double(p.batch * p.kvHeads);
    double pairs = prefillPairs(sp.promptLen, p.causal);
    // Closed forms (O(1) even for hostile lengths): step pos attends m = pos + 1 cached rows,
    // m = promptLen+1 .. seqLen; the recompute path does m(m+1)/2 pairs per step.
    const double Lr = double(p.seqLen), Pr = double(sp.promptLen);
    auto tri = [](double n) { return n * (n + 1) / 2.0; };              // sum_{m<=n} m
    auto tet = [](double n) { return n * (n + 1) * (n + 2) / 6.0; };    // sum_{m<=n} m(m+1)/2
    const double cacheRows = tri(Lr) - tri(Pr);
    pairs += recompute_ ? tet(Lr) - tet(Pr) : cacheRows;
    KernelCounts c;
    c.flops = 4.0 * D * BH * pairs;
    c.bytesMoved = family::denseBytesMoved(p) +
                   2.0 * BKv * cacheRows * D * sizeof(float);
    return c;
  }
  KernelTelemetry telemetry() const override { return tel_; }

  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const KvCacheSplit sp = resolveKvCache(p);
    const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, L = p.seqLen, D = p.headDim;
    const int64_t G = p.groupSize(), P = sp.promptLen;
    const int workers = family::workerCount(ctx);
    const int64_t scratchFloats = family::tileScratchFloats(D);
    PoolBuffer<int64_t> iotaBuf(*ctx.pool, size_t(L));
    PoolBuffer<float> scratch(*ctx.pool, size_t(workers) * size_t(scratchFloats));
    for (int64_t i = 0; i < L; ++i) iotaBuf.data()[i] = i;
    const int64_t* iota = iotaBuf.data();
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    const float scale = float(p.resolvedScale());
    auto scr = [&](int worker) {
      return family::carveTileScratch(scratch.data() + int64_t(worker) * scratchFloats, D);
    };

    PoolBuffer<float> kc, vc, partial, scores;
    if (!recompute_) {
      kc = PoolBuffer<float>(*ctx.pool, size_t(p.kvElements()));
      vc = PoolBuffer<float>(*ctx.pool, size_t(p.kvElements()));
      partial = PoolBuffer<float>(*ctx.pool, size_t(B * H * maxSplits(L) * (D + 1)));
      scores = PoolBuffer<float>(*ctx.pool, size_t(workers) * size_t(G * kSplitRows));
    }
    KernelTelemetry tel;

    // ---- prefill ------------------------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    const float* kSrc = k;
    const float* vSrc = v;
    if (!recompute_) {
      for (int64_t bk = 0; bk < B * KH; ++bk) {
        std::memcpy(kc.data() + bk * L * D, k + bk * L * D, sizeof(float) * size_t(P * D));
        std::memcpy(vc.data() + bk * L * D, v + bk * L * D, sizeof(float) * size_t(P * D));
      }
      kSrc = kc.data();
      vSrc = vc.data();
    }
    const int64_t piecesPerHead = (P + kPrefillRowsPerTask - 1) / kPrefillRowsPerTask;
    family::parallelFor(ctx, B * H * piecesPerHead, [&](int64_t task, int worker) {
      family::throwIfCancelled(ctx);
      const int64_t bh = task / piecesPerHead, piece = task % piecesPerHead;
      const int64_t b = bh / H, h = bh % H;
      const int64_t kvh = b * KH + h / G;
      const int64_t i0 = piece * kPrefillRowsPerTask;
      const int64_t i1 = std::min(P, i0 + kPrefillRowsPerTask);
      attendRowsDirect(q + bh * L * D, i0, i1, kSrc + kvh * L * D, vSrc + kvh * L * D, P,
                       p.causal, D, scale, scr(worker), iota, o + bh * L * D, -1);
    });
    const auto t1 = std::chrono::steady_clock::now();

    // ---- decode -------------------------------------------------------------------------
    double decodeBytes = 0;
    for (int64_t pos = P; pos < L; ++pos) {
      family::throwIfCancelled(ctx);
      const int64_t n = pos + 1;  // cached rows after the append
      decodeBytes += double(B * KH) * double(2 * n + 2) * double(D) * sizeof(float) +
                     double(B * H) * 2.0 * double(D) * sizeof(float);
      if (recompute_) {
        const int64_t pieces = (n + kPrefillRowsPerTask - 1) / kPrefillRowsPerTask;
        family::parallelFor(ctx, B * H * pieces, [&](int64_t task, int worker) {
          family::throwIfCancelled(ctx);
          const int64_t bh = task / pieces, piece = task % pieces;
          const int64_t b = bh / H, h = bh % H;
          const int64_t kvh = b * KH + h / G;
          const int64_t i0 = piece * kPrefillRowsPerTask;
          const int64_t i1 = std::min(n, i0 + kPrefillRowsPerTask);
          attendRowsDirect(q + bh * L * D, i0, i1, k + kvh * L * D, v + kvh * L * D, n, true, D,
                           scale, scr(worker), iota, o + bh * L * D, pos);
        });
        continue;
      }
      // Append this step's k, v row to the cache.
      for (int64_t bk = 0; bk < B * KH; ++bk) {
        std::memcpy(kc.data() + (bk * L + pos) * D, k + (bk * L + pos) * D, sizeof(float) * D);
        std::memcpy(vc.data() + (bk * L + pos) * D, v + (bk * L + pos) * D, sizeof(float) * D);
      }
      const int64_t splits = (n + kSplitRows - 1) / kSplitRows;
      const int64_t rowsPerSplit = (n + splits - 1) / splits;
      family::parallelFor(ctx, B * KH * splits, [&](int64_t task, int worker) {
        const int64_t bk = task / splits, sIdx = task % splits;
        const int64_t b = bk / KH, kh = bk % KH;
        const int64_t j0 = sIdx * rowsPerSplit, j1 = std::min(n, j0 + rowsPerSplit);
        // Partial results of the G heads of this kv head: [G, D] out then [G] lse.
        float* part = partial.data() + (bk * splits + sIdx) * G * (D + 1);
        const float* qRow = q + ((b * H + kh * G) * L + pos) * D;
        decodeAttend(qRow, L * D, G, kc.data() + (bk * L + j0) * D, vc.data() + (bk * L + j0) * D,
                     j1 - j0, D, scale, part, part + G * D,
                     scores.data() + int64_t(worker) * G * kSplitRows);
      });
      // Merge the splits (lse-weighted) into the output rows.
      family::parallelFor(ctx, B * KH, [&](int64_t bk, int) {
        const int64_t b = bk / KH, kh = bk % KH;
        for (int64_t g = 0; g < G; ++g) {
          float* out = o + ((b * H + kh * G + g) * L + pos) * D;
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t sIdx = 0; sIdx < splits; ++sIdx) {
            m = std::max(m, partial.data()[(bk * splits + sIdx) * G * (D + 1) + G * D + g]);
          }
          std::fill(out, out + D, 0.0f);
          float sum = 0;
          for (int64_t sIdx = 0; sIdx < splits; ++sIdx) {
            const float* part = partial.data() + (bk * splits + sIdx) * G * (D + 1);
            const float l = part[G * D + g];
            if (l == -std::numeric_limits<float>::infinity()) continue;
            const float w = std::exp(l - m);
            sum += w;
            for (int64_t d = 0; d < D; ++d) out[d] += w * part[g * D + d];
          }
          if (sum > 0) {
            const float inv = 1.0f / sum;
            for (int64_t d = 0; d < D; ++d) out[d] *= inv;
          }
        }
      });
    }
    const auto t2 = std::chrono::steady_clock::now();
    tel.prefillNs = std::chrono::duration<double, std::nano>(t1 - t0).count();
    tel.decodeNs = std::chrono::duration<double, std::nano>(t2 - t1).count();
    tel.decodeSteps = L - P;
    tel.decodeBytes = decodeBytes;
    tel.valid = true;
    tel_ = tel;
  }

 private:
  bool recompute_;
  KernelTelemetry tel_;
};

class KvCacheCpu final : public KvCacheBase {
 public:
  KvCacheCpu() : KvCacheBase(false) {}
};
class KvCacheRecomputeCpu final : public KvCacheBase {
 public:
  KvCacheRecomputeCpu() : KvCacheBase(true) {}
};

}  // namespace

DILBENCH_REGISTER_KERNEL(KvCacheCpu, "kv-cache", CPU)
DILBENCH_REGISTER_KERNEL(KvCacheRecomputeCpu, "kv-cache-recompute", CPU)
}  // namespace dilbench
