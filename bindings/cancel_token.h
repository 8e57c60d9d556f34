// JS CancelToken over dilbench::CancelToken. The token is shared: workers keep their own
// shared_ptr, so it outlives the JS object while a run is in flight.
#pragma once
#include <napi.h>

#include <memory>

#include "core/cancel.h"

namespace dilbench {
namespace js {

class CancelTokenWrap : public Napi::ObjectWrap<CancelTokenWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit CancelTokenWrap(const Napi::CallbackInfo& info);
  const std::shared_ptr<CancelToken>& token() const { return token_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value GetCancelled(const Napi::CallbackInfo& info);
  std::shared_ptr<CancelToken> token_;
};

}  // namespace js
}  // namespace dilbench
