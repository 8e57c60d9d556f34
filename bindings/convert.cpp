#include "convert.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "cancel_token.h"
#include "common.h"
#include "core/thread_pool.h"

namespace dilbench {
namespace js {

void typeError(const std::string& field, const Napi::Value& v, const std::string& expected) {
  throw ArgError(JsKind::TypeError, field,
                 "Invalid " + field + ": got " + describe(v) + "; expected " + expected, expected);
}
void rangeError(const std::string& field, const Napi::Value& v, const std::string& expected) {
  throw ArgError(JsKind::RangeError, field,
                 "Invalid " + field + ": got " + describe(v) + "; expected " + expected, expected);
}

namespace {

std::string fmtNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // prefer the short form when it round-trips
  char shortBuf[64];
  std::snprintf(shortBuf, sizeof shortBuf, "%.15g", d);
  if (std::strtod(shortBuf, nullptr) == d) return shortBuf;
  return buf;
}

std::string rangeText(int64_t min, int64_t max) {
  if (max >= kMaxSafeInteger) return "an integer >= " + std::to_string(min);
  return "an integer in " + std::to_string(min) + ".." + std::to_string(max);
}

// Reads obj[key]; `required` false -> returns an empty Value when undefined.
Napi::Value prop(const Napi::Object& obj, const char* key) { return obj.Get(key); }

int64_t intProp(const Napi::Object& obj, const char* key, int64_t min, int64_t max, bool required,
                int64_t dflt) {
  Napi::Value v = prop(obj, key);
  if (v.IsUndefined()) {
    if (required) typeError(key, v, rangeText(min, max) + " (required)");
    return dflt;
  }
  return toInteger(v, key, min, max);
}

bool boolProp(const Napi::Object& obj, const char* key, bool required, bool dflt) {
  Napi::Value v = prop(obj, key);
  if (v.IsUndefined()) {
    if (required) typeError(key, v, "a boolean (required)");
    return dflt;
  }
  return toBool(v, key);
}

std::string stringProp(const Napi::Object& obj, const char* key, bool required, const std::string& dflt,
                       const std::string& expected) {
  Napi::Value v = prop(obj, key);
  if (v.IsUndefined()) {
    if (required) typeError(key, v, expected + " (required)");
    return dflt;
  }
  if (!v.IsString()) typeError(key, v, expected);
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> intArrayProp(const Napi::Object& obj, const char* key) {
  Napi::Value v = prop(obj, key);
  std::vector<int64_t> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) typeError(key, v, "an array of integers >= 1");
  Napi::Array a = v.As<Napi::Array>();
  const uint32_t n = a.Length();
  if (n > 64) rangeError(key, v, "at most 64 entries");
  for (uint32_t i = 0; i < n; ++i) {
    out.push_back(toInteger(a.Get(i), std::string(key) + "[" + std::to_string(i) + "]", 1, kMaxSafeInteger));
  }
  return out;
}

}  // namespace

std::string describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: return fmtNumber(v.As<Napi::Number>().DoubleValue());
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "\"" + s + "\"";
    }
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    case napi_external: return "an external";
    case napi_object: {
      if (v.IsArray()) return "an array";
      if (v.IsTypedArray()) {
        switch (v.As<Napi::TypedArray>().TypedArrayType()) {
          case napi_int8_array: return "an Int8Array";
          case napi_uint8_array: return "a Uint8Array";
          case napi_uint8_clamped_array: return "a Uint8ClampedArray";
          case napi_int16_array: return "an Int16Array";
          case napi_uint16_array: return "a Uint16Array";
          case napi_int32_array: return "an Int32Array";
          case napi_uint32_array: return "a Uint32Array";
          case napi_float32_array: return "a Float32Array";
          case napi_float64_array: return "a Float64Array";
          case napi_bigint64_array: return "a BigInt64Array";
          case napi_biguint64_array: return "a BigUint64Array";
          default: return "a typed array";
        }
      }
      if (v.IsArrayBuffer()) return "an ArrayBuffer";
      if (v.IsDataView()) return "a DataView";
      return "an object";
    }
  }
  return "a value";
}

