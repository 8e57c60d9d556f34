// Synthetic / checkpoint transformer models of issue 7, fp32 on the CPU: decoder (GPT-2 / Llama
// style), encoder (BERT style, one bidirectional forward) and encoder-decoder (T5 style: encode
// once, decoder with causal self-attention + cross-attention). Pure C++, no Node.
// Placement CUDA hands the same computation to native/cuda/model (through model_device.h) with
// weights, KV cache and attention in fp32, fp16 or bf16; this file stays free of CUDA.
//
// Computation per layer (pre-norm): x += proj(attn(norm1(x))); [x += crossProj(cross(normX(x)))];
// x += mlp(norm2(x)); final norm; LM head = x @ wte^T (tied) or x @ lm_head.weight^T.
//   norm: LayerNorm (weight, bias) or RMSNorm (weight), eps = normEps (default 1e-5)
//   gelu: tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's gelu_new)
//   swiglu: c_fc produces [gate | up] (2 * intermediate columns); act = silu(gate) * up
//   rope: rotate-half pairs (i, i + D/2), angle pos * ropeTheta^(-2i/D), applied to q and k
//   learned: x = wte[token] + wpe[pos]; positions of a decoder step continue the prefix
//   attention: softmax(q k^T / sqrt(headDim)); query head h reads kv head h / (heads / kvHeads)
// Prefill and recompute attention go through the KernelRegistry implementation named by
// RunOptions::implementation (causal for decoders, bidirectional for encoders); cached decode
// steps and cross-attention use attendBlock against the per-layer KV cache.
//
// Tensor names (Conv1D layout: y = x @ W + b; shapes as [rows, cols]); D = headDim,
// H = heads, G = kvHeads, E = hidden, I = intermediate, F = I (2I for swiglu):
//   wte.weight [vocab, E]; wpe.weight [maxPositions, E] (positional 'learned' only)
//   per layer, prefix "h.{i}." (decoder layers, or the encoder layers of an encoder-decoder):
//     ln_1.weight [E], ln_1.bias [E] (layernorm only); attn.c_attn.weight [E, (H+2G)*D],
//     attn.c_attn.bias [(H+2G)*D] (columns: q heads, then k heads, then v heads);
//     attn.c_proj.weight [H*D, E], attn.c_proj.bias [E]; ln_2.*; mlp.c_fc.weight [E, F],
//     mlp.c_fc.bias [F]; mlp.c_proj.weight [I, E], mlp.c_proj.bias [E]
//   ln_f.weight [E], ln_f.bias [E] (layernorm only): final norm (of the encoder in enc-dec)
//   encoder-decoder decoder layers, prefix "dec.h.{i}.": the above plus ln_cross.*,
//     crossattn.q_attn.weight [E, H*D] + bias [H*D], crossattn.kv_attn.weight [E, 2*G*D] +
//     bias [2*G*D] (k heads then v heads), crossattn.c_proj.weight [H*D, E] + bias [E];
//     dec.ln_f.* the decoder's final norm
//   lm_head.weight [vocab, E] when tiedEmbeddings is false (decoder, encoder-decoder)
// Seeded weights: matrices and embeddings N(0, 0.02) (tensor number t, in the order above, uses
// the session's splitmix64 + Box-Muller stream t of the seed), biases 0, norm weights 1.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../core/cancel.h"
#include "../core/memory_pool.h"
#include "../core/problem.h"
#include "gemm.h"

namespace dilbench {
namespace model {

enum class Arch { Decoder, Encoder, EncoderDecoder };
enum class Norm { LayerNorm, RMSNorm };
enum class Activation { Gelu, Relu, SwiGLU };
enum class Positional { Learned, Rope, None };

struct ModelConfig {
  std::string name = "model";
  Arch arch = Arch::Decoder;
  int64_t vocabSize = 0;
  int64_t maxPositions = 0;
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t decoderLayers = 0;  // encoder-decoder only (0 = layers)
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;  // 0 = hidden / heads
  int64_t intermediate = 0;
  Norm norm = Norm::LayerNorm;
  Activation activation = Activation::Gelu;
  Positional positional = Positional::Learned;
  bool tiedEmbeddings = true;
  double normEps = 1e-5;
  double ropeTheta = 10000.0;

