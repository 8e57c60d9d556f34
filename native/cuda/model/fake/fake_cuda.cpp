// Host implementations of what transformer_cuda.cpp calls on the device: the runtime subset of
// cuda_runtime.h (this folder), the launchers of model_kernels.h, the attention launchers of
// attention_cuda.h it uses (flash, naive, decode, convertFromF32) with the same contracts
// (layouts, supported head dimensions, workspace sizes), device discovery, and a CUDA Backend
// over tracked host memory. Each launcher checks every extent it reads or writes against the
// tracked allocations (size-class granularity of the MemoryPool), so layout and size mistakes
// of the host code fail here with a message. For model_fake_check only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../../../../bindings/cuda_info.h"
#include "../../attention_cuda.h"
#include "../../cuda_info.h"
#include "../model_kernels.h"
#include "core/backend.h"
#include "cuda_runtime.h"

// ---- tracked "device" memory --------------------------------------------------------------------

namespace {

std::mutex g_mutex;
std::map<uintptr_t, size_t>& allocations() {
  static std::map<uintptr_t, size_t> m;
  return m;
}
thread_local std::string g_error;
thread_local cudaError_t g_last = cudaSuccess;

// nullptr when [p, p + bytes) lies inside one tracked allocation, else a message.
const char* outside(const void* p, size_t bytes, const char* what) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto& m = allocations();
  auto it = m.upper_bound(a);
  if (p == nullptr || it == m.begin()) {
    g_error = std::string(what) + ": pointer is not device memory";
    return g_error.c_str();
  }
  --it;
  if (a + bytes > it->first + it->second) {
    g_error = std::string(what) + ": " + std::to_string(bytes) + " bytes at offset " +
              std::to_string(a - it->first) + " overrun an allocation of " + std::to_string(it->second) +
              " bytes";
    return g_error.c_str();
  }
  return nullptr;
}

void* trackedAlloc(size_t bytes) {
  void* p = std::malloc(std::max<size_t>(bytes, 1));
  if (!p) return nullptr;
  std::memset(p, 0xff, bytes);  // NaN in fp32, fp16 and bf16: unwritten reads show up
  std::lock_guard<std::mutex> lock(g_mutex);
  allocations()[reinterpret_cast<uintptr_t>(p)] = bytes;
  return p;
}
void trackedFree(void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    allocations().erase(reinterpret_cast<uintptr_t>(p));
  }
  std::free(p);
}

}  // namespace

struct FakeCudaStream {};
struct FakeCudaEvent {
  std::chrono::steady_clock::time_point t{};
  bool recorded = false;
};

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}
const char* cudaGetErrorName(cudaError_t e) {
  return e == cudaSuccess                 ? "cudaSuccess"
         : e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation"
                                          : "cudaErrorInvalidValue";
}
const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaErrorInvalidValue ? g_error.c_str() : "fake";
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new FakeCudaStream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = trackedAlloc(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  trackedFree(p);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::malloc(std::max<size_t>(bytes, 1));
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  const bool dstDev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool srcDev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if ((dstDev && outside(dst, bytes, "cudaMemcpyAsync destination")) ||
      (srcDev && outside(src, bytes, "cudaMemcpyAsync source"))) {
    g_last = cudaErrorInvalidValue;
    return cudaErrorInvalidValue;
  }
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (outside(p, bytes, "cudaMemset")) {
    g_last = cudaErrorInvalidValue;
    return cudaErrorInvalidValue;
  }
  std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::snprintf(p->name, sizeof p->name, "fake (host stand-ins)");
  p->major = 0;
  p->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new FakeCudaEvent;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  e->t = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e->recorded ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a->recorded || !b->recorded) return cudaErrorInvalidValue;
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

namespace dilbench {

// ---- a CUDA Backend over the tracked memory --------------------------------------------------------

namespace {

class FakeAllocator final : public RawAllocator {
 public:
  void* allocate(size_t bytes) override { return trackedAlloc(bytes); }
  void deallocate(void* p, size_t) override { trackedFree(p); }
  const char* name() const override { return "fake cudaMalloc"; }
};

class FakeCudaBackend final : public Backend {
 public:
  Device device() const override { return Device::CUDA; }
  RawAllocator& allocator() override { return alloc_; }
  std::unique_ptr<Timer> makeTimer() override { return std::make_unique<SteadyClockTimer>(); }
  void upload(void*, const float*, size_t, DType) override { std::abort(); }  // not used by the model
  void download(float*, const void*, size_t, DType) override { std::abort(); }
  void flushCache() override {}
  uint64_t lastLevelCacheBytes() const override { return 50u << 20; }
  uint64_t availableMemoryBytes() const override { return uint64_t(8) << 30; }

