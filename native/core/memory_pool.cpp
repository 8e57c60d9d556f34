// Caching allocator. Size classes: requests up to 4 KiB round up to a power of two (minimum 64
// bytes); above 4 KiB each power-of-two interval [2^n, 2^(n+1)) is split into 4 equal steps, so
// rounding wastes at most 25%. Blocks are always allocated from the RawAllocator at their size
// class (with caching on or off), so bytesInUse is the same in both modes and only the hit/miss
// counts and the raw allocator traffic differ. Statistics are exact and guarded by one mutex.
#include "memory_pool.h"

#include <cstdlib>
#include <limits>
#include <new>
#include <string>

#include "errors.h"

namespace dilbench {

namespace {

class HostAllocator final : public RawAllocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) bytes = 64;
    if (bytes > std::numeric_limits<size_t>::max() - 63) return nullptr;
    const size_t rounded = (bytes + 63) & ~static_cast<size_t>(63);  // aligned_alloc needs a multiple
    return std::aligned_alloc(64, rounded);
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  const char* name() const override { return "host"; }
};

std::string formatBytes(uint64_t b) { return std::to_string(b) + " bytes"; }

}  // namespace

RawAllocator& hostAllocator() {
  static HostAllocator instance;
  return instance;
}

size_t MemoryPool::sizeClass(size_t bytes) {
  constexpr size_t kMin = 64;
  constexpr size_t kSmall = 4096;
  if (bytes <= kMin) return kMin;
  if (bytes <= kSmall) {
    size_t c = kMin;
    while (c < bytes) c <<= 1;
    return c;
  }
  // n = floor(log2(bytes - 1)), step = 2^n / 4
  const int n = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes - 1));
  const size_t step = static_cast<size_t>(1) << (n - 2);
  size_t rounded = 0;
  if (__builtin_add_overflow(bytes, step - 1, &rounded)) return std::numeric_limits<size_t>::max();
  return rounded & ~(step - 1);
}

MemoryPool::MemoryPool(RawAllocator& raw, bool caching) : raw_(raw), caching_(caching) {}

MemoryPool::~MemoryPool() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [cls, ptr] : cached_) raw_.deallocate(ptr, cls);
  cached_.clear();
  for (auto& [ptr, cls] : live_) raw_.deallocate(ptr, cls);
  live_.clear();
}

void* MemoryPool::allocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto fail = [&](const std::string& why) -> void* {
    ++stats_.failedAllocations;
    throw Error(ErrorCode::OutOfMemory,
                "allocation of " + formatBytes(bytes) + " from the " + raw_.name() + " pool failed: " + why);
  };

  if (failAfter_ >= 0) {
    if (failAfter_ <= 1) {
      failAfter_ = -1;
      return fail("injected failure (setFailAfter)");
    }
    --failAfter_;
  }

  const size_t cls = sizeClass(bytes);
  if (cls == std::numeric_limits<size_t>::max()) return fail("request too large");

  void* ptr = nullptr;
  if (caching_) {
    auto it = cached_.find(cls);
    if (it != cached_.end()) {
      ptr = it->second;
      cached_.erase(it);
      ++stats_.cacheHits;
    }
  }

  if (!ptr) {
    auto releaseAllCached = [&] {
      for (auto& [c, p] : cached_) {
        raw_.deallocate(p, c);
        stats_.bytesReserved -= c;
      }
      cached_.clear();
    };
    if (limit_ != 0 && stats_.bytesReserved + cls > limit_) {
      releaseAllCached();
      if (stats_.bytesReserved + cls > limit_) {
        return fail("over the memory limit of " + formatBytes(limit_) + " (" +
                    formatBytes(stats_.bytesReserved) + " already reserved, " + formatBytes(cls) +
                    " requested with size-class rounding)");
      }
    }
    ptr = raw_.allocate(cls);
    if (!ptr && !cached_.empty()) {
      releaseAllCached();
      ptr = raw_.allocate(cls);
    }
    if (!ptr) return fail("the " + std::string(raw_.name()) + " allocator returned no memory");
    ++stats_.cacheMisses;
    stats_.bytesReserved += cls;
    if (stats_.bytesReserved > stats_.peakBytesReserved) stats_.peakBytesReserved = stats_.bytesReserved;
  }

  try {
    live_.emplace(ptr, cls);
  } catch (...) {
    // bookkeeping failed: give the block back so nothing leaks
    raw_.deallocate(ptr, cls);
    stats_.bytesReserved -= cls;
    return fail("out of host memory for the pool's bookkeeping");
  }
  ++stats_.allocations;
  stats_.bytesInUse += cls;
  if (stats_.bytesInUse > stats_.peakBytesInUse) stats_.peakBytesInUse = stats_.bytesInUse;
  return ptr;
}

void MemoryPool::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // not ours (or freed twice): ignore rather than corrupt the heap
  const size_t cls = it->second;
  live_.erase(it);
  ++stats_.deallocations;
  stats_.bytesInUse -= cls;
  if (caching_) {
    try {
      cached_.emplace(cls, ptr);
      return;
    } catch (...) {
      // fall through: return it to the allocator
    }
  }
  raw_.deallocate(ptr, cls);
  stats_.bytesReserved -= cls;
}

PoolStats MemoryPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void MemoryPool::resetPeak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peakBytesInUse = stats_.bytesInUse;
  stats_.peakBytesReserved = stats_.bytesReserved;
}

void MemoryPool::releaseCached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [cls, ptr] : cached_) {
    raw_.deallocate(ptr, cls);
    stats_.bytesReserved -= cls;
  }
  cached_.clear();
}

void MemoryPool::setLimit(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = bytes;
}

void MemoryPool::setFailAfter(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  failAfter_ = n < 0 ? -1 : n;
}

}  // namespace dilbench
