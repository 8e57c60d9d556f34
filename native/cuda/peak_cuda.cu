// The GPU peak of `dilbench peak`: tensor-core rate (mma.sync m16n8k16, fp16 / bf16 inputs, fp32
// accumulators kept in registers), FP32 FMA rate, and device memory bandwidth (a grid-stride copy
// with 16-byte loads and stores over buffers several times the L2). Each figure: one calibration
// launch, one warm-up launch at full size (the clock ramps up), then `runs` launches timed with
// CUDA events; the figure is their median.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "peak_cuda.h"

namespace dilbench {
namespace cuda {
namespace {

constexpr int kThreads = 256;                    // 8 warps per block
constexpr int kMmaChains = 8;                    // independent accumulator tiles per warp
constexpr int kFmaChains = 8;                    // independent FMA chains per thread
constexpr int kBlocksPerSm = 4;                  // mma / FMA kernels: 32 warps per SM
constexpr int kCopyBlocksPerSm = 8;              // copy: 2048 threads per SM (full occupancy on sm_80+)
constexpr int kRuns = 9;                         // timed launches per figure (odd: a plain median)
constexpr int kFragmentWords = 6 * 32;           // a0..a3, b0, b1 for each lane
constexpr double kMmaFlops = 2.0 * 16 * 8 * 16;  // per mma.sync m16n8k16 per warp

template <bool kBf16>
__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // never launched: measureGpuPeak checks the compute capability first
#else
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
#endif
}

// Each warp issues `iterations` x kMmaChains independent mma.sync on fragments loaded once; the
// accumulator sums go to `sink` so nothing can be optimised away.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads)
    mmaPeakKernel(const uint32_t* __restrict__ fragments, int iterations, float* __restrict__ sink) {
  const int lane = threadIdx.x & 31;
  const uint32_t a0 = fragments[lane], a1 = fragments[32 + lane], a2 = fragments[64 + lane],
                 a3 = fragments[96 + lane], b0 = fragments[128 + lane], b1 = fragments[160 + lane];
  float acc[kMmaChains][4] = {};
  for (int it = 0; it < iterations; ++it) {
#pragma unroll
    for (int c = 0; c < kMmaChains; ++c) mma16816<kBf16>(acc[c], a0, a1, a2, a3, b0, b1);
  }
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < kMmaChains; ++c) s += acc[c][0] + acc[c][1] + acc[c][2] + acc[c][3];
  sink[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// kFmaChains independent x = x * mul + add chains per thread (2 FLOPs per fmaf).
__global__ void __launch_bounds__(kThreads)
    fmaPeakKernel(float mul, float add, int iterations, float* __restrict__ sink) {
  float x[kFmaChains];
#pragma unroll
  for (int c = 0; c < kFmaChains; ++c) x[c] = 1e-3f * static_cast<float>(threadIdx.x + c);
  for (int it = 0; it < iterations; ++it) {
#pragma unroll
    for (int c = 0; c < kFmaChains; ++c) x[c] = fmaf(x[c], mul, add);
  }
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < kFmaChains; ++c) s += x[c];
  sink[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

__global__ void copyKernel(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = src[i];
}

// Small nonzero inputs (zeros could let the tensor cores save power and clock higher), two
// 16-bit values per word, so the accumulators stay finite over billions of mma.
template <bool kBf16>
__global__ void initFragments(uint32_t* fragments) {
  const int i = threadIdx.x;
  if (i >= kFragmentWords) return;
  const float lo = 1e-3f * static_cast<float>(1 + i % 7), hi = 1e-3f * static_cast<float>(1 + i % 5);
  uint16_t l, h;
  if constexpr (kBf16) {
    l = __bfloat16_as_ushort(__float2bfloat16_rn(lo));
    h = __bfloat16_as_ushort(__float2bfloat16_rn(hi));
  } else {
    l = __half_as_ushort(__float2half_rn(lo));
    h = __half_as_ushort(__float2half_rn(hi));
  }
  fragments[i] = static_cast<uint32_t>(l) | (static_cast<uint32_t>(h) << 16);
}

// Device buffers, stream and events, released on every path out of measureGpuPeak.
struct Resources {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  std::vector<void*> buffers;
  ~Resources() {
    for (void* p : buffers) cudaFree(p);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (stream) cudaStreamDestroy(stream);
    cudaGetLastError();  // leave no error behind for the next caller
  }
  cudaError_t alloc(void** p, size_t bytes) {
    const cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess) buffers.push_back(*p);
    return e;
  }
};

const char* failed(cudaError_t e) {
  cudaGetLastError();
  return cudaGetErrorString(e);
}

// Milliseconds of `launch` (one or more kernel launches on r.stream) between two events.
template <class Launch>
cudaError_t timeMs(Resources& r, Launch launch, double& ms) {
  cudaError_t e = cudaEventRecord(r.start, r.stream);
  if (e != cudaSuccess) return e;
  launch();
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  if ((e = cudaEventRecord(r.stop, r.stream)) != cudaSuccess) return e;
  if ((e = cudaEventSynchronize(r.stop)) != cudaSuccess) return e;
  float f = 0.f;
  e = cudaEventElapsedTime(&f, r.start, r.stop);
  ms = f;
  return e;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Scales the work of `launch(amount)` until one launch lasts about targetMs (starting from
// `amount`, capped at maxAmount), warms up once at that size, then returns the median ms of
// kRuns timed launches.
template <class Launch>
cudaError_t calibratedMedianMs(Resources& r, Launch launch, int64_t& amount, int64_t maxAmount,
                               double targetMs, double& medianMs) {
  double ms = 0;
  cudaError_t e;
  for (;;) {  // grow until the launch is long enough to extrapolate from
    if ((e = timeMs(r, [&] { launch(amount); }, ms)) != cudaSuccess) return e;
    if (ms >= 1.0 || amount >= maxAmount) break;
    amount = std::min(maxAmount, amount * 8);
  }
  if (ms > 0) {
    const double scaled = static_cast<double>(amount) * targetMs / ms;
    amount = std::max<int64_t>(1, std::min<int64_t>(maxAmount, static_cast<int64_t>(scaled)));
  }
  if ((e = timeMs(r, [&] { launch(amount); }, ms)) != cudaSuccess) return e;  // warm-up
  std::vector<double> runs;
  for (int i = 0; i < kRuns; ++i) {
    if ((e = timeMs(r, [&] { launch(amount); }, ms)) != cudaSuccess) return e;
    runs.push_back(ms);
  }
  medianMs = median(runs);
  return cudaSuccess;
}

}  // namespace

const char* measureGpuPeak(int device, double secondsPerMeasurement, GpuPeak& out) {
  if (!(secondsPerMeasurement > 0)) return "secondsPerMeasurement must be > 0";
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return failed(e);
  cudaDeviceProp prop{};
  if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) return failed(e);
  if (prop.major < 8) return "the tensor-core peak needs compute capability 8.0 or newer (mma.sync m16n8k16)";
  const int sms = std::max(1, prop.multiProcessorCount);
  // One launch lasts about a tenth of the time given to a figure: kRuns + warm-up + calibration.
  const double targetMs = std::min(500.0, std::max(2.0, 1000.0 * secondsPerMeasurement / (kRuns + 1)));

  Resources r;
  if ((e = cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking)) != cudaSuccess) return failed(e);
  if ((e = cudaEventCreate(&r.start)) != cudaSuccess) return failed(e);
  if ((e = cudaEventCreate(&r.stop)) != cudaSuccess) return failed(e);

  const int blocks = sms * kBlocksPerSm;
  void* sink = nullptr;
  void* fragments = nullptr;
  if ((e = r.alloc(&sink, sizeof(float) * blocks * kThreads)) != cudaSuccess) return failed(e);
  if ((e = r.alloc(&fragments, sizeof(uint32_t) * kFragmentWords)) != cudaSuccess) return failed(e);
  float* sinkF = static_cast<float*>(sink);
  uint32_t* frag = static_cast<uint32_t*>(fragments);
  const double warps = static_cast<double>(blocks) * (kThreads / 32);
  constexpr int64_t kMaxIterations = 1 << 30;

  // Tensor cores, fp16 then bf16 (each with its own fragments).
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    if (bf16) initFragments<true><<<1, kFragmentWords, 0, r.stream>>>(frag);
    else initFragments<false><<<1, kFragmentWords, 0, r.stream>>>(frag);
    if ((e = cudaGetLastError()) != cudaSuccess) return failed(e);
    int64_t iterations = 256;
    double ms = 0;
    auto launch = [&](int64_t it) {
      if (bf16) mmaPeakKernel<true><<<blocks, kThreads, 0, r.stream>>>(frag, static_cast<int>(it), sinkF);
      else mmaPeakKernel<false><<<blocks, kThreads, 0, r.stream>>>(frag, static_cast<int>(it), sinkF);
    };
    if ((e = calibratedMedianMs(r, launch, iterations, kMaxIterations, targetMs, ms)) != cudaSuccess)
      return failed(e);
    if (!(ms > 0)) return "a tensor-core launch timed at 0 ms";
    const double tflops =
        warps * static_cast<double>(iterations) * kMmaChains * kMmaFlops / (ms * 1e-3) / 1e12;
    (bf16 ? out.bf16TensorTflops : out.fp16TensorTflops) = tflops;
  }

