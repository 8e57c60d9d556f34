#include "session_wrap.h"

#include "common.h"
#include "convert.h"
#include "cpu/family.h"
#include "workers.h"

namespace dilbench {
namespace js {

namespace {
// NativeSession is constructed only by NewInstance: it passes this marker as an External and
// parks the session here for the constructor to take (JS code cannot forge an External).
int kConstructMarker = 0;
thread_local std::shared_ptr<Session> pendingSession;

Napi::Object poolStatsToJs(Napi::Env env, const PoolStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  o.Set("allocations", n(s.allocations));
  o.Set("cacheHits", n(s.cacheHits));
  o.Set("cacheMisses", n(s.cacheMisses));
  o.Set("deallocations", n(s.deallocations));
  o.Set("bytesInUse", n(s.bytesInUse));
  o.Set("peakBytesInUse", n(s.peakBytesInUse));
  o.Set("bytesReserved", n(s.bytesReserved));
  o.Set("peakBytesReserved", n(s.peakBytesReserved));
  o.Set("failedAllocations", n(s.failedAllocations));
  return o;
}

Napi::Object patternCacheStatsToJs(Napi::Env env, const PatternCacheStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](double v) { return Napi::Number::New(env, v); };
  o.Set("hits", n(static_cast<double>(s.hits)));
  o.Set("misses", n(static_cast<double>(s.misses)));
  o.Set("evictions", n(static_cast<double>(s.evictions)));
  o.Set("hitRate", n(s.hitRate));
  o.Set("entries", n(static_cast<double>(s.entries)));
  o.Set("bytes", n(static_cast<double>(s.bytes)));
  o.Set("capacityBytes", n(static_cast<double>(s.capacityBytes)));
  return o;
}

// Only the fields the implementation family fills: ring (ringSize > 0), block-sparse
// (blocksTotal > 0), kv-cache (decodeSteps > 0 or prefillNs > 0).
Napi::Object telemetryToJs(Napi::Env env, const KernelTelemetry& t) {
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](double v) { return Napi::Number::New(env, v); };
  if (t.ringSize > 0) {
    o.Set("ringSize", n(static_cast<double>(t.ringSize)));
    Napi::Array ns = Napi::Array::New(env, t.stepRankNs.size());
    for (size_t i = 0; i < t.stepRankNs.size(); ++i) {
      Napi::Array row = Napi::Array::New(env, t.stepRankNs[i].size());
      for (size_t j = 0; j < t.stepRankNs[i].size(); ++j)
        row.Set(static_cast<uint32_t>(j), n(t.stepRankNs[i][j]));
      ns.Set(static_cast<uint32_t>(i), row);
    }
    o.Set("stepRankNs", ns);
    Napi::Array bs = Napi::Array::New(env, t.stepRankBytesSent.size());
    for (size_t i = 0; i < t.stepRankBytesSent.size(); ++i) {
      Napi::Array row = Napi::Array::New(env, t.stepRankBytesSent[i].size());
      for (size_t j = 0; j < t.stepRankBytesSent[i].size(); ++j) {
        row.Set(static_cast<uint32_t>(j), n(static_cast<double>(t.stepRankBytesSent[i][j])));
      }
      bs.Set(static_cast<uint32_t>(i), row);
    }
    o.Set("stepRankBytesSent", bs);
  }
  if (t.blocksTotal > 0) {
    o.Set("blocksTotal", n(static_cast<double>(t.blocksTotal)));
    o.Set("blocksComputed", n(static_cast<double>(t.blocksComputed)));
    o.Set("sparsity", n(t.sparsity));
  }
  if (t.decodeSteps > 0 || t.prefillNs > 0) {
    o.Set("prefillNs", n(t.prefillNs));
    o.Set("decodeNs", n(t.decodeNs));
    o.Set("decodeSteps", n(static_cast<double>(t.decodeSteps)));
    o.Set("decodeBytes", n(t.decodeBytes));
  }
  return o;
}
}  // namespace

Napi::Function SessionWrap::Init(Napi::Env env) {
  return DefineClass(env, "NativeSession",
                     {
                         InstanceAccessor<&SessionWrap::GetPlan>("plan"),
                         InstanceMethod<&SessionWrap::Sample>("sample"),
                         InstanceMethod<&SessionWrap::Output>("output"),
                         InstanceMethod<&SessionWrap::Input>("input"),
                         InstanceMethod<&SessionWrap::PoolStatsJs>("poolStats"),
                         InstanceMethod<&SessionWrap::PatternCacheStatsJs>("patternCacheStats"),
                         InstanceMethod<&SessionWrap::TelemetryJs>("telemetry"),
                         InstanceMethod<&SessionWrap::SampleClocks>("sampleClocks"),
                         InstanceMethod<&SessionWrap::Dispose>("dispose"),
                     });
}

