// Device discovery and clocks. NVML is optional: dlopen("libnvidia-ml.so.1") at run time.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

#include "cuda_info.h"

namespace dilbench {
namespace cuda {
namespace {

struct Nvml {
  void* lib = nullptr;
  int (*init)() = nullptr;
  int (*handleByIndex)(unsigned, void**) = nullptr;
  int (*clockInfo)(void*, int, unsigned*) = nullptr;
  int (*driverVersion)(char*, unsigned) = nullptr;
  int (*handleByPci)(const char*, void**) = nullptr;
  bool ok = false;
};

Nvml& nvml() {
  static Nvml n;
  static std::once_flag once;
  std::call_once(once, [] {
    n.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n.lib) return;
    n.init = reinterpret_cast<int (*)()>(dlsym(n.lib, "nvmlInit_v2"));
    n.handleByIndex =
        reinterpret_cast<int (*)(unsigned, void**)>(dlsym(n.lib, "nvmlDeviceGetHandleByIndex_v2"));
    n.handleByPci =
        reinterpret_cast<int (*)(const char*, void**)>(dlsym(n.lib, "nvmlDeviceGetHandleByPciBusId_v2"));
    n.clockInfo = reinterpret_cast<int (*)(void*, int, unsigned*)>(dlsym(n.lib, "nvmlDeviceGetClockInfo"));
    n.driverVersion = reinterpret_cast<int (*)(char*, unsigned)>(dlsym(n.lib, "nvmlSystemGetDriverVersion"));
    n.ok = n.init && n.clockInfo && (n.handleByPci || n.handleByIndex) && n.init() == 0;
  });
  return n;
}

struct Count {
  int n = 0;
  std::string err;
};

const Count& count() {
  static Count c;
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      c.n = 0;
      c.err = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
      cudaGetLastError();
    } else {
      c.n = n;
      if (n == 0) c.err = "cudaGetDeviceCount reported 0 devices";
    }
  });
  return c;
}

std::string versionString(int v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
  return buf;
}

void* lookUpNvmlHandle(int device) {
  Nvml& n = nvml();
  if (!n.ok) return nullptr;
  void* h = nullptr;
  char pci[32] = {0};
  if (n.handleByPci && cudaDeviceGetPCIBusId(pci, sizeof pci, device) == cudaSuccess &&
      n.handleByPci(pci, &h) == 0)
    return h;
  if (n.handleByIndex && n.handleByIndex(static_cast<unsigned>(device), &h) == 0) return h;
  return nullptr;
}

// Cached per device: the clock is read once per timed sample, and the PCI lookup costs more than
// the read itself. Misses are not cached (a later call may succeed).
void* nvmlHandle(int device) {
  static std::mutex mutex;
  static std::map<int, void*> handles;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  void* h = lookUpNvmlHandle(device);
  if (h) handles[device] = h;
  return h;
}

}  // namespace

int deviceCount() { return count().n; }
std::string deviceCountError() { return count().err; }

std::string runtimeVersionString() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "unknown";
  return versionString(v);
}

std::string driverVersionString() {
  int v = 0;
  std::string s = cudaDriverGetVersion(&v) == cudaSuccess && v > 0 ? versionString(v) : "none";
  Nvml& n = nvml();
  if (n.ok && n.driverVersion) {
    char buf[96] = {0};
    if (n.driverVersion(buf, sizeof buf) == 0) s += std::string(" (driver ") + buf + ")";
  }
  return s;
}

int currentSmClockMHz(int device) {
  void* h = nvmlHandle(device);
  if (!h) return -1;
  unsigned mhz = 0;
  if (nvml().clockInfo(h, /*NVML_CLOCK_SM*/ 1, &mhz) != 0) return -1;
  return static_cast<int>(mhz);
}

int maxSmClockMHz(int device) {
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) != cudaSuccess || khz <= 0) {
    cudaGetLastError();
    return -1;
  }
  return khz / 1000;
}

std::vector<DeviceInfo> listDevices() {
  std::vector<DeviceInfo> out;
  const int n = deviceCount();
  const std::string drv = driverVersionString(), rt = runtimeVersionString();
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.computeCapability = std::to_string(p.major) + "." + std::to_string(p.minor);
    d.totalMemoryBytes = p.totalGlobalMem;
    d.l2CacheBytes = static_cast<uint64_t>(p.l2CacheSize);
    d.multiProcessors = p.multiProcessorCount;
    d.maxSmClockMHz = std::max(0, maxSmClockMHz(i));
    int cur = currentSmClockMHz(i);
    d.smClockMHz = cur > 0 ? cur : d.maxSmClockMHz;
    d.clockSource = cur > 0 ? "nvml" : "rated";
    d.driverVersion = drv;
    d.runtimeVersion = rt;
    out.push_back(d);
  }
  return out;
}

}  // namespace cuda
}  // namespace dilbench
