// Shared pieces of the attention family (issue 3): parameter resolution used by kernels and
// references, and the tile engine that feeds gathered rows to attendBlock.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "../core/thread_pool.h"
#include "attention_block.h"
#include "family.h"

namespace dilbench {

std::vector<DilatedPair> resolveDilatedPairs(const AttentionProblem& p) {
  std::vector<int64_t> w = p.segmentLengths, r = p.dilationRates;
  if (w.empty() && r.empty()) {
    if (p.seqLen <= 8192) {
      w = {1024, 2048, 4096}, r = {1, 2, 4};
    } else if (p.seqLen <= 65536) {
      w = {2048, 8192, 32768}, r = {1, 2, 4};
    } else if (p.seqLen <= 524288) {
      w = {8192, 65536, 262144}, r = {1, 4, 16};
    } else {
      w = {65536, 262144, 524288}, r = {1, 4, 16};
    }
  }
  if (w.empty()) throwInvalid("segmentLengths", "at least one segment length is required");
  if (w.size() != r.size()) {
    throwInvalid("dilationRates", "needs one rate per segment length (" + std::to_string(w.size()) +
                                      " segment lengths, " + std::to_string(r.size()) + " rates)");
  }
  std::vector<DilatedPair> pairs;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] < 1) {
      throwInvalid("segmentLengths", "segment length " + std::to_string(w[i]) + " at index " +
                                         std::to_string(i) + " must be >= 1");
    }
    if (r[i] < 1) {
      throwInvalid("dilationRates", "dilation rate " + std::to_string(r[i]) + " at index " +
                                        std::to_string(i) + " must be >= 1");
    }
    if (r[i] > w[i]) {
      throwInvalid("dilationRates", "dilation rate " + std::to_string(r[i]) + " at index " +
                                        std::to_string(i) + " is larger than its segment length " +
                                        std::to_string(w[i]));
    }
    pairs.push_back({std::min(w[i], std::max<int64_t>(p.seqLen, 1)), r[i]});
  }
  return pairs;
}

KvCacheSplit resolveKvCache(const AttentionProblem& p) {
  if (p.promptLen < 0) throwInvalid("promptLen", "must be >= 0");
  if (p.newTokens < 0) throwInvalid("newTokens", "must be >= 0");
  if (p.prefill != "attend" && p.prefill != "skip")
    throwInvalid("prefill", "unknown prefill '" + p.prefill + "' (known: attend, skip)");
  KvCacheSplit s;
  s.attendPrompt = p.prefill == "attend";
  if (p.promptLen == 0 && p.newTokens == 0) {
    s.newTokens = std::min<int64_t>(p.seqLen - 1, 32);
    if (s.newTokens < 0) s.newTokens = 0;
    s.promptLen = p.seqLen - s.newTokens;
  } else if (p.promptLen == 0) {
    if (p.newTokens > p.seqLen) {
      throwInvalid("newTokens", "newTokens " + std::to_string(p.newTokens) + " is larger than seqLen " +
                                    std::to_string(p.seqLen));
    }
    s.newTokens = p.newTokens;
    s.promptLen = p.seqLen - p.newTokens;
  } else if (p.newTokens == 0) {
    if (p.promptLen > p.seqLen) {
      throwInvalid("promptLen", "promptLen " + std::to_string(p.promptLen) + " is larger than seqLen " +
                                    std::to_string(p.seqLen));
    }
    s.promptLen = p.promptLen;
    s.newTokens = p.seqLen - p.promptLen;
  } else {
    if (p.promptLen + p.newTokens != p.seqLen) {
      throwInvalid("promptLen", "promptLen + newTokens (" + std::to_string(p.promptLen) + " + " +
                                    std::to_string(p.newTokens) + ") must equal seqLen " +
                                    std::to_string(p.seqLen));
    }
    s.promptLen = p.promptLen;
    s.newTokens = p.newTokens;
  }
  // Planning counts each decode step: bound them so plan() answers at once (found by test/fuzz).
  constexpr int64_t kMaxNewTokens = int64_t(1) << 20;
  if (s.newTokens > kMaxNewTokens) {
    throwInvalid("newTokens", "at most " + std::to_string(kMaxNewTokens) + " decode steps, got " +
                                  std::to_string(s.newTokens));
  }
  return s;
}

