// kv-cache decode microkernel for AVX-512 (compiled with AVX-512 flags, dispatched at run time
// from kv_cache.cpp). A decode step is a matrix-vector product against the cache, memory-bound:
// attendBlock's tiles pad the query rows to 16 lanes, which for 1..8 query rows would spend most
// of its work on padding, so decode streams K once (dot products, one horizontal sum per key) and
// V once (axpy per key) instead. headDim must be a multiple of 16 (else the generic path runs).
// The cache may hold fp32, fp16 or bf16: half rows are widened to fp32 in registers as they are
// loaded (vcvtph2ps / a 16-bit shift), so a step reads half the bytes and computes in fp32.
// GCC 12 warns (falsely) about the undefined vectors inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "bf16_split_rows.h"
#include "exp2_avx512.h"

namespace dilbench {
namespace family {
namespace {

// 16 consecutive cache elements as fp32 (load), 32 as two vectors (load2). kSplit == false:
// vector c of a row holds its elements [16c, 16c + 16) in order.
template <class Self>
struct LoadInOrder {
  static constexpr bool kSplit = false;
  template <class T>
  static void load2(const T* p, __m512& lo, __m512& hi) {
    lo = Self::load(p);
    hi = Self::load(p + 16);
  }
};
struct LoadF32 : LoadInOrder<LoadF32> {
  using T = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
};
struct LoadF16 : LoadInOrder<LoadF16> {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};
struct LoadBF16 : LoadInOrder<LoadBF16> {
  using T = uint16_t;
  static __m512 load(const uint16_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
};
// bf16, headDim a multiple of 32: one 512-bit load gives 32 elements as the even-indexed ones
// (each 32-bit lane's low half shifted up) and the odd-indexed ones (its high half, masked), as
// the AVX2 kernel does (kv_decode_avx2.cpp, LoadBF16Split): vectors 2m, 2m + 1 of a row hold
// elements 32m + 2i and 32m + 2i + 1; the query rows are permuted to match and the output rows
// put back in order (splitRows, mergeRows).
struct LoadBF16Split {
  using T = uint16_t;
  static constexpr bool kSplit = true;
  static void load2(const uint16_t* p, __m512& even, __m512& odd) {
    const __m512i w = _mm512_loadu_si512(p);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(int(0xFFFF0000u))));
  }
};

inline float hsum(__m512 x) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  __m128 l = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  l = _mm_add_ps(l, _mm_movehl_ps(l, l));
  l = _mm_add_ss(l, _mm_movehdup_ps(l));
  return _mm_cvtss_f32(l);
}

// Scores sg[0..n) (natural-log units) -> exp(sg - max) in place; returns the sum, max in m.
// Vectorised: between the K and the V pass nothing streams from memory, so a scalar exp per
// score would be a serial phase of its own (it dominated the half-precision decode).
inline float softmaxRow(float* sg, int64_t n, float& m) {
  const __m512 negInf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mx = negInf;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sg + j));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - j)) - 1);
  if (j < n) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(negInf, tail, sg + j));
  m = _mm512_reduce_max_ps(mx);
  const __m512 mv = _mm512_set1_ps(m);
  const __m512 log2e = _mm512_set1_ps(1.4426950408889634f);
  __m512 z = _mm512_setzero_ps();
  for (j = 0; j + 16 <= n; j += 16) {
    const __m512 p = cpu::exp2Avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(sg + j), mv), log2e));
    _mm512_storeu_ps(sg + j, p);
    z = _mm512_add_ps(z, p);
  }
  if (j < n) {
    const __m512 p =
        cpu::exp2Avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, sg + j), mv), log2e));
    _mm512_mask_storeu_ps(sg + j, tail, p);
    z = _mm512_mask_add_ps(z, tail, z, p);
  }
  return _mm512_reduce_add_ps(z);
}

// Scores of GB query rows against cache row j, the row read once (widened once, for half
// storage) and shared by the GB queries: the same two-accumulator order as a per-query loop.
template <class L, int GB>
inline void scoreRow(const float* q, int64_t ldq, const typename L::T* kr, int64_t nv, float scale, float* s,
                     int64_t n, int64_t j) {
  __m512 a0[GB], a1[GB];
  for (int g = 0; g < GB; ++g) a0[g] = a1[g] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 1 < nv; c += 2) {
    __m512 k0, k1;
    L::load2(kr + 16 * c, k0, k1);
    for (int g = 0; g < GB; ++g) {
      a0[g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * ldq + 16 * c), k0, a0[g]);
      a1[g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * ldq + 16 * c + 16), k1, a1[g]);
    }
  }
  if constexpr (!L::kSplit) {  // split: nv is even
    if (c < nv) {
      const __m512 k0 = L::load(kr + 16 * c);
      for (int g = 0; g < GB; ++g) a0[g] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * ldq + 16 * c), k0, a0[g]);
    }
  }
  for (int g = 0; g < GB; ++g) s[g * n + j] = scale * hsum(_mm512_add_ps(a0[g], a1[g]));
}

// Every cache line of one cache row (D elements), into L1 (_MM_HINT_T0) or L2 (_MM_HINT_T1).
template <int Hint, class T>
inline void prefetchRow(const T* row, int64_t D) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t o = 0; o < D * int64_t(sizeof(T)); o += 64)
    _mm_prefetch(p + o, static_cast<decltype(_MM_HINT_T0)>(Hint));
}
// Rows ahead the K pass prefetches (16 KiB at headDim 128 fp32, 8 KiB half): a cache far beyond
// the LLC streams from DRAM, where one line at a time (the hardware prefetcher alone) left a
// 64K-row fp32 decode at half the read bandwidth a plain streaming loop reaches.
constexpr int64_t kKeyPrefetchRows = 32;

