// One rank of a real ring-dilated run over MPI (issue 19; attention-definitions.md,
// "ring-dilated"; the simulated counterpart is native/cpu/ring_dilated.cpp). Plain contiguous
// chunks. Step 0: the rank attends every segment part inside its chunk (local segments whole,
// spanning segments' own part) from its own keys and values. Steps 1..P-1: it attends the
// sparsified keys and values of the spanning segments that arrived from rank - step
// (ring_dilated_layout.h says what travels). Every block is lse-merged into the running output
// (family::attendRowsMerge), the same logaddexp merge that mixes the pairs, so the result
// equals `dilated`. Transfers are posted as in the dense ring (non-blocking, double-buffered,
// MPI_Testall polls between row pieces).
#pragma once
#include <cstdint>
#include <vector>

#include "ring_common.h"
#include "ring_dilated_layout.h"

namespace dilbench {
namespace distributed {

class DilatedRingRank {
 public:
  // q, k, v: the whole seeded inputs ([B, H|KVH, L, D]); the rank keeps its chunk of them.
  DilatedRingRank(const Args& a, int rank, int ranks, const std::vector<RowRange>& chunks, const float* q,
                  const float* k, const float* v);
  // Floats of the largest message any rank forwards (the ping-pong's size).
  int64_t maxMessageFloats() const;
  // One timed ring pass; faultArmed: the failure tests' injected fault may fire.
  StepRecord pass(bool faultArmed);
  // This rank's output rows, [B*H, chunk rows, D].
  const std::vector<float>& output() const { return o_; }

 private:
  template <class Poll>
  void attendOwn(const Poll& poll);
  template <class Poll>
  void attendVisiting(int64_t src, const float* msg, const Poll& poll);

  const Args a_;
  int rank_, P_;
  std::vector<RowRange> chunks_;
  std::vector<DilatedPair> pairs_;
  std::vector<DilatedMessage> messages_;  // what each rank forwards
  RowRange chunk_;
  int64_t rows_ = 0;
  std::vector<float> q_, k_, v_;  // this rank's rows, [B*H|B*KVH, rows, D]
  std::vector<float> o_, lse_;
  std::vector<float> own_;     // this rank's message (K part, V part)
  std::vector<float> buf_[2];  // the message held and the one arriving
  std::vector<int64_t> qPos_, kPos_;
  std::vector<float> kGather_, vGather_, scratch_;
};

}  // namespace distributed
}  // namespace dilbench