 private:
  FakeAllocator alloc_;
};

Backend* makeFakeCudaBackend() {
  static FakeCudaBackend b;
  return &b;
}
const bool registeredFakeBackend = [] {
  registerBackend(Device::CUDA, &makeFakeCudaBackend);
  return true;
}();

}  // namespace

// info().cuda of an addon built with the stand-ins (fake/addon): one device, named as fake.
std::vector<CudaDeviceSummary> cudaDeviceSummaries() {
  CudaDeviceSummary d;
  d.name = "fake CUDA device (host stand-ins, native/cuda/model/fake)";
  d.computeCapability = "0.0";
  d.clockSource = "rated";
  return {d};
}
std::string cudaDeviceCountError() { return ""; }

namespace cuda {

int deviceCount() { return 1; }
std::string deviceCountError() { return ""; }

namespace {

size_t esize(ElemType t) { return t == ElemType::F32 ? 4 : 2; }

uint16_t toHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return static_cast<uint16_t>(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {                                               // below 2^-14: subnormal
    float v;
    std::memcpy(&v, &a, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(v * 16777216.0f)));
  }
  uint32_t h = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3ffu);
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}
float fromHalfBits(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  float v;
  if (e == 0) v = std::ldexp(static_cast<float>(m), -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(m | 0x400u), static_cast<int>(e) - 25);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits |= sign;
  std::memcpy(&v, &bits, 4);
  return v;
}
uint16_t toBf16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
float fromBf16Bits(uint16_t b) {
  const uint32_t x = uint32_t(b) << 16;
  float v;
  std::memcpy(&v, &x, 4);
  return v;
}

float ld(ElemType t, const void* p, int64_t i) {
  if (t == ElemType::F32) return static_cast<const float*>(p)[i];
  const uint16_t b = static_cast<const uint16_t*>(p)[i];
  return t == ElemType::F16 ? fromHalfBits(b) : fromBf16Bits(b);
}
void st(ElemType t, void* p, int64_t i, float v) {
  if (t == ElemType::F32) static_cast<float*>(p)[i] = v;
  else static_cast<uint16_t*>(p)[i] = t == ElemType::F16 ? toHalfBits(v) : toBf16Bits(v);
}

#define FAKE_REQUIRE(ptr, bytes, what)                                                  \
  do {                                                                                  \
    if (const char* e_ = outside((ptr), static_cast<size_t>(bytes), (what))) return e_; \
  } while (0)

// Attention of nq query rows (row i of head h at qBase + (h * qStride + qRow0 + i) * D) at
// positions qPos0 + i against kvLen rows of kv head h / (H / G) (rows g * kvStride + j).
void attendHost(ElemType t, const void* q, void* o, int64_t qStride, int64_t qRow0, int64_t nq, int64_t qPos0,
                const void* k, const void* v, int64_t kvStride, int64_t kvLen, bool causal, int64_t H,
                int64_t G, int64_t D, float scale) {
  std::vector<float> s(static_cast<size_t>(kvLen)), acc(static_cast<size_t>(D));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / (H / G);
    for (int64_t i = 0; i < nq; ++i) {
      const int64_t qr = (h * qStride + qRow0 + i) * D;
      const int64_t len = causal ? std::min(kvLen, qPos0 + i + 1) : kvLen;
      float mx = -INFINITY;
      for (int64_t j = 0; j < len; ++j) {
        float d = 0.f;
        for (int64_t e = 0; e < D; ++e) d += ld(t, q, qr + e) * ld(t, k, (g * kvStride + j) * D + e);
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < len; ++j) sum += (s[j] = std::exp(s[j] - mx));
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t j = 0; j < len; ++j)
        for (int64_t e = 0; e < D; ++e) acc[e] += s[j] * ld(t, v, (g * kvStride + j) * D + e);
      for (int64_t e = 0; e < D; ++e) st(t, o, qr + e, acc[e] / sum);
    }
  }
}

