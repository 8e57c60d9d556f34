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
};

// Throws Error(Unsupported) with an actionable message when the device is not available.
Backend& backendFor(Device device);
// Used by native/cuda at static-init time.
void registerBackend(Device device, Backend* (*factory)());

}  // namespace dilbench
