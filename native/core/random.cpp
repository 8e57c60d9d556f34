#include "random.h"

#include <algorithm>
#include <cmath>

#include "thread_pool.h"

namespace dilbench {

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void fillNormal(float* dst, size_t count, uint64_t seed, uint64_t stream, double stdev, int threads) {
  const uint64_t s = mix64(seed + stream * kGamma);
  const size_t pairs = (count + 1) / 2;
  constexpr size_t kPairsPerTask = 1 << 15;
  const int64_t tasks = static_cast<int64_t>((pairs + kPairsPerTask - 1) / kPairsPerTask);
  auto body = [&](int64_t task, int) {
    const size_t j0 = static_cast<size_t>(task) * kPairsPerTask;
    const size_t j1 = std::min(pairs, j0 + kPairsPerTask);
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    constexpr double kInv53 = 1.0 / 9007199254740992.0;  // 2^-53
    for (size_t j = j0; j < j1; ++j) {
      const uint64_t x = mix64(s + (2 * static_cast<uint64_t>(j) + 1) * kGamma);
      const uint64_t y = mix64(s + (2 * static_cast<uint64_t>(j) + 2) * kGamma);
      const double u1 = static_cast<double>((x >> 11) + 1) * kInv53;
      const double u2 = static_cast<double>(y >> 11) * kInv53;
      const double r = std::sqrt(-2.0 * std::log(u1)) * stdev;
      const double a = kTwoPi * u2;
      dst[2 * j] = static_cast<float>(r * std::cos(a));
      if (2 * j + 1 < count) dst[2 * j + 1] = static_cast<float>(r * std::sin(a));
    }
  };
  if (tasks <= 1 || threads <= 1) {
    for (int64_t i = 0; i < tasks; ++i) body(i, 0);
  } else {
    ThreadPool::global().parallelFor(tasks, threads, body);
  }
}

}  // namespace dilbench