int64_t maxSplitsFor(int64_t rows) { return std::max<int64_t>(1, (rows + 255) / 256); }

}  // namespace

// ---- attention_cuda.h (the launchers transformer_cuda.cpp uses) ------------------------------------

bool flashSupports(ElemType, int64_t headDim) {
  return headDim == 32 || headDim == 64 || headDim == 96 || headDim == 128;
}

const char* launchFlash(const AttnArgs& a) {
  if (!flashSupports(a.dtype, a.headDim)) return "flash (cuda): headDim must be 32, 64, 96 or 128";
  if (a.seqLen <= 0 || a.batch <= 0 || a.heads <= 0 || a.kvHeads <= 0 || a.heads % a.kvHeads)
    return "flash (cuda): bad shape";
  const int64_t rows = a.headStrideRows > 0 ? a.headStrideRows : a.seqLen;
  if (rows < a.seqLen) return "flash (fake): headStrideRows < seqLen";
  const size_t es = esize(a.dtype);
  const size_t qBytes = static_cast<size_t>(a.batch * a.heads * rows * a.headDim) * es;
  const size_t kvBytes = static_cast<size_t>(a.batch * a.kvHeads * rows * a.headDim) * es;
  FAKE_REQUIRE(a.q, qBytes, "flash q");
  FAKE_REQUIRE(a.o, qBytes, "flash o");
  FAKE_REQUIRE(a.k, kvBytes, "flash k");
  FAKE_REQUIRE(a.v, kvBytes, "flash v");
  for (int64_t b = 0; b < a.batch; ++b) {
    const int64_t qOff = b * a.heads * rows * a.headDim, kvOff = b * a.kvHeads * rows * a.headDim;
    attendHost(a.dtype, static_cast<const char*>(a.q) + qOff * es, static_cast<char*>(a.o) + qOff * es, rows,
               0, a.seqLen, 0, static_cast<const char*>(a.k) + kvOff * es,
               static_cast<const char*>(a.v) + kvOff * es, rows, a.seqLen, a.causal, a.heads, a.kvHeads,
               a.headDim, a.scale);
  }
  return nullptr;
}

const char* flashPath(ElemType, int64_t) { return "fake host attention"; }

size_t naiveWorkspaceBytes(const AttnArgs& a) {
  return static_cast<size_t>(a.batch * a.heads) * static_cast<size_t>(a.seqLen) *
         static_cast<size_t>(a.seqLen) * sizeof(float);
}
bool naiveSupports(ElemType, int64_t headDim) { return headDim >= 1 && headDim <= 512; }

const char* launchNaive(const AttnArgs& a, void* workspace) {
  if (!naiveSupports(a.dtype, a.headDim)) return "naive (cuda): headDim must be 1..512";
  if (a.seqLen <= 0 || a.batch <= 0 || a.heads <= 0 || a.kvHeads <= 0 || a.heads % a.kvHeads)
    return "naive (cuda): bad shape";
  if (a.headStrideRows > 0 && a.headStrideRows != a.seqLen)
    return "naive (fake): naive has no headStrideRows";
  FAKE_REQUIRE(workspace, naiveWorkspaceBytes(a), "naive workspace");
  AttnArgs f = a;
  f.headStrideRows = 0;
  const int64_t d = a.headDim;
  if (d == 32 || d == 64 || d == 96 || d == 128) return launchFlash(f);
  // other head dims: same computation without the flash head-dim restriction
  const size_t es = esize(a.dtype);
  FAKE_REQUIRE(a.q, static_cast<size_t>(a.batch * a.heads * a.seqLen * d) * es, "naive q");
  FAKE_REQUIRE(a.o, static_cast<size_t>(a.batch * a.heads * a.seqLen * d) * es, "naive o");
  FAKE_REQUIRE(a.k, static_cast<size_t>(a.batch * a.kvHeads * a.seqLen * d) * es, "naive k");
  FAKE_REQUIRE(a.v, static_cast<size_t>(a.batch * a.kvHeads * a.seqLen * d) * es, "naive v");
  for (int64_t b = 0; b < a.batch; ++b) {
    const int64_t qOff = b * a.heads * a.seqLen * d, kvOff = b * a.kvHeads * a.seqLen * d;
    attendHost(a.dtype, static_cast<const char*>(a.q) + qOff * es, static_cast<char*>(a.o) + qOff * es,
               a.seqLen, 0, a.seqLen, 0, static_cast<const char*>(a.k) + kvOff * es,
               static_cast<const char*>(a.v) + kvOff * es, a.seqLen, a.seqLen, a.causal, a.heads, a.kvHeads,
               d, a.scale);
  }
  return nullptr;
}

