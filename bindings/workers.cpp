#include "workers.h"

#include <cstring>

#include "common.h"
#include "core/backend.h"
#include "core/errors.h"
#include "reference/reference.h"
#include "session_wrap.h"

namespace dilbench {
namespace js {

Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& v) {
  auto a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

Napi::Float64Array toFloat64Array(Napi::Env env, const std::vector<double>& v) {
  auto a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

namespace {

class CreateSessionWorker final : public PromiseWorker {
 public:
  CreateSessionWorker(Napi::Env env, const AttentionProblem& p, const SessionOptions& o)
      : PromiseWorker(env, "dilbench:createSession"), problem_(p), options_(o) {}

 protected:
  void Work() override { session_ = std::make_shared<Session>(problem_, options_); }
  Napi::Value Result(Napi::Env env) override { return SessionWrap::NewInstance(env, std::move(session_)); }

 private:
  AttentionProblem problem_;
  SessionOptions options_;
  std::shared_ptr<Session> session_;
};

class ComputeWorker final : public PromiseWorker {
 public:
  ComputeWorker(Napi::Env env, const AttentionProblem& p, const SessionOptions& o, std::vector<float> q,
                std::vector<float> k, std::vector<float> v, std::shared_ptr<CancelToken> cancel)
      : PromiseWorker(env, "dilbench:compute"),
        problem_(p),
        options_(o),
        q_(std::move(q)),
        k_(std::move(k)),
        v_(std::move(v)),
        cancel_(std::move(cancel)) {}

 protected:
  void Work() override {
    out_ = computeAttention(problem_, options_, q_.data(), q_.size(), k_.data(), k_.size(), v_.data(),
                            v_.size(), cancel_.get());
  }
  Napi::Value Result(Napi::Env env) override { return toFloat32Array(env, out_); }

 private:
  AttentionProblem problem_;
  SessionOptions options_;
  std::vector<float> q_, k_, v_, out_;
  std::shared_ptr<CancelToken> cancel_;
};

class ReferenceWorker final : public PromiseWorker {
 public:
  ReferenceWorker(Napi::Env env, const AttentionProblem& p, std::vector<float> q, std::vector<float> k,
                  std::vector<float> v, std::shared_ptr<CancelToken> cancel)
      : PromiseWorker(env, "dilbench:reference"),
        problem_(p),
        q_(std::move(q)),
        k_(std::move(k)),
        v_(std::move(v)),
        cancel_(std::move(cancel)) {}

 protected:
  void Work() override {
    if (cancel_ && cancel_->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
    out_ = referenceAttention(problem_, q_.data(), k_.data(), v_.data(), cancel_.get());
  }
  Napi::Value Result(Napi::Env env) override { return toFloat64Array(env, out_); }

 private:
  AttentionProblem problem_;
  std::vector<float> q_, k_, v_;
  std::vector<double> out_;
  std::shared_ptr<CancelToken> cancel_;
};

class PeakWorker final : public PromiseWorker {
 public:
  PeakWorker(Napi::Env env, int threads, double seconds)
      : PromiseWorker(env, "dilbench:measurePeak"), threads_(threads), seconds_(seconds) {}

 protected:
  void Work() override { r_ = measureCpuPeak(threads_, seconds_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("fmaGflops", Napi::Number::New(env, r_.fmaGflops));
    o.Set("streamGBps", Napi::Number::New(env, r_.streamGBps));
    o.Set("threads", Napi::Number::New(env, r_.threads));
    o.Set("simdLevel", Napi::String::New(env, r_.simdLevel ? r_.simdLevel : "generic"));
    return o;
  }

 private:
  int threads_;
  double seconds_;
  PeakResult r_;
};

class DevicePeakWorker final : public PromiseWorker {
 public:
  DevicePeakWorker(Napi::Env env, Device device, double seconds)
      : PromiseWorker(env, "dilbench:measureDevicePeak"), device_(device), seconds_(seconds) {}

 protected:
  void Work() override {
    Backend& backend = backendFor(device_);  // throws Unsupported with the reason
    if (!backend.measurePeak(seconds_, r_)) {
      throw Error(ErrorCode::Unsupported,
                  std::string("device '") + deviceName(device_) + "' has no peak measurement", "device");
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    auto n = [&](double v) { return Napi::Number::New(env, v); };
    o.Set("device", Napi::String::New(env, deviceName(device_)));
    o.Set("name", Napi::String::New(env, r_.deviceName));
    o.Set("fp16TensorTflops", n(r_.fp16TensorTflops));
    o.Set("bf16TensorTflops", n(r_.bf16TensorTflops));
    o.Set("fp32FmaTflops", n(r_.fp32FmaTflops));
    o.Set("copyGBps", n(r_.copyGBps));
    o.Set("copyBytes", n(static_cast<double>(r_.copyBytes)));
    o.Set("runs", n(r_.runs));
    return o;
  }

 private:
  Device device_;
  double seconds_;
  DevicePeak r_;
};

// Base of the session operations: the session and the cancel token they run with.
class SessionOpWorker : public WrappedOpWorker<SessionWrap> {
 public:
  SessionOpWorker(Napi::Env env, const char* name, Napi::Object self, SessionWrap* wrap,
                  std::shared_ptr<Session> s, std::shared_ptr<CancelToken> cancel)
      : WrappedOpWorker<SessionWrap>(env, name, self, wrap), session_(std::move(s)), cancel_(std::move(cancel)) {}

 protected:
  std::shared_ptr<Session> session_;
  std::shared_ptr<CancelToken> cancel_;
};

class SampleWorker final : public SessionOpWorker {
 public:
  SampleWorker(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s, int iterations,
               bool cold, std::shared_ptr<CancelToken> cancel)
      : SessionOpWorker(env, "dilbench:sample", self, wrap, std::move(s), std::move(cancel)),
        iterations_(iterations),
        cold_(cold) {}

 protected:
  void Work() override { ns_ = session_->sample(iterations_, cold_, cancel_.get()); }
  Napi::Value Result(Napi::Env env) override { return toFloat64Array(env, ns_); }

 private:
  int iterations_;
  bool cold_;
  std::vector<double> ns_;
};

class OutputWorker final : public SessionOpWorker {
 public:
  OutputWorker(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
               std::shared_ptr<CancelToken> cancel)
      : SessionOpWorker(env, "dilbench:output", self, wrap, std::move(s), std::move(cancel)) {}

 protected:
  void Work() override { out_ = session_->output(cancel_.get()); }
  Napi::Value Result(Napi::Env env) override { return toFloat32Array(env, out_); }

 private:
  std::vector<float> out_;
};

template <class W>
Napi::Value queue(W* w) {
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Value queueCreateSession(Napi::Env env, const AttentionProblem& p, const SessionOptions& o) {
  return queue(new CreateSessionWorker(env, p, o));
}
Napi::Value queueCompute(Napi::Env env, const AttentionProblem& p, const SessionOptions& o, std::vector<float> q,
                         std::vector<float> k, std::vector<float> v, std::shared_ptr<CancelToken> cancel) {
  return queue(new ComputeWorker(env, p, o, std::move(q), std::move(k), std::move(v), std::move(cancel)));
}
Napi::Value queueReference(Napi::Env env, const AttentionProblem& p, std::vector<float> q, std::vector<float> k,
                           std::vector<float> v, std::shared_ptr<CancelToken> cancel) {
  return queue(new ReferenceWorker(env, p, std::move(q), std::move(k), std::move(v), std::move(cancel)));
}
Napi::Value queueMeasurePeak(Napi::Env env, int threads, double durationSeconds) {
  return queue(new PeakWorker(env, threads, durationSeconds));
}
Napi::Value queueMeasureDevicePeak(Napi::Env env, Device device, double secondsPerMeasurement) {
  return queue(new DevicePeakWorker(env, device, secondsPerMeasurement));
}
Napi::Value queueSample(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
                        int iterations, bool cold, std::shared_ptr<CancelToken> cancel) {
  return queue(new SampleWorker(env, self, wrap, std::move(s), iterations, cold, std::move(cancel)));
}
Napi::Value queueOutput(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
                        std::shared_ptr<CancelToken> cancel) {
  return queue(new OutputWorker(env, self, wrap, std::move(s), std::move(cancel)));
}

}  // namespace js
}  // namespace dilbench
