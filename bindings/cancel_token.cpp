#include "cancel_token.h"

#include "common.h"

namespace dilbench {
namespace js {

Napi::Function CancelTokenWrap::Init(Napi::Env env) {
  return DefineClass(env, "CancelToken",
                     {
                         InstanceMethod<&CancelTokenWrap::Cancel>("cancel"),
                         InstanceAccessor<&CancelTokenWrap::GetCancelled>("cancelled"),
                     });
}

CancelTokenWrap::CancelTokenWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CancelTokenWrap>(info), token_(std::make_shared<CancelToken>()) {}

Napi::Value CancelTokenWrap::Cancel(const Napi::CallbackInfo& info) {
  token_->cancel();
  return info.Env().Undefined();
}

Napi::Value CancelTokenWrap::GetCancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), token_->cancelled());
}

Napi::Function initCancelToken(Napi::Env env) { return CancelTokenWrap::Init(env); }

}  // namespace js
}  // namespace dilbench
