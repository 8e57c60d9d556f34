// Runtime CPU dispatch: the shipped x86-64 binary holds generic, AVX2+FMA and AVX-512 code paths
// (compiled per file with their own flags, never -march=native) and picks one at load. An aarch64
// build holds generic and NEON (ASIMD is part of the ARMv8-A baseline, so NEON is always detected).
#pragma once

namespace dilbench {

// AVX2 < AVX512 on x86; NEON exists only on aarch64 (never ordered against the x86 levels).
enum class SimdLevel { Generic = 0, AVX2 = 1, AVX512 = 2, NEON = 3 };

const char* simdLevelName(SimdLevel);  // "generic" | "avx2" | "avx512" | "neon"
SimdLevel detectedSimdLevel();         // best the CPU and OS support
// What kernels use: detected, capped by DILBENCH_SIMD=generic|avx2|avx512|neon (env) or setSimdLevel.
SimdLevel activeSimdLevel();
// Cap for tests/benchmarks; throws Error(InvalidConfig) if the CPU lacks the level.
void setSimdLevel(SimdLevel level);
// Whether setSimdLevel(level) would succeed here (generic always; avx2/avx512 up to the detected
// level on x86; neon on aarch64).
bool simdLevelSupported(SimdLevel level);

}  // namespace dilbench
