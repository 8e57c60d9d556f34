// Runtime CPU feature detection (x86: cpuid + xgetbv; aarch64: NEON is baseline) and the
// process-wide SIMD level cap.
#include "cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#define DILBENCH_X86 1
#include <cpuid.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace dilbench {
namespace {

#if defined(DILBENCH_X86)
uint64_t readXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

SimdLevel detectOnce() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return SimdLevel::Generic;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return SimdLevel::Generic;
  const uint64_t xcr0 = readXcr0();
  const bool osYmm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool osZmm = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!osYmm) return SimdLevel::Generic;
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return SimdLevel::Generic;
  const bool avx2 = (b7 >> 5) & 1;
  if (!(avx2 && fma && f16c)) return SimdLevel::Generic;
  const bool avx512f = (b7 >> 16) & 1;
  const bool avx512dq = (b7 >> 17) & 1;
  const bool avx512bw = (b7 >> 30) & 1;
  const bool avx512vl = (b7 >> 31) & 1;
  if (osZmm && avx512f && avx512dq && avx512bw && avx512vl) return SimdLevel::AVX512;
  return SimdLevel::AVX2;
}
#elif defined(__aarch64__)
// Advanced SIMD (NEON, with fp16 <-> fp32 conversion) is mandatory in ARMv8-A.
SimdLevel detectOnce() { return SimdLevel::NEON; }
#else
SimdLevel detectOnce() { return SimdLevel::Generic; }
#endif

bool parseLevel(const char* s, SimdLevel* out) {
  if (!s) return false;
  if (!std::strcmp(s, "generic")) {
    *out = SimdLevel::Generic;
    return true;
  }
  if (!std::strcmp(s, "avx2")) {
    *out = SimdLevel::AVX2;
    return true;
  }
  if (!std::strcmp(s, "avx512")) {
    *out = SimdLevel::AVX512;
    return true;
  }
  if (!std::strcmp(s, "neon")) {
    *out = SimdLevel::NEON;
    return true;
  }
  return false;
}

int initialActive() {
  SimdLevel det = detectedSimdLevel();
  SimdLevel cap;
  // A cap the CPU cannot run (avx2 on aarch64, neon or a higher x86 level on x86) is no cap.
  if (parseLevel(std::getenv("DILBENCH_SIMD"), &cap) && cap != det && simdLevelSupported(cap))
    return static_cast<int>(cap);
  return static_cast<int>(det);
}

std::atomic<int>& activeSlot() {
  static std::atomic<int> slot{initialActive()};
  return slot;
}

}  // namespace

const char* simdLevelName(SimdLevel l) {
  switch (l) {
    case SimdLevel::Generic: return "generic";
    case SimdLevel::AVX2: return "avx2";
    case SimdLevel::AVX512: return "avx512";
    case SimdLevel::NEON: return "neon";
  }
  return "generic";
}

SimdLevel detectedSimdLevel() {
  static const SimdLevel level = detectOnce();
  return level;
}

SimdLevel activeSimdLevel() { return static_cast<SimdLevel>(activeSlot().load(std::memory_order_relaxed)); }

bool simdLevelSupported(SimdLevel level) {
  const SimdLevel det = detectedSimdLevel();
  if (level == SimdLevel::Generic) return true;
  if (det == SimdLevel::NEON) return level == SimdLevel::NEON;
  return level != SimdLevel::NEON && static_cast<int>(level) <= static_cast<int>(det);
}

void setSimdLevel(SimdLevel level) {
  if (!simdLevelSupported(level))
    throwInvalid("simd", std::string("this CPU does not support ") + simdLevelName(level) +
                             " (best: " + simdLevelName(detectedSimdLevel()) + ")");
  activeSlot().store(static_cast<int>(level), std::memory_order_relaxed);
}

}  // namespace dilbench
