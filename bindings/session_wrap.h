// NativeSession: a JS object over a shared dilbench::Session. One async operation at a time
// (a second one rejects with ERR_DILBENCH_INVALID_CONFIG 'session busy'); dispose() drops the
// JS side's reference at once (an in-flight worker keeps the session alive until it settles).
#pragma once
#include <napi.h>

#include <memory>

#include "core/session.h"

namespace dilbench {
namespace js {

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Session> session);
  explicit SessionWrap(const Napi::CallbackInfo& info);

  void setBusy(bool b) { busy_ = b; }

 private:
  Napi::Value GetPlan(const Napi::CallbackInfo& info);
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value Output(const Napi::CallbackInfo& info);
  Napi::Value Input(const Napi::CallbackInfo& info);
  Napi::Value PoolStatsJs(const Napi::CallbackInfo& info);
  Napi::Value PatternCacheStatsJs(const Napi::CallbackInfo& info);
  Napi::Value TelemetryJs(const Napi::CallbackInfo& info);
  Napi::Value SampleClocks(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  // Throws (as a C++ dilbench::Error) when disposed or busy.
  void requireUsable(bool forAsync) const;
  // Throws (as a C++ dilbench::Error) when disposed (the reads a run in flight does not disturb).
  void requireNotDisposed() const;

  std::shared_ptr<Session> session_;
  Plan plan_;
  bool busy_ = false;
  bool disposed_ = false;
};

}  // namespace js
}  // namespace dilbench
