// dilbench::Error -> JS Error { message, code: 'ERR_DILBENCH_*', field? }.
// Argument errors are TypeError (wrong type) or RangeError (value out of range, including the
// core's InvalidConfig errors that name a field); 'session busy'/disposed are plain Errors;
// std::bad_alloc -> ERR_DILBENCH_OUT_OF_MEMORY; anything else -> ERR_DILBENCH_INTERNAL.
#include <new>

#include "common.h"

namespace dilbench {
namespace js {

ErrorInfo captureCurrentException() {
  ErrorInfo info;
  try {
    throw;
  } catch (const ArgError& e) {
    info.code = errorCodeName(e.code());
    info.message = e.what();
    info.field = e.field();
    info.allowed = e.allowed();
    info.kind = e.kind();
  } catch (const dilbench::Error& e) {
    info.code = errorCodeName(e.code());
    info.message = e.what();
    info.field = e.field();
    // A parameter the core found out of range is a RangeError like the binding's own checks;
    // state errors (session busy/disposed) stay plain Errors.
    if (e.code() == ErrorCode::InvalidConfig && !info.field.empty() && info.field != "session") {
      info.kind = JsKind::RangeError;
    }
  } catch (const std::bad_alloc&) {
    info.code = errorCodeName(ErrorCode::OutOfMemory);
    info.message = "out of host memory";
  } catch (const std::exception& e) {
    info.code = errorCodeName(ErrorCode::Internal);
    info.message = std::string("internal error: ") + e.what();
  } catch (...) {
    info.code = errorCodeName(ErrorCode::Internal);
    info.message = "internal error: unknown exception";
  }
  return info;
}

Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message,
                        const std::string& field, JsKind kind) {
  Napi::Error err;
  switch (kind) {
    case JsKind::TypeError: err = Napi::TypeError::New(env, message); break;
    case JsKind::RangeError: err = Napi::RangeError::New(env, message); break;
    default: err = Napi::Error::New(env, message); break;
  }
  err.Set("code", Napi::String::New(env, code));
  if (!field.empty()) err.Set("field", Napi::String::New(env, field));
  return err;
}

Napi::Error makeJsError(Napi::Env env, const ErrorInfo& info) {
  Napi::Error err = makeJsError(env, info.code, info.message, info.field, info.kind);
  if (!info.allowed.empty()) err.Set("allowed", Napi::String::New(env, info.allowed));
  return err;
}

Napi::Value rejectedWithCurrent(Napi::Env env) {
  ErrorInfo info;
  Napi::Value reason;
  try {
    throw;
  } catch (const Napi::Error& e) {
    reason = e.Value();
  } catch (...) {
    reason = makeJsError(env, captureCurrentException()).Value();
  }
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(reason);
  return d.Promise();
}

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace js
}  // namespace dilbench
