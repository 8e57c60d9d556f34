// LRU cache of dilated index patterns (issue 3). A pattern is the ascending list of positions a
// dilated (segment length w, dilation rate r, head offset) pair selects in a sequence of seqLen
// positions, segment by segment. Kernels ask for it per (batch, head, pair); with the cache the
// pattern is built once per run configuration, without it (ExecContext::patterns == nullptr)
// every request builds it again (the baseline the optimization-impact suite measures).
// Thread-safe; capacity in bytes; statistics are exact.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace dilbench {

struct DilatedPattern {
  int64_t seqLen = 0, w = 0, r = 1, offset = 0;
  std::vector<int64_t> positions;     // ascending sequence positions
  std::vector<int64_t> segmentStart;  // [segments + 1]: segment s owns positions[start[s], start[s+1])
  uint64_t bytes() const;             // memory the pattern holds (what counts against capacity)
};

struct PatternCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  double hitRate = 0;  // hits / (hits + misses), 0 when no request yet
  uint64_t entries = 0;
  uint64_t bytes = 0;  // sum of bytes() of the cached patterns
  uint64_t capacityBytes = 0;
};

class PatternCache {
 public:
  static constexpr uint64_t kDefaultCapacityBytes = 256ull << 20;
  explicit PatternCache(uint64_t capacityBytes = kDefaultCapacityBytes);
  PatternCache(const PatternCache&) = delete;
  PatternCache& operator=(const PatternCache&) = delete;

  // The pattern of (seqLen, w, r, offset), w <= seqLen already applied by the caller. A miss
  // builds it and inserts it (evicting least recently used entries to fit); a pattern larger
  // than the whole capacity is returned uncached (a miss, never an eviction storm).
  std::shared_ptr<const DilatedPattern> get(int64_t seqLen, int64_t w, int64_t r, int64_t offset);

  PatternCacheStats stats() const;
  void resetStats();                 // counters to 0; entries stay
  void clear();                      // drops every entry (not counted as evictions)
  void setCapacity(uint64_t bytes);  // evicts down to the new capacity
  uint64_t capacity() const;

  // Builds a pattern without any cache.
  static std::shared_ptr<const DilatedPattern> build(int64_t seqLen, int64_t w, int64_t r, int64_t offset);
  // Through `cache` when non-null, else build().
  static std::shared_ptr<const DilatedPattern> fetch(PatternCache* cache, int64_t seqLen, int64_t w,
                                                     int64_t r, int64_t offset);

 private:
  struct Key {
    int64_t seqLen, w, r, offset;
    bool operator==(const Key& o) const {
      return seqLen == o.seqLen && w == o.w && r == o.r && offset == o.offset;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  using Entry = std::pair<Key, std::shared_ptr<const DilatedPattern>>;
  void evictToFit(uint64_t incoming);  // mutex held

  mutable std::mutex mutex_;
  uint64_t capacity_;
  uint64_t bytes_ = 0;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace dilbench
