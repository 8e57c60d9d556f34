// NativeModel wrapper, strict conversion of ModelConfig / ModelWeights / ModelRunOptions, and
// the Promise workers of createModel / generate / forward (see model_wrap.h).
#include "model_wrap.h"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "convert.h"
#include "core/cpu_features.h"
#include "core/errors.h"
#include "core/problem.h"
#include "core/thread_pool.h"
#include "model/transformer.h"
#include "workers.h"

namespace dilbench {
namespace js {

namespace {

using model::Transformer;

// ---- conversion -------------------------------------------------------------------------------

Napi::Object requireObject(const Napi::Value& v, const std::string& field) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray()) typeError(field, v, "an object");
  return v.As<Napi::Object>();
}

std::string toEnum(const Napi::Value& v, const std::string& field, const std::vector<std::string>& allowed) {
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i) list += (i ? " | '" : "'") + allowed[i] + "'";
  if (!v.IsString()) typeError(field, v, list);
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const auto& a : allowed)
    if (a == s) return s;
  rangeError(field, v, list);
}

model::ModelConfig toModelConfig(const Napi::Value& v) {
  Napi::Object o = requireObject(v, "config");
  model::ModelConfig c;
  const Napi::Value name = o.Get("name");
  if (!name.IsString() || name.As<Napi::String>().Utf8Value().empty())
    typeError("name", name, "a non-empty string");
  c.name = name.As<Napi::String>().Utf8Value();
  const std::string arch = toEnum(o.Get("arch"), "arch", {"decoder", "encoder", "encoder-decoder"});
  c.arch = arch == "decoder"   ? model::Arch::Decoder
           : arch == "encoder" ? model::Arch::Encoder
                               : model::Arch::EncoderDecoder;
  constexpr int64_t kBig = int64_t(1) << 24;
  c.vocabSize = toInteger(o.Get("vocabSize"), "vocabSize", 1, kBig);
  c.maxPositions = toInteger(o.Get("maxPositions"), "maxPositions", 1, kBig);
  c.hidden = toInteger(o.Get("hidden"), "hidden", 1, 65536);
  c.layers = toInteger(o.Get("layers"), "layers", 1, 1024);
  const Napi::Value dl = o.Get("decoderLayers");
  if (!dl.IsUndefined()) c.decoderLayers = toInteger(dl, "decoderLayers", 1, 1024);
  c.heads = toInteger(o.Get("heads"), "heads", 1, 1024);
  c.kvHeads = toInteger(o.Get("kvHeads"), "kvHeads", 1, 1024);
  const Napi::Value hd = o.Get("headDim");
  if (!hd.IsUndefined()) c.headDim = toInteger(hd, "headDim", 1, 256);
  c.intermediate = toInteger(o.Get("intermediate"), "intermediate", 1, 1 << 20);
  c.norm = toEnum(o.Get("norm"), "norm", {"layernorm", "rmsnorm"}) == "layernorm" ? model::Norm::LayerNorm
                                                                                  : model::Norm::RMSNorm;
  const std::string act = toEnum(o.Get("activation"), "activation", {"gelu", "relu", "swiglu"});
  c.activation = act == "gelu"   ? model::Activation::Gelu
                 : act == "relu" ? model::Activation::Relu
                                 : model::Activation::SwiGLU;
  const std::string pos = toEnum(o.Get("positional"), "positional", {"learned", "rope", "none"});
  c.positional = pos == "learned" ? model::Positional::Learned
                 : pos == "rope"  ? model::Positional::Rope
                                  : model::Positional::None;
  c.tiedEmbeddings = toBool(o.Get("tiedEmbeddings"), "tiedEmbeddings");
  const Napi::Value eps = o.Get("normEps");
  if (!eps.IsUndefined()) {
    c.normEps = toFiniteNumber(eps, "normEps");
    if (!(c.normEps > 0 && c.normEps < 1)) rangeError("normEps", eps, "a number in (0, 1)");
  }
  const Napi::Value th = o.Get("ropeTheta");
  if (!th.IsUndefined()) {
    c.ropeTheta = toFiniteNumber(th, "ropeTheta");
    if (!(c.ropeTheta > 1)) rangeError("ropeTheta", th, "a finite number > 1");
  }
  c.validate();
  return c;
}

