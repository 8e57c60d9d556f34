// Module init: exports exactly the NativeBinding interface of src/native/binding.ts.
#include <napi.h>

#include "common.h"
#include "convert.h"
#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/descriptor.h"
#include "core/kernel.h"
#include "core/plugin.h"
#include "core/thread_pool.h"
#include "cpu/family.h"
#include "cuda_info.h"
#include "model_wrap.h"
#include "session_wrap.h"
#include "workers.h"

#ifndef DILBENCH_VERSION
#define DILBENCH_VERSION ""
#endif
#ifndef DILBENCH_BUILD_TYPE
#define DILBENCH_BUILD_TYPE "Release"
#endif

namespace dilbench {
namespace js {
namespace {

int hardwareThreads() { return std::max(1, ThreadPool::global().hardwareThreads()); }

Napi::Object paramSpecToJs(Napi::Env env, const ParamSpec& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, s.name));
  o.Set("type", Napi::String::New(env, paramTypeName(s.type)));
  if (s.type != ParamType::Enum) {
    o.Set("min", Napi::Number::New(env, s.min));
    o.Set("max", Napi::Number::New(env, s.max));
    o.Set("minExclusive", Napi::Boolean::New(env, s.minExclusive));
  }
  Napi::Array choices = Napi::Array::New(env, s.choices.size());
  for (size_t j = 0; j < s.choices.size(); ++j)
    choices.Set(static_cast<uint32_t>(j), Napi::String::New(env, s.choices[j]));
  o.Set("choices", choices);
  o.Set("default", Napi::String::New(env, s.defaultText));
  o.Set("allowed", Napi::String::New(env, paramAllowed(s)));
  o.Set("help", Napi::String::New(env, s.help));
  return o;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    const char* version = DILBENCH_VERSION;
    o.Set("version", Napi::String::New(env, version[0] ? version : "unknown"));
    o.Set("buildType", Napi::String::New(env, DILBENCH_BUILD_TYPE));
    o.Set("simdLevel", Napi::String::New(env, simdLevelName(activeSimdLevel())));
    o.Set("detectedSimdLevel", Napi::String::New(env, simdLevelName(detectedSimdLevel())));
    o.Set("hardwareThreads", Napi::Number::New(env, hardwareThreads()));
    o.Set("lastLevelCacheBytes",
          Napi::Number::New(env, static_cast<double>(backendFor(Device::CPU).lastLevelCacheBytes())));
    Napi::Object cuda = Napi::Object::New(env);
#ifdef DILBENCH_WITH_CUDA
    cuda.Set("compiled", Napi::Boolean::New(env, true));
#else
    cuda.Set("compiled", Napi::Boolean::New(env, false));
#endif
    std::vector<CudaDeviceSummary> devs;
    std::string devError;
    if (&cudaDeviceSummaries != nullptr) {
      try {
        devs = cudaDeviceSummaries();
        if (devs.empty() && &cudaDeviceCountError != nullptr) devError = cudaDeviceCountError();
      } catch (...) {
        devs.clear();  // a broken driver reports no devices rather than failing info()
        devError = "the CUDA driver failed while listing devices";
      }
    }
    Napi::Array arr = Napi::Array::New(env, devs.size());
    for (size_t i = 0; i < devs.size(); ++i) {
      const auto& d = devs[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("index", Napi::Number::New(env, d.index));
      x.Set("name", Napi::String::New(env, d.name));
      x.Set("computeCapability", Napi::String::New(env, d.computeCapability));
      x.Set("totalMemoryBytes", Napi::Number::New(env, static_cast<double>(d.totalMemoryBytes)));
      x.Set("smClockMHz", Napi::Number::New(env, d.smClockMHz));
      x.Set("maxSmClockMHz", Napi::Number::New(env, d.maxSmClockMHz));
      x.Set("clockSource", Napi::String::New(env, d.clockSource));
      x.Set("multiProcessors", Napi::Number::New(env, d.multiProcessors));
      x.Set("l2CacheBytes", Napi::Number::New(env, static_cast<double>(d.l2CacheBytes)));
      x.Set("driverVersion", Napi::String::New(env, d.driverVersion));
      x.Set("runtimeVersion", Napi::String::New(env, d.runtimeVersion));
      arr.Set(static_cast<uint32_t>(i), x);
    }
    cuda.Set("deviceCount", Napi::Number::New(env, static_cast<double>(devs.size())));
    cuda.Set("devices", arr);
    if (!devError.empty()) cuda.Set("error", Napi::String::New(env, devError));
    o.Set("cuda", cuda);
    return o;
  });
}

