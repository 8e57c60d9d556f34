// Index maths and per-row softmax arithmetic of the CUDA family kernels (dilated,
// dilated-grouped, ring, ring-dilated, block-sparse), written once as __host__ __device__
// functions: family_cuda.cu runs them on the GPU, tools/family_cuda_check.cpp runs the very same
// functions on the CPU over every query row and compares with the float64 references and the CPU
// kernels (native/cpu). Plain C++ when not compiled by nvcc (DILBENCH_HD expands to `inline`).
//
// Work decomposition. One launch (FamilyLaunch) is a grid of CTAs: blockIdx.x = task,
// blockIdx.y = (batch, query head of the launch). A task owns at most tileRows() query rows,
// given as an arithmetic progression of positions (Span), and visits its key rows as a sequence
// of ascending Spans, cut into tiles of kKeyTile keys. Per row: fp32 online softmax in base 2
// (scores pre-multiplied by scale * log2(e)), then either
//  * merge into a running fp32 (o, lse2) accumulator with the logaddexp rule (dilated pairs,
//    ring steps, ring-dilated steps: attention-definitions.md), or
//  * a direct store of the normalised row (block-sparse: one pass over all its key blocks).
// Within one launch each (batch, head, query position) belongs to at most one task, so the
// read-modify-write of the accumulator needs no atomics (checked by the CPU harness).
#pragma once
#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define DILBENCH_HD __host__ __device__ __forceinline__
#else
#define DILBENCH_HD inline
#endif

