// Launch plans of the CUDA family kernels (family_cuda_plan.h).
#include "family_cuda_plan.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace dilbench {
namespace cuda {

using namespace family_math;

namespace {

FamilyLaunch baseLaunch(const FamilyShape& s, int32_t kind) {
  FamilyLaunch l;
  l.kind = kind;
  l.batch = s.batch;
  l.heads = s.heads;
  l.kvHeads = s.kvHeads;
  l.seqLen = s.seqLen;
  l.headDim = s.headDim;
  l.causal = s.causal ? 1 : 0;
  l.scaleLog2 = s.scale * 1.4426950408889634f;  // as launchFlash folds it
  l.tileRows = tileRows(s.headDim);
  l.headBegin = 0;
  l.headCount = s.heads;
  return l;
}

void setPair(FamilyLaunch& l, const FamilyPair& p) {
  l.w = p.w;
  l.r = p.r;
}

}  // namespace

std::vector<FamilyLaunch> planDilated(const FamilyShape& s, const std::vector<FamilyPair>& pairs) {
  std::vector<FamilyLaunch> out;
  for (const FamilyPair& p : pairs) {
    FamilyLaunch l = baseLaunch(s, kDilated);
    setPair(l, p);
    l.tilesPerSegment = ceilDiv(ceilDiv(p.w, p.r), l.tileRows);
    l.tasks = ceilDiv(s.seqLen, p.w) * l.tilesPerSegment;
    out.push_back(l);
  }
  return out;
}

std::vector<FamilyLaunch> planDilatedGrouped(const FamilyShape& s, const std::vector<FamilyPair>& pairs) {
  std::vector<FamilyLaunch> out = planDilated(s, pairs);
  const int64_t groups = static_cast<int64_t>(pairs.size());
  std::vector<FamilyLaunch> kept;
  for (int64_t g = 0; g < groups; ++g) {
    FamilyLaunch l = out[size_t(g)];
    groupHeads(s.heads, groups, g, l.headBegin, l.headCount);
    if (l.headCount == 0) continue;  // more pairs than heads: this group has no head
    l.fixedOffset = g % l.r;
    kept.push_back(l);
  }
  return kept;
}

std::vector<FamilyLaunch> planRing(const FamilyShape& s, int64_t P) {
  std::vector<FamilyLaunch> out;
  const int nChunks = s.causal ? 2 : 1;
  for (int64_t step = 0; step < P; ++step) {
    for (int64_t rank = 0; rank < P; ++rank) {
      const int64_t src = ((rank - step) % P + P) % P;
      FamilyLaunch l = baseLaunch(s, kRing);
      l.step = step;
      l.rank = rank;
      l.qChunks = l.kChunks = nChunks;
      for (int c = 0; c < nChunks; ++c) {
        ringChunk(s.seqLen, P, s.causal, rank, c, l.qBegin[c], l.qEnd[c]);
        ringChunk(s.seqLen, P, s.causal, src, c, l.kBegin[c], l.kEnd[c]);
      }
      l.qTiles0 = ceilDiv(l.qEnd[0] - l.qBegin[0], l.tileRows);
      l.tasks = l.qTiles0 + (nChunks == 2 ? ceilDiv(l.qEnd[1] - l.qBegin[1], l.tileRows) : 0);
      out.push_back(l);
    }
  }
  return out;
}

std::vector<FamilyLaunch> planRingDilated(const FamilyShape& s, const std::vector<FamilyPair>& pairs,
                                          int64_t P) {
  std::vector<FamilyLaunch> out;
  for (int64_t step = 0; step < P; ++step) {
    for (int64_t rank = 0; rank < P; ++rank) {
      const int64_t src = ((rank - step) % P + P) % P;
      for (const FamilyPair& p : pairs) {
        FamilyLaunch l = baseLaunch(s, kRingDilated);
        setPair(l, p);
        l.step = step;
        l.rank = rank;
        l.qChunks = l.kChunks = 1;
        ringChunk(s.seqLen, P, false, rank, 0, l.qBegin[0], l.qEnd[0]);
        ringChunk(s.seqLen, P, false, src, 0, l.kBegin[0], l.kEnd[0]);
        const int64_t qSize = l.qEnd[0] - l.qBegin[0], kSize = l.kEnd[0] - l.kBegin[0];
        // A segment's rows inside the query chunk: at most ceil(w / r) and ceil(qSize / r).
        l.tilesPerSegment =
            ceilDiv(std::max<int64_t>(1, std::min(ceilDiv(p.w, p.r), ceilDiv(qSize, p.r))), l.tileRows);
        l.tasks = 0;
        if (qSize > 0 && kSize > 0) {
          // Segments overlapping both chunks.
          const int64_t first = std::max(l.qBegin[0], l.kBegin[0]) / p.w;
          const int64_t last = std::min(l.qEnd[0] - 1, l.kEnd[0] - 1) / p.w;
          l.segFirst = first;
          if (last >= first) l.tasks = (last - first + 1) * l.tilesPerSegment;
        }
        out.push_back(l);
      }
    }
  }
  return out;
}

FamilyLaunch planBlockSparse(const FamilyShape& s, const BlockSparseParams& b) {
  FamilyLaunch l = baseLaunch(s, kBlockSparse);
  l.pattern = b.pattern;
  l.blockSize = b.blockSize;
  l.blocks = ceilDiv(s.seqLen, b.blockSize);
  l.window = b.window;
  l.stride = b.stride;
  l.density = b.density;
  l.seed = b.seed;
  l.tilesPerBlock = ceilDiv(std::min(b.blockSize, s.seqLen), l.tileRows);
  l.tasks = l.blocks * l.tilesPerBlock;
  l.mergeIntoAccumulator = 0;
  return l;
}

int64_t ringRankRows(int64_t seqLen, int64_t P, bool causal, int64_t rank) {
  int64_t rows = 0;
  for (int c = 0; c < (causal ? 2 : 1); ++c) {
    int64_t b = 0, e = 0;
    ringChunk(seqLen, P, causal, rank, c, b, e);
    rows += e - b;
  }
  return rows;
}

std::vector<uint64_t> ringDilatedSendRows(const FamilyShape& s, const std::vector<FamilyPair>& pairs,
                                          int64_t P) {
  const int64_t L = s.seqLen;
  std::vector<int64_t> chunkBegin(static_cast<size_t>(P)), chunkEnd(static_cast<size_t>(P));
  for (int64_t r = 0; r < P; ++r) ringChunk(L, P, false, r, 0, chunkBegin[size_t(r)], chunkEnd[size_t(r)]);
  auto rankOf = [&](int64_t pos) {  // the chunk holding pos (chunks are contiguous, non-empty)
    int64_t r = std::min<int64_t>(P - 1, pos * P / L);
    while (r > 0 && chunkBegin[size_t(r)] > pos) --r;
    while (r + 1 < P && chunkBegin[size_t(r + 1)] <= pos) ++r;
    return r;
  };
  std::vector<uint64_t> rows(size_t(P), 0);
  const int64_t G = s.heads / s.kvHeads;
  for (int64_t kh = 0; kh < s.kvHeads; ++kh) {
    for (const FamilyPair& p : pairs) {
      std::set<int64_t> offsets;
      for (int64_t h = kh * G; h < (kh + 1) * G; ++h) offsets.insert(h % p.r);
      const int64_t segments = ceilDiv(L, p.w);
      for (int64_t off : offsets) {
        for (int64_t sg = 0; sg < segments; ++sg) {
          const int64_t sb = sg * p.w, se = std::min(L, (sg + 1) * p.w);
          const int64_t r0 = rankOf(sb), r1 = rankOf(se - 1);
          if (r0 == r1) continue;  // local segment: nothing travels
          const Span seg = segmentRows(L, p.w, p.r, off, sg);
          for (int64_t r = r0; r <= r1; ++r) {
            int64_t lo = 0, hi = 0;
            indicesIn(seg, chunkBegin[size_t(r)], chunkEnd[size_t(r)], lo, hi);
            rows[size_t(r)] += uint64_t(hi - lo);
          }
        }
      }
    }
  }
  return rows;
}

size_t familyLseFloats(const FamilyShape& s) { return size_t(s.batch * s.heads * s.seqLen); }

size_t familyAccumulatorFloats(const FamilyShape& s, bool outputIsF32) {
  return outputIsF32 ? 0 : size_t(s.batch * s.heads * s.seqLen * s.headDim);
}

const char* checkFamilyLaunch(const FamilyLaunch& l) {
  if (l.seqLen < 1 || l.seqLen > (int64_t(1) << 30)) return "family (cuda): seqLen must be in 1..2^30";
  if (l.batch < 1 || l.heads < 1 || l.kvHeads < 1 || l.heads % l.kvHeads != 0)
    return "family (cuda): batch, heads, kvHeads must be >= 1 with heads % kvHeads == 0";
  if (l.batch * l.heads > 65535) return "family (cuda): batch * heads must be <= 65535";
  if (!headDimSupported(l.headDim)) return "family (cuda): headDim must be 32, 64, 96 or 128";
  if (l.tileRows != tileRows(l.headDim)) return "family (cuda): tileRows does not match headDim";
  if (!(l.scaleLog2 > 0.f) || !std::isfinite(l.scaleLog2))
    return "family (cuda): scale must be finite and > 0";
  if (l.headBegin < 0 || l.headCount < 0 || l.headBegin + l.headCount > l.heads)
    return "family (cuda): head range outside [0, heads)";
  if (l.tasks < 0 || l.tasks > 0x7fffffffLL) return "family (cuda): too many tasks for one grid";
  const int64_t L = l.seqLen, BM = l.tileRows;
  auto chunkOk = [&](int64_t b, int64_t e) { return 0 <= b && b <= e && e <= L; };
  auto pairOk = [&]() {
    // r may exceed w: pairs shrink to w = seqLen after r <= w was checked on the given length.
    return l.w >= 1 && l.w <= L && l.r >= 1 && l.r <= (int64_t(1) << 30) && l.fixedOffset >= -1 &&
           l.fixedOffset < l.r && l.tilesPerSegment >= 1 && l.tilesPerSegment <= L;
  };
  switch (l.kind) {
    case kDilated:
      if (!pairOk()) return "family (cuda): dilated pair out of range";
      if (l.tilesPerSegment * BM < ceilDiv(l.w, l.r)) return "family (cuda): too few tiles per segment";
      if (l.tasks > ceilDiv(L, l.w) * l.tilesPerSegment) return "family (cuda): more tasks than segments";
      if (!l.mergeIntoAccumulator) return "family (cuda): dilated merges into the accumulator";
      return nullptr;
    case kRing:
      if (l.qChunks < 1 || l.qChunks > 2 || l.kChunks < 1 || l.kChunks > 2)
        return "family (cuda): ring chunk count";
      for (int c = 0; c < l.qChunks; ++c)
        if (!chunkOk(l.qBegin[c], l.qEnd[c])) return "family (cuda): ring query chunk outside the sequence";
      for (int c = 0; c < l.kChunks; ++c)
        if (!chunkOk(l.kBegin[c], l.kEnd[c])) return "family (cuda): ring key chunk outside the sequence";
      if (l.qTiles0 * BM < l.qEnd[0] - l.qBegin[0]) return "family (cuda): too few ring tiles";
      if (!l.mergeIntoAccumulator) return "family (cuda): ring merges into the accumulator";
      return nullptr;
    case kRingDilated:
      if (!pairOk()) return "family (cuda): ring-dilated pair out of range";
      if (!chunkOk(l.qBegin[0], l.qEnd[0]) || !chunkOk(l.kBegin[0], l.kEnd[0]))
        return "family (cuda): ring-dilated chunk outside the sequence";
      if (l.segFirst < 0 ||
          (l.tasks > 0 && l.segFirst + (l.tasks - 1) / l.tilesPerSegment >= ceilDiv(L, l.w)))
        return "family (cuda): ring-dilated segments outside the sequence";
      if (l.tilesPerSegment * BM < std::min(ceilDiv(l.w, l.r), ceilDiv(l.qEnd[0] - l.qBegin[0], l.r)))
        return "family (cuda): too few tiles per segment";
      if (!l.mergeIntoAccumulator) return "family (cuda): ring-dilated merges into the accumulator";
      return nullptr;
    case kBlockSparse:
      if (l.blockSize < 1 || l.blocks != ceilDiv(L, l.blockSize)) return "family (cuda): block size / count";
      if (l.pattern < kLocal || l.pattern > kRandom) return "family (cuda): unknown block pattern";
      if (l.window < 1 || l.stride < 1 || !(l.density > 0.0 && l.density <= 1.0))
        return "family (cuda): window, stride >= 1 and density in (0, 1]";
      if (l.tilesPerBlock < 1 || l.tilesPerBlock * BM < std::min(l.blockSize, L) ||
          l.tasks > l.blocks * l.tilesPerBlock)
        return "family (cuda): block tiles";
      return nullptr;
    default: return "family (cuda): unknown kernel kind";
  }
}

}  // namespace cuda
}  // namespace dilbench
