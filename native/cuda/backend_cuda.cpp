// Backend for Device::CUDA: cudaMalloc raw allocator (under the session's caching MemoryPool),
// one non-blocking stream, CUDA-event timer, fp32 <-> dtype conversion on the device, L2 flush
// (memset of a buffer twice the L2 size), free device memory. The factory hands out the backend
// only when cudaGetDeviceCount() > 0, so a CUDA build on a machine without a GPU (or without a
// driver: cudart is static) reports "no usable device" instead of failing.
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "../../bindings/cuda_info.h"
#include "attention_cuda.h"
#include "core/backend.h"
#include "core/errors.h"
#include "cuda_info.h"
#include "peak_cuda.h"

namespace dilbench {
namespace {

[[noreturn]] void fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear non-sticky errors so the next point can run
  const ErrorCode code = e == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Internal;
  throw Error(code,
              std::string("CUDA ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}
inline void checkMsg(const char* msg, const char* what) {
  if (msg) throw Error(ErrorCode::Internal, std::string("CUDA ") + what + ": " + msg);
}

cuda::ElemType elem(DType t) {
  switch (t) {
    case DType::F16: return cuda::ElemType::F16;
    case DType::BF16: return cuda::ElemType::BF16;
    default: return cuda::ElemType::F32;
  }
}

class CudaAllocator final : public RawAllocator {
 public:
  explicit CudaAllocator(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    cudaSetDevice(device_);
    if (cudaMalloc(&p, std::max<size_t>(bytes, 256)) != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky: clear it, report nullptr
      return nullptr;
    }
    return p;
  }
  void deallocate(void* ptr, size_t) override {
    if (ptr) cudaFree(ptr);
  }
  const char* name() const override { return "cudaMalloc"; }

 private:
  int device_;
};

class CudaEventTimer final : public Timer {
 public:
  explicit CudaEventTimer(cudaStream_t s) : stream_(s) {
    check(cudaEventCreate(&e0_), "cudaEventCreate");
    check(cudaEventCreate(&e1_), "cudaEventCreate");
  }
  ~CudaEventTimer() override {
    cudaEventDestroy(e0_);
    cudaEventDestroy(e1_);
  }
  void start() override { check(cudaEventRecord(e0_, stream_), "cudaEventRecord"); }
  double stopNs() override {
    check(cudaEventRecord(e1_, stream_), "cudaEventRecord");
    check(cudaEventSynchronize(e1_), "kernel execution");
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, e0_, e1_), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1e6;
  }
  const char* name() const override { return "cuda_event"; }

 private:
  cudaStream_t stream_;
  cudaEvent_t e0_ = nullptr, e1_ = nullptr;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device), alloc_(device) {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    int l2 = 0;
    check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device_), "cudaDeviceGetAttribute");
    l2_ = static_cast<uint64_t>(l2);
    maxClockMHz_ = cuda::maxSmClockMHz(device_);
  }
  Device device() const override { return Device::CUDA; }
  RawAllocator& allocator() override { return alloc_; }
  void* stream() override { return stream_; }
  std::unique_ptr<Timer> makeTimer() override { return std::make_unique<CudaEventTimer>(stream_); }

