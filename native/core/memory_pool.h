// Caching allocator through which every kernel buffer (inputs, outputs, workspaces) is taken.
// Size classes; freed blocks are kept for reuse when caching is on, returned at once when off,
// so the pool's effect can be measured. Statistics are exact: peakBytesInUse of a run is the
// run's peak memory. One pool per session, so concurrent sessions never mix their numbers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace dilbench {

// Where raw memory comes from: host (aligned malloc) or device (cudaMalloc in native/cuda).
class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // returns nullptr on failure (never throws)
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual const char* name() const = 0;
};

RawAllocator& hostAllocator();  // 64-byte aligned

struct PoolStats {
  uint64_t allocations = 0;  // allocate() calls that succeeded
  uint64_t cacheHits = 0;    // served from a cached block
  uint64_t cacheMisses = 0;  // went to the RawAllocator; hits + misses == allocations
  uint64_t deallocations = 0;
  uint64_t bytesInUse = 0;  // size-class bytes handed out and not yet returned
  uint64_t peakBytesInUse = 0;
  uint64_t bytesReserved = 0;  // in use + cached, i.e. what the RawAllocator holds for us
  uint64_t peakBytesReserved = 0;
  uint64_t failedAllocations = 0;
};

class MemoryPool {
 public:
  explicit MemoryPool(RawAllocator& raw, bool caching = true);
  ~MemoryPool();  // returns everything to the RawAllocator
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // Throws Error(OutOfMemory) when the raw allocator fails, the limit would be exceeded or the
  // failure hook fires. A zero-byte request returns a valid unique pointer.
  void* allocate(size_t bytes);
  void deallocate(void* ptr);

  PoolStats stats() const;
  void resetPeak();      // peak := current, for per-run peaks
  void releaseCached();  // give cached blocks back to the RawAllocator
  bool caching() const { return caching_; }

  // Budget on bytesReserved (0 = none); exceeding it is OutOfMemory, not a crash.
  void setLimit(uint64_t bytes);
  // Test hook: the n-th allocate() from now fails with OutOfMemory (-1 = never).
  void setFailAfter(int64_t n);

  static size_t sizeClass(size_t bytes);  // rounding used for caching

 private:
  RawAllocator& raw_;
  bool caching_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> cached_;     // size class -> free block
  std::unordered_map<void*, size_t> live_;  // block -> size class
  PoolStats stats_;
  uint64_t limit_ = 0;
  int64_t failAfter_ = -1;
};

// RAII handle for a typed pool buffer.
template <class T>
class PoolBuffer {
 public:
  PoolBuffer() = default;
  PoolBuffer(MemoryPool& pool, size_t count)
      : pool_(&pool), ptr_(static_cast<T*>(pool.allocate(count * sizeof(T)))), count_(count) {}
  ~PoolBuffer() { reset(); }
  PoolBuffer(PoolBuffer&& o) noexcept : pool_(o.pool_), ptr_(o.ptr_), count_(o.count_) {
    o.ptr_ = nullptr;
    o.count_ = 0;
  }
  PoolBuffer& operator=(PoolBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = o.pool_;
      ptr_ = o.ptr_;
      count_ = o.count_;
      o.ptr_ = nullptr;
      o.count_ = 0;
    }
    return *this;
  }
  void reset() {
    if (ptr_) pool_->deallocate(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }
  T* data() const { return ptr_; }
  size_t size() const { return count_; }

 private:
  MemoryPool* pool_ = nullptr;
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

}  // namespace dilbench
