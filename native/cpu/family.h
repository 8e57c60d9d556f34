// The attention family of issue 3 (kv-cache, dilated, dilated-grouped, ring, ring-dilated,
// block-sparse): parameter resolution shared by the kernels and the float64 references, the
// telemetry the kernels expose beyond KernelCounts, and the internal tile engine they share.
// Definitions: docs/attention-definitions.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../core/kernel.h"
#include "../core/problem.h"
#include "attention_block.h"

namespace dilbench {

// ---- parameter resolution (throw Error(InvalidConfig) naming the field) ----------------------

// One (segment length, dilation rate) pair. `w` is already min(segmentLength, seqLen).
struct DilatedPair {
  int64_t w = 0;
  int64_t r = 1;
};
// Pairs of dilated / dilated-grouped / ring-dilated. When segmentLengths and dilationRates are
// both empty, the defaults by length of issue 3:
//   seqLen <= 8192:   w 1024,2048,4096     r 1,2,4
//   seqLen <= 65536:  w 2048,8192,32768    r 1,2,4
//   seqLen <= 524288: w 8192,65536,262144  r 1,4,16
//   larger:           w 65536,262144,524288 r 1,4,16
// Errors: segmentLengths (a length < 1), dilationRates (a rate < 1 or larger than its segment
// length, checked on the given lengths before shrinking), mismatched counts (field
// dilationRates). Pairs with w > seqLen shrink to seqLen.
std::vector<DilatedPair> resolveDilatedPairs(const AttentionProblem& p);

// kv-cache split: seqLen == promptLen + newTokens.
//   both 0                 -> newTokens = min(seqLen - 1, 32), promptLen = seqLen - newTokens
//   only newTokens given   -> promptLen = seqLen - newTokens (newTokens <= seqLen)
//   only promptLen given   -> newTokens = seqLen - promptLen (promptLen <= seqLen)
//   both given             -> must sum to seqLen
// Errors name promptLen / newTokens (negative, too large, inconsistent) and prefill (not attend
// or skip).
struct KvCacheSplit {
  int64_t promptLen = 0;
  int64_t newTokens = 0;
  bool attendPrompt = true;  // prefill "attend"; "skip": the prompt's output rows are 0
};
KvCacheSplit resolveKvCache(const AttentionProblem& p);

// Block-sparse parameter checks: blockSize, window, stride within their ParamSpec bounds (descriptor.h;
// blockSize 1..65536, window >= 1, stride >= 1), blockPattern known, density in (0, 1].
void validateBlockSparse(const AttentionProblem& p);
// Block mask of block-sparse before the causal mask (qb, kb block indices, d = |qb - kb|):
//   local:   d < window                       (causal: the `window` nearest preceding blocks)
//   strided: d % stride == 0                  (every stride-th key block from the diagonal)
//   dilated: d % stride == 0 && d / stride < window  (r = stride, window counted in hops)
//   random:  qb == kb || u(seed, qb, kb) < density   (u: splitmix64 hash in [0, 1))
// The same mask for every batch and head.
bool blockSparseAllowed(const AttentionProblem& p, int64_t qb, int64_t kb);
int64_t blockSparseBlocks(const AttentionProblem& p);  // ceil(seqLen / blockSize)
// Key blocks query block qb computes (block mask and, when causal, kb <= qb), ascending.
std::vector<int64_t> blockSparseKeyBlocks(const AttentionProblem& p, int64_t qb);
// Achieved sparsity without running (the same numbers run() reports in KernelTelemetry).
struct BlockSparseStats {
  int64_t blocksTotal = 0;
  int64_t blocksComputed = 0;
  double sparsity = 0;  // 1 - computed / total
  double flops = 0;     // exact, all batches and heads
};
BlockSparseStats blockSparseStats(const AttentionProblem& p);

// ring: chunk boundaries. Non-causal: P contiguous chunks, chunk c = [c*L/P, (c+1)*L/P).
// Causal (zigzag): 2P chunks c = [c*L/(2P), (c+1)*L/(2P)); rank p holds chunks p and 2P-1-p.
// Empty chunks are allowed (P <= seqLen < 2P).
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};
std::vector<RowRange> ringRankChunks(int64_t seqLen, int64_t ringSize, bool causal, int64_t rank);
void validateRingSize(const AttentionProblem& p);  // 1 <= ringSize <= seqLen

