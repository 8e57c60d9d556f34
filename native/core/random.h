// Seeded N(0, stdev) fills shared by sessions (inputs) and models (weights), the same on every
// backend: generated on the host in double precision and rounded to fp32.
//   mix(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//           return z ^ (z >> 31)                                   (splitmix64's output function)
//   GAMMA = 0x9E3779B97F4A7C15; splitmix64 from state s yields mix(s + n*GAMMA), n = 1, 2, ...
//   Stream t uses the state s_t = mix(seed + t*GAMMA) (sessions: q = 1, k = 2, v = 3).
//   Element pair j (elements 2j and 2j+1, flat row-major index) uses x = out(2j+1), y = out(2j+2)
//   of the stream s_t:  u1 = ((x >> 11) + 1) * 2^-53 in (0, 1],  u2 = (y >> 11) * 2^-53 in [0, 1),
//   r = sqrt(-2 ln u1) * stdev, element 2j = (float)(r cos(2 pi u2)), element 2j+1 =
//   (float)(r sin(2 pi u2)) (Box-Muller). Counter-based, so a parallel fill gives identical results.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dilbench {

void fillNormal(float* dst, size_t count, uint64_t seed, uint64_t stream, double stdev, int threads);

}  // namespace dilbench