int64_t toInteger(const Napi::Value& v, const std::string& field, int64_t min, int64_t max) {
  if (!v.IsNumber()) typeError(field, v, rangeText(min, max));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) rangeError(field, v, rangeText(min, max));
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) rangeError(field, v, rangeText(min, max));
  return static_cast<int64_t>(d);
}

double toFiniteNumber(const Napi::Value& v, const std::string& field) {
  if (!v.IsNumber()) typeError(field, v, "a finite number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) rangeError(field, v, "a finite number");
  return d;
}

bool toBool(const Napi::Value& v, const std::string& field) {
  if (!v.IsBoolean()) typeError(field, v, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

SimdLevel toSimdLevel(const Napi::Value& v, const std::string& field) {
  const char* expected = "'generic' | 'avx2' | 'avx512' | 'neon'";
  if (!v.IsString()) typeError(field, v, expected);
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "generic") return SimdLevel::Generic;
  if (s == "avx2") return SimdLevel::AVX2;
  if (s == "avx512") return SimdLevel::AVX512;
  if (s == "neon") return SimdLevel::NEON;
  rangeError(field, v, expected);
}

AttentionProblem toProblem(const Napi::Value& v) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
    typeError("problem", v, "a problem object { implementation, device, dtype, batch, heads, ... }");
  }
  const Napi::Object o = v.As<Napi::Object>();
  AttentionProblem p;
  {
    Napi::Value impl = prop(o, "implementation");
    p.implementation = stringProp(o, "implementation", true, "", "an implementation name (string)");
    if (p.implementation.empty() || p.implementation.size() > 64) {
      rangeError("implementation", impl, "a non-empty implementation name");
    }
  }
  {
    Napi::Value dv = prop(o, "device");
    const std::string d = stringProp(o, "device", true, "", "'cpu' | 'cuda'");
    if (d == "cpu") p.device = Device::CPU;
    else if (d == "cuda") p.device = Device::CUDA;
    else rangeError("device", dv, "'cpu' | 'cuda'");
  }
  {
    Napi::Value dv = prop(o, "dtype");
    const std::string d = stringProp(o, "dtype", true, "", "'fp32' | 'fp16' | 'bf16'");
    if (d == "fp32") p.dtype = DType::F32;
    else if (d == "fp16") p.dtype = DType::F16;
    else if (d == "bf16") p.dtype = DType::BF16;
    else rangeError("dtype", dv, "'fp32' | 'fp16' | 'bf16'");
  }
  p.batch = intProp(o, "batch", 1, kMaxSafeInteger, true, 1);
  p.heads = intProp(o, "heads", 1, kMaxSafeInteger, true, 1);
  p.kvHeads = intProp(o, "kvHeads", 1, kMaxSafeInteger, true, 1);
  p.seqLen = intProp(o, "seqLen", 1, kMaxSafeInteger, true, 1);
  p.headDim = intProp(o, "headDim", 1, kMaxSafeInteger, true, 1);
  p.causal = boolProp(o, "causal", true, false);
  {
    Napi::Value s = prop(o, "scale");
    p.scale = s.IsUndefined() ? 0.0 : toFiniteNumber(s, "scale");
  }
  p.seed = static_cast<uint64_t>(intProp(o, "seed", 0, kMaxSafeInteger, true, 42));
  p.segmentLengths = intArrayProp(o, "segmentLengths");
  p.dilationRates = intArrayProp(o, "dilationRates");
  p.ringSize = intProp(o, "ringSize", 1, 1 << 20, false, 1);
  {
    Napi::Value bp = prop(o, "blockPattern");
    const char* expected = "'local' | 'strided' | 'dilated' | 'random'";
    p.blockPattern = stringProp(o, "blockPattern", false, "local", expected);
    if (p.blockPattern != "local" && p.blockPattern != "strided" && p.blockPattern != "dilated" &&
        p.blockPattern != "random") {
      rangeError("blockPattern", bp, expected);
    }
  }
  p.blockSize = intProp(o, "blockSize", 1, kMaxSafeInteger, false, 64);
  p.window = intProp(o, "window", 1, kMaxSafeInteger, false, 4);
  p.stride = intProp(o, "stride", 1, kMaxSafeInteger, false, 4);
  {
    Napi::Value dv = prop(o, "density");
    if (!dv.IsUndefined()) {
      const double d = toFiniteNumber(dv, "density");
      if (!(d > 0.0 && d <= 1.0)) rangeError("density", dv, "a number in (0, 1]");
      p.density = d;
    }
  }
  p.promptLen = intProp(o, "promptLen", 0, kMaxSafeInteger, false, 0);
  p.newTokens = intProp(o, "newTokens", 0, kMaxSafeInteger, false, 0);
  {
    Napi::Value pf = prop(o, "prefill");
    const char* expected = "'attend' | 'skip'";
    p.prefill = stringProp(o, "prefill", false, "attend", expected);
    if (p.prefill != "attend" && p.prefill != "skip") rangeError("prefill", pf, expected);
  }
  return p;
}

