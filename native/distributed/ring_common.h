// Shared by the ring rank executables (MPI on CPUs: ring_rank.cpp; NCCL on GPUs:
// nccl/ring_rank_nccl.cpp): their flags, the records they gather, the output check on rank 0
// and the JSON rank 0 writes (format dilbench-ring-rank/1, read by src/distributed/analysis.ts).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/family.h"
#include "ring_layout.h"

namespace dilbench {
namespace distributed {

using Clock = std::chrono::steady_clock;

struct Args {
  // ring (dense, same output as flash) | ring-dilated (same output as dilated)
  std::string implementation = "ring";
  int64_t batch = 1, heads = 8, kvHeads = 0, seqLen = 4096, headDim = 64;
  // ring-dilated: the pairs as given (empty: the defaults by length of resolveDilatedPairs)
  std::vector<int64_t> segmentLengths, dilationRates;
  bool causal = false;
  std::vector<Layout> layouts;
  uint64_t seed = 42;
  int iterations = 3, warmup = 1;
  // auto | reference | flash (ring) | dilated (ring-dilated) | none; auto: the float64 reference
  // up to referenceFlopsLimit, else the single-process kernel of the same definition
  std::string check = "auto";
  double referenceFlopsLimit = 2e9;
  int pingpongReps = 5;
  bool poll = true;
  std::string output;
  std::string dumpOutput;  // raw float32 gathered output (tests compare it independently)
  int faultRank = -1;
  std::string fault;  // die | hang
  int faultStep = 0;
  std::string runId;
  // GPU ranks only: nccl | cuda-aware-mpi (empty: the executable's default)
  std::string gpuTransport;
};

// Throws Error(InvalidConfig) naming the flag.
Args parseArgs(int argc, char** argv);
// The problem the ring computes, as the single-process kernels take it (implementation: `ring`
// -> flash, `ring-dilated` -> dilated).
AttentionProblem singleProcessProblem(const Args& a);
// ring-dilated: the resolved pairs (w shrunk to seqLen); throws Error(InvalidConfig) naming
// segmentLengths / dilationRates.
std::vector<DilatedPair> dilatedPairs(const Args& a);
// Multiply-add flops (x2) of one pass, as the single-process kernel counts them.
double problemFlops(const Args& a);
[[noreturn]] void usageError(const std::string& msg);
double nsSince(Clock::time_point t0);
// A rank that must die or hang (the failure tests): die exits without MPI_Finalize, as a crash
// would; hang never returns and never answers MPI.
void maybeFault(const Args& a, int rank, int step);
// Copies rows of `src` ([BH, L, D]) in `chunks` into dst ([BH, rows, D]).
void gatherChunks(const float* src, int64_t BH, int64_t L, int64_t D, const std::vector<RowRange>& chunks,
                  float* dst);
// The inverse for every rank: flat holds rank r's rows ([BH, rows_r, D]) at displs[r]; returns [BH, L, D].
std::vector<float> placeGathered(const float* flat, const std::vector<int>& displs, int64_t BH, int64_t L,
                                 int64_t D, const std::vector<std::vector<RowRange>>& chunksOf);

struct StepRecord {
  std::vector<double> computeNs, waitNs;  // [step]; compute excludes the progress polls
  std::vector<double> pollNs;             // [step] time inside MPI_Testall during the compute
  std::vector<double> bytesSent;          // [step]
  double wallNs = 0;
};
struct PingPong {
  std::vector<double> oneWayNs;  // [pair p: p <-> p+1], median of reps
  double bytes = 0;
};
struct Check {
  std::string against = "none";
  std::string reason;
  double maxAbs = 0, relL2 = 0;
  bool finite = true;
};

// The gathered output against the float64 reference or the single-process CPU kernel of the same
// definition (flash for ring, dilated for ring-dilated).
Check checkOutput(const Args& a, const std::vector<float>& full, const std::vector<float>& q,
                  const std::vector<float>& k, const std::vector<float>& v);

std::string jsonArray(const std::vector<double>& xs);
std::string jsonString(const std::string& x);
// Doubles per iteration and rank in the gathered records: compute, wait, bytes, poll [P each], wall.
inline int recordDoubles(int P) { return 4 * P + 1; }
void appendRecord(const StepRecord& r, std::vector<double>& out);
// One layout's JSON object; `all` holds every rank's records (rank r at r * perRank).
std::string layoutJson(Layout layout, const std::vector<std::vector<RowRange>>& chunksOf, const PingPong& pp,
                       const std::vector<double>& all, size_t perRank, int iterations, int P,
                       const Check& chk);
// Rank 0's file (written atomically): the run's shape, `transport`, and the layouts' JSON array.
void writeRunJson(const Args& a, int P, const std::string& transport, const std::string& layoutsJson);
// main() of a rank executable: MPI_Init, body, error report (exit 2 bad arguments, else 1), MPI_Abort
// on error so no rank is left waiting, MPI_Finalize.
int rankMain(int argc, char** argv, int (*body)(int, char**));

}  // namespace distributed
}  // namespace dilbench
