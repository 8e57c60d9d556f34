#include "workers.h"

#include <cstring>
#include <mutex>

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

// Idle ComputeResources between computeAttention calls, a few per device. Process-wide (they
// hold no JS state) and never destroyed: the OS reclaims them at exit, after which no static
// destructor may touch a device runtime that has already shut down.
class ComputeResourceCache {
 public:
  static ComputeResourceCache& instance() {
    static auto* cache = new ComputeResourceCache;
    return *cache;
  }
  // An idle one for `device`, or null.
  std::unique_ptr<ComputeResources> take(Device device) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->device() != device) continue;
      std::unique_ptr<ComputeResources> r = std::move(*it);
      idle_.erase(it);
      return r;
    }
    return nullptr;
  }
  void give(std::unique_ptr<ComputeResources> r) {
    if (!r) return;
    r->trim();
    std::lock_guard<std::mutex> lock(mutex_);
    int same = 0;
    for (const auto& x : idle_) same += x->device() == r->device();
    if (same < kIdlePerDevice) idle_.push_back(std::move(r));
  }

 private:
  static constexpr int kIdlePerDevice = 2;  // concurrent calls beyond this allocate afresh
  std::mutex mutex_;
  std::vector<std::unique_ptr<ComputeResources>> idle_;
};

class ComputeWorker final : public PromiseWorker {
 public:
  ComputeWorker(Napi::Env env, const AttentionProblem& p, const SessionOptions& o,
                const Napi::Float32Array& q, const Napi::Float32Array& k, const Napi::Float32Array& v,
                std::shared_ptr<CancelToken> cancel, const std::optional<Napi::Float32Array>& into)
      : PromiseWorker(env, "dilbench:compute"),
        problem_(p),
        options_(o),
        resources_(ComputeResourceCache::instance().take(p.device)),
        cancel_(std::move(cancel)) {
    // The copies the kernel reads: CPU ones come from the resources' pool (warm pages after the
    // first call); other devices upload from plain host vectors, as does useMemoryPool off.
    if (p.device == Device::CPU && o.useMemoryPool) {
      if (!resources_) resources_ = std::make_unique<ComputeResources>(Device::CPU);
      // The copies count in the plan that computeAttentionInto checks against memoryLimitBytes
      // (its error names the field); no earlier call's limit applies to them here.
      resources_->pool().setLimit(0);
      stage(q, qs_, qn_);
      stage(k, ks_, kn_);
      stage(v, vs_, vn_);
    } else {
      qv_ = copyVector(q);
      kv_ = copyVector(k);
      vv_ = copyVector(v);
      qn_ = qv_.size();
      kn_ = kv_.size();
      vn_ = vv_.size();
    }
    Napi::Float32Array out = into ? *into : Napi::Float32Array::New(env, q.ElementLength());
    out_ = Napi::Persistent(out);
    outData_ = out.Data();
    outLen_ = out.ElementLength();
  }

 protected:
  void Work() override {
    try {
      computeAttentionInto(problem_, options_, qs_.data() ? qs_.data() : qv_.data(), qn_,
                           ks_.data() ? ks_.data() : kv_.data(), kn_, vs_.data() ? vs_.data() : vv_.data(),
                           vn_, outData_, outLen_, cancel_.get(), resources_);
    } catch (...) {
      release();
      throw;
    }
    release();
  }
  Napi::Value Result(Napi::Env) override { return out_.Value(); }

 private:
  void stage(const Napi::Float32Array& a, PoolBuffer<float>& buf, size_t& n) {
    n = a.ElementLength();
    buf = PoolBuffer<float>(resources_->pool(), n);
    if (n) std::memcpy(buf.data(), a.Data(), n * sizeof(float));
  }
  static std::vector<float> copyVector(const Napi::Float32Array& a) {
    return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
  }
  // Staging buffers back to the pool, then the resources back to the cache for the next call.
  void release() {
    qs_.reset();
    ks_.reset();
    vs_.reset();
    ComputeResourceCache::instance().give(std::move(resources_));
  }

  AttentionProblem problem_;
  SessionOptions options_;
  std::unique_ptr<ComputeResources> resources_;
  PoolBuffer<float> qs_, ks_, vs_;
  std::vector<float> qv_, kv_, vv_;
  size_t qn_ = 0, kn_ = 0, vn_ = 0;
  Napi::Reference<Napi::Float32Array> out_;
  float* outData_ = nullptr;
  size_t outLen_ = 0;
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
      : WrappedOpWorker<SessionWrap>(env, name, self, wrap),
        session_(std::move(s)),
        cancel_(std::move(cancel)) {}

 protected:
  std::shared_ptr<Session> session_;
  std::shared_ptr<CancelToken> cancel_;
};

class SampleWorker final : public SessionOpWorker {
 public:
  SampleWorker(Napi::Env env, Napi::Object self, SessionWrap* wrap, std::shared_ptr<Session> s,
               int iterations, bool cold, std::shared_ptr<CancelToken> cancel)
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
Napi::Value queueCompute(Napi::Env env, const AttentionProblem& p, const SessionOptions& o,
                         const Napi::Float32Array& q, const Napi::Float32Array& k,
                         const Napi::Float32Array& v, std::shared_ptr<CancelToken> cancel,
                         const std::optional<Napi::Float32Array>& out) {
  return queue(new ComputeWorker(env, p, o, q, k, v, std::move(cancel), out));
}
Napi::Value queueReference(Napi::Env env, const AttentionProblem& p, std::vector<float> q,
                           std::vector<float> k, std::vector<float> v, std::shared_ptr<CancelToken> cancel) {
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
