// SIMD-width-generic implementation of the BlockOps table (attention_block_ops.h). Included by
// attention_block_{generic,avx2,avx512}.cpp after each defines, in an anonymous namespace, a
// vector-traits struct VT:
//   R, W (lanes), load/store (unaligned), set1, zero, fma(a,b,c)=a*b+c, mul, sub, max,
//   exp2 (for x <= ~0; x <= -127 gives 0, -inf gives 0), loadN/storeN (first n lanes),
//   SQ (max query vectors per score block), krFor(nqv) (key rows per score block),
//   PVN (max head-dim vectors per P.V block), rbFor(nv) (query rows per P.V block).
// Everything here has internal linkage, so the per-ISA copies never clash.
#pragma once
#include <cfloat>
#include <cstdint>

#include "attention_block_ops.h"

#define DB_UNROLL _Pragma("GCC unroll 32")
// The headDim / key loops of the score and P.V microkernels: 4 steps per trip cut the counter
// uops and loop-exit mispredictions of a 64-step loop (+3% on the flash loop, AVX2 and AVX-512).
#define DB_UNROLL_INNER _Pragma("GCC unroll 4")

namespace {

template <class VT>
struct BlockImpl {
  using R = typename VT::R;
  static constexpr int W = VT::W;

  static void packQT(const float* q, int64_t ldq, int64_t qRows, int64_t D, float mul, float* qt,
                     int64_t qPad) {
    for (int64_t i = 0; i < qRows; ++i) {
      const float* qi = q + i * ldq;
      for (int64_t d = 0; d < D; ++d) qt[d * qPad + i] = qi[d] * mul;
    }
    for (int64_t d = 0; d < D; ++d)
      for (int64_t i = qRows; i < qPad; ++i) qt[d * qPad + i] = 0.f;
  }

  // ---- scores: s[j][i] = sum_d qt[d][i] * k[j][d] --------------------------------------------
  // With MAX, also rowMax[n * W + lane] = max(rowMax[...], the block's KR scores of that query
  // lane): the max comes from registers, so softmaxStepMax needs no pass over s to find it.
  template <int NQV, int KR, bool MAX = false>
  static inline void sBlock(const float* __restrict qt, int64_t qPad, int64_t D, const float* __restrict k,
                            int64_t ldk, float* __restrict s, int64_t ldS,
                            float* __restrict rowMax = nullptr) {
    R acc[KR][NQV];
    DB_UNROLL for (int r = 0; r < KR; ++r) DB_UNROLL for (int n = 0; n < NQV; ++n) acc[r][n] = VT::zero();
    DB_UNROLL_INNER for (int64_t d = 0; d < D; ++d) {
      R qv[NQV];
      DB_UNROLL for (int n = 0; n < NQV; ++n) qv[n] = VT::load(qt + d * qPad + n * W);
      DB_UNROLL for (int r = 0; r < KR; ++r) {
        const R b = VT::set1(k[r * ldk + d]);
        DB_UNROLL for (int n = 0; n < NQV; ++n) acc[r][n] = VT::fma(b, qv[n], acc[r][n]);
      }
    }
    DB_UNROLL for (int r = 0; r < KR; ++r) DB_UNROLL for (int n = 0; n < NQV; ++n)
        VT::store(s + r * ldS + n * W, acc[r][n]);
    if (MAX) {
      DB_UNROLL for (int n = 0; n < NQV; ++n) {
        R m = VT::load(rowMax + n * W);
        DB_UNROLL for (int r = 0; r < KR; ++r) m = VT::max(m, acc[r][n]);
        VT::store(rowMax + n * W, m);
      }
    }
  }

  template <int NQV, bool MAX>
  static void sTail(int rows, const float* qt, int64_t qPad, int64_t D, const float* k, int64_t ldk, float* s,
                    int64_t ldS, float* rowMax) {
#define DB_S_CASE(R_) \
  case R_: sBlock<NQV, R_, MAX>(qt, qPad, D, k, ldk, s, ldS, rowMax); break;
    switch (rows) {
      DB_S_CASE(1)
      DB_S_CASE(2)
      DB_S_CASE(3)
      DB_S_CASE(4)
      DB_S_CASE(5)
      DB_S_CASE(6)
      DB_S_CASE(7)
      DB_S_CASE(8)
      DB_S_CASE(9)
      DB_S_CASE(10)
      DB_S_CASE(11)
      default: break;
    }
#undef DB_S_CASE
  }

