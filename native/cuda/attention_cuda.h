// Launchers of the CUDA attention kernels. Plain C++ (no CUDA headers), no dependency on the rest
// of native/: the standalone harness in tools/ links these alone. Layout per
// docs/attention-definitions.md: q,o [batch, heads, seqLen, headDim]; k,v
// [batch, kvHeads, seqLen, headDim]; all device pointers of dtype `dtype`.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dilbench {
namespace cuda {

enum class ElemType { F32 = 0, F16 = 1, BF16 = 2 };

struct AttnArgs {
  ElemType dtype = ElemType::F16;
  int64_t batch = 1, heads = 1, kvHeads = 1, seqLen = 1, headDim = 64;
  bool causal = false;
  float scale = 0.f;  // already resolved (> 0)
  // flash only: rows allocated per head in q, k, v, o (0 = seqLen). With seqLen < headStrideRows
  // the kernel attends the first seqLen rows of each head (kv-cache prefill).
  int64_t headStrideRows = 0;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  void* stream = nullptr;  // cudaStream_t
};

// Return nullptr on success or a static message describing why the launch cannot/did not run.
// headDim: tensor-core path for fp16/bf16 at 64 and 128; SIMT path for fp32 and other head dims
// (multiples of 32 up to 256).
bool flashSupports(ElemType t, int64_t headDim);
const char* launchFlash(const AttnArgs& a);
// Which code path launchFlash takes for these arguments ("mma.sync m16n8k16 ..." / "simt ...").
const char* flashPath(ElemType t, int64_t headDim);

// Naive: materialises S = scale*QK^T in `workspace` (fp32, naiveWorkspaceBytes bytes), masks,
// softmaxes rows in place, then O = P V.
size_t naiveWorkspaceBytes(const AttnArgs& a);
bool naiveSupports(ElemType t, int64_t headDim);
const char* launchNaive(const AttnArgs& a, void* workspace);

// Flash-decoding (split-K) step of kv-cache: one query row per head, row `pos` of q/o
// ([batch, heads, rowsPerHead, headDim]), attends cache rows [0, pos] of k/v
// ([batch, kvHeads, rowsPerHead, headDim]). Partial results (fp32) go to `workspace`
// (decodeWorkspaceBytes for the largest pos), then a combine kernel writes o's row `pos`.
struct DecodeArgs {
  ElemType dtype = ElemType::F16;
  int64_t batch = 1, heads = 1, kvHeads = 1, headDim = 128;
  int64_t rowsPerHead = 1;  // L: head stride of q, o, k, v in rows
  int64_t pos = 0;          // query row; attends cache rows 0..pos
  float scale = 0.f;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  void* stream = nullptr;
};
bool decodeSupports(ElemType t, int64_t headDim);
size_t decodeWorkspaceBytes(const DecodeArgs& a);  // for pos = rowsPerHead - 1 (the maximum)
const char* launchDecode(const DecodeArgs& a, void* workspace);
// How many split-K chunks launchDecode uses for these arguments.
int decodeSplits(const DecodeArgs& a);

// ---- attention family: dilated, dilated-grouped, ring, ring-dilated, block-sparse -----------
// (family_cuda.cu; the launches come from the planners of family_cuda_plan.h.) Merged kernels:
// familyBegin, then launchFamily for each planned launch in order (each merges its rows into the
// running fp32 (acc, lse2)), then familyFinish writes o. block-sparse: launchFamily alone (it
// stores o directly; acc / lse unused).
namespace family_math {
struct FamilyLaunch;
}
struct FamilyBuffers {
  ElemType dtype = ElemType::F16;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* acc = nullptr;  // fp32 [batch, heads, seqLen, headDim]; must be o itself when dtype is F32
  float* lse = nullptr;  // fp32 [batch, heads, seqLen], log2 of each row's softmax denominator
  void* stream = nullptr;
};
// acc := 0 (accFloats), lse := -inf (lseFloats), on the stream.
const char* familyBegin(const FamilyBuffers& b, size_t accFloats, size_t lseFloats);
// Checks the launch (checkFamilyLaunch) and the pointers; a launch with no tasks does nothing.
const char* launchFamily(const family_math::FamilyLaunch& l, const FamilyBuffers& b);
// o := acc converted to dtype (nothing to do for F32, whose acc is o).
const char* familyFinish(const FamilyBuffers& b, size_t outElements);

// fp32 <-> dtype conversion on the device (count elements).
const char* convertFromF32(void* dst, const float* src, size_t count, ElemType t, void* stream);
const char* convertToF32(float* dst, const void* src, size_t count, ElemType t, void* stream);

}  // namespace cuda
}  // namespace dilbench
