// kv-cache decode microkernel for AVX2 + FMA + F16C (compiled with those flags, dispatched at run
// time from kv_cache.cpp): the AVX-512 kernel's structure (kv_decode_avx512.cpp) on 8 lanes and
// 16 registers. K streams once (dot products of every query row sharing the kv head), a
// vectorised softmax, then V streams once (axpy per key, accumulators in registers). headDim must
// be a multiple of 8 (else the generic path runs). Half-precision cache rows are widened in
// registers as they are loaded (vcvtph2ps / a 16-bit shift), so a step reads half the bytes.
//
// Register blocking for 16 YMM registers:
// - scores: 8 dot products at once (8 accumulators), as 1 query row x 8 keys, 2 x 4, 4 x 2 or
//   8 x 1 (whichever the query rows of the kv head fill), so a single query head still has 8
//   independent FMA chains and one 8-way horizontal reduction per 8 scores (the AVX-512 kernel
//   keeps 2 chains per query row and pays one horizontal sum per score).
// - P.V: 4 query rows x 2 vectors, 2 x 4 or 1 x 8 (64 columns): 8 accumulators plus up to 4
//   broadcast weights, each row vector widened once and shared by the query rows.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "bf16_split_rows.h"
#include "exp2_avx2.h"

namespace dilbench {
namespace family {
namespace {

using cpu::exp2Avx2;  // exp2_avx2.h: the flash tiles' polynomial, so flash and decode agree

// 8 consecutive cache elements as fp32. kSplit == false: vector c of a row holds its elements
// [8c, 8c + 8) in order.
struct LoadF32 {
  using T = float;
  static constexpr bool kSplit = false;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
};
struct LoadF16 {
  using T = uint16_t;
  static constexpr bool kSplit = false;
  static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};
struct LoadBF16 {
  using T = uint16_t;
  static constexpr bool kSplit = false;
  static __m256 load(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
};
// bf16, headDim a multiple of 16: one 256-bit load gives 16 elements as two fp32 vectors, the
// even-indexed elements (each 32-bit lane's low half shifted up) and the odd-indexed ones (its
// high half, masked): a shift and an and per 16 elements instead of two vpmovzxwd shuffles and
// two shifts (the shuffle port was bf16's extra cost over fp16). kSplit == true: vectors 2m and
// 2m + 1 of a row hold elements 16m + 2i and 16m + 2i + 1; the query rows are permuted to match
// (splitRows) and the output rows put back in order (mergeRows).
struct LoadBF16Split {
  using T = uint16_t;
  static constexpr bool kSplit = true;
  static void load2(const uint16_t* p, __m256& even, __m256& odd) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(int(0xFFFF0000u))));
  }
};

inline __m256i laneMask8(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hmax(__m256 x) {
  __m128 l = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  l = _mm_max_ps(l, _mm_movehl_ps(l, l));
  l = _mm_max_ss(l, _mm_movehdup_ps(l));
  return _mm_cvtss_f32(l);
}
inline float hsum(__m256 x) {
  __m128 l = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  l = _mm_add_ps(l, _mm_movehl_ps(l, l));
  l = _mm_add_ss(l, _mm_movehdup_ps(l));
  return _mm_cvtss_f32(l);
}

// The 8 horizontal sums of a[0..8) in one vector (lane i = sum of a[i]'s lanes).
inline __m256 reduce8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  // u0 = [a0..a3 over lanes 0-3 | a0..a3 over lanes 4-7], u1 the same for a4..a7
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Scores sg[0..n) (natural-log units) -> exp(sg - max) in place; returns the sum, max in m.
inline float softmaxRow(float* sg, int64_t n, float& m) {
  const __m256 negInf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 mx = negInf;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(sg + j));
  const __m256i tail = laneMask8(n - j);
  if (j < n)
    mx = _mm256_max_ps(mx,
                       _mm256_blendv_ps(negInf, _mm256_maskload_ps(sg + j, tail), _mm256_castsi256_ps(tail)));
  m = hmax(mx);
  const __m256 mv = _mm256_set1_ps(m);
  const __m256 log2e = _mm256_set1_ps(1.4426950408889634f);
  __m256 z = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 p = exp2Avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(sg + j), mv), log2e));
    _mm256_storeu_ps(sg + j, p);
    z = _mm256_add_ps(z, p);
  }
  if (j < n) {  // masked-off lanes are -inf, exp2 gives 0
    const __m256 x = _mm256_blendv_ps(negInf, _mm256_maskload_ps(sg + j, tail), _mm256_castsi256_ps(tail));
    const __m256 p = exp2Avx2(_mm256_mul_ps(_mm256_sub_ps(x, mv), log2e));
    _mm256_maskstore_ps(sg + j, tail, p);
    z = _mm256_add_ps(z, p);
  }
  return hsum(z);
}

