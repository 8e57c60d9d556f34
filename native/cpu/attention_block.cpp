// Public attention-block primitive (attention_block.h) on top of the per-ISA BlockOps tables.
#include "attention_block.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention_block_ops.h"

namespace dilbench {
namespace cpu {

const BlockOps& blockOpsFor(SimdLevel level) {
  switch (level) {
#if defined(__aarch64__)
    case SimdLevel::NEON: return blockOpsNeon();
#else
    case SimdLevel::AVX512: return blockOpsAvx512();
    case SimdLevel::AVX2: return blockOpsAvx2();
#endif
    default: return blockOpsGeneric();
  }
}

}  // namespace cpu

namespace {
constexpr int64_t kQChunk = 64;    // query rows per internal pass (multiple of kMaxLanes)
constexpr int64_t kKvChunk = 256;  // key rows per internal pass
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}  // namespace

void resetOnlineSoftmax(OnlineSoftmaxState& st) {
  std::fill(st.acc, st.acc + st.rows * st.headDim, 0.f);
  std::fill(st.rowMax, st.rowMax + st.rows, kNegInf);
  std::fill(st.rowSum, st.rowSum + st.rows, 0.f);
}

int64_t attendBlockScratchFloats(int64_t qRows, int64_t kvRows, int64_t headDim) {
  const int64_t qc = std::min(cpu::padLanes(std::max<int64_t>(qRows, 1)), kQChunk);
  const int64_t kc = std::min(std::max<int64_t>(kvRows, 1), kKvChunk);
  return headDim * qc + kc * qc + 3 * qc;
}

void attendBlock(const float* q, int64_t ldq, int64_t qRows, const float* k, const float* v, int64_t ldkv,
                 int64_t kvRows, int64_t headDim, float scale, const BlockMask& mask, OnlineSoftmaxState& st,
                 float* scratch) {
  if (qRows <= 0 || kvRows <= 0) return;
  const cpu::BlockOps& ops = cpu::blockOps();
  const int64_t D = headDim;
  const bool useMask = mask.causal && mask.qPos && mask.kPos;
  const int64_t qc = std::min(cpu::padLanes(qRows), kQChunk);
  const int64_t kc = std::min(kvRows, kKvChunk);
  float* qt = scratch;
  float* s = qt + D * qc;
  float* m2 = s + kc * qc;
  float* l = m2 + qc;
  float* alpha = l + qc;
  const float mul = scale * cpu::kLog2e;

  for (int64_t q0 = 0; q0 < qRows; q0 += kQChunk) {
    const int64_t qr = std::min(kQChunk, qRows - q0);
    const int64_t qPad = cpu::padLanes(qr);
    int64_t qMin = 0, qMax = 0;
    if (useMask) {
      qMin = qMax = mask.qPos[q0];
      for (int64_t i = 1; i < qr; ++i) {
        qMin = std::min(qMin, mask.qPos[q0 + i]);
        qMax = std::max(qMax, mask.qPos[q0 + i]);
      }
    }
    bool packed = false;
    for (int64_t i = 0; i < qPad; ++i) {
      m2[i] = i < qr ? st.rowMax[q0 + i] * cpu::kLog2e : kNegInf;
      l[i] = i < qr ? st.rowSum[q0 + i] : 0.f;
    }
    bool touched = false;
    for (int64_t k0 = 0; k0 < kvRows; k0 += kKvChunk) {
      const int64_t kr = std::min(kKvChunk, kvRows - k0);
      bool partial = false;
      if (useMask) {
        int64_t kMin = mask.kPos[k0], kMax = mask.kPos[k0];
        for (int64_t j = 1; j < kr; ++j) {
          kMin = std::min(kMin, mask.kPos[k0 + j]);
          kMax = std::max(kMax, mask.kPos[k0 + j]);
        }
        if (kMin > qMax) continue;  // every pair masked
        partial = kMax > qMin;
      }
      if (!packed) {
        ops.packQT(q + q0 * ldq, ldq, qr, D, mul, qt, qPad);
        packed = true;
      }
      ops.scoresT(qt, qPad, D, k + k0 * ldkv, ldkv, kr, s, qPad);
      if (partial) {
        for (int64_t j = 0; j < kr; ++j) {
          const int64_t kp = mask.kPos[k0 + j];
          float* sj = s + j * qPad;
          for (int64_t i = 0; i < qr; ++i)
            if (kp > mask.qPos[q0 + i]) sj[i] = kNegInf;
        }
      }
      ops.softmaxStep(s, qPad, kr, qPad, m2, l, alpha);
      ops.pv(s, qPad, qr, v + k0 * ldkv, ldkv, kr, D, st.acc + q0 * st.headDim, st.headDim, alpha);
      touched = true;
    }
    if (!touched) continue;
    for (int64_t i = 0; i < qr; ++i) {
      st.rowMax[q0 + i] = m2[i] == kNegInf ? kNegInf : m2[i] * cpu::kLn2;
      st.rowSum[q0 + i] = l[i];
    }
  }
}

void finalizeOnlineSoftmax(const OnlineSoftmaxState& st, float* out, int64_t ldo, float* lse) {
  for (int64_t i = 0; i < st.rows; ++i) {
    const float sum = st.rowSum[i];
    const float* a = st.acc + i * st.headDim;
    float* o = out + i * ldo;
    if (sum > 0.f) {
      const float inv = 1.f / sum;
      for (int64_t d = 0; d < st.headDim; ++d) o[d] = a[d] * inv;
      if (lse) lse[i] = st.rowMax[i] + std::log(sum);
    } else {
      for (int64_t d = 0; d < st.headDim; ++d) o[d] = 0.f;
      if (lse) lse[i] = kNegInf;
    }
  }
}

}  // namespace dilbench
