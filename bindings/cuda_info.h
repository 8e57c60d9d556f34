// Optional hook for info().cuda: native/cuda defines dilbench::cudaDeviceSummaries() (a strong
// definition) when the CUDA backend is compiled in; CPU-only builds leave the weak reference
// null and report no devices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dilbench {

struct CudaDeviceSummary {
  int index = 0;
  std::string name;
  std::string computeCapability;  // "9.0"
  uint64_t totalMemoryBytes = 0;
  double smClockMHz = 0;
  double maxSmClockMHz = 0;
  std::string clockSource;  // "nvml" (smClockMHz read now) | "rated"
  int multiProcessors = 0;
  uint64_t l2CacheBytes = 0;
  std::string driverVersion;
  std::string runtimeVersion;
};

std::vector<CudaDeviceSummary> cudaDeviceSummaries() __attribute__((weak));
// Why no device is usable ("" when there is one), e.g. "cudaErrorNoDevice: no CUDA-capable
// device is detected". Same weak-hook rule as above.
std::string cudaDeviceCountError() __attribute__((weak));

}  // namespace dilbench
