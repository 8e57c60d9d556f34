// model_fake_check: runs the CUDA model's host code (transformer_cuda.cpp, compiled unchanged
// against the host stand-ins of fake_cuda.cpp) through Transformer with Placement CUDA and
// compares it with the CPU model: forward outputs (fp32 relL2 <= 1e-4; fp16 / bf16 <= 2e-2 with
// weights of std 0.08), greedy tokens (fp32: CUDA cached == uncached == CPU, flash and naive),
// weight bytes as stored, the memory report, step timings and coded errors. What it checks is
// the host side: layouts, offsets and sizes of every buffer (each launcher checks its extents
// against the allocations), the attention dispatch (flash over the cache / decode / naive /
// row attention, chosen by head dimension as on a GPU), caches, token feedback and argmax. It
// does not check the CUDA kernels themselves (test/gpu does, on a GPU).
//   model_fake_check [--verbose]      exit 0 when every check passes
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/errors.h"
#include "model/transformer.h"

using namespace dilbench;
using namespace dilbench::model;

namespace {

int failures = 0;
bool verbose = false;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("  FAIL %s\n", what.c_str());
  } else if (verbose) {
    std::printf("  ok   %s\n", what.c_str());
  }
}

// xorshift32 + Box-Muller, deterministic.
struct Normal {
  uint32_t s;
  explicit Normal(uint32_t seed) : s(seed ? seed : 1) {}
  double uniform() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return (s + 1.0) / 4294967297.0;
  }
  double next() {
    const double r = std::sqrt(-2 * std::log(uniform())), a = 2 * M_PI * uniform();
    return r * std::cos(a);
  }
};

// Matrices N(0, wScale), biases N(0, 0.05), norm weights 1 + N(0, 0.1).
WeightsSource explicitWeights(const ModelConfig& c, double wScale, uint32_t seed) {
  WeightsSource w;
  w.seeded = false;
  uint32_t t = 0;
  for (const TensorSpec& s : expectedTensors(c)) {
    TensorData d;
    d.shape = s.shape;
    int64_t n = 1;
    for (int64_t x : s.shape) n *= x;
    Normal g(seed * 7919u + ++t);
    d.data.resize(static_cast<size_t>(n));
    const bool bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
    for (auto& v : d.data) {
      const double z = g.next();
      v = static_cast<float>(s.shape.size() == 2 ? wScale * z : bias ? 0.05 * z : 1 + 0.1 * z);
    }
    w.tensors.emplace(s.name, std::move(d));
  }
  return w;
}

