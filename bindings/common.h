// Shared pieces of the Node-API layer: JS error construction from dilbench::Error, argument
// errors with a JS constructor hint, the per-environment constructors, and the Promise worker.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <utility>

#include "core/cancel.h"
#include "core/errors.h"

namespace dilbench {
namespace js {

enum class JsKind { Error, TypeError, RangeError };

// An invalid argument found while converting JS values (always ERR_DILBENCH_INVALID_CONFIG).
class ArgError : public dilbench::Error {
 public:
  ArgError(JsKind kind, const std::string& field, const std::string& message, std::string allowed = {})
      : dilbench::Error(ErrorCode::InvalidConfig, message, field),
        kind_(kind),
        allowed_(std::move(allowed)) {}
  JsKind kind() const noexcept { return kind_; }
  // What the field accepts, in words ("an integer in 1..2"); empty when the message says it alone.
  const std::string& allowed() const noexcept { return allowed_; }

 private:
  JsKind kind_;
  std::string allowed_;
};

// Everything needed to build the JS error later, safe to carry across threads.
struct ErrorInfo {
  std::string code = "ERR_DILBENCH_INTERNAL";
  std::string message;
  std::string field;
  std::string allowed;
  JsKind kind = JsKind::Error;
};

// Call only inside a catch block: classifies the exception in flight.
ErrorInfo captureCurrentException();
Napi::Error makeJsError(Napi::Env env, const ErrorInfo& info);
Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message,
                        const std::string& field, JsKind kind = JsKind::Error);

// Runs f; any C++ exception other than a pending JS one becomes a coded JS exception.
template <class F>
auto guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw makeJsError(env, captureCurrentException());
  }
}

// A rejected promise carrying the exception in flight (call inside a catch block).
Napi::Value rejectedWithCurrent(Napi::Env env);

struct AddonData {
  Napi::FunctionReference cancelTokenCtor;
  Napi::FunctionReference sessionCtor;
};
AddonData& addonData(Napi::Env env);

// Async work on the libuv pool resolving a Promise. Work() runs off the event loop and may
// throw anything; Result() builds the value on the main thread; Done() runs on the main thread
// before settling, on every path (used to release a session's busy flag).
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Work() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;
  virtual void Done() {}

 private:
  void Execute() override {
    try {
      Work();
    } catch (...) {
      failed_ = true;
      error_ = captureCurrentException();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Done();
    if (failed_) {
      deferred_.Reject(makeJsError(env, error_).Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(makeJsError(env, captureCurrentException()).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    Done();
    deferred_.Reject(e.Value());
  }

  Napi::Promise::Deferred deferred_;
  bool failed_ = false;
  ErrorInfo error_;
};

// An operation on a wrapped object that allows one operation at a time (a session, a model):
// keeps the JS object alive while the work runs and clears the wrapper's busy flag when done.
template <class Wrap>
class WrappedOpWorker : public PromiseWorker {
 public:
  WrappedOpWorker(Napi::Env env, const char* name, Napi::Object self, Wrap* wrap)
      : PromiseWorker(env, name), self_(Napi::Persistent(self)), wrap_(wrap) {}

 protected:
  void Done() override {
    wrap_->setBusy(false);
    self_.Reset();
  }

 private:
  Napi::ObjectReference self_;
  Wrap* wrap_;
};

// CancelToken class (cancel_token.cpp).
Napi::Function initCancelToken(Napi::Env env);
// NativeSession class (session_wrap.cpp).
Napi::Function initSession(Napi::Env env);

}  // namespace js
}  // namespace dilbench