  int64_t resolvedHeadDim() const { return headDim > 0 ? headDim : (heads > 0 ? hidden / heads : 0); }
  int64_t resolvedDecoderLayers() const { return decoderLayers > 0 ? decoderLayers : layers; }
  // Throws Error(InvalidConfig) naming the field (camelCase, as in ModelConfig of the TS side).
  void validate() const;
};

struct TensorData {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct WeightsSource {
  bool seeded = true;
  uint64_t seed = 0;
  std::map<std::string, TensorData> tensors;  // when !seeded; unknown names are ignored
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  enum Init { Normal, Zero, One } init = Normal;
};
// Every tensor the config needs, in seeding order.
std::vector<TensorSpec> expectedTensors(const ModelConfig& c);
std::string shapeString(const std::vector<int64_t>& shape);  // "[768, 2304]"

struct RunOptions {
  std::string implementation = "flash";
  int threads = 1;
  bool useCache = true;
};

// Where the model runs: the CPU model computes in fp32 only; device CUDA (when the CUDA backend
// is compiled in and a device exists) runs the same computation with weights, KV cache and
// attention in dtype (native/cuda/model/NOTES.md).
struct Placement {
  Device device = Device::CPU;
  DType dtype = DType::F32;
};

class DeviceModel;  // native/cuda/model/model_device.h
// True when this build carries the CUDA model (the CUDA backend was compiled in); whether a
// device exists is only known when a model is created.
bool cudaModelCompiled();

struct MemoryReport {
  uint64_t weightsBytes = 0;
  uint64_t kvCacheBytes = 0;
  uint64_t workspaceBytes = 0;
  uint64_t peakBytes = 0;  // weights + cache + workspace at the run's peak (pool bytes in use)
};

struct Generation {
  std::vector<int32_t> tokens;
  double prefillNs = 0;
  std::vector<double> stepNs;
  // Allocations from the model's MemoryPool during each later decode step (one per stepNs
  // entry; the CPU model only, empty on a device). 0 in steady-state KV-cache decode.
  std::vector<double> stepPoolAllocations;
  MemoryReport memory;
};

class Transformer {
 public:
  // Validates config and weights; throws Error(InvalidConfig) naming the field or tensor.
  // Placement: Error(Unsupported, 'dtype') for fp16/bf16 on the CPU; Error(Unsupported,
  // 'device') with the reason when CUDA is not compiled in or no device is usable.
  Transformer(const ModelConfig& config, WeightsSource weights, int threads = 1, Placement placement = {});
  ~Transformer();
  const ModelConfig& config() const { return cfg_; }
  int64_t parameterCount() const { return params_; }
  uint64_t weightBytes() const { return weightBytes_; }
  const Placement& placement() const { return placement_; }

  // Greedy generation (decoder: after the prompt; encoder-decoder: prompt is the encoder input,
  // the decoder starts from token 0). Encoder: Error(InvalidConfig) 'arch'.
  Generation generate(const std::vector<int32_t>& prompt, int64_t newTokens, const RunOptions& o,
                      const CancelToken* cancel);
  // Decoder: logits [n, vocab]; encoder: final hidden states [n, hidden]; encoder-decoder:
  // logits [n, vocab] of the decoder fed the same tokens (teacher forcing) over their encoding.
  std::vector<float> forward(const std::vector<int32_t>& tokens, const RunOptions& o,
                             const CancelToken* cancel);

  struct Impl;

 private:
  ModelConfig cfg_;
  int64_t params_ = 0;
  uint64_t weightBytes_ = 0;
  Placement placement_;
  std::unique_ptr<Impl> impl_;           // the CPU model (null on a device)
  std::unique_ptr<DeviceModel> device_;  // the device model (null on the CPU)
};

}  // namespace model
}  // namespace dilbench