namespace dilbench {
namespace cuda {
namespace family_math {

// ---- kernel geometry (family_cuda.cu instantiates exactly these) ----------------------------
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kKeyTile = 32;  // one key per lane for the scores
DILBENCH_HD constexpr bool headDimSupported(int64_t d) { return d == 32 || d == 64 || d == 96 || d == 128; }
// Query rows per warp / per CTA: static shared memory (q tile + k, v tiles in fp32) < 48 KB.
DILBENCH_HD constexpr int rowsPerWarp(int64_t headDim) { return headDim >= 128 ? 2 : 4; }
DILBENCH_HD constexpr int tileRows(int64_t headDim) { return kWarps * rowsPerWarp(headDim); }

DILBENCH_HD int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
DILBENCH_HD int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
DILBENCH_HD int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }  // a >= 0, b >= 1

// Positions base, base + stride, ..., base + (count - 1) * stride (stride >= 1).
struct Span {
  int64_t base = 0;
  int64_t stride = 1;
  int64_t count = 0;
  DILBENCH_HD int64_t pos(int64_t i) const { return base + i * stride; }
  DILBENCH_HD int64_t last() const { return base + (count - 1) * stride; }
};

enum FamilyKind : int32_t { kDilated = 0, kRing = 1, kRingDilated = 2, kBlockSparse = 3 };
enum BlockPatternCode : int32_t { kLocal = 0, kStrided = 1, kDilatedBlocks = 2, kRandom = 3 };

// Everything one launch needs; passed by value as the kernel parameter. Built by the planners
// of family_cuda_plan.h, checked by checkFamilyLaunch() before every launch.
struct FamilyLaunch {
  int32_t kind = kDilated;
  int64_t batch = 1, heads = 1, kvHeads = 1, seqLen = 0, headDim = 64;
  int32_t causal = 0;
  float scaleLog2 = 0.f;  // scale * log2(e)
  int32_t tileRows = 0;   // tileRows(headDim)
  // Query heads of this launch: [headBegin, headBegin + headCount).
  int64_t headBegin = 0, headCount = 0;
  // dilated / ring-dilated: the pair (w, r), w <= seqLen; head offset fixedOffset when >= 0
  // (dilated-grouped: g mod r_g), else h mod r (LongNet).
  int64_t w = 1, r = 1, fixedOffset = -1;
  int64_t tilesPerSegment = 0;
  // ring: the rank's query chunk(s) and the key/value chunk(s) it holds at this step.
  // ring-dilated: one chunk each (contiguous layout), segments segFirst.. overlapping both.
  int64_t qBegin[2] = {0, 0}, qEnd[2] = {0, 0};
  int64_t kBegin[2] = {0, 0}, kEnd[2] = {0, 0};
  int32_t qChunks = 0, kChunks = 0;
  int64_t qTiles0 = 0;  // ring: tasks of query chunk 0 (the rest belong to chunk 1)
  int64_t segFirst = 0;
  // block-sparse
  int32_t pattern = kLocal;
  int64_t blockSize = 1, blocks = 0, window = 1, stride = 1;
  double density = 1.0;
  uint64_t seed = 0;
  int64_t tilesPerBlock = 0;
  // grid and epilogue
  int64_t tasks = 0;                 // gridDim.x
  int32_t mergeIntoAccumulator = 1;  // 0: store normalised rows into o (block-sparse)
  // host bookkeeping, never read on the device: the ring (step, rank) this launch belongs to
  int64_t step = 0, rank = 0;
};

// ---- dilated segments -----------------------------------------------------------------------

// Rows pair (w, r) with head offset `offset` selects in segment s of a length-seqLen sequence:
// positions s*w + offset + t*r inside [s*w, min((s+1)*w, seqLen)). Same as PatternCache::build.
DILBENCH_HD Span segmentRows(int64_t seqLen, int64_t w, int64_t r, int64_t offset, int64_t s) {
  Span sp;
  const int64_t start = s * w;
  const int64_t len = imin(w, seqLen - start);
  sp.base = start + offset;
  sp.stride = r;
  sp.count = (len > 0 && offset < len) ? ceilDiv(len - offset, r) : 0;
  return sp;
}

// Index of the span's first position >= x (count when there is none).
DILBENCH_HD int64_t firstIndexAtOrAfter(const Span& sp, int64_t x) {
  if (x <= sp.base) return 0;
  return imin(ceilDiv(x - sp.base, sp.stride), sp.count);
}
// Indices [lo, hi) of the span's positions that fall in [cb, ce) (cb <= ce).
DILBENCH_HD void indicesIn(const Span& sp, int64_t cb, int64_t ce, int64_t& lo, int64_t& hi) {
  lo = firstIndexAtOrAfter(sp, cb);
  hi = imax(lo, firstIndexAtOrAfter(sp, ce));
}

DILBENCH_HD int64_t headOffset(const FamilyLaunch& L, int64_t h) {
  return L.fixedOffset >= 0 ? L.fixedOffset : h % L.r;
}

// dilated-grouped: heads split into `groups` contiguous groups, the first heads % groups of
// them one head larger. Group g owns heads [begin, begin + count).
DILBENCH_HD void groupHeads(int64_t heads, int64_t groups, int64_t g, int64_t& begin, int64_t& count) {
  const int64_t base = heads / groups, extra = heads % groups;
  if (g < extra) {
    begin = g * (base + 1);
    count = base + 1;
  } else {
    begin = extra * (base + 1) + (g - extra) * base;
    count = base;
  }
}

// ---- ring chunks ----------------------------------------------------------------------------

// Chunk `which` (0, or 1 for the zigzag's second) of rank `rank`: non-causal, P contiguous chunks
// [rank*L/P, (rank+1)*L/P); causal, 2P chunks of which rank holds rank and 2P-1-rank.
// Same as ringRankChunks() (native/cpu/family.h).
DILBENCH_HD void ringChunk(int64_t seqLen, int64_t P, bool causal, int64_t rank, int which, int64_t& begin,
                           int64_t& end) {
  if (!causal) {
    begin = rank * seqLen / P;
    end = (rank + 1) * seqLen / P;
    return;
  }
  const int64_t n = 2 * P;
  const int64_t c = which == 0 ? rank : n - 1 - rank;
  begin = c * seqLen / n;
  end = (c + 1) * seqLen / n;
}

// ---- block-sparse mask (blockSparseAllowed() of native/cpu/family.h, bit for bit) -----------

DILBENCH_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
DILBENCH_HD bool randomBlockAllowed(uint64_t seed, double density, int64_t qb, int64_t kb) {
  if (qb == kb) return true;
  const uint64_t h =
      splitmix64(splitmix64(seed ^ 0x5bd1e995ull) ^ (static_cast<uint64_t>(qb) * 0x100000001b3ull) ^
                 splitmix64(static_cast<uint64_t>(kb)));
  const double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
  return u < density;
}
// The mask before causality (for the harness and for random).
DILBENCH_HD bool blockAllowed(const FamilyLaunch& L, int64_t qb, int64_t kb) {
  const int64_t d = qb > kb ? qb - kb : kb - qb;
  switch (L.pattern) {
    case kLocal: return d < L.window;
    case kStrided: return d % L.stride == 0;
    case kDilatedBlocks: return d % L.stride == 0 && d / L.stride < L.window;
    default: return randomBlockAllowed(L.seed, L.density, qb, kb);
  }
}
// Key blocks of query block qb for the analytic patterns: first, first + step, ..., last
// (empty when last < first); the closed form of keyProgression() in native/cpu/block_sparse.cpp.
DILBENCH_HD void keyBlockProgression(const FamilyLaunch& L, int64_t qb, int64_t& first, int64_t& last,
                                     int64_t& step) {
  const int64_t nb = L.blocks;
  const int64_t hiAll = L.causal ? qb : nb - 1;
  if (L.pattern == kLocal) {
    const int64_t reach = imin(L.window - 1, nb);
    first = imax(0, qb - reach);
    last = imin(hiAll, qb + reach);
    step = 1;
  } else if (L.pattern == kStrided) {
    step = L.stride;
    first = qb % L.stride;
    last = hiAll < first ? -1 : first + (hiAll - first) / L.stride * L.stride;
  } else {  // dilated blocks
    step = L.stride;
    const int64_t hops = imin(L.window - 1, nb);
    first = qb - imin(hops, qb / L.stride) * L.stride;
    last = qb + imin(hops, (hiAll - qb) / L.stride) * L.stride;
  }
}

// ---- query rows of a task -------------------------------------------------------------------

// The query rows task `task` of query head h handles; false when it has none (a CTA beyond a
// short segment or chunk). Every returned position lies in [0, seqLen).
DILBENCH_HD bool queryTile(const FamilyLaunch& L, int64_t task, int64_t h, Span& q) {
  const int64_t BM = L.tileRows;
  q.count = 0;
  switch (L.kind) {
    case kDilated: {
      const int64_t s = task / L.tilesPerSegment, tile = task % L.tilesPerSegment;
      const Span seg = segmentRows(L.seqLen, L.w, L.r, headOffset(L, h), s);
      const int64_t i0 = tile * BM;
      if (i0 >= seg.count) return false;
      q.base = seg.pos(i0);
      q.stride = L.r;
      q.count = imin(BM, seg.count - i0);
      break;
    }
    case kRing: {
      const int which = task < L.qTiles0 ? 0 : 1;
      if (which >= L.qChunks) return false;
      const int64_t tile = which == 0 ? task : task - L.qTiles0;
      const int64_t begin = L.qBegin[which] + tile * BM;
      if (begin >= L.qEnd[which]) return false;
      q.base = begin;
      q.stride = 1;
      q.count = imin(BM, L.qEnd[which] - begin);
      break;
    }
    case kRingDilated: {
      const int64_t s = L.segFirst + task / L.tilesPerSegment, tile = task % L.tilesPerSegment;
      const Span seg = segmentRows(L.seqLen, L.w, L.r, headOffset(L, h), s);
      int64_t lo, hi;
      indicesIn(seg, L.qBegin[0], L.qEnd[0], lo, hi);
      const int64_t i0 = lo + tile * BM;
      if (i0 >= hi) return false;
      q.base = seg.pos(i0);
      q.stride = L.r;
      q.count = imin(BM, hi - i0);
      break;
    }
    default: {  // block-sparse
      const int64_t qb = task / L.tilesPerBlock, tile = task % L.tilesPerBlock;
      if (qb >= L.blocks) return false;
      const int64_t begin = qb * L.blockSize + tile * BM;
      const int64_t end = imin(L.seqLen, (qb + 1) * L.blockSize);
      if (begin >= end) return false;
      q.base = begin;
      q.stride = 1;
      q.count = imin(BM, end - begin);
      break;
    }
  }
  return q.count > 0 && q.base >= 0 && q.last() < L.seqLen;
}

// ---- key rows of a task ---------------------------------------------------------------------

// Key spans of a task in ascending position order. State lives in the caller (registers on the
// device); every thread of a CTA walks the same sequence.
struct KeyCursor {
  int32_t index = 0;                      // spans handed out so far (dilated, ring, ring-dilated)
  int64_t next = 0, last = -1, step = 1;  // block-sparse: next candidate key block
  int32_t started = 0;
};

DILBENCH_HD bool nextKeySpan(const FamilyLaunch& L, int64_t task, int64_t h, KeyCursor& c, Span& k) {
  switch (L.kind) {
    case kDilated: {
      if (c.index++ > 0) return false;
      k = segmentRows(L.seqLen, L.w, L.r, headOffset(L, h), task / L.tilesPerSegment);
      return k.count > 0;
    }
    case kRing: {
      while (c.index < L.kChunks) {
        const int i = c.index++;
        if (L.kEnd[i] > L.kBegin[i]) {
          k.base = L.kBegin[i];
          k.stride = 1;
          k.count = L.kEnd[i] - L.kBegin[i];
          return true;
        }
      }
      return false;
    }
    case kRingDilated: {
      if (c.index++ > 0) return false;
      const Span seg =
          segmentRows(L.seqLen, L.w, L.r, headOffset(L, h), L.segFirst + task / L.tilesPerSegment);
      int64_t lo, hi;
      indicesIn(seg, L.kBegin[0], L.kEnd[0], lo, hi);
      if (hi <= lo) return false;
      k.base = seg.pos(lo);
      k.stride = L.r;
      k.count = hi - lo;
      return true;
    }
    default: {  // block-sparse: only the allowed key blocks are ever visited
      const int64_t qb = task / L.tilesPerBlock;
      if (!c.started) {
        c.started = 1;
        if (L.pattern == kRandom) {
          c.next = 0;
          c.last = L.causal ? qb : L.blocks - 1;
          c.step = 1;
        } else {
          keyBlockProgression(L, qb, c.next, c.last, c.step);
        }
      }
      if (L.pattern == kRandom) {
        while (c.next <= c.last && !randomBlockAllowed(L.seed, L.density, qb, c.next)) ++c.next;
      }
      if (c.next > c.last) return false;
      const int64_t kb = c.next;
      c.next += c.step;
      k.base = kb * L.blockSize;
      k.stride = 1;
      k.count = imin(L.blockSize, L.seqLen - k.base);
      return k.count > 0;
    }
  }
}

// Tiles of at most kKeyTile keys over the spans. Causal: the first tile starting after the
// task's last query row ends the walk (keys ascend, so every later key is masked for every row).
struct KeyTiles {
  KeyCursor cursor;
  Span span;
  int64_t j0 = 0;
  int32_t haveSpan = 0;
};
DILBENCH_HD bool nextKeyTile(const FamilyLaunch& L, int64_t task, int64_t h, int64_t qLast, KeyTiles& it,
                             Span& tile) {
  for (;;) {
    if (!it.haveSpan) {
      if (!nextKeySpan(L, task, h, it.cursor, it.span)) return false;
      it.j0 = 0;
      it.haveSpan = 1;
    }
    if (it.j0 >= it.span.count) {
      it.haveSpan = 0;
      continue;
    }
    tile.base = it.span.pos(it.j0);
    tile.stride = it.span.stride;
    if (L.causal && tile.base > qLast) return false;
    tile.count = imin(kKeyTile, it.span.count - it.j0);
    it.j0 += kKeyTile;
    return true;
  }
}

// Key j of the tile takes part in query position qpos's softmax.
DILBENCH_HD bool keyAllowed(int64_t j, const Span& tile, int64_t qpos, int32_t causal) {
  return j < tile.count && (!causal || tile.pos(j) <= qpos);
}

// ---- softmax arithmetic ---------------------------------------------------------------------

// Online softmax step (base 2): running max mOld meets a tile whose largest score is tileMax.
// base is the new max (0 while every score so far is -inf, so exp2 never sees inf - inf);
// alpha rescales the old sum and accumulator.
DILBENCH_HD void onlineRescale(float mOld, float tileMax, float& mNew, float& base, float& alpha) {
  mNew = fmaxf(mOld, tileMax);
  base = (mNew == -INFINITY) ? 0.f : mNew;
  alpha = exp2f(mOld - base);
}

// Merge of a finished row (normalised o_b, lse2_b = log2 of its softmax denominator) into the
// running (o, lse2): lse' = logaddexp(lse, lse_b), o' = cOld * o + cNew * o_b (the softmax-
// denominator weighting of attention-definitions.md, in base 2). False when o_b is empty
// (lse_b = -inf: the row saw no allowed key) and nothing changes; an empty running row
// (lse = -inf, o = 0) takes o_b as it is.
DILBENCH_HD bool mergeCoefficients(float lseOld, float lseNew, float& cOld, float& cNew, float& lseOut) {
  if (lseNew == -INFINITY) return false;
  if (lseOld == -INFINITY) {
    cOld = 0.f;
    cNew = 1.f;
    lseOut = lseNew;
    return true;
  }
  const float m = fmaxf(lseOld, lseNew);
  const float wa = exp2f(lseOld - m), wb = exp2f(lseNew - m);
  const float inv = 1.f / (wa + wb);
  cOld = wa * inv;
  cNew = wb * inv;
  lseOut = m + log2f(wa + wb);
  return true;
}

}  // namespace family_math
}  // namespace cuda
}  // namespace dilbench