bool decodeSupports(ElemType, int64_t headDim) { return headDim == 64 || headDim == 128; }

size_t decodeWorkspaceBytes(const DecodeArgs& a) {
  return static_cast<size_t>(a.batch * a.heads) * static_cast<size_t>(maxSplitsFor(a.rowsPerHead)) *
         (static_cast<size_t>(a.headDim) + 2) * sizeof(float);
}

int decodeSplits(const DecodeArgs& a) { return static_cast<int>(maxSplitsFor(a.pos + 1)); }

const char* launchDecode(const DecodeArgs& a, void* workspace) {
  if (!decodeSupports(a.dtype, a.headDim)) return "kv-cache (cuda): decode supports headDim 64 and 128";
  if (a.pos < 0 || a.pos >= a.rowsPerHead) return "kv-cache (cuda): pos out of range";
  if (a.heads % a.kvHeads) return "kv-cache (cuda): heads % kvHeads != 0";
  if (!workspace) return "kv-cache (cuda): no workspace";
  FAKE_REQUIRE(workspace, decodeWorkspaceBytes(a), "decode workspace");
  const size_t es = esize(a.dtype);
  const int64_t L = a.rowsPerHead, D = a.headDim;
  FAKE_REQUIRE(a.q, static_cast<size_t>(a.batch * a.heads * L * D) * es, "decode q");
  FAKE_REQUIRE(a.o, static_cast<size_t>(a.batch * a.heads * L * D) * es, "decode o");
  FAKE_REQUIRE(a.k, static_cast<size_t>(a.batch * a.kvHeads * L * D) * es, "decode k");
  FAKE_REQUIRE(a.v, static_cast<size_t>(a.batch * a.kvHeads * L * D) * es, "decode v");
  for (int64_t b = 0; b < a.batch; ++b) {
    const int64_t qOff = b * a.heads * L * D, kvOff = b * a.kvHeads * L * D;
    attendHost(a.dtype, static_cast<const char*>(a.q) + qOff * es, static_cast<char*>(a.o) + qOff * es, L,
               a.pos, 1, a.pos, static_cast<const char*>(a.k) + kvOff * es,
               static_cast<const char*>(a.v) + kvOff * es, L, a.pos + 1, false, a.heads, a.kvHeads, D,
               a.scale);
  }
  return nullptr;
}

const char* convertFromF32(void* dst, const float* src, size_t count, ElemType t, void*) {
  FAKE_REQUIRE(dst, count * esize(t), "convertFromF32 destination");
  FAKE_REQUIRE(src, count * 4, "convertFromF32 source");
  for (size_t i = 0; i < count; ++i) st(t, dst, static_cast<int64_t>(i), src[i]);
  return nullptr;
}

const char* convertToF32(float* dst, const void* src, size_t count, ElemType t, void*) {
  FAKE_REQUIRE(dst, count * 4, "convertToF32 destination");
  FAKE_REQUIRE(src, count * esize(t), "convertToF32 source");
  for (size_t i = 0; i < count; ++i) dst[i] = ld(t, src, static_cast<int64_t>(i));
  return nullptr;
}

// ---- model_kernels.h ----------------------------------------------------------------------------