  void upload(void* dst, const float* src, size_t count, DType dtype) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dtype == DType::F32) {
      check(cudaMemcpyAsync(dst, src, count * 4, cudaMemcpyHostToDevice, stream_), "upload");
      check(cudaStreamSynchronize(stream_), "upload");
      return;
    }
    float* stage = staging();
    for (size_t off = 0; off < count; off += kStageElems) {
      const size_t n = std::min(kStageElems, count - off);
      check(cudaMemcpyAsync(stage, src + off, n * 4, cudaMemcpyHostToDevice, stream_), "upload");
      checkMsg(cuda::convertFromF32(static_cast<char*>(dst) + off * dtypeBytes(dtype), stage, n, elem(dtype),
                                    stream_),
               "upload conversion");
    }
    check(cudaStreamSynchronize(stream_), "upload");
  }

  void download(float* dst, const void* src, size_t count, DType dtype) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dtype == DType::F32) {
      check(cudaMemcpyAsync(dst, src, count * 4, cudaMemcpyDeviceToHost, stream_), "download");
      check(cudaStreamSynchronize(stream_), "download");
      return;
    }
    float* stage = staging();
    for (size_t off = 0; off < count; off += kStageElems) {
      const size_t n = std::min(kStageElems, count - off);
      checkMsg(cuda::convertToF32(stage, static_cast<const char*>(src) + off * dtypeBytes(dtype), n,
                                  elem(dtype), stream_),
               "download conversion");
      check(cudaMemcpyAsync(dst + off, stage, n * 4, cudaMemcpyDeviceToHost, stream_), "download");
      check(cudaStreamSynchronize(stream_), "download");
    }
  }

  void synchronize() override { check(cudaStreamSynchronize(stream_), "kernel execution"); }

  void flushCache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t bytes = static_cast<size_t>(std::max<uint64_t>(l2_, 1 << 20)) * 2;
    if (!flush_) check(cudaMalloc(&flush_, bytes), "cudaMalloc (L2 flush buffer)");
    check(cudaMemsetAsync(flush_, flushValue_++ & 0xff, bytes, stream_), "L2 flush");
  }
  uint64_t lastLevelCacheBytes() const override { return l2_; }
  uint64_t availableMemoryBytes() const override {
    size_t freeB = 0, totalB = 0;
    cudaSetDevice(device_);
    if (cudaMemGetInfo(&freeB, &totalB) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return freeB;
  }

  double computeClockMHz() override {
    const int mhz = cuda::currentSmClockMHz(device_);  // NVML; -1 without it
    return mhz > 0 ? mhz : -1;
  }
  double maxComputeClockMHz() const override { return maxClockMHz_ > 0 ? maxClockMHz_ : -1; }

  bool measurePeak(double secondsPerMeasurement, DevicePeak& out) override {
    cuda::GpuPeak p;
    checkMsg(cuda::measureGpuPeak(device_, secondsPerMeasurement, p), "peak measurement");
    out.deviceName = p.deviceName;
    out.fp16TensorTflops = p.fp16TensorTflops;
    out.bf16TensorTflops = p.bf16TensorTflops;
    out.fp32FmaTflops = p.fp32FmaTflops;
    out.copyGBps = p.copyGBps;
    out.copyBytes = p.copyBytes;
    out.runs = p.runs;
    return true;
  }

 private:
  static constexpr size_t kStageElems = size_t(16) << 20;  // 64 MiB of fp32 per chunk
  float* staging() {
    if (!stage_)
      check(cudaMalloc(reinterpret_cast<void**>(&stage_), kStageElems * 4), "cudaMalloc (staging)");
    return stage_;
  }
  int device_;
  CudaAllocator alloc_;
  cudaStream_t stream_ = nullptr;
  uint64_t l2_ = 0;
  int maxClockMHz_ = -1;
  std::mutex mutex_;
  float* stage_ = nullptr;
  void* flush_ = nullptr;
  int flushValue_ = 0;
};

Backend* makeCudaBackend() {
  if (cuda::deviceCount() < 1) return nullptr;  // backendFor() reports "no usable device"
  static CudaBackend* b = new CudaBackend(0);   // lives for the process (no teardown order issues)
  return b;
}

const bool registeredCudaBackend = [] {
  registerBackend(Device::CUDA, &makeCudaBackend);
  return true;
}();

}  // namespace

// Strong definition of the hook info().cuda reads (bindings/cuda_info.h).
std::vector<CudaDeviceSummary> cudaDeviceSummaries() {
  std::vector<CudaDeviceSummary> out;
  for (const cuda::DeviceInfo& d : cuda::listDevices()) {
    CudaDeviceSummary s;
    s.index = d.index;
    s.name = d.name;
    s.computeCapability = d.computeCapability;
    s.totalMemoryBytes = d.totalMemoryBytes;
    s.smClockMHz = d.smClockMHz;
    s.maxSmClockMHz = d.maxSmClockMHz;
    s.clockSource = d.clockSource;
    s.multiProcessors = d.multiProcessors;
    s.l2CacheBytes = d.l2CacheBytes;
    s.driverVersion = d.driverVersion;
    s.runtimeVersion = d.runtimeVersion;
    out.push_back(s);
  }
  return out;
}

// The other hook: why info().cuda lists no device.
std::string cudaDeviceCountError() { return cuda::deviceCountError(); }

}  // namespace dilbench
