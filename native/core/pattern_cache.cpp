#include "pattern_cache.h"

#include <algorithm>

namespace dilbench {

uint64_t DilatedPattern::bytes() const {
  return sizeof(DilatedPattern) + positions.capacity() * sizeof(int64_t) +
         segmentStart.capacity() * sizeof(int64_t);
}

size_t PatternCache::KeyHash::operator()(const Key& k) const {
  uint64_t h = 1469598103934665603ull;
  for (int64_t x : {k.seqLen, k.w, k.r, k.offset}) {
    h ^= static_cast<uint64_t>(x) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return static_cast<size_t>(h);
}

PatternCache::PatternCache(uint64_t capacityBytes) : capacity_(capacityBytes) {}

std::shared_ptr<const DilatedPattern> PatternCache::build(int64_t seqLen, int64_t w, int64_t r,
                                                          int64_t offset) {
  auto pat = std::make_shared<DilatedPattern>();
  pat->seqLen = seqLen;
  pat->w = w;
  pat->r = r;
  pat->offset = offset;
  if (seqLen <= 0 || w <= 0 || r <= 0) {
    pat->segmentStart.push_back(0);
    return pat;
  }
  const int64_t segments = (seqLen + w - 1) / w;
  // Count first so the vectors are allocated exactly once.
  int64_t total = 0;
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t len = std::min(w, seqLen - s * w);
    if (offset < len) total += (len - offset + r - 1) / r;
  }
  pat->positions.reserve(static_cast<size_t>(total));
  pat->segmentStart.reserve(static_cast<size_t>(segments + 1));
  for (int64_t s = 0; s < segments; ++s) {
    pat->segmentStart.push_back(static_cast<int64_t>(pat->positions.size()));
    const int64_t end = std::min((s + 1) * w, seqLen);
    for (int64_t p = s * w + offset; p < end; p += r) pat->positions.push_back(p);
  }
  pat->segmentStart.push_back(static_cast<int64_t>(pat->positions.size()));
  return pat;
}

std::shared_ptr<const DilatedPattern> PatternCache::fetch(PatternCache* cache, int64_t seqLen, int64_t w,
                                                          int64_t r, int64_t offset) {
  return cache ? cache->get(seqLen, w, r, offset) : build(seqLen, w, r, offset);
}

void PatternCache::evictToFit(uint64_t incoming) {
  while (!lru_.empty() && bytes_ + incoming > capacity_) {
    auto& victim = lru_.back();
    bytes_ -= victim.second->bytes();
    index_.erase(victim.first);
    lru_.pop_back();
    ++evictions_;
  }
}

std::shared_ptr<const DilatedPattern> PatternCache::get(int64_t seqLen, int64_t w, int64_t r,
                                                        int64_t offset) {
  const Key key{seqLen, w, r, offset};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    ++misses_;
  }
  // Build outside the lock (patterns of long sequences take milliseconds).
  auto pat = build(seqLen, w, r, offset);
  const uint64_t b = pat->bytes();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it != index_.end()) {  // another thread inserted it meanwhile
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  if (b > capacity_) return pat;
  evictToFit(b);
  lru_.emplace_front(key, pat);
  index_.emplace(key, lru_.begin());
  bytes_ += b;
  return pat;
}

PatternCacheStats PatternCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PatternCacheStats s;
  s.hits = hits_;
  s.misses = misses_;
  s.evictions = evictions_;
  s.hitRate = (hits_ + misses_) ? double(hits_) / double(hits_ + misses_) : 0.0;
  s.entries = lru_.size();
  s.bytes = bytes_;
  s.capacityBytes = capacity_;
  return s;
}

void PatternCache::resetStats() {
  std::lock_guard<std::mutex> lock(mutex_);
  hits_ = misses_ = evictions_ = 0;
}

void PatternCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

void PatternCache::setCapacity(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  capacity_ = bytes;
  evictToFit(0);
}

uint64_t PatternCache::capacity() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return capacity_;
}

}  // namespace dilbench
