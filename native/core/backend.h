// What a session needs from a device, kept apart from the kernels: raw memory, copies (with
// fp32 <-> dtype conversion), a timer, cache flushing for cold runs. The CPU backend always
// exists; native/cuda registers the CUDA one when it is compiled in and a device is present.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "memory_pool.h"
#include "problem.h"
#include "timer.h"

namespace dilbench {

// What `dilbench peak` measures on a GPU: mma.sync m16n8k16 rates with fp32 accumulation, an FP32
// FMA rate, and a device-to-device copy (read + write bytes counted). Medians over `runs`.
struct DevicePeak {
  std::string deviceName;
  double fp16TensorTflops = 0;
  double bf16TensorTflops = 0;
  double fp32FmaTflops = 0;
  double copyGBps = 0;
  uint64_t copyBytes = 0;  // size of the source buffer of one copy
  int runs = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual RawAllocator& allocator() = 0;
  virtual void* stream() { return nullptr; }
  virtual std::unique_ptr<Timer> makeTimer() = 0;
  // count fp32 values from host to a device buffer of dtype (converting), and back.
  virtual void upload(void* dst, const float* src, size_t count, DType dtype) = 0;
  virtual void download(float* dst, const void* src, size_t count, DType dtype) = 0;
  virtual void synchronize() {}
  // Evicts the last-level cache (CPU: touch a buffer larger than the LLC; CUDA: memset L2-sized).
  virtual void flushCache() = 0;
  virtual uint64_t lastLevelCacheBytes() const = 0;
  // Memory the device has free now (planner's default budget is half of it).
  virtual uint64_t availableMemoryBytes() const = 0;

  // SM (compute) clock now, in MHz, to flag samples the device ran throttled; negative where the
  // backend cannot read one (CPU; CUDA without NVML). A driver call: never inside a timed region.
  virtual double computeClockMHz() { return -1; }
  // The rated maximum of that clock in MHz; negative when unknown (then no clock is read at all).
  virtual double maxComputeClockMHz() const { return -1; }

  // The device's own limits for `dilbench peak` (GPU: tensor-core rates, copy bandwidth); false
  // where the backend has none to measure (the CPU peak is measureCpuPeak in session.h).
  virtual bool measurePeak(double secondsPerMeasurement, DevicePeak& out) {
    (void)secondsPerMeasurement;
    (void)out;
    return false;
  }
};

// Throws Error(Unsupported) with an actionable message when the device is not available.
Backend& backendFor(Device device);
// Used by native/cuda at static-init time.
void registerBackend(Device device, Backend* (*factory)());

}  // namespace dilbench
