// Runtime CPU dispatch: the shipped binary holds generic, AVX2+FMA and AVX-512 code paths
// (compiled per file with their own flags, never -march=native) and picks one at load.
#pragma once

namespace dilbench {

enum class SimdLevel { Generic = 0, AVX2 = 1, AVX512 = 2 };

const char* simdLevelName(SimdLevel);  // "generic" | "avx2" | "avx512"
SimdLevel detectedSimdLevel();         // best the CPU and OS support
// What kernels use: detected, capped by DILBENCH_SIMD=generic|avx2|avx512 (env) or setSimdLevel.
SimdLevel activeSimdLevel();
// Cap for tests/benchmarks; throws Error(InvalidConfig) if the CPU lacks the level.
void setSimdLevel(SimdLevel level);

}  // namespace dilbench
