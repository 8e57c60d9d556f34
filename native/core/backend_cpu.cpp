// The CPU backend and the backend registry. Buffers hold fp32, fp16 or bf16 (upload/download
// convert with round to nearest even, native/cpu/convert_half.h); flushCache touches a buffer
// twice the size of the last-level cache (read from sysfs, 32 MiB when unknown).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../cpu/convert_half.h"
#include "backend.h"
#include "errors.h"

namespace dilbench {

namespace {

uint64_t readLlcBytes() {
  constexpr uint64_t kFallback = 32ull << 20;
  // index3 is the L3 on x86; take the largest unified cache listed if index3 is missing.
  uint64_t best = 0;
  for (int idx = 0; idx < 8; ++idx) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
    if (!f) continue;
    std::string s;
    f >> s;
    if (s.empty()) continue;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    uint64_t mult = 1;
    if (end && (*end == 'K' || *end == 'k')) mult = 1024;
    else if (end && (*end == 'M' || *end == 'm')) mult = 1024 * 1024;
    else if (end && (*end == 'G' || *end == 'g')) mult = 1024ull * 1024 * 1024;
    const uint64_t bytes = static_cast<uint64_t>(v) * mult;
    if (bytes > best) best = bytes;
  }
  return best > 0 ? best : kFallback;
}

uint64_t readMemAvailable() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  unsigned long long value = 0;
  std::string unit;
  while (f >> key >> value) {
    std::getline(f, unit);
    if (key == "MemAvailable:") return static_cast<uint64_t>(value) * 1024;
  }
  return 0;  // unknown
}

// Reads one unsigned integer from a file; false when missing or not a number ("max").
bool readU64(const char* path, uint64_t& out) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s.empty() || s[0] < '0' || s[0] > '9') return false;
  out = std::strtoull(s.c_str(), nullptr, 10);
  return true;
}

// Room left under this process's cgroup memory limit (v2, then v1); 0 when unlimited/unknown.
uint64_t cgroupRoom() {
  uint64_t limit = 0, used = 0;
  if (readU64("/sys/fs/cgroup/memory.max", limit) && readU64("/sys/fs/cgroup/memory.current", used)) {
    return limit > used ? limit - used : 1;
  }
  if (readU64("/sys/fs/cgroup/memory/memory.limit_in_bytes", limit) && limit < (1ull << 60) &&
      readU64("/sys/fs/cgroup/memory/memory.usage_in_bytes", used)) {
    return limit > used ? limit - used : 1;
  }
  return 0;
}

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::CPU; }
  RawAllocator& allocator() override { return hostAllocator(); }
  std::unique_ptr<Timer> makeTimer() override { return std::make_unique<SteadyClockTimer>(); }

  void upload(void* dst, const float* src, size_t count, DType dtype) override {
    cpu::convertFromF32(dst, src, count, dtype);
  }
  void download(float* dst, const void* src, size_t count, DType dtype) override {
    cpu::convertToF32(dst, src, count, dtype);
  }

  void flushCache() override {
    std::lock_guard<std::mutex> lock(flushMutex_);
    if (flushBuffer_.empty()) flushBuffer_.assign(static_cast<size_t>(2 * llc_), 0);
    // Write one byte per 64-byte line so every line of the buffer is brought in (and dirtied),
    // evicting whatever the kernel's data left in the cache hierarchy.
    volatile unsigned char* p = flushBuffer_.data();
    const size_t n = flushBuffer_.size();
    for (size_t i = 0; i < n; i += 64) p[i] = static_cast<unsigned char>(p[i] + 1);
  }
  uint64_t lastLevelCacheBytes() const override { return llc_; }
  // MemAvailable, capped by the room left under a container's cgroup limit.
  uint64_t availableMemoryBytes() const override {
    const uint64_t mem = readMemAvailable();
    const uint64_t cg = cgroupRoom();
    if (mem == 0) return cg;
    if (cg == 0) return mem;
    return mem < cg ? mem : cg;
  }

 private:
  uint64_t llc_ = readLlcBytes();
  std::mutex flushMutex_;
  std::vector<unsigned char> flushBuffer_;
};

struct BackendRegistry {
  std::mutex mutex;
  std::map<Device, Backend* (*)()> factories;
  std::map<Device, Backend*> instances;
};

BackendRegistry& registry() {
  static BackendRegistry r;
  return r;
}

}  // namespace

void registerBackend(Device device, Backend* (*factory)()) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[device] = factory;
  r.instances.erase(device);
}

Backend& backendFor(Device device) {
  if (device == Device::CPU) {
    static CpuBackend cpu;
    return cpu;
  }
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto inst = r.instances.find(device);
  if (inst != r.instances.end() && inst->second) return *inst->second;
  auto f = r.factories.find(device);
  if (f == r.factories.end() || !f->second) {
    throw Error(ErrorCode::Unsupported,
                std::string("device '") + deviceName(device) +
                    "' is not available: this build of dilbench has no CUDA backend. Rebuild with "
                    "the CUDA toolkit installed (DILBENCH_CMAKE_ARGS=-DDILBENCH_CUDA=ON npm rebuild "
                    "dilbench) or use device 'cpu'",
                "device");
  }
  Backend* b = f->second();
  if (!b) {
    throw Error(ErrorCode::Unsupported,
                std::string("device '") + deviceName(device) +
                    "' is not available: no usable device was found (check the driver and "
                    "CUDA_VISIBLE_DEVICES) - use device 'cpu'",
                "device");
  }
  r.instances[device] = b;
  return *b;
}

}  // namespace dilbench