model::WeightsSource toWeights(const Napi::Value& v) {
  Napi::Object o = requireObject(v, "weights");
  model::WeightsSource w;
  const Napi::Value seed = o.Get("seed");
  const Napi::Value tensors = o.Get("tensors");
  if (!seed.IsUndefined() && !tensors.IsUndefined()) {
    rangeError("weights", v, "either { seed } or { tensors }, not both");
  }
  if (!seed.IsUndefined()) {
    w.seeded = true;
    w.seed = static_cast<uint64_t>(toInteger(seed, "seed", 0, kMaxSafeInteger));
    return w;
  }
  if (tensors.IsUndefined())
    typeError("weights", v, "{ seed: number } or { tensors: Record<string, { shape, data }> }");
  Napi::Object t = requireObject(tensors, "tensors");
  w.seeded = false;
  Napi::Array names = t.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    Napi::Object e = requireObject(t.Get(name), name);
    const Napi::Value sh = e.Get("shape");
    if (!sh.IsArray()) typeError(name, sh, "shape: an array of positive integers");
    Napi::Array sa = sh.As<Napi::Array>();
    model::TensorData td;
    for (uint32_t j = 0; j < sa.Length(); ++j)
      td.shape.push_back(toInteger(sa.Get(j), name, 1, kMaxSafeInteger));
    td.data = copyFloat32(e.Get("data"), name);
    w.tensors.emplace(name, std::move(td));
  }
  return w;
}

model::RunOptions toRunOptions(const Napi::Value& v, bool withCache) {
  Napi::Object o = requireObject(v, "options");
  model::RunOptions r;
  const Napi::Value impl = o.Get("implementation");
  if (!impl.IsString() || impl.As<Napi::String>().Utf8Value().empty()) {
    typeError("implementation", impl, "a non-empty implementation name");
  }
  r.implementation = impl.As<Napi::String>().Utf8Value();
  r.threads = static_cast<int>(
      toInteger(o.Get("threads"), "threads", 1, std::max(1, ThreadPool::global().hardwareThreads())));
  if (withCache) r.useCache = toBool(o.Get("useCache"), "useCache");
  return r;
}

// The optional third argument of createModel: { device?: 'cpu' | 'cuda', dtype?: 'fp32' | 'fp16' |
// 'bf16' }. Unknown keys are refused so that a misspelt device never silently runs on the CPU.
model::Placement toPlacement(const Napi::Value& v) {
  model::Placement p;
  if (v.IsUndefined()) return p;
  Napi::Object o = requireObject(v, "options");
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    if (k != "device" && k != "dtype")
      rangeError(k, o.Get(k), "no such model option (allowed: device, dtype)");
  }
  const Napi::Value dev = o.Get("device");
  if (!dev.IsUndefined())
    p.device = toEnum(dev, "device", {"cpu", "cuda"}) == "cuda" ? Device::CUDA : Device::CPU;
  const Napi::Value dt = o.Get("dtype");
  if (!dt.IsUndefined()) {
    const std::string d = toEnum(dt, "dtype", {"fp32", "fp16", "bf16"});
    p.dtype = d == "fp16" ? DType::F16 : d == "bf16" ? DType::BF16 : DType::F32;
  }
  return p;
}

std::vector<int32_t> toTokens(const Napi::Value& v, const std::string& field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    typeError(field, v, "an Int32Array of token ids");
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ArrayBuffer().IsDetached()) rangeError(field, v, "an Int32Array whose buffer is not detached");
  std::vector<int32_t> out(a.ElementLength());
  if (!out.empty()) std::memcpy(out.data(), a.Data(), out.size() * sizeof(int32_t));
  return out;
}

Napi::Object configToJs(Napi::Env env, const model::ModelConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](double x) { return Napi::Number::New(env, x); };
  o.Set("name", c.name);
  o.Set("arch", c.arch == model::Arch::Decoder   ? "decoder"
                : c.arch == model::Arch::Encoder ? "encoder"
                                                 : "encoder-decoder");
  o.Set("vocabSize", n(double(c.vocabSize)));
  o.Set("maxPositions", n(double(c.maxPositions)));
  o.Set("hidden", n(double(c.hidden)));
  o.Set("layers", n(double(c.layers)));
  if (c.arch == model::Arch::EncoderDecoder) o.Set("decoderLayers", n(double(c.resolvedDecoderLayers())));
  o.Set("heads", n(double(c.heads)));
  o.Set("kvHeads", n(double(c.kvHeads)));
  o.Set("headDim", n(double(c.resolvedHeadDim())));
  o.Set("intermediate", n(double(c.intermediate)));
  o.Set("norm", c.norm == model::Norm::LayerNorm ? "layernorm" : "rmsnorm");
  o.Set("activation", c.activation == model::Activation::Gelu   ? "gelu"
                      : c.activation == model::Activation::Relu ? "relu"
                                                                : "swiglu");
  o.Set("positional", c.positional == model::Positional::Learned ? "learned"
                      : c.positional == model::Positional::Rope  ? "rope"
                                                                 : "none");
  o.Set("tiedEmbeddings", Napi::Boolean::New(env, c.tiedEmbeddings));
  o.Set("normEps", n(c.normEps));
  o.Set("ropeTheta", n(c.ropeTheta));
  return o;
}