  template <int NQV, bool MAX>
  static void sCols(const float* qt, int64_t qPad, int64_t D, const float* k, int64_t ldk, int64_t kvRows,
                    float* s, int64_t ldS, float* rowMax) {
    constexpr int KR = VT::krFor(NQV);
    int64_t j = 0;
    for (; j + KR <= kvRows; j += KR)
      sBlock<NQV, KR, MAX>(qt, qPad, D, k + j * ldk, ldk, s + j * ldS, ldS, rowMax);
    if (j < kvRows)
      sTail<NQV, MAX>(static_cast<int>(kvRows - j), qt, qPad, D, k + j * ldk, ldk, s + j * ldS, ldS, rowMax);
  }

  template <bool MAX>
  static void scoresTImpl(const float* qt, int64_t qPad, int64_t D, const float* k, int64_t ldk,
                          int64_t kvRows, float* s, int64_t ldS, float* rowMax) {
    int64_t i = 0;
    while (i < qPad) {
      const int64_t vecs = (qPad - i) / W;
      float* mx = MAX ? rowMax + i : nullptr;
      if (vecs >= VT::SQ) {
        sCols<VT::SQ, MAX>(qt + i, qPad, D, k, ldk, kvRows, s + i, ldS, mx);
        i += VT::SQ * W;
      } else if (VT::SQ > 2 && vecs >= 2) {
        sCols<(VT::SQ > 2 ? 2 : 1), MAX>(qt + i, qPad, D, k, ldk, kvRows, s + i, ldS, mx);
        i += (VT::SQ > 2 ? 2 : 1) * W;
      } else {
        sCols<1, MAX>(qt + i, qPad, D, k, ldk, kvRows, s + i, ldS, mx);
        i += W;
      }
    }
  }

  static void scoresT(const float* qt, int64_t qPad, int64_t D, const float* k, int64_t ldk, int64_t kvRows,
                      float* s, int64_t ldS) {
    scoresTImpl<false>(qt, qPad, D, k, ldk, kvRows, s, ldS, nullptr);
  }

  static void scoresTMax(const float* qt, int64_t qPad, int64_t D, const float* k, int64_t ldk,
                         int64_t kvRows, float* s, int64_t ldS, float* rowMax) {
    scoresTImpl<true>(qt, qPad, D, k, ldk, kvRows, s, ldS, rowMax);
  }

  // ---- online softmax step ---------------------------------------------------------------------
  // KNOWN: tileMax[i] already holds max_j s_j of lane i (scoresTMax), so no max pass over s.
  template <bool KNOWN>
  static void softmaxStepImpl(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, float* m2, float* l,
                              float* alpha, const float* tileMax) {
    const R lowest = VT::set1(-FLT_MAX);
    for (int64_t i = 0; i < qPad; i += W) {
      const R mOld = VT::load(m2 + i);
      // Four max chains: with two, this pass waited on the max latency (~20 % of softmaxStep's
      // time on AVX2, perf, dilated-grouped at 8K).
      R mx0 = KNOWN ? VT::max(mOld, VT::load(tileMax + i)) : mOld, mx1 = mOld, mx2 = mOld, mx3 = mOld;
      int64_t j = 0;
      for (; !KNOWN && j + 4 <= kvRows; j += 4) {
        mx0 = VT::max(mx0, VT::load(s + j * ldS + i));
        mx1 = VT::max(mx1, VT::load(s + (j + 1) * ldS + i));
        mx2 = VT::max(mx2, VT::load(s + (j + 2) * ldS + i));
        mx3 = VT::max(mx3, VT::load(s + (j + 3) * ldS + i));
      }
      for (; !KNOWN && j < kvRows; ++j) mx0 = VT::max(mx0, VT::load(s + j * ldS + i));
      const R mx = VT::max(VT::max(mx0, mx1), VT::max(mx2, mx3));
      const R mu = VT::max(mx, lowest);
      const R a = VT::exp2(VT::sub(mOld, mu));
      R sum0 = VT::zero(), sum1 = VT::zero();
      j = 0;
      for (; j + 2 <= kvRows; j += 2) {
        float* s0 = s + j * ldS + i;
        float* s1 = s0 + ldS;
        const R p0 = VT::exp2(VT::sub(VT::load(s0), mu));
        const R p1 = VT::exp2(VT::sub(VT::load(s1), mu));
        VT::store(s0, p0);
        VT::store(s1, p1);
        sum0 = VT::add(sum0, p0);
        sum1 = VT::add(sum1, p1);
      }
      if (j < kvRows) {
        float* s0 = s + j * ldS + i;
        const R p0 = VT::exp2(VT::sub(VT::load(s0), mu));
        VT::store(s0, p0);
        sum0 = VT::add(sum0, p0);
      }
      VT::store(l + i, VT::fma(VT::load(l + i), a, VT::add(sum0, sum1)));
      VT::store(alpha + i, a);
      VT::store(m2 + i, mx);
    }
  }