  // FP32 FMA (SIMT), all SMs busy.
  {
    int64_t iterations = 1024;
    double ms = 0;
    auto launch = [&](int64_t it) {
      fmaPeakKernel<<<blocks, kThreads, 0, r.stream>>>(0.999999f, 1e-7f, static_cast<int>(it), sinkF);
    };
    if ((e = calibratedMedianMs(r, launch, iterations, kMaxIterations, targetMs, ms)) != cudaSuccess)
      return failed(e);
    if (!(ms > 0)) return "an FMA launch timed at 0 ms";
    const double threads = static_cast<double>(blocks) * kThreads;
    out.fp32FmaTflops = threads * static_cast<double>(iterations) * kFmaChains * 2.0 / (ms * 1e-3) / 1e12;
  }

  // Device memory: two buffers of 8x the L2 (at least 256 MiB each), within a quarter of the free
  // memory each; the work per timed launch is a number of back-to-back copies.
  {
    size_t freeB = 0, totalB = 0;
    if ((e = cudaMemGetInfo(&freeB, &totalB)) != cudaSuccess) return failed(e);
    const size_t l2 = static_cast<size_t>(std::max(prop.l2CacheSize, 1 << 20));
    size_t bytes = std::max<size_t>(8 * l2, size_t(256) << 20);
    bytes = std::min(bytes, freeB / 4) / 16 * 16;
    if (bytes < 4 * l2) return "too little free device memory for a copy several times the L2 size";
    void* src = nullptr;
    void* dst = nullptr;
    if ((e = r.alloc(&src, bytes)) != cudaSuccess) return failed(e);
    if ((e = r.alloc(&dst, bytes)) != cudaSuccess) return failed(e);
    if ((e = cudaMemsetAsync(src, 1, bytes, r.stream)) != cudaSuccess) return failed(e);
    const size_t n = bytes / 16;
    const int copyBlocks = sms * kCopyBlocksPerSm;
    int64_t copies = 1;
    double ms = 0;
    auto launch = [&](int64_t count) {
      for (int64_t c = 0; c < count; ++c) {
        copyKernel<<<copyBlocks, kThreads, 0, r.stream>>>(static_cast<const uint4*>(src),
                                                          static_cast<uint4*>(dst), n);
      }
    };
    if ((e = calibratedMedianMs(r, launch, copies, 4096, targetMs, ms)) != cudaSuccess) return failed(e);
    if (!(ms > 0)) return "a copy timed at 0 ms";
    out.copyGBps = 2.0 * static_cast<double>(bytes) * static_cast<double>(copies) / (ms * 1e-3) / 1e9;
    out.copyBytes = bytes;
  }
  if ((e = cudaStreamSynchronize(r.stream)) != cudaSuccess) return failed(e);
  out.deviceName = prop.name;
  out.runs = kRuns;
  return nullptr;
}

}  // namespace cuda
}  // namespace dilbench
