// `dilbench peak` on a CUDA device: the launcher of the peak kernels in peak_cuda.cu. Plain C++
// (no CUDA headers) and no dependency on the rest of native/, like attention_cuda.h.
#pragma once
#include <cstdint>
#include <string>

namespace dilbench {
namespace cuda {

struct GpuPeak {
  std::string deviceName;
  double fp16TensorTflops = 0;  // mma.sync m16n8k16, fp16 inputs, fp32 accumulation
  double bf16TensorTflops = 0;  // the same with bf16 inputs
  double fp32FmaTflops = 0;     // SIMT fmaf chains
  double copyGBps = 0;          // device-to-device copy, read + write bytes counted
  uint64_t copyBytes = 0;       // size of the copied buffer
  int runs = 0;                 // timed runs per figure (each figure is their median)
};

// Measures on `device`, spending about `secondsPerMeasurement` on each of the four figures.
// Returns nullptr on success or a static message saying what failed (needs compute capability
// 8.0 or newer for mma.sync m16n8k16).
const char* measureGpuPeak(int device, double secondsPerMeasurement, GpuPeak& out);

}  // namespace cuda
}  // namespace dilbench
