// Strict JS -> native conversion. Every rejection is an ArgError (ERR_DILBENCH_INVALID_CONFIG)
// naming the field, the value received and what is allowed: TypeError for a wrong type,
// RangeError for a value out of range (non-integers, NaN/Infinity, negatives, zero, unknown
// names, wrong lengths, detached or shared buffers).
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/cpu_features.h"
#include "core/problem.h"
#include "core/session.h"

namespace dilbench {
namespace js {

constexpr int64_t kMaxSafeInteger = 9007199254740991LL;  // 2^53 - 1

AttentionProblem toProblem(const Napi::Value& v);
SessionOptions toOptions(const Napi::Value& v);

int64_t toInteger(const Napi::Value& v, const std::string& field, int64_t min, int64_t max);
double toFiniteNumber(const Napi::Value& v, const std::string& field);
bool toBool(const Napi::Value& v, const std::string& field);
SimdLevel toSimdLevel(const Napi::Value& v, const std::string& field);

// The Float32Array in v, checked as copyFloat32 checks it (throws the same errors).
Napi::Float32Array checkedFloat32(const Napi::Value& v, const std::string& field);
// Copies a Float32Array (not detached, not backed by a SharedArrayBuffer) into a vector, so the
// caller may reuse or detach its buffer while the work runs off the event loop.
std::vector<float> copyFloat32(const Napi::Value& v, const std::string& field);

// undefined -> nullptr; a dilbench CancelToken -> its shared token; anything else -> TypeError.
std::shared_ptr<CancelToken> toCancelToken(const Napi::Value& v, const std::string& field = "cancel");

// Short description of a JS value for messages: 12, -1.5, NaN, "fp64", true, null, undefined,
// an array, a Float64Array, an object, a function.
std::string describe(const Napi::Value& v);
// The two argument errors every conversion throws: "Invalid <field>: got <value>; expected
// <expected>", with `expected` also carried as the error's `allowed` property.
[[noreturn]] void typeError(const std::string& field, const Napi::Value& v, const std::string& expected);
[[noreturn]] void rangeError(const std::string& field, const Napi::Value& v, const std::string& expected);

Napi::Object planToJs(Napi::Env env, const Plan& plan);

}  // namespace js
}  // namespace dilbench
