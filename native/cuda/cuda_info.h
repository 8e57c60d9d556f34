// CUDA device discovery, usable without a driver: every function answers "0 devices" (with the
// reason) where libcuda is missing, since cudart is linked statically. No dependency on the
// rest of native/ (the standalone harness in tools/ uses it too).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dilbench {
namespace cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  std::string computeCapability;  // "9.0"
  uint64_t totalMemoryBytes = 0;
  uint64_t l2CacheBytes = 0;
  int multiProcessors = 0;
  int smClockMHz = 0;       // current SM clock (NVML when loadable, else the rated clock)
  int maxSmClockMHz = 0;    // rated / max SM clock
  std::string clockSource;  // "nvml" | "rated"
  std::string driverVersion;
  std::string runtimeVersion;
};

int deviceCount();               // 0 when no driver/device (never throws)
std::string deviceCountError();  // why deviceCount() is 0 ("" otherwise)
std::vector<DeviceInfo> listDevices();
std::string driverVersionString();   // CUDA driver API version "13.0" (+ NVML driver "580.x")
std::string runtimeVersionString();  // cudart version compiled in, "13.0"
// Current SM clock in MHz through NVML (dlopen'ed at run time), or -1 when NVML is absent.
int currentSmClockMHz(int device);
// Rated (maximum boost) SM clock in MHz from the device attributes, or -1 when unreadable.
int maxSmClockMHz(int device);

}  // namespace cuda
}  // namespace dilbench