Napi::Object SessionWrap::NewInstance(Napi::Env env, std::shared_ptr<Session> session) {
  pendingSession = std::move(session);
  Napi::Object obj;
  try {
    obj = addonData(env).sessionCtor.New({Napi::External<int>::New(env, &kConstructMarker)});
  } catch (...) {
    pendingSession.reset();
    throw;
  }
  pendingSession.reset();
  return obj;
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() ||
      info[0].As<Napi::External<int>>().Data() != &kConstructMarker || !pendingSession) {
    throw makeJsError(info.Env(), errorCodeName(ErrorCode::InvalidConfig),
                      "session: NativeSession cannot be constructed directly; use binding.createSession()",
                      "session", JsKind::TypeError);
  }
  session_ = std::move(pendingSession);
  plan_ = session_->plan();
}

void SessionWrap::requireNotDisposed() const {
  if (disposed_ || !session_) {
    throw Error(ErrorCode::InvalidConfig, "session: the session was disposed", "session");
  }
}

void SessionWrap::requireUsable(bool forAsync) const {
  (void)forAsync;
  requireNotDisposed();
  if (busy_) {
    throw Error(ErrorCode::InvalidConfig,
                "session busy: another sample()/output() on this session has not settled yet; await it "
                "first",
                "session");
  }
}

Napi::Value SessionWrap::GetPlan(const Napi::CallbackInfo& info) { return planToJs(info.Env(), plan_); }

Napi::Value SessionWrap::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    requireUsable(true);
    const int iterations = static_cast<int>(toInteger(info[0], "iterations", 1, 10000000));
    const bool cold = toBool(info[1], "cold");
    auto cancel = toCancelToken(info[2]);
    busy_ = true;
    try {
      return queueSample(env, Value(), this, session_, iterations, cold, std::move(cancel));
    } catch (...) {
      busy_ = false;
      throw;
    }
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value SessionWrap::Output(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    requireUsable(true);
    auto cancel = toCancelToken(info[0]);
    busy_ = true;
    try {
      return queueOutput(env, Value(), this, session_, std::move(cancel));
    } catch (...) {
      busy_ = false;
      throw;
    }
  } catch (...) {
    return rejectedWithCurrent(env);
  }
}

Napi::Value SessionWrap::Input(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireUsable(false);
    const Napi::Value w = info[0];
    const char* expected = "'q' | 'k' | 'v'";
    if (!w.IsString()) typeError("which", w, expected);
    const std::string s = w.As<Napi::String>().Utf8Value();
    if (s != "q" && s != "k" && s != "v") {
      rangeError("which", w, expected);
    }
    return toFloat32Array(env, session_->input(s[0]));
  });
}

Napi::Value SessionWrap::PoolStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireNotDisposed();
    return poolStatsToJs(env, session_->poolStats());
  });
}

Napi::Value SessionWrap::PatternCacheStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireNotDisposed();
    PatternCacheStats s;
    if (!session_->patternCacheStats(s)) return env.Null();
    return patternCacheStatsToJs(env, s);
  });
}

Napi::Value SessionWrap::TelemetryJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireUsable(false);  // a run in flight writes the telemetry
    KernelTelemetry t;
    if (!session_->telemetry(t)) return env.Null();
    return telemetryToJs(env, t);
  });
}

// { smClockMHz: Float64Array (one per iteration of the last sample()), maxSmClockMHz } or null
// where the backend reads no clock (CPU).
Napi::Value SessionWrap::SampleClocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireUsable(false);  // a sample() in flight writes the clocks
    const std::vector<double>& clocks = session_->lastSampleClocksMHz();
    const double maxMHz = session_->maxClockMHz();
    if (clocks.empty() || !(maxMHz > 0)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("smClockMHz", toFloat64Array(env, clocks));
    o.Set("maxSmClockMHz", Napi::Number::New(env, maxMHz));
    return o;
  });
}

Napi::Value SessionWrap::Dispose(const Napi::CallbackInfo& info) {
  disposed_ = true;
  session_.reset();  // an in-flight worker holds its own reference
  return info.Env().Undefined();
}

Napi::Function initSession(Napi::Env env) { return SessionWrap::Init(env); }

}  // namespace js
}  // namespace dilbench