  static void softmaxStep(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, float* m2, float* l,
                          float* alpha) {
    softmaxStepImpl<false>(s, ldS, kvRows, qPad, m2, l, alpha, nullptr);
  }

  static void softmaxStepMax(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, float* m2, float* l,
                             float* alpha, const float* tileMax) {
    softmaxStepImpl<true>(s, ldS, kvRows, qPad, m2, l, alpha, tileMax);
  }

  static void scaleColumns(float* s, int64_t ldS, int64_t kvRows, int64_t qPad, const float* scale) {
    for (int64_t i = 0; i < qPad; i += W) {
      const R c = VT::load(scale + i);
      for (int64_t j = 0; j < kvRows; ++j) VT::store(s + j * ldS + i, VT::mul(VT::load(s + j * ldS + i), c));
    }
  }

  // ---- P.V: acc[i][:] = alpha_i * acc[i][:] + sum_j p[j][i] * v[j][:] --------------------------
  template <int RB, int NV, bool TAIL>
  static inline void pvBlock(const float* __restrict p, int64_t ldP, const float* __restrict v, int64_t ldv,
                             int64_t kvRows, float* __restrict acc, int64_t ldacc, const float* alpha,
                             int tail) {
    R c[RB][NV];
    if (alpha) {
      DB_UNROLL for (int r = 0; r < RB; ++r) {
        const R a = VT::set1(alpha[r]);
        DB_UNROLL for (int n = 0; n < NV; ++n) {
          const R x = (TAIL && n == NV - 1) ? VT::loadN(acc + r * ldacc + n * W, tail)
                                            : VT::load(acc + r * ldacc + n * W);
          c[r][n] = VT::mul(a, x);
        }
      }
    } else {
      DB_UNROLL for (int r = 0; r < RB; ++r) DB_UNROLL for (int n = 0; n < NV; ++n) c[r][n] = VT::zero();
    }
    DB_UNROLL_INNER for (int64_t j = 0; j < kvRows; ++j) {
      R vv[NV];
      DB_UNROLL for (int n = 0; n < NV; ++n) vv[n] =
          (TAIL && n == NV - 1) ? VT::loadN(v + j * ldv + n * W, tail) : VT::load(v + j * ldv + n * W);
      const float* pj = p + j * ldP;
      DB_UNROLL for (int r = 0; r < RB; ++r) {
        const R b = VT::set1(pj[r]);
        DB_UNROLL for (int n = 0; n < NV; ++n) c[r][n] = VT::fma(b, vv[n], c[r][n]);
      }
    }
    DB_UNROLL for (int r = 0; r < RB; ++r) DB_UNROLL for (int n = 0; n < NV; ++n) {
      if (TAIL && n == NV - 1) VT::storeN(acc + r * ldacc + n * W, c[r][n], tail);
      else VT::store(acc + r * ldacc + n * W, c[r][n]);
    }
  }

  template <int NV, bool TAIL>
  static void pvRowTail(int rows, const float* p, int64_t ldP, const float* v, int64_t ldv, int64_t kvRows,
                        float* acc, int64_t ldacc, const float* alpha, int tail) {
#define DB_PV_CASE(R_) \
  case R_: pvBlock<R_, NV, TAIL>(p, ldP, v, ldv, kvRows, acc, ldacc, alpha, tail); break;
    switch (rows) {
      DB_PV_CASE(1)
      DB_PV_CASE(2)
      DB_PV_CASE(3)
      DB_PV_CASE(4)
      DB_PV_CASE(5)
      DB_PV_CASE(6)
      DB_PV_CASE(7)
      DB_PV_CASE(8)
      DB_PV_CASE(9)
      DB_PV_CASE(10)
      DB_PV_CASE(11)
      default: break;
    }
#undef DB_PV_CASE
  }