// ---- telemetry ------------------------------------------------------------------------------

// What a family kernel measured or counted during its last run(), beyond KernelCounts.
struct KernelTelemetry {
  bool valid = false;  // false until run() completed once
  // ring / ring-dilated: P simulated ranks, P steps. stepRankNs[t][p] is the measured
  // (steady_clock) compute time of rank p at step t, the rank running on all the run's threads.
  // stepRankBytesSent[t][p] is what rank p sends to rank p+1 after step t (the key/value
  // chunk it holds, forwarded for step t+1); 0 at the last step, which sends nothing.
  // ring: 2 * batch * kvHeads * chunkRows * headDim * 4 bytes. ring-dilated: only the
  // sparsified (every r-th, per head offset) rows of segments spanning more than one rank.
  int64_t ringSize = 0;
  std::vector<std::vector<double>> stepRankNs;
  std::vector<std::vector<uint64_t>> stepRankBytesSent;
  // block-sparse: blocks of the (causal-aware) block grid; sparsity = 1 - computed / total.
  // total = nb*nb non-causal, nb*(nb+1)/2 causal (blocks the causal mask removes are excluded).
  int64_t blocksTotal = 0;
  int64_t blocksComputed = 0;
  double sparsity = 0;
  // kv-cache: measured phase times and the cache bytes the decode steps streamed.
  double prefillNs = 0;
  double decodeNs = 0;
  int64_t decodeSteps = 0;
  double decodeBytes = 0;  // sum over steps of K+V cache rows read (+ the appended row written)
};

// Implemented by every family kernel next to Kernel; the session reads it with
// dynamic_cast<const TelemetrySource*>(kernel.get()) after a run.
class TelemetrySource {
 public:
  virtual ~TelemetrySource() = default;
  virtual KernelTelemetry telemetry() const = 0;
};

class PatternCache;

// ---- internal tile engine (shared by the family kernels) ----------------------------------