// ---- the NativeModel class ---------------------------------------------------------------------

std::map<napi_env, Napi::FunctionReference*>& ctors() {
  static std::map<napi_env, Napi::FunctionReference*> m;
  return m;
}
int kConstructMarker = 0;
thread_local std::shared_ptr<Transformer> pendingModel;

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "NativeModel",
        {InstanceMethod<&ModelWrap::Generate>("generate"), InstanceMethod<&ModelWrap::Forward>("forward"),
         InstanceMethod<&ModelWrap::Dispose>("dispose")});
  }
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Transformer> m) {
    pendingModel = std::move(m);
    Napi::Object obj;
    try {
      obj = ctors().at(env)->New({Napi::External<int>::New(env, &kConstructMarker)});
    } catch (...) {
      pendingModel.reset();
      throw;
    }
    pendingModel.reset();
    return obj;
  }
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal() ||
        info[0].As<Napi::External<int>>().Data() != &kConstructMarker || !pendingModel) {
      throw makeJsError(info.Env(), errorCodeName(ErrorCode::InvalidConfig),
                        "model: NativeModel cannot be constructed directly; use binding.createModel()",
                        "model", JsKind::TypeError);
    }
    model_ = std::move(pendingModel);
    Napi::Object self = info.This().As<Napi::Object>();
    Napi::Env env = info.Env();
    auto ro = [](napi_property_attributes a) { return a; };
    self.DefineProperty(
        Napi::PropertyDescriptor::Value("config", configToJs(env, model_->config()), ro(napi_enumerable)));
    self.DefineProperty(Napi::PropertyDescriptor::Value(
        "parameterCount", Napi::Number::New(env, double(model_->parameterCount())), napi_enumerable));
    self.DefineProperty(Napi::PropertyDescriptor::Value(
        "weightBytes", Napi::Number::New(env, double(model_->weightBytes())), napi_enumerable));
    self.DefineProperty(Napi::PropertyDescriptor::Value(
        "device", Napi::String::New(env, deviceName(model_->placement().device)), napi_enumerable));
    self.DefineProperty(Napi::PropertyDescriptor::Value(
        "dtype", Napi::String::New(env, dtypeName(model_->placement().dtype)), napi_enumerable));
  }
  void setBusy(bool b) { busy_ = b; }

 private:
  void requireUsable() const {
    if (disposed_ || !model_) throw Error(ErrorCode::InvalidConfig, "model: the model was disposed", "model");
    if (busy_) {
      throw Error(
          ErrorCode::InvalidConfig,
          "model busy: another generate()/forward() on this model has not settled yet; await it first",
          "model");
    }
  }
  // Marks the model busy (the worker's Done clears it), creates the worker with makeWorker and
  // queues it; clears busy again if creating or queueing throws.
  template <class MakeWorker>
  Napi::Value queueWhileBusy(MakeWorker&& makeWorker) {
    busy_ = true;
    try {
      PromiseWorker* w = makeWorker();
      Napi::Promise p = w->Promise();
      w->Queue();
      return p;
    } catch (...) {
      busy_ = false;
      throw;
    }
  }
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    disposed_ = true;
    model_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Transformer> model_;
  bool busy_ = false;
  bool disposed_ = false;
};

// ---- workers -----------------------------------------------------------------------------------

class CreateModelWorker final : public PromiseWorker {
 public:
  CreateModelWorker(Napi::Env env, model::ModelConfig c, model::WeightsSource w, model::Placement p)
      : PromiseWorker(env, "dilbench:createModel"),
        config_(std::move(c)),
        weights_(std::move(w)),
        placement_(p) {}

 protected:
  void Work() override {
    model_ = std::make_shared<Transformer>(config_, std::move(weights_),
                                           std::max(1, ThreadPool::global().hardwareThreads()), placement_);
  }
  Napi::Value Result(Napi::Env env) override { return ModelWrap::NewInstance(env, std::move(model_)); }

 private:
  model::ModelConfig config_;
  model::WeightsSource weights_;
  model::Placement placement_;
  std::shared_ptr<Transformer> model_;
};

