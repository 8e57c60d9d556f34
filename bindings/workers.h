// Promise-returning operations run on the libuv thread pool so the event loop stays free.
#pragma once
#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/cancel.h"
#include "core/problem.h"
#include "core/session.h"

namespace dilbench {
namespace js {

class SessionWrap;

Napi::Value queueCreateSession(Napi::Env env, const AttentionProblem& p, const SessionOptions& o);
// computeAttention: copies q, k, v now (the caller may reuse its buffers at once) into buffers
// of an idle ComputeResources kept from an earlier call (CPU), so a repeated call faults in no
// new memory; copyInputs false: the kernel reads the caller's arrays in place instead (the
// caller does not write them until the promise settles). The kernel writes the returned
// Float32Array in place: `out` when given (checked by the caller), else a new one.
Napi::Value queueCompute(Napi::Env env, const AttentionProblem& p, const SessionOptions& o,
                         const Napi::Float32Array& q, const Napi::Float32Array& k,
                         const Napi::Float32Array& v, std::shared_ptr<CancelToken> cancel,
                         const std::optional<Napi::Float32Array>& out, bool copyInputs);
Napi::Value queueReference(Napi::Env env, const AttentionProblem& p, std::vector<float> q,
                           std::vector<float> k, std::vector<float> v, std::shared_ptr<CancelToken> cancel);
Napi::Value queueMeasurePeak(Napi::Env env, int threads, double durationSeconds);
Napi::Value queueMeasureDevicePeak(Napi::Env env, Device device, double secondsPerMeasurement);
// Session operations: `self` is the NativeSession JS object (kept alive until settled) whose
// busy flag is released on completion.
Napi::Value queueSample(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
                        int iterations, bool cold, std::shared_ptr<CancelToken> cancel);
Napi::Value queueOutput(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
                        std::shared_ptr<CancelToken> cancel);

Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& v);
Napi::Float64Array toFloat64Array(Napi::Env env, const std::vector<double>& v);

}  // namespace js
}  // namespace dilbench
