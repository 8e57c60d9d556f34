// NativeModel (issue 7): a JS object over a shared native transformer (native/model). One async
// operation at a time (a second rejects with ERR_DILBENCH_INVALID_CONFIG 'model busy');
// dispose() drops the JS side's reference at once (an in-flight worker keeps the model alive).
// Implements createModel / modelInfo of src/native/model-binding.ts.
#pragma once
#include <napi.h>

namespace dilbench {
namespace js {

// Adds createModel and modelInfo to the addon's exports.
void registerModelExports(Napi::Env env, Napi::Object exports);

}  // namespace js
}  // namespace dilbench
