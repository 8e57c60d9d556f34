// Host-side planning of the CUDA family kernels: the sequence of launches (FamilyLaunch, see
// family_cuda_math.cuh) each kernel runs, in execution order, and the numbers the kernels report
// beside their output (ring bytes). Plain C++ with no dependency outside native/cuda, so the
// addon's kernels (family_kernels_cuda.cpp), the standalone cuda_bench and the CPU harness
// (tools/family_cuda_check.cpp) all run the same plans.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "family_cuda_math.cuh"

namespace dilbench {
namespace cuda {

struct FamilyShape {
  int64_t batch = 1, heads = 1, kvHeads = 1, seqLen = 1, headDim = 64;
  bool causal = false;
  float scale = 0.f;  // resolved (> 0)
};
// One dilated (segment length, dilation rate) pair; w already min(w, seqLen), r >= 1 (r can
// exceed the shrunk w; offsets >= w then select nothing).
struct FamilyPair {
  int64_t w = 1, r = 1;
};
struct BlockSparseParams {
  int32_t pattern = family_math::kLocal;
  int64_t blockSize = 64, window = 4, stride = 4;
  double density = 0.1;
  uint64_t seed = 42;
};

using family_math::FamilyLaunch;

// dilated (LongNet): one launch per pair over every head (offset h mod r), merged in pair order.
std::vector<FamilyLaunch> planDilated(const FamilyShape& s, const std::vector<FamilyPair>& pairs);
// dilated-grouped: one launch per non-empty head group g (pair g, offset g mod r_g).
std::vector<FamilyLaunch> planDilatedGrouped(const FamilyShape& s, const std::vector<FamilyPair>& pairs);
// ring: P * P launches in (step, rank) order; launch (t, p) attends rank p's query chunk(s) to
// the key/value chunk(s) of rank (p - t) mod P and merges into the running output.
std::vector<FamilyLaunch> planRing(const FamilyShape& s, int64_t ringSize);
// ring-dilated: P * P * pairs launches in (step, rank, pair) order (contiguous chunks); a
// launch may have no tasks (chunks sharing no segment) and is then skipped by the launcher.
std::vector<FamilyLaunch> planRingDilated(const FamilyShape& s, const std::vector<FamilyPair>& pairs,
                                          int64_t ringSize);
// block-sparse: one launch, rows stored directly (no accumulator).
FamilyLaunch planBlockSparse(const FamilyShape& s, const BlockSparseParams& b);

// ring: key/value rows rank `rank` holds (its chunks), which it forwards after each step.
int64_t ringRankRows(int64_t seqLen, int64_t ringSize, bool causal, int64_t rank);
// ring-dilated: rows each source rank forwards per step, summed over kv heads (one batch): for
// every kv head and pair, the distinct offsets of its query heads, the selected rows of the
// segments spanning more than one rank. Same numbers as RingDilatedCpu's telemetry.
std::vector<uint64_t> ringDilatedSendRows(const FamilyShape& s, const std::vector<FamilyPair>& pairs,
                                          int64_t ringSize);

// Workspace of a merged run (dilated, ring, ring-dilated): lse2 floats for every
// (batch, head, row), plus an fp32 accumulator [batch, heads, seqLen, headDim] unless the output
// is fp32 itself (then the output is the accumulator).
size_t familyLseFloats(const FamilyShape& s);
size_t familyAccumulatorFloats(const FamilyShape& s, bool outputIsF32);

// nullptr when the launch is consistent (sizes, head range, chunks inside the sequence, grid
// within CUDA's limits, enough tiles to cover every row), else a static message saying why not.
const char* checkFamilyLaunch(const FamilyLaunch& l);

}  // namespace cuda
}  // namespace dilbench