void validateBlockSparse(const AttentionProblem& p) {
  // bounds from the parameter specs (native/core/descriptor.cpp), the same the TypeScript layer reads
  checkIntParam("blockSize", p.blockSize);
  const std::string& bp = p.blockPattern;
  if (bp != "local" && bp != "strided" && bp != "dilated" && bp != "random") {
    throwInvalid("blockPattern", "unknown pattern '" + bp + "' (known: local, strided, dilated, random)");
  }
  checkIntParam("window", p.window);
  checkIntParam("stride", p.stride);
  if (!(p.density > 0.0 && p.density <= 1.0)) throwInvalid("density", "must be in (0, 1]");
  // Planning walks the block mask: O(blocks) for local/strided/dilated, O(blocks^2) for random.
  // Bound it so plan() on a hostile seqLen/blockSize answers at once instead of blocking for
  // hours (found by test/fuzz).
  const bool random = p.blockPattern == "random";
  const int64_t maxBlocks = random ? int64_t(1) << 14 : int64_t(1) << 26;
  if (blockSparseBlocks(p) > maxBlocks) {
    throwInvalid("blockSize", "seqLen " + std::to_string(p.seqLen) + " / blockSize " +
                                  std::to_string(p.blockSize) + " gives " +
                                  std::to_string(blockSparseBlocks(p)) + " blocks; at most " +
                                  std::to_string(maxBlocks) + (random ? " for the random pattern" : "") +
                                  " (raise blockSize)");
  }
}

int64_t blockSparseBlocks(const AttentionProblem& p) { return (p.seqLen + p.blockSize - 1) / p.blockSize; }

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool blockSparseAllowed(const AttentionProblem& p, int64_t qb, int64_t kb) {
  const int64_t d = qb > kb ? qb - kb : kb - qb;
  const std::string& bp = p.blockPattern;
  if (bp == "local") return d < p.window;
  if (bp == "strided") return d % p.stride == 0;
  if (bp == "dilated") return d % p.stride == 0 && d / p.stride < p.window;
  // random
  if (qb == kb) return true;
  const uint64_t h =
      splitmix64(splitmix64(p.seed ^ 0x5bd1e995ull) ^ (static_cast<uint64_t>(qb) * 0x100000001b3ull) ^
                 splitmix64(static_cast<uint64_t>(kb)));
  const double u = double(h >> 11) * (1.0 / 9007199254740992.0);
  return u < p.density;
}

void validateRingSize(const AttentionProblem& p) {
  if (p.ringSize < 1) throwInvalid("ringSize", "must be >= 1");
  if (p.ringSize > p.seqLen) {
    throwInvalid("ringSize", "ring size " + std::to_string(p.ringSize) + " is larger than seqLen " +
                                 std::to_string(p.seqLen));
  }
}

std::vector<RowRange> ringRankChunks(int64_t seqLen, int64_t ringSize, bool causal, int64_t rank) {
  if (!causal) {
    return {{rank * seqLen / ringSize, (rank + 1) * seqLen / ringSize}};
  }
  const int64_t n = 2 * ringSize;
  const int64_t a = rank, b = n - 1 - rank;
  return {{a * seqLen / n, (a + 1) * seqLen / n}, {b * seqLen / n, (b + 1) * seqLen / n}};
}

