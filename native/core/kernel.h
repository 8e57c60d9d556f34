// The kernel interface every backend implements, one kernel family per file, and the registry
// that finds them by (device, implementation name).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cancel.h"
#include "memory_pool.h"
#include "problem.h"

namespace dilbench {

class ThreadPool;
class PatternCache;  // dilated index patterns (native/core/pattern_cache.h, issue 3)

// Exact work a kernel does for one iteration, reported by the kernel itself so GFLOP/s and
// GB/s are never guessed: flops counts a multiply-add as 2, both matmuls, causal-aware.
struct KernelCounts {
  double flops = 0;
  double bytesMoved = 0;  // minimal compulsory traffic: read q,k,v (and cache), write o
};

// Device pointers on CUDA, host pointers on CPU. Layout per attention-definitions.md.
// Element type is given by problem.dtype (fp32 on the CPU).
struct Tensors {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
};

struct ExecContext {
  MemoryPool* pool = nullptr;  // every workspace comes from here
  ThreadPool* threadPool = nullptr;
  int threads = 1;
  const CancelToken* cancel = nullptr;  // may be null
  PatternCache* patterns = nullptr;     // null when the pattern cache is off
  void* stream = nullptr;               // cudaStream_t on CUDA
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual std::string name() const = 0;
  virtual Device device() const = 0;
  virtual std::vector<DType> dtypes() const { return {DType::F32}; }
  virtual std::string description() const = 0;
  // Implementation-specific checks beyond AttentionProblem::validateCommon(); throws
  // Error(InvalidConfig) naming the field.
  virtual void validate(const AttentionProblem& p) const = 0;
  // Length actually run when the implementation needs another (recorded, never silent).
  virtual int64_t effectiveSeqLen(const AttentionProblem& p) const { return p.seqLen; }
  // Peak workspace bytes run() takes from the pool (exact upper bound; inputs/outputs excluded).
  virtual uint64_t workspaceBytes(const AttentionProblem& p, int threads) const = 0;
  virtual KernelCounts counts(const AttentionProblem& p) const = 0;
  // One full forward pass. Must poll ctx.cancel at least between tiles of work of ~10 ms.
  virtual void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) = 0;
};

struct KernelInfo {
  std::string name;
  Device device;
  std::vector<DType> dtypes;
  std::string description;
};

class KernelRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Kernel>()>;
  static KernelRegistry& instance();
  void add(const std::string& name, Device device, Factory factory);
  // Throws Error(InvalidConfig, field "implementation") listing the known names when unknown;
  // Error(Unsupported) when known but not built for that device.
  std::unique_ptr<Kernel> create(const std::string& name, Device device) const;
  std::vector<KernelInfo> list() const;
};

// Static registration from each kernel file: DILBENCH_REGISTER_KERNEL(FlashCpu, "flash", CPU)
#define DILBENCH_REGISTER_KERNEL(Class, NameStr, DeviceEnum)                              \
  namespace {                                                                             \
  const bool registered_##Class = [] {                                                    \
    ::dilbench::KernelRegistry::instance().add(NameStr, ::dilbench::Device::DeviceEnum,   \
                                               [] { return std::make_unique<Class>(); }); \
    return true;                                                                          \
  }();                                                                                    \
  }

}  // namespace dilbench