// Scores of GB query rows x KB keys (GB * KB == 8 dot products, one accumulator each) from cache
// rows kr + b * D, b < KB: each key vector is widened once and shared by the GB query rows.
// s[g * n + j + b] = scale * q_g . k_{j+b}.
template <class L, int GB, int KB>
inline void scoreBlock(const float* q, int64_t ldq, const typename L::T* kr, int64_t D, float scale, float* s,
                       int64_t n, int64_t j) {
  static_assert(GB * KB == 8, "8 accumulators");
  __m256 a[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
  if constexpr (L::kSplit) {
    for (int64_t c = 0; c < D; c += 16) {
      if (GB == 1) {
        const __m256 q0 = _mm256_loadu_ps(q + c), q1 = _mm256_loadu_ps(q + c + 8);
        for (int b = 0; b < KB; ++b) {
          __m256 k0, k1;
          L::load2(kr + b * D + c, k0, k1);
          a[b] = _mm256_fmadd_ps(q1, k1, _mm256_fmadd_ps(q0, k0, a[b]));
        }
      } else {
        for (int b = 0; b < KB; ++b) {
          __m256 k0, k1;
          L::load2(kr + b * D + c, k0, k1);
          for (int g = 0; g < GB; ++g)
            a[g * KB + b] =
                _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c + 8), k1,
                                _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c), k0, a[g * KB + b]));
        }
      }
    }
  } else {
#pragma GCC unroll 2
    for (int64_t c = 0; c < D; c += 8) {
      if (GB == 1) {
        const __m256 qv = _mm256_loadu_ps(q + c);
        for (int b = 0; b < KB; ++b) a[b] = _mm256_fmadd_ps(qv, L::load(kr + b * D + c), a[b]);
      } else {
        for (int b = 0; b < KB; ++b) {
          const __m256 kv = L::load(kr + b * D + c);
          for (int g = 0; g < GB; ++g)
            a[g * KB + b] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c), kv, a[g * KB + b]);
        }
      }
    }
  }
  alignas(32) float r[8];
  _mm256_store_ps(r, _mm256_mul_ps(_mm256_set1_ps(scale), reduce8(a)));
  for (int g = 0; g < GB; ++g)
    for (int b = 0; b < KB; ++b) s[g * n + j + b] = r[g * KB + b];
}

// The scores of up to 8 query rows (gb) against one cache row (the key tail of scoresAll).
template <class L>
inline void scoreOneKey(const float* q, int64_t ldq, int gb, const typename L::T* kr, int64_t D, float scale,
                        float* s, int64_t n, int64_t j) {
  __m256 a[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
  if constexpr (L::kSplit) {
    for (int64_t c = 0; c < D; c += 16) {
      __m256 k0, k1;
      L::load2(kr + c, k0, k1);
      for (int g = 0; g < gb; ++g)
        a[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c + 8), k1,
                               _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c), k0, a[g]));
    }
  } else {
    for (int64_t c = 0; c < D; c += 8) {
      const __m256 kv = L::load(kr + c);
      for (int g = 0; g < gb; ++g) a[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + c), kv, a[g]);
    }
  }
  alignas(32) float r[8];
  _mm256_store_ps(r, _mm256_mul_ps(_mm256_set1_ps(scale), reduce8(a)));
  for (int g = 0; g < gb; ++g) s[g * n + j] = r[g];
}

// Software prefetch of every line of the cache rows ahead: K kKeyPrefetchRows rows ahead, V one
// kPvRows block ahead. The hardware prefetchers alone left the loads poorly overlapped with the
// arithmetic (the first version prefetched one line per K row and no V): per row, 1 thread, GQA 4
// query rows, headDim 128, cache from L3 (8.5 MiB) fp16 39.6 -> 35.7 ns, bf16 39.4 -> 37.7, fp32
// unchanged (58.8 / 59.5: its 1 KiB rows are bandwidth-bound); from DRAM (68 MiB) fp16 86 -> 44,
// bf16 89 -> 53, fp32 166 -> 136 (NOTES.md, "AVX2 decode").
constexpr int64_t kKeyPrefetchRows = 32;  // 16 KiB ahead at headDim 128 fp32, 8 KiB half

