#include "workers.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL
#endif
#endif

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

// Maps the pages of [data, data + bytes) writable in one call where the OS can (Linux 5.14+), so
// the kernel does not stop at each page of a new output array on its first write (a fault per
// 4 KiB page, each a trap into the host under a VM). Contents are unchanged; a failure is
// harmless (the writes fault the pages in as before).
void prefaultForWriting(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)bytes;
#endif
}

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
                std::shared_ptr<CancelToken> cancel, const std::optional<Napi::Float32Array>& into,
                bool copyInputs)
      : PromiseWorker(env, "dilbench:compute"),
        problem_(p),
        options_(o),
        resources_(ComputeResourceCache::instance().take(p.device)),
        cancel_(std::move(cancel)) {
    if (!copyInputs) {
      // The caller has promised not to write q, k, v until the promise settles: the kernel reads
      // them in place; the references keep the arrays alive until then.
      inputRefs_[0] = Napi::Persistent(q);
      inputRefs_[1] = Napi::Persistent(k);
      inputRefs_[2] = Napi::Persistent(v);
      qp_ = q.Data();
      kp_ = k.Data();
      vp_ = v.Data();
      qn_ = q.ElementLength();
      kn_ = k.ElementLength();
      vn_ = v.ElementLength();
    } else if (p.device == Device::CPU && o.useMemoryPool) {
      // The copies the kernel reads: CPU ones come from the resources' pool (warm pages after the
      // first call); other devices upload from plain host vectors, as does useMemoryPool off.
      if (!resources_) resources_ = std::make_unique<ComputeResources>(Device::CPU);
      // The copies count in the plan that computeAttentionInto checks against memoryLimitBytes
      // (its error names the field); no earlier call's limit applies to them here.
      resources_->pool().setLimit(0);
      qp_ = stage(q, qs_, qn_);
      kp_ = stage(k, ks_, kn_);
      vp_ = stage(v, vs_, vn_);
      inputsReady_ = false;  // copyPendingInputs() fills them once the work is queued
    } else {
      qv_ = copyVector(q);
      kv_ = copyVector(k);
      vv_ = copyVector(v);
      qp_ = qv_.data();
      kp_ = kv_.data();
      vp_ = vv_.data();
      qn_ = qv_.size();
      kn_ = kv_.size();
      vn_ = vv_.size();
    }
    Napi::Float32Array out = into ? *into : Napi::Float32Array::New(env, q.ElementLength());
    out_ = Napi::Persistent(out);
    outData_ = out.Data();
    outLen_ = out.ElementLength();
    prefaultOut_ = !into && p.device == Device::CPU;
  }

  // On the main thread, right after Queue() and before the call returns to JS: copies the caller's
  // q, k, v into the staging buffers, chunk by chunk, with the worker thread taking chunks too once
  // it is awake (and has mapped a new output's pages): the copy is memory-bound, and the second
  // core would otherwise idle through it (6 MB at 1K: ~0.5 ms on one thread, about half that on
  // two). Returns after every chunk is copied, the worker's included, so the caller may change
  // q, k, v at once; then lets the worker start the kernel.
  void copyPendingInputs() {
    if (inputsReady_.load(std::memory_order_relaxed)) return;
    copyChunks();
    // The worker finishes the chunk it holds (a few us), unless the OS has just descheduled it.
    for (int i = 0; chunksDone_.load(std::memory_order_acquire) < pending_.size(); ++i) {
      if (i < kReadySpins) {
        pause();
      } else {
        std::this_thread::yield();
      }
    }
    {
      std::lock_guard<std::mutex> lock(readyMutex_);
      inputsReady_.store(true, std::memory_order_release);
    }
    readyCv_.notify_one();
  }

 protected:
  void Work() override {
    try {
      if (prefaultOut_) prefaultForWriting(outData_, outLen_ * sizeof(float));
      copyChunks();
      waitForInputs();
      computeAttentionInto(problem_, options_, qp_, qn_, kp_, kn_, vp_, vn_, outData_, outLen_, cancel_.get(),
                           resources_);
    } catch (...) {
      release();
      throw;
    }
    release();
  }
  Napi::Value Result(Napi::Env) override { return out_.Value(); }

 private:
  // A staging buffer for `a` from the pool; its copy waits in pending_, in chunks, for
  // copyPendingInputs() and the worker thread.
  const float* stage(const Napi::Float32Array& a, PoolBuffer<float>& buf, size_t& n) {
    n = a.ElementLength();
    buf = PoolBuffer<float>(resources_->pool(), n);
    for (size_t i = 0; i < n; i += kCopyChunkFloats) {
      pending_.push_back(PendingCopy{buf.data() + i, a.Data() + i, std::min(kCopyChunkFloats, n - i)});
    }
    return buf.data();
  }
  // Copies chunks of pending_ until none is left to take; either thread.
  void copyChunks() {
    size_t copied = 0;
    for (size_t i; (i = nextChunk_.fetch_add(1, std::memory_order_relaxed)) < pending_.size(); ++copied) {
      const PendingCopy& c = pending_[i];
      std::memcpy(c.dst, c.src, c.n * sizeof(float));
    }
    if (copied) chunksDone_.fetch_add(copied, std::memory_order_release);
  }
  // A small problem's copy is done in microseconds: spin that long, then sleep (a copy of a few MB
  // takes 0.1-0.2 ms per MB; spinning through it would only burn a core).
  void waitForInputs() {
    for (int i = 0; i < kReadySpins && !inputsReady_.load(std::memory_order_acquire); ++i) pause();
    if (inputsReady_.load(std::memory_order_acquire)) return;
    std::unique_lock<std::mutex> lock(readyMutex_);
    readyCv_.wait(lock, [&] { return inputsReady_.load(std::memory_order_acquire); });
  }
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
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
  Napi::Reference<Napi::Float32Array> inputRefs_[3];  // copyInputs off: the caller's q, k, v
  const float* qp_ = nullptr;  // what the kernel reads: the copies, or the caller's arrays
  const float* kp_ = nullptr;
  const float* vp_ = nullptr;
  size_t qn_ = 0, kn_ = 0, vn_ = 0;
  Napi::Reference<Napi::Float32Array> out_;
  float* outData_ = nullptr;
  size_t outLen_ = 0;
  bool prefaultOut_ = false;  // a new array: its pages are not mapped yet
  struct PendingCopy {
    float* dst;
    const float* src;
    size_t n;
  };
  std::vector<PendingCopy> pending_;                     // filled before Queue(), read-only after
  static constexpr size_t kCopyChunkFloats = 32 * 1024;  // 128 KiB: ~10 us of copy per take
  std::atomic<size_t> nextChunk_{0};                     // the next chunk to take
  std::atomic<size_t> chunksDone_{0};                    // chunks copied, by both threads
  static constexpr int kReadySpins = 2000;               // about 20 us of pause
  std::atomic<bool> inputsReady_{true};
  std::mutex readyMutex_;
  std::condition_variable readyCv_;
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
                         const std::optional<Napi::Float32Array>& out, bool copyInputs) {
  auto* w = new ComputeWorker(env, p, o, q, k, v, std::move(cancel), out, copyInputs);
  Napi::Value promise = queue(w);
  // The worker cannot settle (nor be deleted) before this: it waits for the copies, and its
  // completion runs on this thread.
  w->copyPendingInputs();
  return promise;
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