// The implementation's descriptor (native/core/descriptor.h) on its listImplementations() entry.
void setDescriptor(Napi::Env env, Napi::Object& o, const ImplementationDescriptor& d) {
  auto strings = [&](const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t j = 0; j < v.size(); ++j) a.Set(static_cast<uint32_t>(j), Napi::String::New(env, v[j]));
    return a;
  };
  o.Set("function", d.function.empty() ? env.Null() : Napi::String::New(env, d.function));
  o.Set("exactDense", Napi::String::New(env, exactDenseName(d.exactDense)));
  o.Set("partner", d.partner.empty() ? env.Null() : Napi::String::New(env, d.partner));
  Napi::Array params = Napi::Array::New(env, d.params.size());
  for (size_t j = 0; j < d.params.size(); ++j)
    params.Set(static_cast<uint32_t>(j), paramSpecToJs(env, paramSpec(d.params[j])));
  o.Set("params", params);
  o.Set("telemetry", strings(d.telemetry));
  o.Set("origin", Napi::String::New(env, d.origin));
  o.Set("countsSource", Napi::String::New(env, d.countsSource));
  if (d.origin == "plugin") {
    o.Set("pluginPath", Napi::String::New(env, d.pluginPath));
    o.Set("pluginAbi", Napi::String::New(env, d.pluginAbi));
  }
}

// resolvedParams(problem): the parameters of the problem's function as its kernels resolve them
// (dilated pairs by length and shrunk; the kv-cache split), for callers that run the function
// elsewhere (Python plugins).
Napi::Value ResolvedParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    AttentionProblem p = toProblem(info[0]);
    p.validateCommon();
    const std::string fn =
        info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : functionOf(p.implementation);
    Napi::Object o = Napi::Object::New(env);
    if (fn == "dilated" || fn == "dilated-grouped") {
      const auto pairs = resolveDilatedPairs(p);
      Napi::Array w = Napi::Array::New(env, pairs.size()), r = Napi::Array::New(env, pairs.size());
      for (size_t i = 0; i < pairs.size(); ++i) {
        w.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(pairs[i].w)));
        r.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(pairs[i].r)));
      }
      o.Set("segmentLengths", w);
      o.Set("dilationRates", r);
    } else if (fn == "kv-cache") {
      const KvCacheSplit s = resolveKvCache(p);
      o.Set("promptLen", Napi::Number::New(env, static_cast<double>(s.promptLen)));
      o.Set("newTokens", Napi::Number::New(env, static_cast<double>(s.newTokens)));
      o.Set("prefill", Napi::String::New(env, s.attendPrompt ? "attend" : "skip"));
    } else if (fn == "block-sparse") {
      validateBlockSparse(p);
      o.Set("blockPattern", Napi::String::New(env, p.blockPattern));
      o.Set("blockSize", Napi::Number::New(env, static_cast<double>(p.blockSize)));
      o.Set("window", Napi::Number::New(env, static_cast<double>(p.window)));
      o.Set("stride", Napi::Number::New(env, static_cast<double>(p.stride)));
      o.Set("density", Napi::Number::New(env, p.density));
    }
    return o;
  });
}

Napi::Value ParamSpecs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const auto& specs = paramSpecs();
    Napi::Array arr = Napi::Array::New(env, specs.size());
    for (size_t i = 0; i < specs.size(); ++i) arr.Set(static_cast<uint32_t>(i), paramSpecToJs(env, specs[i]));
    return arr;
  });
}

// loadPlugin(path): dlopen a C ABI plugin and register its kernels (native/core/plugin.h).
Napi::Value LoadPluginFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (!info[0].IsString()) typeError("plugin", info[0], "a path to a shared library");
    const LoadedPlugin l = loadPlugin(info[0].As<Napi::String>().Utf8Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", Napi::String::New(env, l.path));
    o.Set("pluginName", Napi::String::New(env, l.pluginName));
    o.Set("abi", Napi::String::New(env, l.abi));
    Napi::Array ks = Napi::Array::New(env, l.kernels.size());
    for (size_t j = 0; j < l.kernels.size(); ++j)
      ks.Set(static_cast<uint32_t>(j), Napi::String::New(env, l.kernels[j]));
    o.Set("kernels", ks);
    return o;
  });
}

