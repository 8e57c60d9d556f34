// "kv-cache" and "kv-cache-recompute": autoregressive decoding (attention-definitions.md,
// "kv-cache (decoding)"). seqLen = promptLen + newTokens (resolveKvCache in family.h documents
// the defaults: newTokens = min(seqLen - 1, 32) when neither is given).
//
// Output rows i < promptLen come from the prefill; row promptLen + t from decode step t, which
// attends positions [0, promptLen + t]. causal == true: the prefill is causal too, so the whole
// output equals causal dense attention. causal == false: the prompt is encoded bidirectionally
// (prefix-LM: prompt rows attend every prompt row), decoded rows stay causal. prefill "skip":
// the prompt's k, v still fill the cache but its output rows are 0 and nothing is attended for
// them (decode measured at a deep context without the quadratic prefill).
//
// kv-cache: the prompt's k, v are copied once into a pool-allocated cache [batch, kvHeads,
// seqLen, headDim]; each step appends one k, v row and attends one query per head over the cache.
// Decode is memory-bound, so a step streams the cache exactly once: the query rows of every head
// sharing a kv head are attended together (ldq jumps between heads), and caches are split across
// threads (split-K: long ones, and short ones when too few kv heads feed the threads; splitsOf)
// with an lse merge of the partial results.
// kv-cache-recompute: the non-optimized path; each step recomputes causal attention over the whole
// prefix (every row 0..promptLen+t) and keeps the last row. Both produce the same rows.
//
// fp16 / bf16 storage (fp32 compute and accumulation): the cache holds the problem's dtype, so a
// decode step streams half the bytes. The AVX-512, AVX2 and NEON decode kernels convert cache rows
// in registers as they stream them; the other paths convert rows into per-worker fp32 scratch (query rows,
// one kKvTile chunk of K and of V). Output rows are rounded to the storage dtype as they are written.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/cpu_features.h"
#include "../core/descriptor.h"
#include "../core/errors.h"
#include "attention_block.h"
#include "convert_half.h"
#include "dense_common.h"
#include "family.h"

