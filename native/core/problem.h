// Backend-neutral description of one attention problem (the "op definition" of ggml's design):
// shapes, masking, dtype and the implementation-specific parameters. Kernels read it, never
// change it. docs/attention-definitions.md is the normative definition.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dilbench {

enum class DType { F32, F16, BF16 };
enum class Device { CPU, CUDA };

const char* dtypeName(DType);    // "fp32" | "fp16" | "bf16"
const char* deviceName(Device);  // "cpu" | "cuda"
size_t dtypeBytes(DType);

struct AttentionProblem {
  std::string implementation;  // registry name: "naive", "flash", ...
  Device device = Device::CPU;
  DType dtype = DType::F32;
  int64_t batch = 1;
  int64_t heads = 8;
  int64_t kvHeads = 8;  // heads % kvHeads == 0; query head h reads kv head h / (heads / kvHeads)
  int64_t seqLen = 1;
  int64_t headDim = 64;
  bool causal = false;
  double scale = 0.0;  // <= 0 means 1/sqrt(headDim); resolvedScale() applies that rule

  // dilated / dilated-grouped / ring-dilated: pairs (segmentLengths[i], dilationRates[i])
  std::vector<int64_t> segmentLengths;
  std::vector<int64_t> dilationRates;
  // ring / ring-dilated: simulated ranks
  int64_t ringSize = 1;
  // block-sparse
  std::string blockPattern = "local";  // local | strided | dilated | random
  int64_t blockSize = 64;
  int64_t window = 4;
  int64_t stride = 4;
  double density = 0.1;
  // kv-cache: seqLen == promptLen + newTokens
  int64_t promptLen = 0;
  int64_t newTokens = 0;
  // "attend" (the prompt's rows are attended: a real prefill) or "skip" (the prompt only fills
  // the cache and its output rows are 0: decode timed at a deep context without the prefill's
  // quadratic cost)
  std::string prefill = "attend";

  uint64_t seed = 42;

  double resolvedScale() const;
  int64_t groupSize() const { return heads / kvHeads; }
  // Element counts of the [batch, heads|kvHeads, seqLen, headDim] tensors.
  int64_t qElements() const { return batch * heads * seqLen * headDim; }
  int64_t kvElements() const { return batch * kvHeads * seqLen * headDim; }

  // Checks shared by every implementation (positive sizes, heads % kvHeads, headDim supported,
  // byte counts that do not overflow). Throws Error(InvalidConfig) naming the field.
  void validateCommon() const;
};

}  // namespace dilbench