namespace family {

int64_t tileScratchFloats(int64_t D) {
  auto al = [](int64_t n) { return (n + 15) / 16 * 16; };
  return al(kQTile * D) * 3 + al(kQTile) * 3 + al(attendBlockScratchFloats(kQTile, kKvTile, D));
}

OnlineSoftmaxState startRows(const TileScratch& s, int64_t rows, int64_t headDim) {
  OnlineSoftmaxState st;
  st.acc = s.acc;
  st.rowMax = s.rowMax;
  st.rowSum = s.rowSum;
  st.rows = rows;
  st.headDim = headDim;
  resetOnlineSoftmax(st);
  return st;
}

std::vector<DilatedPart> longNetParts(const std::vector<DilatedPair>& pairs, int64_t h) {
  std::vector<DilatedPart> parts;
  for (const auto& pr : pairs) parts.push_back({pr, h % pr.r});
  return parts;
}

KernelCounts kvCacheCounts(const AttentionProblem& p, bool recompute) {
  const KvCacheSplit sp = resolveKvCache(p);
  const double D = double(p.headDim), BH = double(p.batch * p.heads);
  const double BKv = double(p.batch * p.kvHeads);
  double pairs = sp.attendPrompt ? pairCount(sp.promptLen, p.causal) : 0.0;
  // Step pos attends m = pos + 1 cached rows, m = promptLen+1 .. seqLen; the recompute path
  // does m(m+1)/2 pairs per step.
  const double Lr = double(p.seqLen), Pr = double(sp.promptLen);
  auto tri = [](double n) { return n * (n + 1) / 2.0; };            // sum_{m<=n} m
  auto tet = [](double n) { return n * (n + 1) * (n + 2) / 6.0; };  // sum_{m<=n} m(m+1)/2
  const double cacheRows = tri(Lr) - tri(Pr);
  pairs += recompute ? tet(Lr) - tet(Pr) : cacheRows;
  KernelCounts c;
  c.flops = 4.0 * D * BH * pairs;
  c.bytesMoved = denseBytesMoved(p) + 2.0 * BKv * cacheRows * D * double(dtypeBytes(p.dtype));
  return c;
}

KernelCounts dilatedCounts(const AttentionProblem& p,
                           const std::function<std::vector<DilatedPart>(int64_t head)>& partsOf) {
  KernelCounts c;
  for (int64_t h = 0; h < p.heads; ++h) {
    c.flops += double(p.batch) * dilatedHeadFlops(partsOf(h), p.seqLen, p.headDim, p.causal);
  }
  c.bytesMoved = denseBytesMoved(p);
  return c;
}

TileScratch carveTileScratch(float* base, int64_t D) {
  auto al = [](int64_t n) { return (n + 15) / 16 * 16; };
  TileScratch s;
  float* p = base;
  s.qTile = p, p += al(kQTile * D);
  s.acc = p, p += al(kQTile * D);
  s.outTile = p, p += al(kQTile * D);
  s.rowMax = p, p += al(kQTile);
  s.rowSum = p, p += al(kQTile);
  s.lseTile = p, p += al(kQTile);
  s.block = p;
  return s;
}

void mergeRow(float* o, float& l, const float* ob, float lb, int64_t D) {
  if (lb == -std::numeric_limits<float>::infinity()) return;
  if (l == -std::numeric_limits<float>::infinity()) {
    std::memcpy(o, ob, sizeof(float) * D);
    l = lb;
    return;
  }
  const float m = std::max(l, lb);
  const float wa = std::exp(l - m), wb = std::exp(lb - m);
  const float inv = 1.0f / (wa + wb);
  const float ca = wa * inv, cb = wb * inv;
  for (int64_t d = 0; d < D; ++d) o[d] = o[d] * ca + ob[d] * cb;
  l = m + std::log(wa + wb);
}

const float* gatherRows(const float* src, const int64_t* pos, int64_t n, int64_t D, float* dst) {
  if (n <= 0) return dst;
  if (pos[n - 1] - pos[0] == n - 1) return src + pos[0] * D;
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * D, src + pos[i] * D, sizeof(float) * D);
  return dst;
}

void attendRowsMerge(const float* qHead, const int64_t* qPos, int64_t nq, const float* k, const float* v,
                     int64_t ldkv, const int64_t* kPos, int64_t nk, int64_t D, float scale, bool causal,
                     float* o, float* lse, const TileScratch& s, const CancelToken* cancel) {
  if (nq <= 0 || nk <= 0) return;
  for (int64_t i0 = 0; i0 < nq; i0 += kQTile) {
    throwIfCancelled(cancel);
    const int64_t qr = std::min(kQTile, nq - i0);
    const int64_t* qp = qPos + i0;
    // Causal: the first key after the tile's last query ends the useful keys.
    int64_t nkUse = nk;
    if (causal) {
      nkUse = std::upper_bound(kPos, kPos + nk, qp[qr - 1]) - kPos;
      if (nkUse == 0) continue;
    }
    const float* qt = gatherRows(qHead, qp, qr, D, s.qTile);
    OnlineSoftmaxState st = startRows(s, qr, D);
    // One call over every useful key: attendBlock re-packs nothing per key chunk, skips chunks
    // the mask removes entirely and applies the mask only on chunks that straddle the diagonal.
    BlockMask mask;
    if (causal && kPos[nkUse - 1] > qp[0]) {
      mask.qPos = qp;
      mask.kPos = kPos;
      mask.causal = true;
    }
    attendBlock(qt, D, qr, k, v, ldkv, nkUse, D, scale, mask, st, s.block);
    finalizeOnlineSoftmax(st, s.outTile, D, s.lseTile);
    for (int64_t i = 0; i < qr; ++i) {
      const int64_t p = qp[i];
      mergeRow(o + p * D, lse[p], s.outTile + i * D, s.lseTile[i], D);
    }
  }
}

void throwIfCancelled(const CancelToken* cancel) {
  if (cancel && cancel->cancelled()) {
    throw Error(ErrorCode::Cancelled, "run cancelled");
  }
}

void throwIfCancelled(const ExecContext& ctx) { throwIfCancelled(ctx.cancel); }

}  // namespace family
}  // namespace dilbench

namespace dilbench {
namespace family {

void parallelFor(const ExecContext& ctx, int64_t tasks,
                 const std::function<void(int64_t task, int worker)>& fn) {
  if (tasks <= 0) return;
  const int threads = workerCount(ctx);
  if (ctx.threadPool && threads > 1 && tasks > 1) {
    ctx.threadPool->parallelFor(tasks, threads, fn);
  } else {
    for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
  }
}

int workerCount(const ExecContext& ctx) { return std::max(1, ctx.threads); }

}  // namespace family
}  // namespace dilbench