// s[g * n + j] for all G query rows: K streams once, 8 rows at a time in order (2-4 KiB, which
// the query-row blocks then take from L1); query rows in blocks of 8, 4, 2, 1. The prefetch runs
// kKeyPrefetchRows rows ahead through K and then on into V's first rows (P.V reads them next).
template <class L>
void scoresAll(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
               int64_t n, int64_t D, float scale, float* s) {
  const int64_t rowBytes = D * int64_t(sizeof(typename L::T));
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const typename L::T* kr = k + j * D;
    if (j + kKeyPrefetchRows + 8 <= n) {  // every line of the 8 rows kKeyPrefetchRows ahead
      const char* pf = reinterpret_cast<const char*>(kr + kKeyPrefetchRows * D);
      for (int64_t o = 0; o < 8 * rowBytes; o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
      // ... and V's same rows into L2: two streams in flight instead of one (P.V reads them next)
      const char* pv = reinterpret_cast<const char*>(v + (j + kKeyPrefetchRows) * D);
      for (int64_t o = 0; o < 8 * rowBytes; o += 64) _mm_prefetch(pv + o, _MM_HINT_T1);
    } else {
      for (int64_t r = j + kKeyPrefetchRows; r < j + kKeyPrefetchRows + 8 && r < 2 * n; ++r) {
        const char* pf = reinterpret_cast<const char*>(r < n ? k + r * D : v + (r - n) * D);
        for (int64_t o = 0; o < rowBytes; o += 64) _mm_prefetch(pf + o, _MM_HINT_T0);
      }
    }
    int64_t g0 = 0;
    for (; g0 + 8 <= G; g0 += 8)
      for (int b = 0; b < 8; ++b)
        scoreBlock<L, 8, 1>(q + g0 * ldq, ldq, kr + b * D, D, scale, s + g0 * n, n, j + b);
    if (G - g0 >= 4) {
      for (int b = 0; b < 8; b += 2)
        scoreBlock<L, 4, 2>(q + g0 * ldq, ldq, kr + b * D, D, scale, s + g0 * n, n, j + b);
      g0 += 4;
    }
    if (G - g0 >= 2) {
      for (int b = 0; b < 8; b += 4)
        scoreBlock<L, 2, 4>(q + g0 * ldq, ldq, kr + b * D, D, scale, s + g0 * n, n, j + b);
      g0 += 2;
    }
    if (G - g0 == 1) scoreBlock<L, 1, 8>(q + g0 * ldq, ldq, kr, D, scale, s + g0 * n, n, j);
  }
  for (; j < n; ++j) {
    for (int64_t g0 = 0; g0 < G; g0 += 8) {
      const int gb = int(G - g0 < 8 ? G - g0 : 8);
      scoreOneKey<L>(q + g0 * ldq, ldq, gb, k + j * D, D, scale, s + g0 * n, n, j);
    }
  }
}

constexpr int64_t kPvRows = 64;  // V rows per P.V block (see pvRows)
template <class L>
constexpr int kLineVectors = int(64 / (8 * sizeof(typename L::T)));  // 8-element vectors per line

// P.V over cache rows [j0, j1) for GB query rows and CB vectors of the row (from v, out):
// acc = (first ? 0 : out) + sum_j p[g][j] v_j, stored as acc, or inv[g] * acc when last. p rows
// have stride n, out rows stride D. A running sum per element in j order, as a plain loop would.
// For the first pfRows rows j it also prefetches row j + kPvRows's lines that start at vectors
// pfFrom, pfFrom + kLineVectors, ... of the tile. Always inlined: out of line, GCC kept half the
// accumulators on the stack.
template <class L, int GB, int CB>
__attribute__((always_inline)) inline void pvTile(const float* p, int64_t n, const typename L::T* v,
                                                  int64_t D, int64_t j0, int64_t j1, float* out, bool first,
                                                  const float* inv, int64_t pfRows, int pfFrom) {
  __m256 acc[GB][CB];
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c)
      acc[g][c] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + g * D + 8 * c);
#pragma GCC unroll 2
  for (int64_t j = j0; j < j1; ++j) {
    const typename L::T* vr = v + j * D;
    if (j - j0 < pfRows)
      for (int c = pfFrom; c < CB; c += kLineVectors<L>)
        _mm_prefetch(reinterpret_cast<const char*>(vr + kPvRows * D + 8 * c), _MM_HINT_T0);
    if constexpr (L::kSplit) {
      // vectors c, c + 1 from one 16-element load (CB is even: headDim % 16 == 0, see pvCols)
      __m256 pg[GB];
      for (int g = 0; g < GB; ++g) pg[g] = _mm256_broadcast_ss(p + g * n + j);
      for (int c = 0; c + 1 < CB; c += 2) {
        __m256 v0, v1;
        L::load2(vr + 8 * c, v0, v1);
        for (int g = 0; g < GB; ++g) {
          acc[g][c] = _mm256_fmadd_ps(pg[g], v0, acc[g][c]);
          acc[g][c + 1] = _mm256_fmadd_ps(pg[g], v1, acc[g][c + 1]);
        }
      }
    } else if (GB == 1) {
      const __m256 pg = _mm256_broadcast_ss(p + j);
      for (int c = 0; c < CB; ++c) acc[0][c] = _mm256_fmadd_ps(pg, L::load(vr + 8 * c), acc[0][c]);
    } else {
      __m256 pg[GB];
      for (int g = 0; g < GB; ++g) pg[g] = _mm256_broadcast_ss(p + g * n + j);
      for (int c = 0; c < CB; ++c) {
        const __m256 vv = L::load(vr + 8 * c);
        for (int g = 0; g < GB; ++g) acc[g][c] = _mm256_fmadd_ps(pg[g], vv, acc[g][c]);
      }
    }
  }
  for (int g = 0; g < GB; ++g)
    for (int c = 0; c < CB; ++c)
      _mm256_storeu_ps(out + g * D + 8 * c,
                       inv ? _mm256_mul_ps(_mm256_set1_ps(inv[g]), acc[g][c]) : acc[g][c]);
}

