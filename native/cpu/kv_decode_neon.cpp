// kv-cache decode microkernel for NEON (aarch64 builds only; dispatched at run time from
// kv_cache.cpp). The AVX-512 kernel's structure (kv_decode_avx512.cpp) on 4-lane vectors: K
// streams once (dot products of every query row sharing the kv head, one horizontal sum per key),
// a vectorised softmax, then V streams once (axpy per key, accumulators in registers). headDim
// must be a multiple of 4 (else the generic path runs). Half-precision cache rows are widened in
// registers as they are loaded (fcvtl / a 16-bit shift), so a step reads half the bytes.
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "exp2_neon.h"

namespace dilbench {
namespace family {
namespace {

// 4 consecutive cache elements as fp32.
struct LoadF32 {
  using T = float;
  static float32x4_t load(const float* p) { return vld1q_f32(p); }
};
struct LoadF16 {
  using T = uint16_t;
  static float32x4_t load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
};
struct LoadBF16 {
  using T = uint16_t;
  static float32x4_t load(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
};

// Scores sg[0..n) (natural-log units) -> exp(sg - max) in place; returns the sum, max in m.
inline float softmaxRow(float* sg, int64_t n, float& m) {
  float32x4_t mx = vdupq_n_f32(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) mx = vmaxq_f32(mx, vld1q_f32(sg + j));
  m = vmaxvq_f32(mx);
  for (; j < n; ++j) m = sg[j] > m ? sg[j] : m;
  const float32x4_t mv = vdupq_n_f32(m);
  const float32x4_t log2e = vdupq_n_f32(1.4426950408889634f);
  float32x4_t z = vdupq_n_f32(0.f);
  for (j = 0; j + 4 <= n; j += 4) {
    const float32x4_t p = cpu::exp2Neon(vmulq_f32(vsubq_f32(vld1q_f32(sg + j), mv), log2e));
    vst1q_f32(sg + j, p);
    z = vaddq_f32(z, p);
  }
  if (j < n) {  // the tail through a 4-lane buffer, padded with -inf (exp2 gives 0)
    float t[4] = {-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (int64_t i = j; i < n; ++i) t[i - j] = sg[i];
    const float32x4_t p = cpu::exp2Neon(vmulq_f32(vsubq_f32(vld1q_f32(t), mv), log2e));
    vst1q_f32(t, p);
    for (int64_t i = j; i < n; ++i) sg[i] = t[i - j];
    z = vaddq_f32(z, p);
  }
  return vaddvq_f32(z);
}

// Scores of GB query rows against cache row j, the row read once (widened once, for half
// storage) and shared by the GB queries; two accumulators per query row.
template <class L, int GB>
inline void scoreRow(const float* q, int64_t ldq, const typename L::T* kr, int64_t nv, float scale, float* s,
                     int64_t n, int64_t j) {
  float32x4_t a0[GB], a1[GB];
  for (int g = 0; g < GB; ++g) a0[g] = a1[g] = vdupq_n_f32(0.f);
  int64_t c = 0;
  for (; c + 1 < nv; c += 2) {
    const float32x4_t k0 = L::load(kr + 4 * c), k1 = L::load(kr + 4 * c + 4);
    for (int g = 0; g < GB; ++g) {
      a0[g] = vfmaq_f32(a0[g], vld1q_f32(q + g * ldq + 4 * c), k0);
      a1[g] = vfmaq_f32(a1[g], vld1q_f32(q + g * ldq + 4 * c + 4), k1);
    }
  }
  if (c < nv) {
    const float32x4_t k0 = L::load(kr + 4 * c);
    for (int g = 0; g < GB; ++g) a0[g] = vfmaq_f32(a0[g], vld1q_f32(q + g * ldq + 4 * c), k0);
  }
  for (int g = 0; g < GB; ++g) s[g * n + j] = scale * vaddvq_f32(vaddq_f32(a0[g], a1[g]));
}

// s[g * n + j] for all G query rows: K streams once, row after row; the query rows take the row
// four at a time from L1.
template <class L>
void scoresAll(const float* q, int64_t ldq, int64_t G, const typename L::T* k, int64_t n, int64_t D,
               float scale, float* s) {
  const int64_t nv = D / 4;
  for (int64_t j = 0; j < n; ++j) {
    const typename L::T* kr = k + j * D;
    if (j + 4 < n) __builtin_prefetch(kr + 4 * D);
    for (int64_t g0 = 0; g0 < G; g0 += 4) {
      const float* qb = q + g0 * ldq;
      float* sb = s + g0 * n;
      switch (G - g0) {
        case 1: scoreRow<L, 1>(qb, ldq, kr, nv, scale, sb, n, j); break;
        case 2: scoreRow<L, 2>(qb, ldq, kr, nv, scale, sb, n, j); break;
        case 3: scoreRow<L, 3>(qb, ldq, kr, nv, scale, sb, n, j); break;
        default: scoreRow<L, 4>(qb, ldq, kr, nv, scale, sb, n, j); break;
      }
    }
  }
}

// P.V over cache rows [j0, j1) for GB query rows and CB vectors of the row (from v, out):
// acc = (first ? 0 : out) + sum_j p[g][j] v_j, stored as acc, or inv[g] * acc when last. p rows
// have stride n, out rows stride D.
template <class L, int GB, int CB>
inline void pvTile(const float* p, int64_t n, const typename L::T* v, int64_t D, int64_t j0, int64_t j1,
                   float* out, bool first, const float* inv) {
  float32x4_t acc[GB][CB];
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c) acc[g][c] = first ? vdupq_n_f32(0.f) : vld1q_f32(out + g * D + 4 * c);
  for (int64_t j = j0; j < j1; ++j) {
    const typename L::T* vr = v + j * D;
    float32x4_t vv[CB];
    for (int c = 0; c < CB; ++c) vv[c] = L::load(vr + 4 * c);
    for (int g = 0; g < GB; ++g) {
      const float pg = p[g * n + j];
      for (int c = 0; c < CB; ++c) acc[g][c] = vfmaq_n_f32(acc[g][c], vv[c], pg);
    }
  }
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c)
      vst1q_f32(out + g * D + 4 * c, inv ? vmulq_n_f32(acc[g][c], inv[g]) : acc[g][c]);
}

// V streams from memory once, whole rows in order: rows in blocks of kPvRows; within a block query
// rows go two at a time with up to 8 vectors (32 columns) of the row: 16 accumulators and 8 row
// vectors of the 32 registers. Only the first pair reads the block from memory.
constexpr int64_t kPvRows = 64;

template <class L, int GB, int CB>
void pvCols(const float* p, int64_t n, const typename L::T* v, int64_t D, int64_t j0, int64_t j1, float* out,
            bool first, const float* inv) {
  const int64_t nv = D / 4;
  int64_t c0 = 0;
  for (; c0 + CB <= nv; c0 += CB) pvTile<L, GB, CB>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv);
  switch (nv - c0) {
    case 0: break;
    case 1: pvTile<L, GB, 1>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    case 2: pvTile<L, GB, 2>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    case 3: pvTile<L, GB, 3>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    case 4: pvTile<L, GB, 4>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    case 5: pvTile<L, GB, 5>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    case 6: pvTile<L, GB, 6>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
    default: pvTile<L, GB, 7>(p, n, v + 4 * c0, D, j0, j1, out + 4 * c0, first, inv); break;
  }
}

// gb query rows: p rows of stride n, out rows of stride D, inv[gb].
template <class L>
void pvRows(const float* p, int64_t n, const typename L::T* v, int64_t D, int gb, float* out,
            const float* inv) {
  for (int64_t j0 = 0; j0 < n; j0 += kPvRows) {
    const int64_t j1 = j0 + kPvRows < n ? j0 + kPvRows : n;
    const bool first = j0 == 0, last = j1 == n;
    for (int g = 0; g < gb; g += 2) {
      const float* pg = p + g * n;
      float* og = out + g * D;
      const float* ig = last ? inv + g : nullptr;
      if (gb - g >= 2) pvCols<L, 2, 8>(pg, n, v, D, j0, j1, og, first, ig);
      else pvCols<L, 1, 8>(pg, n, v, D, j0, j1, og, first, ig);
    }
  }
}

template <class L>
void decodeAttendImpl(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
                      int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  // Pass 1: every score; K streamed once.
  scoresAll<L>(q, ldq, G, k, n, D, scale, s);
  // Pass 2, per group of up to 64 query rows: softmax, then V streamed once.
  float maxv[64], inv[64];
  for (int64_t g0 = 0; g0 < G; g0 += 64) {
    const int gr = int(G - g0 < 64 ? G - g0 : 64);
    for (int g = 0; g < gr; ++g) {
      const float z = softmaxRow(s + (g0 + g) * n, n, maxv[g]);
      inv[g] = 1.0f / z;
      lse[g0 + g] = maxv[g] + std::log(z);
    }
    pvRows<L>(s + g0 * n, n, v, D, gr, out + g0 * D, inv);
  }
}

}  // namespace

void decodeAttendNeon(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                      int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF32>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendNeonF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                         int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendNeonBF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                          int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadBF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}

}  // namespace family
}  // namespace dilbench