namespace family {

constexpr int64_t kQTile = 64;
constexpr int64_t kKvTile = 256;
// Floats rounded up to a multiple of 16 (64 bytes), so carved scratch stays cache-line aligned.
inline int64_t align16(int64_t n) { return (n + 15) / 16 * 16; }

// Per-worker scratch of attendRowsMerge.
struct TileScratch {
  float* qTile = nullptr;    // [kQTile, D]
  float* acc = nullptr;      // [kQTile, D]
  float* rowMax = nullptr;   // [kQTile]
  float* rowSum = nullptr;   // [kQTile]
  float* outTile = nullptr;  // [kQTile, D]
  float* lseTile = nullptr;  // [kQTile]
  float* block = nullptr;    // attendBlockScratchFloats(kQTile, kKvTile, D)
};
int64_t tileScratchFloats(int64_t headDim);
// A reset online-softmax state over the scratch's accumulators for `rows` query rows.
OnlineSoftmaxState startRows(const TileScratch& s, int64_t rows, int64_t headDim);
TileScratch carveTileScratch(float* base, int64_t headDim);

// Attention of nq query rows against nk key/value rows, merged (lse-weighted, logaddexp) into the
// running output: query i is row qPos[i] of qHead (rows of headDim floats, gathered per tile
// when not contiguous); key j is row j of k / v (stride ldkv) at sequence position kPos[j].
// Positions are ascending. Result row i is merged into o[qPos[i]] with running lse[qPos[i]]
// (-inf = nothing yet; o must then be 0). Causal: key j allowed iff kPos[j] <= qPos[i].
// Polls `cancel` (may be null) before every query tile and throws Error(Cancelled).
void attendRowsMerge(const float* qHead, const int64_t* qPos, int64_t nq, const float* k, const float* v,
                     int64_t ldkv, const int64_t* kPos, int64_t nk, int64_t headDim, float scale, bool causal,
                     float* o, float* lse, const TileScratch& s, const CancelToken* cancel = nullptr);

// Merge one finalized row (ob, lb) into the running (o, l).
void mergeRow(float* o, float& l, const float* ob, float lb, int64_t headDim);

// Copies rows pos[0..n) of src (headDim floats each) into dst contiguously; returns src+pos[0]*D
// without copying when the positions are consecutive.
const float* gatherRows(const float* src, const int64_t* pos, int64_t n, int64_t headDim, float* dst);

// Causal-aware count of (query, key) pairs of one dilated segment with n selected rows.
inline double pairCount(int64_t n, bool causal) {
  return causal ? double(n) * double(n + 1) / 2.0 : double(n) * double(n);
}

// Throw Error(Cancelled, "run cancelled") when the token (may be null) is cancelled.
void throwIfCancelled(const CancelToken* cancel);
void throwIfCancelled(const ExecContext& ctx);

// ctx.threadPool->parallelFor when there is one, else a serial loop (worker 0).
void parallelFor(const ExecContext& ctx, int64_t tasks,
                 const std::function<void(int64_t task, int worker)>& fn);
int workerCount(const ExecContext& ctx);  // max(1, ctx.threads)

// One dilated (pair, head offset) part of a head's work.
struct DilatedPart {
  DilatedPair pair;
  int64_t offset = 0;
};
// LongNet's parts of head h (dilated, ring-dilated, and the CUDA side's familyHeadParts): every
// pair, at head offset h mod r.
std::vector<DilatedPart> longNetParts(const std::vector<DilatedPair>& pairs, int64_t h);
// Largest number of rows one segment of these pairs selects (ceil(w / r)).
int64_t maxSegmentRows(const std::vector<DilatedPair>& pairs);
// flops (2 per multiply-add, both matmuls) of one head doing `parts` over seqLen rows.
double dilatedHeadFlops(const std::vector<DilatedPart>& parts, int64_t seqLen, int64_t headDim, bool causal);
// Whole dilated-family run: o fully written. Part i of every head (partsOf(head)[i]) runs in
// phase i; a phase's tasks are (batch, head, segment, query-tile range), which write disjoint
// rows of o and of a run-wide lse [batch*heads, seqLen], so no task waits on another; selected
// K/V rows are gathered per task (read in place when r == 1), Q tiles packed straight from the
// tensor (rows r apart), and the tiles go through the flash kernel's BlockOps. With one part per
// head nothing merges: rows are stored once, no lse, and only unselected rows are zeroed.
// Workspace: per worker one segment's K and V plus the tile scratch, and the lse.
uint64_t dilatedWorkspaceBytes(const AttentionProblem& p, int threads, const std::vector<DilatedPair>& pairs);
void runDilated(const AttentionProblem& p, const Tensors& t, ExecContext& ctx,
                const std::vector<DilatedPair>& pairs,
                const std::function<std::vector<DilatedPart>(int64_t head)>& partsOf);
// Exact counts of a dilated-family kernel: flops summed over heads of partsOf(head), and the
// compulsory traffic (read q, k, v, write o).
KernelCounts dilatedCounts(const AttentionProblem& p,
                           const std::function<std::vector<DilatedPart>(int64_t head)>& partsOf);
// Read q, k, v once and write o, in the problem's storage dtype.
inline double denseBytesMoved(const AttentionProblem& p) {
  return double(2 * p.qElements() + 2 * p.kvElements()) * double(dtypeBytes(p.dtype));
}
// Counts of the kv-cache kernels (CPU and CUDA): prefill of promptLen rows, then each step pos
// (promptLen .. seqLen - 1) attends pos + 1 cached rows, or with recompute redoes a full
// attention of pos + 1 rows. Closed forms, O(1) for any length. Bytes: q, k, v, o once plus
// every step's K and V cache rows.
KernelCounts kvCacheCounts(const AttentionProblem& p, bool recompute);

}  // namespace family
}  // namespace dilbench