class ModelOpWorker : public WrappedOpWorker<ModelWrap> {
 public:
  ModelOpWorker(Napi::Env env, const char* name, Napi::Object self, ModelWrap* wrap,
                std::shared_ptr<Transformer> m, std::vector<int32_t> tokens, model::RunOptions o,
                std::shared_ptr<CancelToken> cancel)
      : WrappedOpWorker<ModelWrap>(env, name, self, wrap),
        model_(std::move(m)),
        tokens_(std::move(tokens)),
        options_(std::move(o)),
        cancel_(std::move(cancel)) {}

 protected:
  std::shared_ptr<Transformer> model_;
  std::vector<int32_t> tokens_;
  model::RunOptions options_;
  std::shared_ptr<CancelToken> cancel_;
};

class GenerateWorker final : public ModelOpWorker {
 public:
  GenerateWorker(Napi::Env env, Napi::Object self, ModelWrap* wrap, std::shared_ptr<Transformer> m,
                 std::vector<int32_t> prompt, int64_t newTokens, model::RunOptions o,
                 std::shared_ptr<CancelToken> cancel)
      : ModelOpWorker(env, "dilbench:generate", self, wrap, std::move(m), std::move(prompt), std::move(o),
                      std::move(cancel)),
        newTokens_(newTokens) {}

 protected:
  void Work() override { g_ = model_->generate(tokens_, newTokens_, options_, cancel_.get()); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    auto t = Napi::Int32Array::New(env, g_.tokens.size());
    if (!g_.tokens.empty()) std::memcpy(t.Data(), g_.tokens.data(), g_.tokens.size() * sizeof(int32_t));
    o.Set("tokens", t);
    o.Set("prefillNs", Napi::Number::New(env, g_.prefillNs));
    o.Set("stepNs", toFloat64Array(env, g_.stepNs));
    o.Set("stepPoolAllocations", toFloat64Array(env, g_.stepPoolAllocations));
    Napi::Object mem = Napi::Object::New(env);
    mem.Set("weightsBytes", Napi::Number::New(env, double(g_.memory.weightsBytes)));
    mem.Set("kvCacheBytes", Napi::Number::New(env, double(g_.memory.kvCacheBytes)));
    mem.Set("workspaceBytes", Napi::Number::New(env, double(g_.memory.workspaceBytes)));
    mem.Set("peakBytes", Napi::Number::New(env, double(g_.memory.peakBytes)));
    o.Set("memory", mem);
    return o;
  }

 private:
  int64_t newTokens_;
  model::Generation g_;
};

class ForwardWorker final : public ModelOpWorker {
 public:
  using ModelOpWorker::ModelOpWorker;

 protected:
  void Work() override { out_ = model_->forward(tokens_, options_, cancel_.get()); }
  Napi::Value Result(Napi::Env env) override { return toFloat32Array(env, out_); }

 private:
  std::vector<float> out_;
};

Napi::Value ModelWrap::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    requireUsable();
    auto prompt = toTokens(info[0], "prompt");
    const int64_t newTokens = toInteger(info[1], "newTokens", 1, int64_t(1) << 24);
    auto opts = toRunOptions(info[2], true);
    auto cancel = toCancelToken(info[3]);
    return queueWhileBusy([&] {
      return new GenerateWorker(env, Value(), this, model_, std::move(prompt), newTokens, std::move(opts),
                                std::move(cancel));
    });
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    requireUsable();
    auto tokens = toTokens(info[0], "tokens");
    auto opts = toRunOptions(info[1], false);
    auto cancel = toCancelToken(info[2]);
    return queueWhileBusy([&] {
      return new ForwardWorker(env, "dilbench:forward", Value(), this, model_, std::move(tokens),
                               std::move(opts), std::move(cancel));
    });
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value CreateModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto config = toModelConfig(info[0]);
    auto weights = toWeights(info[1]);
    const model::Placement placement = toPlacement(info[2]);
    auto* w = new CreateModelWorker(env, std::move(config), std::move(weights), placement);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value ModelInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("simdLevel", Napi::String::New(env, simdLevelName(activeSimdLevel())));
    o.Set("cudaCompiled", Napi::Boolean::New(env, model::cudaModelCompiled()));
    return o;
  });
}

}  // namespace

void registerModelExports(Napi::Env env, Napi::Object exports) {
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ModelWrap::Init(env)));
  napi_env raw = env;
  ctors()[raw] = ref;
  env.AddCleanupHook([raw, ref]() {
    ctors().erase(raw);
    delete ref;
  });
  exports.Set("createModel", Napi::Function::New<CreateModel>(env, "createModel"));
  exports.Set("modelInfo", Napi::Function::New<ModelInfo>(env, "modelInfo"));
}

}  // namespace js
}  // namespace dilbench