Napi::Value ListImplementations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const auto list = KernelRegistry::instance().list();
    Napi::Array arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", Napi::String::New(env, list[i].name));
      o.Set("device", Napi::String::New(env, deviceName(list[i].device)));
      Napi::Array dts = Napi::Array::New(env, list[i].dtypes.size());
      for (size_t j = 0; j < list[i].dtypes.size(); ++j) {
        dts.Set(static_cast<uint32_t>(j), Napi::String::New(env, dtypeName(list[i].dtypes[j])));
      }
      o.Set("dtypes", dts);
      o.Set("description", Napi::String::New(env, list[i].description));
      if (const auto* d = DescriptorRegistry::instance().find(list[i].name)) setDescriptor(env, o, *d);
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  });
}

Napi::Value PlanFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const AttentionProblem p = toProblem(info[0]);
    const SessionOptions o = toOptions(info[1]);
    return planToJs(env, planSession(p, o));
  });
}

Napi::Value CreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const AttentionProblem p = toProblem(info[0]);
    const SessionOptions o = toOptions(info[1]);
    return queueCreateSession(env, p, o);
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

void checkLength(size_t got, int64_t want, const char* field, const char* shape) {
  if (static_cast<int64_t>(got) != want) {
    throw ArgError(JsKind::RangeError, field,
                   std::string("Invalid ") + field + ": got a Float32Array of length " + std::to_string(got) +
                       "; expected length " + std::to_string(want) + " (" + shape + ")");
  }
}

Napi::Value Compute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const AttentionProblem p = toProblem(info[0]);
    const SessionOptions o = toOptions(info[1]);
    p.validateCommon();
    Napi::Float32Array q = checkedFloat32(info[2], "q");
    Napi::Float32Array k = checkedFloat32(info[3], "k");
    Napi::Float32Array v = checkedFloat32(info[4], "v");
    checkLength(q.ElementLength(), p.qElements(), "q", "batch*heads*seqLen*headDim");
    checkLength(k.ElementLength(), p.kvElements(), "k", "batch*kvHeads*seqLen*headDim");
    checkLength(v.ElementLength(), p.kvElements(), "v", "batch*kvHeads*seqLen*headDim");
    auto cancel = toCancelToken(info[5]);
    std::optional<Napi::Float32Array> out;
    if (!info[6].IsUndefined()) {
      out = checkedFloat32(info[6], "out");
      checkLength(out->ElementLength(), p.qElements(), "out", "batch*heads*seqLen*headDim");
    }
    const bool copyInputs = info[7].IsUndefined() || toBool(info[7], "copyInputs");
    if (out && !copyInputs) {
      // the kernel would read an input while it writes over it
      const auto overlaps = [&](const Napi::Float32Array& a) {
        return a.Data() < out->Data() + out->ElementLength() && out->Data() < a.Data() + a.ElementLength();
      };
      if (overlaps(q) || overlaps(k) || overlaps(v)) {
        throw ArgError(JsKind::RangeError, "out",
                       "Invalid out: shares memory with q, k or v; with copyInputs false it must be a "
                       "separate array");
      }
    }
    return queueCompute(env, p, o, q, k, v, std::move(cancel), out, copyInputs);
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

// The reference is device-independent: check the name against every registered kernel (an
// unknown one gets the registry's InvalidConfig listing the known names) and run that kernel's
// own parameter checks, so reference() rejects exactly what a session would.
void validateForReference(const AttentionProblem& p) {
  const auto known = KernelRegistry::instance().list();
  const KernelInfo* match = nullptr;
  for (const auto& k : known) {
    if (k.name == p.implementation && (!match || k.device == p.device)) match = &k;
  }
  if (!match) {
    KernelRegistry::instance().create(p.implementation, p.device);  // throws InvalidConfig
    return;
  }
  KernelRegistry::instance().create(match->name, match->device)->validate(p);
}

