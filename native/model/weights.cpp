// Config validation, the tensor list of a config, and seeded / given weights (transformer.h).
#include "weights.h"

#include <algorithm>
#include <cmath>

#include "../core/errors.h"
#include "../core/random.h"
#include "../core/thread_pool.h"

namespace dilbench {
namespace model {

namespace {

void requireRange(int64_t v, int64_t lo, int64_t hi, const char* field) {
  if (v < lo || v > hi) {
    throwInvalid(field, "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                            std::to_string(v));
  }
}

}  // namespace

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void ModelConfig::validate() const {
  constexpr int64_t kBig = int64_t(1) << 24;
  requireRange(vocabSize, 1, kBig, "vocabSize");
  requireRange(maxPositions, 1, kBig, "maxPositions");
  requireRange(hidden, 1, 65536, "hidden");
  requireRange(layers, 1, 1024, "layers");
  if (arch == Arch::EncoderDecoder) requireRange(resolvedDecoderLayers(), 1, 1024, "decoderLayers");
  else if (decoderLayers != 0)
    throwInvalid("decoderLayers", "only an encoder-decoder model has decoderLayers");
  requireRange(heads, 1, 1024, "heads");
  requireRange(kvHeads, 1, heads, "kvHeads");
  if (heads % kvHeads != 0) {
    throwInvalid("kvHeads", "heads (" + std::to_string(heads) + ") must be a multiple of kvHeads (" +
                                std::to_string(kvHeads) + ")");
  }
  if (headDim != 0) {
    requireRange(headDim, 1, 256, "headDim");
  } else if (hidden % heads != 0) {
    throwInvalid("headDim", "hidden (" + std::to_string(hidden) + ") is not a multiple of heads (" +
                                std::to_string(heads) + "); give headDim");
  } else {
    requireRange(hidden / heads, 1, 256, "headDim");
  }
  requireRange(intermediate, 1, 1 << 20, "intermediate");
  if (positional == Positional::Rope && resolvedHeadDim() % 2 != 0) {
    throwInvalid("positional", "rope needs an even headDim, got " + std::to_string(resolvedHeadDim()));
  }
  if (!(std::isfinite(normEps) && normEps > 0 && normEps < 1)) throwInvalid("normEps", "must be in (0, 1)");
  if (!(std::isfinite(ropeTheta) && ropeTheta > 1)) throwInvalid("ropeTheta", "must be a finite number > 1");
}

std::vector<TensorSpec> expectedTensors(const ModelConfig& c) {
  const int64_t E = c.hidden, D = c.resolvedHeadDim(), H = c.heads, G = c.kvHeads, I = c.intermediate;
  const int64_t F = c.activation == Activation::SwiGLU ? 2 * I : I;
  const bool ln = c.norm == Norm::LayerNorm;
  std::vector<TensorSpec> v;
  auto add = [&](const std::string& n, std::vector<int64_t> s, TensorSpec::Init init) {
    v.push_back(TensorSpec{n, std::move(s), init});
  };
  auto norm = [&](const std::string& n) {
    add(n + ".weight", {E}, TensorSpec::One);
    if (ln) add(n + ".bias", {E}, TensorSpec::Zero);
  };
  auto linear = [&](const std::string& n, int64_t in, int64_t out) {
    add(n + ".weight", {in, out}, TensorSpec::Normal);
    add(n + ".bias", {out}, TensorSpec::Zero);
  };
  auto layer = [&](const std::string& p, bool cross) {
    norm(p + "ln_1");
    linear(p + "attn.c_attn", E, (H + 2 * G) * D);
    linear(p + "attn.c_proj", H * D, E);
    if (cross) {
      norm(p + "ln_cross");
      linear(p + "crossattn.q_attn", E, H * D);
      linear(p + "crossattn.kv_attn", E, 2 * G * D);
      linear(p + "crossattn.c_proj", H * D, E);
    }
    norm(p + "ln_2");
    linear(p + "mlp.c_fc", E, F);
    linear(p + "mlp.c_proj", I, E);
  };
  add("wte.weight", {c.vocabSize, E}, TensorSpec::Normal);
  if (c.positional == Positional::Learned) add("wpe.weight", {c.maxPositions, E}, TensorSpec::Normal);
  for (int64_t i = 0; i < c.layers; ++i) layer("h." + std::to_string(i) + ".", false);
  norm("ln_f");
  if (c.arch == Arch::EncoderDecoder) {
    for (int64_t i = 0; i < c.resolvedDecoderLayers(); ++i) layer("dec.h." + std::to_string(i) + ".", true);
    norm("dec.ln_f");
  }
  if (c.arch != Arch::Encoder && !c.tiedEmbeddings)
    add("lm_head.weight", {c.vocabSize, E}, TensorSpec::Normal);
  return v;
}

void checkTensor(const TensorSpec& spec, const WeightsSource& source) {
  if (source.seeded) return;
  size_t count = 1;
  for (int64_t d : spec.shape) count *= static_cast<size_t>(d);
  auto it = source.tensors.find(spec.name);
  const std::string want = spec.name + " " + shapeString(spec.shape);
  if (it == source.tensors.end()) {
    throw Error(ErrorCode::InvalidConfig, "weights: missing tensor " + want, spec.name);
  }
  const TensorData& td = it->second;
  if (td.shape != spec.shape) {
    throw Error(ErrorCode::InvalidConfig,
                "weights: tensor " + spec.name + " has shape " + shapeString(td.shape) + "; expected " +
                    shapeString(spec.shape),
                spec.name);
  }
  if (td.data.size() != count) {
    throw Error(ErrorCode::InvalidConfig,
                "weights: tensor " + spec.name + " has " + std::to_string(td.data.size()) +
                    " elements; expected " + std::to_string(count) + " for shape " + shapeString(spec.shape),
                spec.name);
  }
}

std::vector<float> materializeTensor(const TensorSpec& spec, uint64_t t, WeightsSource& source, int threads) {
  size_t count = 1;
  for (int64_t d : spec.shape) count *= static_cast<size_t>(d);
  if (source.seeded) {
    std::vector<float> out(count, spec.init == TensorSpec::One ? 1.f : 0.f);
    if (spec.init == TensorSpec::Normal) fillNormal(out.data(), count, source.seed, t + 1, 0.02, threads);
    return out;
  }
  checkTensor(spec, source);
  TensorData& td = source.tensors.find(spec.name)->second;
  std::vector<float> out = std::move(td.data);
  td.data.clear();
  return out;
}

}  // namespace model
}  // namespace dilbench
