// The CPU attention primitive every dense-ish kernel is built from (flash, ring, dilated,
// block-sparse, kv-cache): one block of query rows against one block of key/value rows,
// accumulated with an online softmax. Rows are contiguous with a row stride, so callers gather
// dilated/strided rows into tiles first and reuse the same SIMD microkernels.
// Implemented per SIMD level (attention_block_{generic,avx2,avx512}.cpp) and dispatched at run
// time by activeSimdLevel().
#pragma once
#include <cstdint>

namespace dilbench {

// Running state of `rows` query rows: acc = unnormalised sum of p_j * v_j, rowMax, rowSum.
struct OnlineSoftmaxState {
  float* acc = nullptr;     // [rows, headDim]
  float* rowMax = nullptr;  // [rows], -inf initially
  float* rowSum = nullptr;  // [rows], 0 initially
  int64_t rows = 0;
  int64_t headDim = 0;
};

// Sets acc = 0, rowMax = -inf, rowSum = 0.
void resetOnlineSoftmax(OnlineSoftmaxState& st);

struct BlockMask {
  // Positions of the rows in the original sequence; null means "no causal mask needed".
  const int64_t* qPos = nullptr;
  const int64_t* kPos = nullptr;
  bool causal = false;  // allowed iff kPos[j] <= qPos[i]
};

// Scratch floats attendBlock needs for (qRows, kvRows, headDim).
int64_t attendBlockScratchFloats(int64_t qRows, int64_t kvRows, int64_t headDim);

// st += attention of q[0..qRows) against k/v[0..kvRows), scores scaled by `scale`.
// q row i at q + i*ldq; k, v row j at k + j*ldkv, v + j*ldkv. Masked scores contribute nothing.
void attendBlock(const float* q, int64_t ldq, int64_t qRows, const float* k, const float* v, int64_t ldkv,
                 int64_t kvRows, int64_t headDim, float scale, const BlockMask& mask, OnlineSoftmaxState& st,
                 float* scratch);

// out row i = acc_i / rowSum_i (all-zero row when no key was allowed); lse_i = rowMax + log(rowSum)
// (-inf when none). lse may be null.
void finalizeOnlineSoftmax(const OnlineSoftmaxState& st, float* out, int64_t ldo, float* lse);

}  // namespace dilbench