// s[g * n + j] for all G query rows: K streams once, row after row (the order the hardware
// prefetcher follows best); the query rows take the row four at a time from L1.
template <class L>
void scoresAll(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
               int64_t n, int64_t D, float scale, float* s) {
  const int64_t nv = D / 16;
  for (int64_t j = 0; j < n; ++j) {
    const typename L::T* kr = k + j * D;
    // K's row kKeyPrefetchRows ahead, running on into V's first rows (P.V reads them next), and
    // V's same row into L2: two streams in flight instead of one
    const int64_t r = j + kKeyPrefetchRows;
    if (r < n) {
      prefetchRow<_MM_HINT_T0>(k + r * D, D);
      prefetchRow<_MM_HINT_T1>(v + r * D, D);
    } else if (r < 2 * n) {
      prefetchRow<_MM_HINT_T0>(v + (r - n) * D, D);
    }
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

// V streams from memory once, whole rows in order: rows in blocks of kPvRows; within a block
// query rows go two at a time with up to 8 vectors of the row (16 accumulators in registers), so
// only the first pair reads the block from memory, the others find it in L1/L2; that
// pair also prefetches the next block.
constexpr int64_t kPvRows = 64;

// P.V over cache rows [j0, j1) for GB query rows and CB vectors of the row (from v, out):
// acc = (first ? 0 : out) + sum_j p[g][j] v_j, stored as acc, or inv[g] * acc when last. p rows
// have stride n, out rows stride D. A running sum per element in j order, as a plain loop would.
template <class L, int GB, int CB>
inline void pvTile(const float* p, int64_t n, const typename L::T* v, int64_t D, int64_t j0, int64_t j1,
                   float* out, bool first, const float* inv, bool prefetchNext) {
  // the cache lines of this tile's columns kPvRows rows ahead (the next block), one row per row
  constexpr int kLineStep = int(64 / (16 * sizeof(typename L::T)));  // vectors per cache line
  __m512 acc[GB][CB];
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c)
      acc[g][c] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + g * D + 16 * c);
  for (int64_t j = j0; j < j1; ++j) {
    const typename L::T* vr = v + j * D;
    if (prefetchNext && j + kPvRows < n)
      for (int c = 0; c < CB; c += kLineStep)
        _mm_prefetch(reinterpret_cast<const char*>(vr + kPvRows * D + 16 * c), _MM_HINT_T0);
    __m512 vv[CB];
    int c = 0;
    for (; c + 1 < CB; c += 2) L::load2(vr + 16 * c, vv[c], vv[c + 1]);
    if constexpr (!L::kSplit && CB % 2 == 1) vv[c] = L::load(vr + 16 * c);  // split: CB is even
    for (int g = 0; g < GB; ++g) {
      const __m512 pg = _mm512_set1_ps(p[g * n + j]);
      for (int c = 0; c < CB; ++c) acc[g][c] = _mm512_fmadd_ps(pg, vv[c], acc[g][c]);
    }
  }
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c)
      _mm512_storeu_ps(out + g * D + 16 * c,
                       inv ? _mm512_mul_ps(_mm512_set1_ps(inv[g]), acc[g][c]) : acc[g][c]);
}

template <class L, int GB, int CB>
void pvCols(const float* p, int64_t n, const typename L::T* v, int64_t D, int64_t j0, int64_t j1, float* out,
            bool first, const float* inv, bool prefetchNext) {
  const int64_t nv = D / 16;
  int64_t c0 = 0;
  for (; c0 + CB <= nv; c0 += CB)
    pvTile<L, GB, CB>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext);
  switch (nv - c0) {
    case 0: break;
    case 1: pvTile<L, GB, 1>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    case 2: pvTile<L, GB, 2>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    case 3: pvTile<L, GB, 3>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    case 4: pvTile<L, GB, 4>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    case 5: pvTile<L, GB, 5>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    case 6: pvTile<L, GB, 6>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
    default: pvTile<L, GB, 7>(p, n, v + 16 * c0, D, j0, j1, out + 16 * c0, first, inv, prefetchNext); break;
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
      if (gb - g >= 2) pvCols<L, 2, 8>(pg, n, v, D, j0, j1, og, first, ig, g == 0);
      else pvCols<L, 1, 8>(pg, n, v, D, j0, j1, og, first, ig, g == 0);
    }
  }
}

template <class L>
void decodeAttendImpl(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
                      int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  if constexpr (L::kSplit) {  // the query rows in the cache rows' split layout (G * D floats)
    static thread_local std::vector<float> split;
    split.resize(size_t(G * D));
    splitRows<16>(q, ldq, G, D, split.data());
    q = split.data();
    ldq = D;
  }
  // Pass 1: every score; K streamed once.
  scoresAll<L>(q, ldq, G, k, v, n, D, scale, s);
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
  if constexpr (L::kSplit) mergeRows<16>(out, G, D);
}

}  // namespace

void decodeAttendAvx512(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                        int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF32>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx512F16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                           int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx512BF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                            int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  if (D % 32 == 0) decodeAttendImpl<LoadBF16Split>(q, ldq, G, k, v, n, D, scale, out, lse, s);
  else decodeAttendImpl<LoadBF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}

}  // namespace family
}  // namespace dilbench