namespace model {

const char* embedRows(ElemType t, const int32_t* tokens, int64_t n, int64_t pos0, const void* wte,
                      int64_t vocab, const void* wpe, int64_t E, float* x, void*) {
  if (!tokens || !wte || !x || n < 1 || E < 1 || vocab < 1 || pos0 < 0) return "embedRows: bad arguments";
  FAKE_REQUIRE(tokens, n * 4, "embed tokens");
  FAKE_REQUIRE(wte, vocab * E * esize(t), "embed wte");
  if (wpe) FAKE_REQUIRE(wpe, (pos0 + n) * E * esize(t), "embed wpe");
  FAKE_REQUIRE(x, n * E * 4, "embed x");
  for (int64_t i = 0; i < n; ++i) {
    const int64_t tok = tokens[i];
    for (int64_t k = 0; k < E; ++k) {
      if (tok < 0 || tok >= vocab) x[i * E + k] = NAN;
      else x[i * E + k] = ld(t, wte, tok * E + k) + (wpe ? ld(t, wpe, (pos0 + i) * E + k) : 0.f);
    }
  }
  return nullptr;
}

const char* normRows(const float* x, int64_t n, int64_t E, const float* gamma, const float* beta, float eps,
                     ElemType outType, void* y, void*) {
  if (!x || !gamma || !y || n < 1 || E < 1 || !(eps > 0.f)) return "normRows: bad arguments";
  FAKE_REQUIRE(x, n * E * 4, "norm x");
  FAKE_REQUIRE(gamma, E * 4, "norm gamma");
  if (beta) FAKE_REQUIRE(beta, E * 4, "norm beta");
  FAKE_REQUIRE(y, n * E * esize(outType), "norm y");
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x + i * E;
    float mean = 0.f;
    if (beta) {
      for (int64_t k = 0; k < E; ++k) mean += r[k];
      mean /= static_cast<float>(E);
    }
    float ss = 0.f;
    for (int64_t k = 0; k < E; ++k) ss += (r[k] - mean) * (r[k] - mean);
    const float rs = 1.f / std::sqrt(ss / static_cast<float>(E) + eps);
    for (int64_t k = 0; k < E; ++k) {
      const float v = (r[k] - mean) * rs * gamma[k];
      st(outType, y, i * E + k, beta ? v + beta[k] : v);
    }
  }
  return nullptr;
}

const char* ropeRows(float* x, int64_t ld_, int64_t n, int64_t heads, int64_t D, int64_t pos0,
                     const double* invFreq, void*) {
  if (!x || !invFreq || n < 1 || heads < 1 || D < 2 || D % 2 || ld_ < heads * D || pos0 < 0)
    return "ropeRows: bad arguments";
  FAKE_REQUIRE(x, ((n - 1) * ld_ + heads * D) * 4, "rope x");
  FAKE_REQUIRE(invFreq, (D / 2) * 8, "rope invFreq");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < D / 2; ++j) {
        const double ang = static_cast<double>(pos0 + i) * invFreq[j];
        const float c = static_cast<float>(std::cos(ang)), s = static_cast<float>(std::sin(ang));
        float* r = x + i * ld_ + h * D;
        const float a = r[j], b = r[j + D / 2];
        r[j] = a * c - b * s;
        r[j + D / 2] = b * c + a * s;
      }
  return nullptr;
}

const char* activateRows(Act act, const float* f, int64_t n, int64_t I, ElemType t, void* out, void*) {
  if (!f || !out || n < 1 || I < 1) return "activateRows: bad arguments";
  const int64_t F = act == Act::SwiGLU ? 2 * I : I;
  FAKE_REQUIRE(f, n * F * 4, "activation f");
  FAKE_REQUIRE(out, n * I * esize(t), "activation out");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < I; ++j) {
      const float v = f[i * F + j];
      float y;
      if (act == Act::Gelu) {
        const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        y = 0.5f * v * (2.f - 2.f / (1.f + std::exp(2.f * u)));
      } else if (act == Act::Relu) {
        y = v > 0.f ? v : 0.f;
      } else {
        y = v / (1.f + std::exp(-v)) * f[i * F + I + j];
      }
      st(t, out, i * I + j, y);
    }
  return nullptr;
}

