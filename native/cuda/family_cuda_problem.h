// From an AttentionProblem to the launch plans of the CUDA family kernels, and their exact flops:
// the one mapping used by the addon's kernels (family_kernels_cuda.cpp) and by the CPU harness
// (tools/family_cuda_check.cpp). Parameters are resolved by the CPU kernels' own functions
// (native/cpu/family.h), so both devices run the same pairs, ring chunks and block masks.
#pragma once
#include <string>
#include <vector>

#include "core/problem.h"
#include "cpu/family.h"
#include "family_cuda_plan.h"

namespace dilbench {
namespace cuda {

inline FamilyShape familyShape(const AttentionProblem& p) {
  FamilyShape s;
  s.batch = p.batch;
  s.heads = p.heads;
  s.kvHeads = p.kvHeads;
  s.seqLen = p.seqLen;
  s.headDim = p.headDim;
  s.causal = p.causal;
  s.scale = static_cast<float>(p.resolvedScale());
  return s;
}

inline std::vector<FamilyPair> familyPairs(const AttentionProblem& p) {
  std::vector<FamilyPair> out;
  for (const DilatedPair& d : resolveDilatedPairs(p)) out.push_back({d.w, d.r});
  return out;
}

inline BlockSparseParams familyBlockSparse(const AttentionProblem& p) {
  BlockSparseParams b;
  const std::string& bp = p.blockPattern;  // validateBlockSparse() rejects anything else
  b.pattern = bp == "strided"   ? family_math::kStrided
              : bp == "dilated" ? family_math::kDilatedBlocks
              : bp == "random"  ? family_math::kRandom
                                : family_math::kLocal;
  b.blockSize = p.blockSize;
  b.window = p.window;
  b.stride = p.stride;
  b.density = p.density;
  b.seed = p.seed;
  return b;
}

// The launches of p.implementation, in execution order (validated parameters assumed).
inline std::vector<FamilyLaunch> familyLaunches(const AttentionProblem& p) {
  const FamilyShape s = familyShape(p);
  const std::string& n = p.implementation;
  if (n == "dilated") return planDilated(s, familyPairs(p));
  if (n == "dilated-grouped") return planDilatedGrouped(s, familyPairs(p));
  if (n == "ring") return planRing(s, p.ringSize);
  if (n == "ring-dilated") return planRingDilated(s, familyPairs(p), p.ringSize);
  return {planBlockSparse(s, familyBlockSparse(p))};
}

// Parts (pair, head offset) of head h: LongNet (dilated, ring-dilated) or grouped.
inline std::vector<family::DilatedPart> familyHeadParts(const std::vector<DilatedPair>& pairs, int64_t heads,
                                                        int64_t h, bool grouped) {
  if (!grouped) return family::longNetParts(pairs, h);
  std::vector<family::DilatedPart> parts;
  const int64_t k = static_cast<int64_t>(pairs.size());
  for (int64_t g = 0; g < k; ++g) {
    int64_t begin = 0, count = 0;
    family_math::groupHeads(heads, k, g, begin, count);
    if (h >= begin && h < begin + count) parts.push_back({pairs[size_t(g)], g % pairs[size_t(g)].r});
  }
  return parts;
}

// Exact flops (2 per multiply-add, both matmuls, causal-aware): the CPU kernels' numbers.
inline double familyFlops(const AttentionProblem& p) {
  const std::string& n = p.implementation;
  if (n == "ring")
    return 4.0 * double(p.headDim) * double(p.batch * p.heads) * family::pairCount(p.seqLen, p.causal);
  if (n == "block-sparse") return blockSparseStats(p).flops;
  const auto pairs = resolveDilatedPairs(p);
  const bool grouped = n == "dilated-grouped";
  return family::dilatedCounts(p, [&](int64_t h) { return familyHeadParts(pairs, p.heads, h, grouped); })
      .flops;
}

}  // namespace cuda
}  // namespace dilbench