double relL2(const std::vector<float>& got, const std::vector<float>& want, bool& finite) {
  finite = got.size() == want.size();
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    if (!std::isfinite(got[i])) finite = false;
    num += double(got[i] - want[i]) * (got[i] - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

uint64_t expectedWeightBytes(const ModelConfig& c, DType t) {
  uint64_t b = 0;
  for (const TensorSpec& s : expectedTensors(c)) {
    uint64_t n = 1;
    for (int64_t x : s.shape) n *= static_cast<uint64_t>(x);
    b += n * (s.shape.size() == 2 ? dtypeBytes(t) : 4);
  }
  return b;
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

struct Case {
  std::string label;
  ModelConfig c;
  int64_t promptLength;
  int64_t newTokens;
};

ModelConfig gpt2Tiny() {
  ModelConfig c;
  c.name = "gpt2-tiny";
  c.arch = Arch::Decoder;
  c.vocabSize = 97;
  c.maxPositions = 64;
  c.hidden = 64;
  c.layers = 2;
  c.heads = 2;
  c.kvHeads = 2;
  c.intermediate = 128;
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  ModelConfig g = gpt2Tiny();
  v.push_back({"decoder gpt2-style d32 (flash prefill, row-attention decode)", g, 29, 12});
  ModelConfig l = g;
  l.name = "llama-tiny";
  l.hidden = 128;
  l.heads = 4;
  l.kvHeads = 2;
  l.headDim = 64;
  l.intermediate = 96;
  l.norm = Norm::RMSNorm;
  l.activation = Activation::SwiGLU;
  l.positional = Positional::Rope;
  l.tiedEmbeddings = false;
  l.normEps = 1e-6;
  l.ropeTheta = 500;
  v.push_back({"decoder llama-style GQA 4/2 d64 rope swiglu (flash + decode)", l, 29, 12});
  v.push_back({"decoder llama-style, one-token prompt (prefill by decode)", l, 1, 8});
  ModelConfig d16 = g;
  d16.name = "d16-tiny";
  d16.hidden = 32;
  d16.kvHeads = 1;
  d16.activation = Activation::Relu;
  d16.positional = Positional::None;
  v.push_back({"decoder d16 relu no positions (row attention everywhere)", d16, 29, 12});
  ModelConfig d96 = g;
  d96.name = "d96-tiny";
  d96.hidden = 48;
  d96.heads = 4;
  d96.kvHeads = 1;
  d96.headDim = 96;  // H * D = 384 != hidden
  v.push_back({"decoder d96, heads*headDim != hidden, GQA 4/1", d96, 29, 12});
  ModelConfig d128 = l;
  d128.name = "d128-tiny";
  d128.hidden = 64;
  d128.heads = 2;
  d128.kvHeads = 2;
  d128.headDim = 128;
  v.push_back({"decoder d128 rope (flash + decode at 128)", d128, 17, 9});
  ModelConfig bert = g;
  bert.name = "bert-tiny";
  bert.arch = Arch::Encoder;
  v.push_back({"encoder bert-style d32", bert, 29, 0});
  ModelConfig bertRope = l;
  bertRope.name = "encoder-rope";
  bertRope.arch = Arch::Encoder;
  v.push_back({"encoder rope GQA d64", bertRope, 23, 0});
  ModelConfig t5 = g;
  t5.name = "t5-tiny";
  t5.arch = Arch::EncoderDecoder;
  t5.decoderLayers = 3;
  t5.hidden = 128;
  t5.headDim = 64;
  t5.norm = Norm::RMSNorm;
  t5.activation = Activation::Relu;
  t5.positional = Positional::None;
  t5.tiedEmbeddings = false;
  v.push_back({"encoder-decoder t5-style d64 (cross by flash / decode / row attention)", t5, 29, 10});
  ModelConfig t5d32 = g;
  t5d32.name = "t5-d32";
  t5d32.arch = Arch::EncoderDecoder;
  t5d32.positional = Positional::Learned;
  v.push_back({"encoder-decoder d32 learned positions, tied", t5d32, 13, 7});
  return v;
}

std::vector<int32_t> promptFor(const ModelConfig& c, int64_t n) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>((i * 37 + 11) % c.vocabSize);
  return p;
}

void checkGeneration(const std::string& tag, const Generation& g, int64_t newTokens, const ModelConfig& c,
                     uint64_t weightBytes, bool cached) {
  expect(static_cast<int64_t>(g.tokens.size()) == newTokens, tag + ": token count");
  bool inVocab = true;
  for (int32_t t : g.tokens) inVocab = inVocab && t >= 0 && t < c.vocabSize;
  expect(inVocab, tag + ": tokens inside the vocabulary");
  expect(g.prefillNs > 0 && static_cast<int64_t>(g.stepNs.size()) == newTokens - 1, tag + ": event timings");
  const MemoryReport& m = g.memory;
  expect(m.weightsBytes >= weightBytes, tag + ": memory.weightsBytes >= weightBytes");
  expect(m.peakBytes >= m.weightsBytes + m.kvCacheBytes + m.workspaceBytes, tag + ": peak >= its parts");
  expect(m.workspaceBytes > 0, tag + ": workspace > 0");
  expect(cached ? m.kvCacheBytes > 0 : m.kvCacheBytes == 0,
         tag + ": kvCacheBytes " + std::to_string(m.kvCacheBytes));
}

void runCase(const Case& k) {
  std::printf("%s\n", k.label.c_str());
  const ModelConfig& c = k.c;
  const std::vector<int32_t> prompt = promptFor(c, k.promptLength);
  const bool gen = c.arch != Arch::Encoder;
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const double wScale = t == DType::F32 ? 0.25 : 0.08;
    const double tol = t == DType::F32 ? 1e-4 : 2e-2;
    Transformer cpu(c, explicitWeights(c, wScale, 5), 2);
    RunOptions ro;
    ro.threads = 2;
    const std::vector<float> want = cpu.forward(prompt, ro, nullptr);
    std::vector<int32_t> cpuTokens;
    if (gen) cpuTokens = cpu.generate(prompt, k.newTokens, ro, nullptr).tokens;
    Placement pl;
    pl.device = Device::CUDA;
    pl.dtype = t;
    Transformer dev(c, explicitWeights(c, wScale, 5), 2, pl);
    const std::string d = dtypeName(t);
    expect(dev.weightBytes() == expectedWeightBytes(c, t),
           d + " weightBytes " + std::to_string(dev.weightBytes()) +
               " == " + std::to_string(expectedWeightBytes(c, t)));
    expect(dev.parameterCount() == cpu.parameterCount(), d + " parameterCount");
    for (const char* impl : {"flash", "naive"}) {
      RunOptions o;
      o.implementation = impl;
      bool finite = false;
      const double e = relL2(dev.forward(prompt, o, nullptr), want, finite);
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s %s forward relL2 %.3e <= %.0e", d.c_str(), impl, e, tol);
      expect(finite && e <= tol, buf);
      std::printf("  %s %-5s forward relL2 %.3e\n", d.c_str(), impl, e);
      if (!gen) continue;
      o.useCache = true;
      const Generation cached = dev.generate(prompt, k.newTokens, o, nullptr);
      o.useCache = false;
      const Generation uncached = dev.generate(prompt, k.newTokens, o, nullptr);
      const std::string tag = d + " " + impl;
      checkGeneration(tag + " cached", cached, k.newTokens, c, dev.weightBytes(), true);
      checkGeneration(tag + " uncached", uncached, k.newTokens, c, dev.weightBytes(), false);
      std::printf("  %s %-5s tokens cached %s | uncached %s | cpu %s\n", d.c_str(), impl,
                  join(cached.tokens).c_str(), join(uncached.tokens).c_str(), join(cpuTokens).c_str());
      if (t == DType::F32) {
        expect(cached.tokens == uncached.tokens, tag + ": cached == uncached tokens");
        expect(cached.tokens == cpuTokens, tag + ": tokens == the CPU model's");
      }
    }
  }
}

void checkErrors() {
  std::printf("coded errors\n");
  const ModelConfig c = gpt2Tiny();
  Placement pl;
  pl.device = Device::CUDA;
  pl.dtype = DType::BF16;
  Transformer dev(c, explicitWeights(c, 0.08, 1), 1, pl);
  const std::vector<int32_t> prompt = promptFor(c, 5);
  RunOptions o;
  o.implementation = "dilated";
  try {
    dev.forward(prompt, o, nullptr);
    expect(false, "implementation dilated refused");
  } catch (const Error& e) {
    expect(e.code() == ErrorCode::Unsupported && e.field() == "implementation",
           std::string("implementation: ") + e.what());
  }
  o.implementation = "flash";
  CancelToken cancel;
  cancel.cancel();
  try {
    dev.generate(prompt, 3, o, &cancel);
    expect(false, "cancelled generate throws");
  } catch (const Error& e) {
    expect(e.code() == ErrorCode::Cancelled, std::string("cancel: ") + e.what());
  }
  try {
    std::vector<int32_t> bad = prompt;
    bad[2] = static_cast<int32_t>(c.vocabSize);
    dev.forward(bad, o, nullptr);
    expect(false, "token outside the vocabulary refused");
  } catch (const Error& e) {
    expect(e.code() == ErrorCode::InvalidConfig && e.field() == "tokens", std::string("tokens: ") + e.what());
  }
  // still usable after the refused calls
  const std::vector<float> out = dev.forward(prompt, o, nullptr);
  bool finite = out.size() == static_cast<size_t>(5 * c.vocabSize);
  for (float x : out) finite = finite && std::isfinite(x);
  expect(finite, "forward after refused calls");
  try {
    Placement cpuHalf;
    cpuHalf.dtype = DType::F16;
    Transformer bad(c, explicitWeights(c, 0.08, 1), 1, cpuHalf);
    expect(false, "fp16 on the CPU refused");
  } catch (const Error& e) {
    expect(e.code() == ErrorCode::Unsupported && e.field() == "dtype", std::string("cpu fp16: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--verbose") == 0) verbose = true;
  for (const Case& k : cases()) {
    try {
      runCase(k);
    } catch (const std::exception& e) {
      std::printf("  FAIL threw: %s\n", e.what());
      ++failures;
    }
  }
  try {
    checkErrors();
  } catch (const std::exception& e) {
    std::printf("  FAIL threw: %s\n", e.what());
    ++failures;
  }
  std::printf("model_fake_check: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}
