// Internal building blocks of the CPU attention kernels, one table per SIMD level
// (attention_block_{generic,avx2,avx512,neon}.cpp). Not a public contract: attention_block.h is.
//
// Layout conventions. A block of query rows is packed transposed and pre-scaled:
//   qt[d * qPad + i] = q[i][d] * mul   (i < qRows; zero for qRows <= i < qPad)
// with mul = scale * log2(e), so scores come out in log2 units and exp2 is all that is needed.
// Scores are kept transposed too: s[j * ldS + i] = score of query i against key j, so one SIMD
// vector holds consecutive query rows and the per-row max/sum of the softmax are vertical ops.
#pragma once
#include <cstdint>

#include "../core/cpu_features.h"

namespace dilbench {
namespace cpu {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int64_t kMaxLanes = 16;  // qPad is always a multiple of this (any level)

inline int64_t padLanes(int64_t rows) { return (rows + kMaxLanes - 1) / kMaxLanes * kMaxLanes; }

struct BlockOps {
  SimdLevel level;
  // qt[d * qPad + i] = q[i * ldq + d] * mul, zero-padded to qPad (multiple of kMaxLanes).
  void (*packQT)(const float* q, int64_t ldq, int64_t qRows, int64_t headDim, float mul, float* qt,
                 int64_t qPad);
  // s[j * ldS + i] = sum_d qt[d * qPad + i] * k[j * ldk + d], for i < qPad, j < kvRows.
  void (*scoresT)(const float* qt, int64_t qPad, int64_t headDim, const float* k, int64_t ldk, int64_t kvRows,
                  float* s, int64_t ldS);
  // scoresT, and tileMax[i] = max(tileMax[i], max_j s[j * ldS + i]) for i < qPad, taken from the
  // registers that hold the scores (set tileMax to -inf first). For tiles with no masked scores:
  // masking after it would leave a max that is too large.
  void (*scoresTMax)(const float* qt, int64_t qPad, int64_t headDim, const float* k, int64_t ldk,
                     int64_t kvRows, float* s, int64_t ldS, float* tileMax);
  // Online-softmax step over already-masked log2 scores s (masked = -inf), for lanes < qPad:
  //   mNew = max(m2, max_j s), mu = max(mNew, -FLT_MAX), alpha = exp2(m2 - mu),
  //   s_j := exp2(s_j - mu), l = l * alpha + sum_j s_j, m2 := mNew.
  // m2 (log2 units), l and alpha are arrays of qPad floats.
  void (*softmaxStep)(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, float* m2, float* l, float* alpha);
  // softmaxStep with max_j s_j already known (tileMax from scoresTMax): the same results, one
  // pass over s fewer. tileMax may be alpha itself (each lane group is read before it is written).
  void (*softmaxStepMax)(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, float* m2, float* l,
                         float* alpha, const float* tileMax);
  // acc[i * ldacc + d] = base + sum_j p[j * ldP + i] * v[j * ldv + d], for i < qRows, d < headDim,
  // where base = alpha[i] * acc[i][d], or 0 when alpha is null (acc is then overwritten).
  void (*pv)(const float* p, int64_t ldP, int64_t qRows, const float* v, int64_t ldv, int64_t kvRows,
             int64_t headDim, float* acc, int64_t ldacc, const float* alpha);
  // s[j * ldS + i] *= scale[i] for i < qPad, j < kvRows.
  void (*scaleColumns)(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, const float* scale);
};

const BlockOps& blockOpsGeneric();
const BlockOps& blockOpsAvx2();
const BlockOps& blockOpsAvx512();
const BlockOps& blockOpsNeon();  // aarch64 builds only (attention_block_neon.cpp)
// Table for a level / the active level (activeSimdLevel()).
const BlockOps& blockOpsFor(SimdLevel level);
inline const BlockOps& blockOps() { return blockOpsFor(activeSimdLevel()); }

}  // namespace cpu
}  // namespace dilbench