namespace dilbench {
namespace family {
// kv_decode_avx512.cpp: cache rows in fp32, fp16 or bf16 (bits in uint16_t); headDim a
// multiple of 16.
void decodeAttendAvx512(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                        int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendAvx512F16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                           int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendAvx512BF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                            int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
// kv_decode_avx2.cpp: the same contract, headDim a multiple of 8.
void decodeAttendAvx2(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                      int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendAvx2F16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                         int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendAvx2BF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                          int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
// kv_decode_neon.cpp (aarch64 builds only): the same contract, headDim a multiple of 4.
void decodeAttendNeon(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                      int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendNeonF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                         int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
void decodeAttendNeonBF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                          int64_t n, int64_t D, float scale, float* out, float* lse, float* s);
}  // namespace family

namespace {

inline void convertToF32Rows(float* dst, const void* src, int64_t n, DType dt) {
  cpu::convertToF32(dst, src, static_cast<size_t>(n), dt);
}

// Per-worker fp32 scratch of the half-storage paths (empty for fp32): query rows (a prefill tile
// of kQTile rows, or the G decode rows of one kv head, or one merged output row) and one
// kKvTile chunk each of K and V rows.
struct HalfScratch {
  float* q = nullptr;  // [max(kQTile, G), D]
  float* k = nullptr;  // [kKvTile, D]
  float* v = nullptr;  // [kKvTile, D]
};
int64_t halfScratchFloats(const AttentionProblem& p) {
  if (p.dtype == DType::F32) return 0;
  const int64_t D = p.headDim;
  return family::align16(std::max(family::kQTile, p.groupSize()) * D) +
         2 * family::align16(family::kKvTile * D);
}
HalfScratch carveHalfScratch(float* base, const AttentionProblem& p) {
  HalfScratch h;
  if (p.dtype == DType::F32) return h;
  const int64_t D = p.headDim;
  h.q = base;
  h.k = h.q + family::align16(std::max(family::kQTile, p.groupSize()) * D);
  h.v = h.k + family::align16(family::kKvTile * D);
  return h;
}

// Decode partial: G query rows (q + g*ldq) against n cache rows (k, v contiguous, headDim D);
// out [G, D] normalised, lse [G]. s: G * n scratch floats. Generic scalar path.
void decodeAttendGeneric(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                         int64_t D, float scale, float* out, float* lse, float* s) {
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

// decodeAttendGeneric for fp16 / bf16 cache rows: K, then V, converted kKvTile rows at a time
// into `rows` (kKvTile * D floats). The probabilities are normalised before the V pass, so no
// per-row state outlives pass 1 but the scores.
void decodeAttendGenericHalf(const float* q, int64_t ldq, int64_t G, const void* k, const void* v, int64_t n,
                             int64_t D, float scale, float* out, float* lse, float* s, DType dt,
                             float* rows) {
  for (int64_t j0 = 0; j0 < n; j0 += family::kKvTile) {
    const int64_t jr = std::min(family::kKvTile, n - j0);
    convertToF32Rows(rows, cpu::elementAt(k, j0 * D, dt), jr * D, dt);
    for (int64_t j = 0; j < jr; ++j) {
      for (int64_t g = 0; g < G; ++g) {
        float dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q[g * ldq + d] * rows[j * D + d];
        s[g * n + j0 + j] = scale * dot;
      }
    }
  }
  for (int64_t g = 0; g < G; ++g) {
    float* sg = s + g * n;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) m = std::max(m, sg[j]);
    float z = 0;
    for (int64_t j = 0; j < n; ++j) {
      sg[j] = std::exp(sg[j] - m);
      z += sg[j];
    }
    const float inv = 1.0f / z;
    for (int64_t j = 0; j < n; ++j) sg[j] *= inv;
    std::fill(out + g * D, out + (g + 1) * D, 0.0f);
    lse[g] = m + std::log(z);
  }
  for (int64_t j0 = 0; j0 < n; j0 += family::kKvTile) {
    const int64_t jr = std::min(family::kKvTile, n - j0);
    convertToF32Rows(rows, cpu::elementAt(v, j0 * D, dt), jr * D, dt);
    for (int64_t g = 0; g < G; ++g) {
      float* og = out + g * D;
      const float* pg = s + g * n + j0;
      for (int64_t j = 0; j < jr; ++j)
        for (int64_t d = 0; d < D; ++d) og[d] += pg[j] * rows[j * D + d];
    }
  }
}

// One decode partial (see decodeAttendGeneric) over cache rows k, v stored in dt.
// rows: kKvTile * D floats of scratch for the generic half path (unused otherwise).
void decodeAttend(const float* q, int64_t ldq, int64_t G, const void* k, const void* v, int64_t n, int64_t D,
                  float scale, float* out, float* lse, float* s, DType dt, float* rows) {
#if defined(__aarch64__)
  if (activeSimdLevel() == SimdLevel::NEON && D % 4 == 0) {
    switch (dt) {
      case DType::F32:
        family::decodeAttendNeon(q, ldq, G, static_cast<const float*>(k), static_cast<const float*>(v), n, D,
                                 scale, out, lse, s);
        return;
      case DType::F16:
        family::decodeAttendNeonF16(q, ldq, G, static_cast<const uint16_t*>(k),
                                    static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
      case DType::BF16:
        family::decodeAttendNeonBF16(q, ldq, G, static_cast<const uint16_t*>(k),
                                     static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
    }
  }
#else
  if (activeSimdLevel() == SimdLevel::AVX512 && D % 16 == 0) {
    switch (dt) {
      case DType::F32:
        family::decodeAttendAvx512(q, ldq, G, static_cast<const float*>(k), static_cast<const float*>(v), n,
                                   D, scale, out, lse, s);
        return;
      case DType::F16:
        family::decodeAttendAvx512F16(q, ldq, G, static_cast<const uint16_t*>(k),
                                      static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
      case DType::BF16:
        family::decodeAttendAvx512BF16(q, ldq, G, static_cast<const uint16_t*>(k),
                                       static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
    }
  }
  if (activeSimdLevel() == SimdLevel::AVX2 && D % 8 == 0) {
    switch (dt) {
      case DType::F32:
        family::decodeAttendAvx2(q, ldq, G, static_cast<const float*>(k), static_cast<const float*>(v), n, D,
                                 scale, out, lse, s);
        return;
      case DType::F16:
        family::decodeAttendAvx2F16(q, ldq, G, static_cast<const uint16_t*>(k),
                                    static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
      case DType::BF16:
        family::decodeAttendAvx2BF16(q, ldq, G, static_cast<const uint16_t*>(k),
                                     static_cast<const uint16_t*>(v), n, D, scale, out, lse, s);
        return;
    }
  }
#endif
  if (dt == DType::F32) {
    decodeAttendGeneric(q, ldq, G, static_cast<const float*>(k), static_cast<const float*>(v), n, D, scale,
                        out, lse, s);
  } else {
    decodeAttendGenericHalf(q, ldq, G, k, v, n, D, scale, out, lse, s, dt, rows);
  }
}

constexpr int64_t kSplitRows = 1024;    // cache rows per decode task (at most)
constexpr int64_t kMinSplitRows = 128;  // ... and at least, when a cache is split only to feed threads
constexpr int64_t kTasksPerWorker = 4;  // decode tasks per worker wanted (dynamic balance)
// Splits of one kv head's n cached rows in a decode step (split-K, merged by lse): kSplitRows rows
// at most, and, when the units (batch x kv heads) alone give the workers fewer than
// kTasksPerWorker tasks each (MQA / few kv heads, short caches), more splits of >= kMinSplitRows
// rows, so no thread idles. Non-decreasing in n, so splitsOf(seqLen) bounds every step.
int64_t splitsOf(int64_t n, int64_t units, int workers) {
  const int64_t byLength = (n + kSplitRows - 1) / kSplitRows;
  const int64_t wanted = (int64_t(workers) * kTasksPerWorker + units - 1) / units;
  const int64_t byThreads = std::min(wanted, (n + kMinSplitRows - 1) / kMinSplitRows);
  return std::max<int64_t>(1, std::max(byLength, byThreads));
}
constexpr int64_t kPrefillRowsPerTask = 256;

// Per-worker scratch floats: the tile engine's, then the half-storage conversions.
int64_t workerScratchFloats(const AttentionProblem& p) {
  return family::tileScratchFloats(p.headDim) + halfScratchFloats(p);
}

// Dense rows [i0, i1) of one head against keys [0, nk(i)) where, causal: keys <= i, non-causal:
// keys < nkFixed. Writes o rows (ldo = D) via finalize.
void attendRowsDirect(const float* qHead, int64_t i0, int64_t i1, const float* kHead, const float* vHead,
                      int64_t nkFixed, bool causal, int64_t D, float scale, const family::TileScratch& s,
                      const int64_t* iota, float* oHead, int64_t keepOnlyRow) {
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

// attendRowsDirect for fp16 / bf16 storage (q, k, v, o in dt; offsets in elements): the query
// tile is converted into hs.q, the keys stream through hs.k / hs.v kKvTile rows at a time (the
// online-softmax state carries across the attendBlock calls), output rows are rounded into o.
void attendRowsDirectHalf(const void* qHead, int64_t i0, int64_t i1, const void* kHead, const void* vHead,
                          int64_t nkFixed, bool causal, int64_t D, float scale, const family::TileScratch& s,
                          const HalfScratch& hs, const int64_t* iota, void* oHead, int64_t keepOnlyRow,
                          DType dt) {
  for (int64_t a = i0; a < i1; a += family::kQTile) {
    const int64_t qr = std::min(family::kQTile, i1 - a);
    convertToF32Rows(hs.q, cpu::elementAt(qHead, a * D, dt), qr * D, dt);
    OnlineSoftmaxState st = family::startRows(s, qr, D);
    const int64_t nk = causal ? a + qr : nkFixed;
    for (int64_t k0 = 0; k0 < nk; k0 += family::kKvTile) {
      const int64_t kr = std::min(family::kKvTile, nk - k0);
      convertToF32Rows(hs.k, cpu::elementAt(kHead, k0 * D, dt), kr * D, dt);
      convertToF32Rows(hs.v, cpu::elementAt(vHead, k0 * D, dt), kr * D, dt);
      BlockMask mask;  // applied only on chunks that straddle the diagonal
      if (causal) {
        mask.qPos = iota + a;
        mask.kPos = iota + k0;
        mask.causal = true;
      }
      attendBlock(hs.q, D, qr, hs.k, hs.v, D, kr, D, scale, mask, st, s.block);
    }
    finalizeOnlineSoftmax(st, s.outTile, D, nullptr);
    if (keepOnlyRow < 0) {
      cpu::convertFromF32(cpu::elementAt(oHead, a * D, dt), s.outTile, size_t(qr * D), dt);
    } else if (keepOnlyRow >= a && keepOnlyRow < a + qr) {
      cpu::convertFromF32(cpu::elementAt(oHead, keepOnlyRow * D, dt), s.outTile + (keepOnlyRow - a) * D,
                          size_t(D), dt);
    }
  }
}

class KvCacheBase : public Kernel, public TelemetrySource {
 public:
  explicit KvCacheBase(bool recompute) : recompute_(recompute) {}
  std::string name() const override { return recompute_ ? "kv-cache-recompute" : "kv-cache"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return recompute_ ? "Decoding without a cache: each step recomputes causal attention over the whole "
                        "prefix and keeps the last row (the non-optimized baseline of kv-cache)"
                      : "Decoding with a KV cache: prefill into a pool-allocated cache, then one row "
                        "appended and one query attended per step (memory-bound, split-K over threads)";
  }
  std::vector<DType> dtypes() const override { return cpu::halfStorageDtypes(); }
  void validate(const AttentionProblem& p) const override { resolveKvCache(p); }
  // Exact: the pool requests run() makes, all live at once, each rounded to its size class.
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    const int workerCount = std::max(1, threads);
    const uint64_t workers = uint64_t(workerCount);
    auto sc = [](uint64_t bytes) { return uint64_t(MemoryPool::sizeClass(size_t(bytes))); };
    uint64_t b = sc(uint64_t(p.seqLen) * sizeof(int64_t)) +  // positions
                 sc(workers * uint64_t(workerScratchFloats(p)) * sizeof(float));
    if (!recompute_) {
      b += 2 * sc(uint64_t(p.kvElements()) * dtypeBytes(p.dtype));  // the K and V caches
      const int64_t maxSplits = splitsOf(p.seqLen, p.batch * p.kvHeads, workerCount);
      b += sc(uint64_t(p.batch * p.heads * maxSplits * (p.headDim + 1)) * sizeof(float));  // partials
      b += sc(workers * uint64_t(p.groupSize() * kSplitRows) * sizeof(float));             // decode scores
    }
    return b;
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    return family::kvCacheCounts(p, recompute_);
  }
  KernelTelemetry telemetry() const override { return tel_; }

  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const KvCacheSplit sp = resolveKvCache(p);
    const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, L = p.seqLen, D = p.headDim;
    const int64_t G = p.groupSize(), P = sp.promptLen;
    const DType dt = p.dtype;
    const bool half = dt != DType::F32;
    const size_t eb = dtypeBytes(dt);
    const int workers = family::workerCount(ctx);
    const int64_t scratchFloats = workerScratchFloats(p);
    PoolBuffer<int64_t> iotaBuf(*ctx.pool, size_t(L));
    PoolBuffer<float> scratch(*ctx.pool, size_t(workers) * size_t(scratchFloats));
    for (int64_t i = 0; i < L; ++i) iotaBuf.data()[i] = i;
    const int64_t* iota = iotaBuf.data();
    // fp32 views of the tensors (used only when !half)
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    const float scale = float(p.resolvedScale());
    const int64_t tileFloats = family::tileScratchFloats(D);
    auto scr = [&](int worker) {
      return family::carveTileScratch(scratch.data() + int64_t(worker) * scratchFloats, D);
    };
    auto hscr = [&](int worker) {
      return carveHalfScratch(scratch.data() + int64_t(worker) * scratchFloats + tileFloats, p);
    };

    // The caches hold the storage dtype (raw bytes); partials and scores are fp32.
    PoolBuffer<unsigned char> kc, vc;
    PoolBuffer<float> partial, scores;
    if (!recompute_) {
      kc = PoolBuffer<unsigned char>(*ctx.pool, size_t(p.kvElements()) * eb);
      vc = PoolBuffer<unsigned char>(*ctx.pool, size_t(p.kvElements()) * eb);
      partial = PoolBuffer<float>(*ctx.pool, size_t(B * H * splitsOf(L, B * KH, workers) * (D + 1)));
      scores = PoolBuffer<float>(*ctx.pool, size_t(workers) * size_t(G * kSplitRows));
    }
    KernelTelemetry tel;

    // ---- prefill ------------------------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    const void* kSrc = t.k;
    const void* vSrc = t.v;
    if (!recompute_) {
      for (int64_t bk = 0; bk < B * KH; ++bk) {
        std::memcpy(kc.data() + size_t(bk * L * D) * eb, cpu::elementAt(t.k, bk * L * D, dt),
                    eb * size_t(P * D));
        std::memcpy(vc.data() + size_t(bk * L * D) * eb, cpu::elementAt(t.v, bk * L * D, dt),
                    eb * size_t(P * D));
      }
      kSrc = kc.data();
      vSrc = vc.data();
    }
    // prefill "skip": the prompt's output rows are 0 (the definition's), nothing attended
    const int64_t attendedRows = sp.attendPrompt ? P : 0;
    if (!sp.attendPrompt) {
      family::parallelFor(ctx, B * H, [&](int64_t bh, int) {
        std::memset(cpu::elementAt(t.o, bh * L * D, dt), 0, eb * size_t(P * D));
      });
    }
    const int64_t piecesPerHead = (attendedRows + kPrefillRowsPerTask - 1) / kPrefillRowsPerTask;
    family::parallelFor(ctx, B * H * piecesPerHead, [&](int64_t task, int worker) {
      family::throwIfCancelled(ctx);
      const int64_t bh = task / piecesPerHead, piece = task % piecesPerHead;
      const int64_t b = bh / H, h = bh % H;
      const int64_t kvh = b * KH + h / G;
      const int64_t i0 = piece * kPrefillRowsPerTask;
      const int64_t i1 = std::min(P, i0 + kPrefillRowsPerTask);
      if (!half) {
        attendRowsDirect(q + bh * L * D, i0, i1, static_cast<const float*>(kSrc) + kvh * L * D,
                         static_cast<const float*>(vSrc) + kvh * L * D, P, p.causal, D, scale, scr(worker),
                         iota, o + bh * L * D, -1);
      } else {
        attendRowsDirectHalf(cpu::elementAt(t.q, bh * L * D, dt), i0, i1,
                             cpu::elementAt(kSrc, kvh * L * D, dt), cpu::elementAt(vSrc, kvh * L * D, dt), P,
                             p.causal, D, scale, scr(worker), hscr(worker), iota,
                             cpu::elementAt(t.o, bh * L * D, dt), -1, dt);
      }
    });
    const auto t1 = std::chrono::steady_clock::now();

    // ---- decode -------------------------------------------------------------------------
    double decodeBytes = 0;
    for (int64_t pos = P; pos < L; ++pos) {
      family::throwIfCancelled(ctx);
      const int64_t n = pos + 1;  // cached rows after the append
      decodeBytes += double(B * KH) * double(2 * n + 2) * double(D) * double(eb) +
                     double(B * H) * 2.0 * double(D) * double(eb);
      if (recompute_) {
        const int64_t pieces = (n + kPrefillRowsPerTask - 1) / kPrefillRowsPerTask;
        family::parallelFor(ctx, B * H * pieces, [&](int64_t task, int worker) {
          family::throwIfCancelled(ctx);
          const int64_t bh = task / pieces, piece = task % pieces;
          const int64_t b = bh / H, h = bh % H;
          const int64_t kvh = b * KH + h / G;
          const int64_t i0 = piece * kPrefillRowsPerTask;
          const int64_t i1 = std::min(n, i0 + kPrefillRowsPerTask);
          if (!half) {
            attendRowsDirect(q + bh * L * D, i0, i1, k + kvh * L * D, v + kvh * L * D, n, true, D, scale,
                             scr(worker), iota, o + bh * L * D, pos);
          } else {
            attendRowsDirectHalf(cpu::elementAt(t.q, bh * L * D, dt), i0, i1,
                                 cpu::elementAt(t.k, kvh * L * D, dt), cpu::elementAt(t.v, kvh * L * D, dt),
                                 n, true, D, scale, scr(worker), hscr(worker), iota,
                                 cpu::elementAt(t.o, bh * L * D, dt), pos, dt);
          }
        });
        continue;
      }
      // Append this step's k, v row to the cache.
      for (int64_t bk = 0; bk < B * KH; ++bk) {
        const int64_t row = (bk * L + pos) * D;
        std::memcpy(kc.data() + size_t(row) * eb, cpu::elementAt(t.k, row, dt), eb * size_t(D));
        std::memcpy(vc.data() + size_t(row) * eb, cpu::elementAt(t.v, row, dt), eb * size_t(D));
      }
      const int64_t wantSplits = splitsOf(n, B * KH, workers);
      const int64_t rowsPerSplit = (n + wantSplits - 1) / wantSplits;
      const int64_t splits = (n + rowsPerSplit - 1) / rowsPerSplit;  // none of them empty
      family::parallelFor(ctx, B * KH * splits, [&](int64_t task, int worker) {
        const int64_t bk = task / splits, sIdx = task % splits;
        const int64_t b = bk / KH, kh = bk % KH;
        const int64_t j0 = sIdx * rowsPerSplit, j1 = std::min(n, j0 + rowsPerSplit);
        // Partial results of the G heads of this kv head: [G, D] out then [G] lse.
        float* part = partial.data() + (bk * splits + sIdx) * G * (D + 1);
        const int64_t qRow = ((b * H + kh * G) * L + pos) * D;  // element offset of head kh*G's row
        const float* qf = half ? nullptr : q + qRow;
        int64_t ldq = L * D;
        float* rows = nullptr;
        if (half) {  // the G query rows in fp32, contiguous
          const HalfScratch hs = hscr(worker);
          for (int64_t g = 0; g < G; ++g)
            convertToF32Rows(hs.q + g * D, cpu::elementAt(t.q, qRow + g * L * D, dt), D, dt);
          qf = hs.q;
          ldq = D;
          rows = hs.k;
        }
        const size_t cacheRow = size_t((bk * L + j0) * D) * eb;
        decodeAttend(qf, ldq, G, kc.data() + cacheRow, vc.data() + cacheRow, j1 - j0, D, scale, part,
                     part + G * D, scores.data() + int64_t(worker) * G * kSplitRows, dt, rows);
      });
      // Merge the splits (lse-weighted) into the output rows.
      family::parallelFor(ctx, B * KH, [&](int64_t bk, int worker) {
        const int64_t b = bk / KH, kh = bk % KH;
        for (int64_t g = 0; g < G; ++g) {
          const int64_t outRow = ((b * H + kh * G + g) * L + pos) * D;
          float* out = half ? hscr(worker).q : o + outRow;  // half: merged in fp32, then rounded
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
          if (half) cpu::convertFromF32(cpu::elementAt(t.o, outRow, dt), out, size_t(D), dt);
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
DILBENCH_DESCRIBE_IMPLEMENTATION({"kv-cache",
                                  "kv-cache",
                                  ExactDense::WhenCausal,
                                  "kv-cache-recompute",
                                  {"promptLen", "newTokens"},
                                  {"prefillNs", "decodeNs", "decodeSteps", "decodeBytes"}})
DILBENCH_DESCRIBE_IMPLEMENTATION({"kv-cache-recompute",
                                  "kv-cache",
                                  ExactDense::WhenCausal,
                                  "kv-cache",
                                  {"promptLen", "newTokens"},
                                  {"prefillNs", "decodeNs", "decodeSteps", "decodeBytes"}})
}  // namespace dilbench