  template <int NV, bool TAIL>
  static void pvCols(const float* p, int64_t ldP, int64_t qRows, const float* v, int64_t ldv, int64_t kvRows,
                     float* acc, int64_t ldacc, const float* alpha, int tail) {
    constexpr int RB = VT::rbFor(NV);
    int64_t i = 0;
    for (; i + RB <= qRows; i += RB)
      pvBlock<RB, NV, TAIL>(p + i, ldP, v, ldv, kvRows, acc + i * ldacc, ldacc, alpha ? alpha + i : nullptr,
                            tail);
    if (i < qRows)
      pvRowTail<NV, TAIL>(static_cast<int>(qRows - i), p + i, ldP, v, ldv, kvRows, acc + i * ldacc, ldacc,
                          alpha ? alpha + i : nullptr, tail);
  }

  template <bool TAIL>
  static void pvVecs(int nv, const float* p, int64_t ldP, int64_t qRows, const float* v, int64_t ldv,
                     int64_t kvRows, float* acc, int64_t ldacc, const float* alpha, int tail) {
    switch (nv) {
      case 1: pvCols<1, TAIL>(p, ldP, qRows, v, ldv, kvRows, acc, ldacc, alpha, tail); break;
      case 2:
        pvCols<(VT::PVN >= 2 ? 2 : 1), TAIL>(p, ldP, qRows, v, ldv, kvRows, acc, ldacc, alpha, tail);
        break;
      case 3:
        pvCols<(VT::PVN >= 3 ? 3 : 1), TAIL>(p, ldP, qRows, v, ldv, kvRows, acc, ldacc, alpha, tail);
        break;
      case 4:
        pvCols<(VT::PVN >= 4 ? 4 : 1), TAIL>(p, ldP, qRows, v, ldv, kvRows, acc, ldacc, alpha, tail);
        break;
      default: break;
    }
  }

  static void pv(const float* p, int64_t ldP, int64_t qRows, const float* v, int64_t ldv, int64_t kvRows,
                 int64_t D, float* acc, int64_t ldacc, const float* alpha) {
    const int64_t full = D / W;
    const int tail = static_cast<int>(D % W);
    int64_t vec = 0;
    for (; vec + VT::PVN <= full; vec += VT::PVN)
      pvCols<VT::PVN, false>(p, ldP, qRows, v + vec * W, ldv, kvRows, acc + vec * W, ldacc, alpha, 0);
    // Remaining full vectors (< PVN) plus the partial one, at most PVN vectors in all when
    // tail != 0 and rest == PVN - 1... split to stay within PVN.
    int64_t rest = full - vec;
    if (rest > 0 && rest + (tail ? 1 : 0) > VT::PVN) {
      pvVecs<false>(static_cast<int>(rest), p, ldP, qRows, v + vec * W, ldv, kvRows, acc + vec * W, ldacc,
                    alpha, 0);
      vec += rest;
      rest = 0;
    }
    if (tail) {
      pvVecs<true>(static_cast<int>(rest + 1), p, ldP, qRows, v + vec * W, ldv, kvRows, acc + vec * W, ldacc,
                   alpha, tail);
    } else if (rest > 0) {
      pvVecs<false>(static_cast<int>(rest), p, ldP, qRows, v + vec * W, ldv, kvRows, acc + vec * W, ldacc,
                    alpha, 0);
    }
  }

  static dilbench::cpu::BlockOps table(dilbench::SimdLevel level) {
    dilbench::cpu::BlockOps t;
    t.level = level;
    t.packQT = &packQT;
    t.scoresT = &scoresT;
    t.scoresTMax = &scoresTMax;
    t.softmaxStep = &softmaxStep;
    t.softmaxStepMax = &softmaxStepMax;
    t.pv = &pv;
    t.scaleColumns = &scaleColumns;
    return t;
  }
};

}  // namespace