SessionOptions toOptions(const Napi::Value& v) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
    typeError("options", v,
              "an options object { threads, useMemoryPool, usePatternCache, memoryLimitBytes }");
  }
  const Napi::Object o = v.As<Napi::Object>();
  SessionOptions s;
  const int hw = std::max(1, ThreadPool::global().hardwareThreads());
  s.threads = static_cast<int>(intProp(o, "threads", 1, hw, true, 1));
  s.useMemoryPool = boolProp(o, "useMemoryPool", true, true);
  s.usePatternCache = boolProp(o, "usePatternCache", true, true);
  s.memoryLimitBytes = static_cast<uint64_t>(intProp(o, "memoryLimitBytes", 0, kMaxSafeInteger, true, 0));
  return s;
}

Napi::Float32Array checkedFloat32(const Napi::Value& v, const std::string& field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    typeError(field, v, "a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  Napi::Env env = v.Env();
  Napi::Value bufVal = a.Get("buffer");  // the JS-visible buffer, SharedArrayBuffer included
  Napi::Value sab = env.Global().Get("SharedArrayBuffer");
  if (sab.IsFunction() && bufVal.IsObject() &&
      bufVal.As<Napi::Object>().InstanceOf(sab.As<Napi::Function>())) {
    rangeError(field, v, "a Float32Array over a plain ArrayBuffer (SharedArrayBuffer is not accepted)");
  }
  if (a.ArrayBuffer().IsDetached()) {
    rangeError(field, v, "a Float32Array whose buffer is not detached");
  }
  return a;
}

std::vector<float> copyFloat32(const Napi::Value& v, const std::string& field) {
  Napi::Float32Array a = checkedFloat32(v, field);
  const size_t n = a.ElementLength();
  std::vector<float> out(n);
  if (n) std::memcpy(out.data(), a.Data(), n * sizeof(float));
  return out;
}

std::shared_ptr<CancelToken> toCancelToken(const Napi::Value& v, const std::string& field) {
  if (v.IsUndefined()) return nullptr;
  const char* expected = "undefined or a CancelToken created by this binding (new binding.CancelToken())";
  if (!v.IsObject()) typeError(field, v, expected);
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(addonData(v.Env()).cancelTokenCtor.Value())) typeError(field, v, expected);
  CancelTokenWrap* w = nullptr;
  napi_status st = napi_unwrap(v.Env(), o, reinterpret_cast<void**>(&w));
  if (st != napi_ok || !w) typeError(field, v, expected);
  return w->token();
}

Napi::Object planToJs(Napi::Env env, const Plan& plan) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("effectiveSeqLen", Napi::Number::New(env, static_cast<double>(plan.effectiveSeqLen)));
  o.Set("inputBytes", Napi::Number::New(env, static_cast<double>(plan.inputBytes)));
  o.Set("outputBytes", Napi::Number::New(env, static_cast<double>(plan.outputBytes)));
  o.Set("workspaceBytes", Napi::Number::New(env, static_cast<double>(plan.workspaceBytes)));
  o.Set("totalBytes", Napi::Number::New(env, static_cast<double>(plan.totalBytes)));
  o.Set("flops", Napi::Number::New(env, plan.counts.flops));
  o.Set("bytesMoved", Napi::Number::New(env, plan.counts.bytesMoved));
  return o;
}

}  // namespace js
}  // namespace dilbench
