// A CUDA dense-attention kernel as a dilbench plugin (fp32, causal or not, grouped-query): one
// thread per query row with an online softmax; plain and slow on purpose, the point is the ABI.
// dilbench passes device pointers and the stream to launch on; the kernel must not synchronize
// (dilbench times it with CUDA events on that stream). Build: cmake -S . -B build && cmake --build build
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>

#include "dilbench_plugin.h"

namespace {

constexpr int kMaxHeadDim = 256;

__global__ void denseRows(const float* q, const float* k, const float* v, float* o, int64_t H, int64_t KH,
                          int64_t N, int64_t D, int causal, float scale, int64_t rows) {
  const int64_t row = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;  // over batch * heads * N
  if (row >= rows) return;
  const int64_t i = row % N, bh = row / N, h = bh % H, b = bh / H;
  const int64_t kvh = b * KH + h / (H / KH);
  const float* qi = q + row * D;
  const float* kh = k + kvh * N * D;
  const float* vh = v + kvh * N * D;
  float acc[kMaxHeadDim];
  for (int64_t d = 0; d < D; ++d) acc[d] = 0.f;
  float m = -INFINITY, l = 0.f;
  const int64_t last = causal ? i : N - 1;
  for (int64_t j = 0; j <= last; ++j) {
    float s = 0.f;
    for (int64_t d = 0; d < D; ++d) s += qi[d] * kh[j * D + d];
    s *= scale;
    const float mNew = fmaxf(m, s), corr = __expf(m - mNew), w = __expf(s - mNew);
    l = l * corr + w;
    for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * corr + w * vh[j * D + d];
    m = mNew;
  }
  for (int64_t d = 0; d < D; ++d) o[row * D + d] = acc[d] / l;
}

int runDense(void*, const dilbench_problem* p, const dilbench_tensors* t, char* err, size_t errLen) {
  if (p->dtype != DILBENCH_FP32 || p->head_dim > kMaxHeadDim) {
    snprintf(err, errLen, "fp32 and head_dim <= %d only", kMaxHeadDim);
    return 1;
  }
  const int64_t rows = p->batch * p->heads * p->seq_len;
  const int threads = 128;
  const unsigned blocks = static_cast<unsigned>((rows + threads - 1) / threads);
  denseRows<<<blocks, threads, 0, static_cast<cudaStream_t>(t->stream)>>>(
      static_cast<const float*>(t->q), static_cast<const float*>(t->k), static_cast<const float*>(t->v),
      static_cast<float*>(t->o), p->heads, p->kv_heads, p->seq_len, p->head_dim, p->causal,
      static_cast<float>(p->scale), rows);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    snprintf(err, errLen, "launch failed: %s", cudaGetErrorString(e));
    return 2;
  }
  return 0;
}

const dilbench_kernel kKernels[] = {{
    sizeof(dilbench_kernel),
    "cuda-dense",
    "cuda",
    DILBENCH_DTYPE_FP32,
    "dense",
    "one thread per query row, online softmax (examples/plugins/cuda-dense)",
    nullptr,
    nullptr,
    runDense,
    nullptr,
    nullptr,
}};

const dilbench_plugin kPlugin = {
    sizeof(dilbench_plugin),
    DILBENCH_PLUGIN_ABI_MAJOR,
    DILBENCH_PLUGIN_ABI_MINOR,
    "cuda-dense-example",
    1,
    kKernels,
};

}  // namespace

extern "C" DILBENCH_PLUGIN_EXPORT const dilbench_plugin* dilbench_plugin_init(uint32_t hostMajor, uint32_t) {
  return hostMajor == DILBENCH_PLUGIN_ABI_MAJOR ? &kPlugin : nullptr;
}