// V streams from memory once, whole rows in order: rows in blocks of kPvRows (declared above
// pvTile); within a block query rows go four at a time with 2 vectors of the row, two with 4 or
// one with 8 (8 accumulators each way), so only the first tile reads the block from memory, the
// others find it in L1/L2.

// pfRows: rows of the next block whose lines the tiles prefetch (0: none); each 64-byte line of a
// row (rows start on a line when D * sizeof(T) is a multiple of 64) is prefetched by the tile
// whose columns hold its start.
template <class L, int GB, int CB>
void pvCols(const float* p, int64_t n, const typename L::T* v, int64_t D, int64_t j0, int64_t j1, float* out,
            bool first, const float* inv, int64_t pfRows) {
  const int64_t nv = D / 8;
  constexpr int lv = kLineVectors<L>;
  auto pf = [](int64_t c0) { return int((lv - c0 % lv) % lv); };  // first line start in the tile
  int64_t c0 = 0;
  for (; c0 + CB <= nv; c0 += CB)
    pvTile<L, GB, CB>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0));
  switch (nv - c0) {
    case 0: break;
    case 1: pvTile<L, GB, 1>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    case 2: pvTile<L, GB, 2>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    case 3: pvTile<L, GB, 3>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    case 4: pvTile<L, GB, 4>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    case 5: pvTile<L, GB, 5>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    case 6: pvTile<L, GB, 6>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
    default: pvTile<L, GB, 7>(p, n, v + 8 * c0, D, j0, j1, out + 8 * c0, first, inv, pfRows, pf(c0)); break;
  }
}

// gb query rows: p rows of stride n, out rows of stride D, inv[gb].
template <class L>
void pvRows(const float* p, int64_t n, const typename L::T* v, int64_t D, int gb, float* out,
            const float* inv) {
  for (int64_t j0 = 0; j0 < n; j0 += kPvRows) {
    const int64_t j1 = j0 + kPvRows < n ? j0 + kPvRows : n;
    const bool first = j0 == 0, last = j1 == n;
    // the next block's rows (those that exist), prefetched by the first query-row group's tiles
    const int64_t nextRows = n - j1 < kPvRows ? n - j1 : kPvRows;
    for (int g = 0; g < gb;) {
      const float* pg = p + g * n;
      float* og = out + g * D;
      const float* ig = last ? inv + g : nullptr;
      if (gb - g >= 4) {
        pvCols<L, 4, 2>(pg, n, v, D, j0, j1, og, first, ig, g == 0 ? nextRows : 0);
        g += 4;
      } else if (gb - g >= 2) {
        pvCols<L, 2, 4>(pg, n, v, D, j0, j1, og, first, ig, g == 0 ? nextRows : 0);
        g += 2;
      } else {
        pvCols<L, 1, 8>(pg, n, v, D, j0, j1, og, first, ig, g == 0 ? nextRows : 0);
        g += 1;
      }
    }
  }
}

template <class L>
void decodeAttendImpl(const float* q, int64_t ldq, int64_t G, const typename L::T* k, const typename L::T* v,
                      int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  if constexpr (L::kSplit) {  // the query rows in the cache rows' split layout (G * D floats)
    static thread_local std::vector<float> split;
    split.resize(size_t(G * D));
    splitRows<8>(q, ldq, G, D, split.data());
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
  if constexpr (L::kSplit) mergeRows<8>(out, G, D);
}

}  // namespace

void decodeAttendAvx2(const float* q, int64_t ldq, int64_t G, const float* k, const float* v, int64_t n,
                      int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF32>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx2F16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                         int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  decodeAttendImpl<LoadF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}
void decodeAttendAvx2BF16(const float* q, int64_t ldq, int64_t G, const uint16_t* k, const uint16_t* v,
                          int64_t n, int64_t D, float scale, float* out, float* lse, float* s) {
  if (D % 16 == 0) decodeAttendImpl<LoadBF16Split>(q, ldq, G, k, v, n, D, scale, out, lse, s);
  else decodeAttendImpl<LoadBF16>(q, ldq, G, k, v, n, D, scale, out, lse, s);
}

}  // namespace family
}  // namespace dilbench
