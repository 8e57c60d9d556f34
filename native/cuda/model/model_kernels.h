// Launchers of the transformer-model kernels (native/cuda/model/model_kernels.cu). Plain C++, no
// CUDA headers and no dependency outside native/cuda (like ../attention_cuda.h), so the runner
// and the standalone build use them alike. Every launcher checks its arguments and returns
// nullptr on success or a static message saying what is wrong / why the launch failed.
//
// Element type `t` (ElemType of attention_cuda.h) is the type of the model's matrices,
// embeddings, GEMM inputs and attention tensors; the residual stream, GEMM outputs, norms,
// softmax and every accumulation are fp32.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../attention_cuda.h"

namespace dilbench {
namespace cuda {
namespace model {

enum class Act { Gelu = 0, Relu = 1, SwiGLU = 2 };

// x[i, :] = wte[tokens[i], :] (+ wpe[pos0 + i, :] when wpe is not null); wte [vocab, E] and
// wpe of type t, x fp32 [n, E]. tokens are device int32; an id outside [0, vocab) gives a NaN row.
const char* embedRows(ElemType t, const int32_t* tokens, int64_t n, int64_t pos0, const void* wte,
                      int64_t vocab, const void* wpe, int64_t E, float* x, void* stream);

// y[i, :] = norm(x[i, :]) for n rows of E (fp32 in): LayerNorm (gamma, beta) or RMSNorm (beta
// null), eps inside the square root; y of type outType.
const char* normRows(const float* x, int64_t n, int64_t E, const float* gamma, const float* beta, float eps,
                     ElemType outType, void* y, void* stream);

// Rotate-half rope in place on heads [0, heads) of n fp32 rows (row stride ld, head h at column
// h * D): pairs (j, j + D/2) turn by (pos0 + i) * invFreq[j] (double, D/2 entries).
const char* ropeRows(float* x, int64_t ld, int64_t n, int64_t heads, int64_t D, int64_t pos0,
                     const double* invFreq, void* stream);

// out [n, I] (type t) = act(f) for f fp32 [n, F] (F = I; swiglu: F = 2I, silu(gate) * up).
const char* activateRows(Act act, const float* f, int64_t n, int64_t I, ElemType t, void* out, void* stream);

// C[M, N] (fp32, row stride ldc) = A[M, K] (type t, row stride lda) * W^T + bias, where W is
// [N, K] (type t, each output's weights contiguous); bias fp32 [N] or null; accumulate: C +=.
// M == 1: GEMV, one warp per row of W (16-byte loads when K and the pointers allow); M > 1:
// shared-memory tiled kernel (64 x 64 tile, fp32 accumulation). Deterministic (no atomics).
const char* gemm(ElemType t, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W,
                 const float* bias, float* C, int64_t ldc, bool accumulate, void* stream);

// dst[h, row0 + i, :] = src[i, h * D .. h * D + D) for h < heads, i < n: fp32 rows (stride ld)
// into a head-major tensor of type t with rowsPerHead rows per head.
const char* scatterHeads(ElemType t, const float* src, int64_t ld, int64_t n, int64_t heads, int64_t D,
                         void* dst, int64_t rowsPerHead, int64_t row0, void* stream);
// dst[i, h * D + d] (type t, [n, heads * D]) = src[h, row0 + i, d] (type t, rowsPerHead rows per head).
const char* gatherHeads(ElemType t, const void* src, int64_t rowsPerHead, int64_t row0, int64_t n,
                        int64_t heads, int64_t D, void* dst, void* stream);

// Attention of nq query rows against a cache, one warp per (row, head), online softmax in fp32:
// the fallback where the flash / decode kernels do not support the head dimension or the
// layout. q, o: [heads, qRowsPerHead, D] (rows qRow0..); k, v: [kvHeads, kvRowsPerHead, D].
// Row i is at position qPos0 + i; causal: it sees kv rows [0, min(kvLen, qPos0 + i + 1)),
// else all kvLen rows. Query head h reads kv head h / (heads / kvHeads).
struct RowAttnArgs {
  ElemType dtype = ElemType::F32;
  int64_t heads = 1, kvHeads = 1, headDim = 64;
  int64_t nq = 1, qRowsPerHead = 1, qRow0 = 0, qPos0 = 0;
  int64_t kvLen = 1, kvRowsPerHead = 1;
  bool causal = false;
  float scale = 0.f;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  void* stream = nullptr;
};
constexpr int64_t kRowAttnMaxHeadDim = 256;
const char* attendRows(const RowAttnArgs& a);

// out[0] = the first index of the largest of v[0..n) (fp32), as the CPU model's argmax.
const char* argmaxRow(const float* v, int64_t n, int32_t* out, void* stream);

}  // namespace model
}  // namespace cuda
}  // namespace dilbench