const char* gemm(ElemType t, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W,
                 const float* bias, float* C, int64_t ldc, bool accumulate, void*) {
  if (!A || !W || !C || M < 1 || N < 1 || K < 1 || lda < K || ldc < N) return "gemm: bad arguments";
  const size_t es = esize(t);
  FAKE_REQUIRE(A, ((M - 1) * lda + K) * es, "gemm A");
  FAKE_REQUIRE(W, N * K * es, "gemm W");
  if (bias) FAKE_REQUIRE(bias, N * 4, "gemm bias");
  FAKE_REQUIRE(C, ((M - 1) * ldc + N) * 4, "gemm C");
  std::vector<float> a(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) a[k] = ld(t, A, m * lda + k);
    for (int64_t n = 0; n < N; ++n) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s = std::fma(a[k], ld(t, W, n * K + k), s);
      float v = s + (bias ? bias[n] : 0.f);
      if (accumulate) v += C[m * ldc + n];
      C[m * ldc + n] = v;
    }
  }
  return nullptr;
}

const char* scatterHeads(ElemType t, const float* src, int64_t ld_, int64_t n, int64_t heads, int64_t D,
                         void* dst, int64_t rowsPerHead, int64_t row0, void*) {
  if (!src || !dst || n < 1 || heads < 1 || D < 1 || ld_ < heads * D || row0 < 0 || row0 + n > rowsPerHead) {
    return "scatterHeads: bad arguments";
  }
  FAKE_REQUIRE(src, ((n - 1) * ld_ + heads * D) * 4, "scatter src");
  FAKE_REQUIRE(dst, heads * rowsPerHead * D * esize(t), "scatter dst");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t d = 0; d < D; ++d)
        st(t, dst, (h * rowsPerHead + row0 + i) * D + d, src[i * ld_ + h * D + d]);
  return nullptr;
}

const char* gatherHeads(ElemType t, const void* src, int64_t rowsPerHead, int64_t row0, int64_t n,
                        int64_t heads, int64_t D, void* dst, void*) {
  if (!src || !dst || n < 1 || heads < 1 || D < 1 || row0 < 0 || row0 + n > rowsPerHead)
    return "gatherHeads: bad arguments";
  FAKE_REQUIRE(src, heads * rowsPerHead * D * esize(t), "gather src");
  FAKE_REQUIRE(dst, n * heads * D * esize(t), "gather dst");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t d = 0; d < D; ++d)
        st(t, dst, i * heads * D + h * D + d, ld(t, src, (h * rowsPerHead + row0 + i) * D + d));
  return nullptr;
}

const char* attendRows(const RowAttnArgs& a) {
  if (!a.q || !a.k || !a.v || !a.o) return "attendRows: null tensor";
  if (a.headDim < 1 || a.headDim > kRowAttnMaxHeadDim) return "attendRows: headDim must be in 1..256";
  if (a.heads < 1 || a.kvHeads < 1 || a.heads % a.kvHeads)
    return "attendRows: heads must be a multiple of kvHeads";
  if (a.nq < 1 || a.qRow0 < 0 || a.qRow0 + a.nq > a.qRowsPerHead || a.qPos0 < 0)
    return "attendRows: bad query rows";
  if (a.kvLen < 1 || a.kvLen > a.kvRowsPerHead) return "attendRows: bad kv length";
  if (!(a.scale > 0.f)) return "attendRows: scale must be > 0";
  const size_t es = esize(a.dtype);
  FAKE_REQUIRE(a.q, a.heads * a.qRowsPerHead * a.headDim * es, "attendRows q");
  FAKE_REQUIRE(a.o, a.heads * a.qRowsPerHead * a.headDim * es, "attendRows o");
  FAKE_REQUIRE(a.k, a.kvHeads * a.kvRowsPerHead * a.headDim * es, "attendRows k");
  FAKE_REQUIRE(a.v, a.kvHeads * a.kvRowsPerHead * a.headDim * es, "attendRows v");
  attendHost(a.dtype, a.q, a.o, a.qRowsPerHead, a.qRow0, a.nq, a.qPos0, a.k, a.v, a.kvRowsPerHead, a.kvLen,
             a.causal, a.heads, a.kvHeads, a.headDim, a.scale);
  return nullptr;
}

const char* argmaxRow(const float* v, int64_t n, int32_t* out, void*) {
  if (!v || !out || n < 1 || n > 0x7fffffff) return "argmaxRow: bad arguments";
  FAKE_REQUIRE(v, n * 4, "argmax v");
  FAKE_REQUIRE(out, 4, "argmax out");
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  *out = static_cast<int32_t>(best);
  return nullptr;
}

}  // namespace model
}  // namespace cuda
}  // namespace dilbench