Napi::Value Reference(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const AttentionProblem p = toProblem(info[0]);
    p.validateCommon();
    validateForReference(p);
    auto q = copyFloat32(info[1], "q");
    auto k = copyFloat32(info[2], "k");
    auto v = copyFloat32(info[3], "v");
    checkLength(q.size(), p.qElements(), "q", "batch*heads*seqLen*headDim");
    checkLength(k.size(), p.kvElements(), "k", "batch*kvHeads*seqLen*headDim");
    checkLength(v.size(), p.kvElements(), "v", "batch*kvHeads*seqLen*headDim");
    auto cancel = toCancelToken(info[4]);
    return queueReference(env, p, std::move(q), std::move(k), std::move(v), std::move(cancel));
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value MeasurePeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const int threads = static_cast<int>(toInteger(info[0], "threads", 1, hardwareThreads()));
    const double seconds = toFiniteNumber(info[1], "durationSeconds");
    if (!(seconds > 0 && seconds <= 60)) {
      rangeError("durationSeconds", info[1], "a number in (0, 60]");
    }
    return queueMeasurePeak(env, threads, seconds);
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

// fmaSentinel(threads, iterationsPerThread): the drift sentinel's GFLOP/s (synchronous: a few ms).
Napi::Value FmaSentinel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const int threads = static_cast<int>(toInteger(info[0], "threads", 1, hardwareThreads()));
    const int64_t iterations = toInteger(info[1], "iterationsPerThread", 1, int64_t(1) << 40);
    return Napi::Number::New(env, runFmaSentinel(threads, iterations));
  });
}

// measureDevicePeak(device, durationSeconds): the device's own peak (GPU); rejects with
// ERR_DILBENCH_UNSUPPORTED where the device is not available or has no peak to measure.
Napi::Value MeasureDevicePeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const char* expected = "'cuda'";
    if (!info[0].IsString()) typeError("device", info[0], expected);
    if (info[0].As<Napi::String>().Utf8Value() != "cuda") rangeError("device", info[0], expected);
    const double seconds = toFiniteNumber(info[1], "durationSeconds");
    if (!(seconds > 0 && seconds <= 60)) {
      rangeError("durationSeconds", info[1], "a number in (0, 60]");
    }
    return queueMeasureDevicePeak(env, Device::CUDA, seconds);
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value SetSimdLevelFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    setSimdLevel(toSimdLevel(info[0], "level"));
    return env.Undefined();
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by Node at environment teardown
  Napi::Function cancelCtor = initCancelToken(env);
  data->cancelTokenCtor = Napi::Persistent(cancelCtor);
  data->sessionCtor = Napi::Persistent(initSession(env));

  exports.Set("info", Napi::Function::New<Info>(env, "info"));
  exports.Set("listImplementations", Napi::Function::New<ListImplementations>(env, "listImplementations"));
  exports.Set("paramSpecs", Napi::Function::New<ParamSpecs>(env, "paramSpecs"));
  exports.Set("resolvedParams", Napi::Function::New<ResolvedParams>(env, "resolvedParams"));
  exports.Set("loadPlugin", Napi::Function::New<LoadPluginFn>(env, "loadPlugin"));
  exports.Set("plan", Napi::Function::New<PlanFn>(env, "plan"));
  exports.Set("createSession", Napi::Function::New<CreateSession>(env, "createSession"));
  exports.Set("compute", Napi::Function::New<Compute>(env, "compute"));
  exports.Set("reference", Napi::Function::New<Reference>(env, "reference"));
  exports.Set("measurePeak", Napi::Function::New<MeasurePeak>(env, "measurePeak"));
  exports.Set("fmaSentinel", Napi::Function::New<FmaSentinel>(env, "fmaSentinel"));
  exports.Set("measureDevicePeak", Napi::Function::New<MeasureDevicePeak>(env, "measureDevicePeak"));
  exports.Set("setSimdLevel", Napi::Function::New<SetSimdLevelFn>(env, "setSimdLevel"));
  exports.Set("CancelToken", cancelCtor);
  registerModelExports(env, exports);
  return exports;
}

}  // namespace
}  // namespace js
}  // namespace dilbench

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return dilbench::js::Init(env, exports);
}

NODE_API_MODULE(dilbench, InitAddon)
