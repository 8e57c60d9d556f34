// model_kernels_check: every launcher of model_kernels.h on the GPU against a float64 host
// reference computed from the same (dtype-rounded) inputs, in fp32, fp16 and bf16, over shapes
// that reach each code path (GEMV vectorised / scalar, GEMM edge tiles and lda > K, row
// attention with offsets, causal rows and GQA, argmax ties). Outputs are poisoned with NaN
// before each launch. Standalone (no Node, no native/core):
//   cmake -S native/cuda -B build-cuda-model -DCMAKE_CUDA_ARCHITECTURES=90
//   cmake --build build-cuda-model --target model_kernels_check && build-cuda-model/model_kernels_check
// Exit 0 when every case passes; 2 when there is no CUDA device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../attention_cuda.h"
#include "model_kernels.h"

using dilbench::cuda::ElemType;
namespace mk = dilbench::cuda::model;

namespace {

int failures = 0, cases = 0;

void die(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::printf("FATAL %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
bool launched(const char* msg, const std::string& what) {
  const cudaError_t e = cudaDeviceSynchronize();
  if (msg || e != cudaSuccess) {
    std::printf("FAIL %s: %s\n", what.c_str(), msg ? msg : cudaGetErrorString(e));
    ++failures;
    ++cases;
    return false;
  }
  return true;
}

const char* name(ElemType t) { return t == ElemType::F32 ? "fp32" : t == ElemType::F16 ? "fp16" : "bf16"; }
size_t esize(ElemType t) { return t == ElemType::F32 ? 4 : 2; }

uint32_t rngState = 12345;
float uniform() {
  rngState ^= rngState << 13;
  rngState ^= rngState >> 17;
  rngState ^= rngState << 5;
  return (rngState + 1.0f) / 4294967297.0f;
}
std::vector<float> randn(size_t n, float scale = 1.f) {
  std::vector<float> v(n);
  for (auto& x : v) x = scale * std::sqrt(-2.f * std::log(uniform())) * std::cos(6.2831853f * uniform());
  return v;
}

// A device buffer of n elements of type t (or fp32), NaN-poisoned.
struct Dev {
  void* p = nullptr;
  size_t n = 0;
  ElemType t = ElemType::F32;
  Dev(size_t count, ElemType type) : n(count), t(type) {
    die(cudaMalloc(&p, std::max<size_t>(n * esize(t), 16)), "cudaMalloc");
    poison();
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void poison() { die(cudaMemset(p, 0xff, n * esize(t)), "cudaMemset"); }
  // Uploads fp32 values converted to t; returns the rounded values the kernel sees.
  std::vector<float> set(const std::vector<float>& host) {
    float* stage = nullptr;
    die(cudaMalloc(reinterpret_cast<void**>(&stage), host.size() * 4), "cudaMalloc");
    die(cudaMemcpy(stage, host.data(), host.size() * 4, cudaMemcpyHostToDevice), "upload");
    if (t == ElemType::F32) die(cudaMemcpy(p, stage, host.size() * 4, cudaMemcpyDeviceToDevice), "copy");
    else dilbench::cuda::convertFromF32(p, stage, host.size(), t, nullptr);
    die(cudaDeviceSynchronize(), "upload");
    cudaFree(stage);
    return get();
  }
  std::vector<float> get() const {
    std::vector<float> out(n);
    float* stage = nullptr;
    die(cudaMalloc(reinterpret_cast<void**>(&stage), n * 4), "cudaMalloc");
    if (t == ElemType::F32) die(cudaMemcpy(stage, p, n * 4, cudaMemcpyDeviceToDevice), "copy");
    else dilbench::cuda::convertToF32(stage, p, n, t, nullptr);
    die(cudaMemcpy(out.data(), stage, n * 4, cudaMemcpyDeviceToHost), "download");
    cudaFree(stage);
    return out;
  }
  template <class U>
  U* as() const {
    return static_cast<U*>(p);
  }
};

// relL2 of got against want; a non-finite value anywhere fails.
void report(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
            double tol) {
  double num = 0, den = 0;
  bool finite = got.size() == want.size();
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    if (!std::isfinite(got[i])) finite = false;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  const double e = std::sqrt(num / std::max(den, 1e-300));
  const bool ok = finite && e <= tol;
  ++cases;
  if (!ok) ++failures;
  std::printf("%s %s: relL2 %.3e (tol %.0e)%s\n", ok ? "PASS" : "FAIL", what.c_str(), e, tol,
              finite ? "" : " non-finite");
}

// Tolerance of an output stored in t (its rounding), after fp32 accumulation.
double tolFor(ElemType out) { return out == ElemType::F32 ? 2e-6 : out == ElemType::F16 ? 1e-3 : 8e-3; }

void checkGemm(ElemType t, int64_t M, int64_t N, int64_t K, int64_t lda, bool bias, bool accumulate) {
  Dev A(static_cast<size_t>((M - 1) * lda + K), t), W(static_cast<size_t>(N * K), t),
      B(static_cast<size_t>(N), ElemType::F32), C(static_cast<size_t>(M * N), ElemType::F32);
  const auto a = A.set(randn(A.n)), w = W.set(randn(W.n, 0.1f)), b = B.set(randn(B.n));
  const auto c0 = accumulate ? C.set(randn(C.n)) : std::vector<float>(C.n, 0.f);
  std::vector<double> want(C.n);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias ? b[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(a[m * lda + k]) * w[n * K + k];
      want[m * N + n] = s + (accumulate ? c0[m * N + n] : 0.0);
    }
  char what[160];
  std::snprintf(what, sizeof what, "gemm %s M%lld N%lld K%lld lda%lld%s%s", name(t), (long long)M,
                (long long)N, (long long)K, (long long)lda, bias ? " bias" : "", accumulate ? " +=" : "");
  if (launched(mk::gemm(t, M, N, K, A.p, lda, W.p, bias ? B.as<float>() : nullptr, C.as<float>(), N,
                        accumulate, nullptr),
               what)) {
    report(what, C.get(), want, 1e-5);
  }
}

void checkNorm(ElemType out, bool layer, int64_t n, int64_t E) {
  Dev X(static_cast<size_t>(n * E), ElemType::F32), G(E, ElemType::F32), Bt(E, ElemType::F32),
      Y(static_cast<size_t>(n * E), out);
  auto x = X.set(randn(X.n, 3.f));
  for (int64_t i = 0; i < n * E; i += 7) x[i] += 2.f;  // a non-zero mean
  X.set(x);
  const auto g = G.set(randn(E, 0.2f)), bt = Bt.set(randn(E));
  const float eps = 1e-5f;
  std::vector<double> want(Y.n);
  for (int64_t i = 0; i < n; ++i) {
    double mean = 0, ss = 0;
    if (layer) {
      for (int64_t k = 0; k < E; ++k) mean += x[i * E + k];
      mean /= E;
    }
    for (int64_t k = 0; k < E; ++k) ss += (x[i * E + k] - mean) * (x[i * E + k] - mean);
    const double r = 1 / std::sqrt(ss / E + eps);
    for (int64_t k = 0; k < E; ++k)
      want[i * E + k] = (x[i * E + k] - mean) * r * g[k] + (layer ? bt[k] : 0.0);
  }
  const std::string what = std::string("norm ") + (layer ? "layer" : "rms") + " -> " + name(out) + " n" +
                           std::to_string(n) + " E" + std::to_string(E);
  if (launched(mk::normRows(X.as<float>(), n, E, G.as<float>(), layer ? Bt.as<float>() : nullptr, eps, out,
                            Y.p, nullptr),
               what)) {
    report(what, Y.get(), want, tolFor(out));
  }
}

void checkRope(int64_t n, int64_t heads, int64_t D, int64_t ld, int64_t pos0) {
  Dev X(static_cast<size_t>(n * ld), ElemType::F32);
  const auto x = X.set(randn(X.n));
  std::vector<double> inv(static_cast<size_t>(D / 2));
  for (size_t j = 0; j < inv.size(); ++j) inv[j] = std::pow(500.0, -2.0 * double(j) / double(D));
  double* dInv = nullptr;
  die(cudaMalloc(reinterpret_cast<void**>(&dInv), inv.size() * 8), "cudaMalloc");
  die(cudaMemcpy(dInv, inv.data(), inv.size() * 8, cudaMemcpyHostToDevice), "upload");
  std::vector<double> want(x.begin(), x.end());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < D / 2; ++j) {
        const double ang = double(pos0 + i) * inv[j];
        const size_t a = i * ld + h * D + j, b = a + D / 2;
        want[a] = x[a] * std::cos(ang) - x[b] * std::sin(ang);
        want[b] = x[b] * std::cos(ang) + x[a] * std::sin(ang);
      }
  const std::string what = "rope n" + std::to_string(n) + " heads" + std::to_string(heads) + " D" +
                           std::to_string(D) + " ld" + std::to_string(ld) + " pos0 " + std::to_string(pos0);
  if (launched(mk::ropeRows(X.as<float>(), ld, n, heads, D, pos0, dInv, nullptr), what))
    report(what, X.get(), want, 2e-6);
  cudaFree(dInv);
}

void checkActivation(mk::Act act, ElemType out, int64_t n, int64_t I) {
  const int64_t F = act == mk::Act::SwiGLU ? 2 * I : I;
  Dev Fb(static_cast<size_t>(n * F), ElemType::F32), O(static_cast<size_t>(n * I), out);
  const auto f = Fb.set(randn(Fb.n, 2.f));
  std::vector<double> want(O.n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < I; ++j) {
      const double v = f[i * F + j];
      want[i * I + j] = act == mk::Act::Gelu
                            ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                        : act == mk::Act::Relu ? std::max(0.0, v)
                                               : v / (1 + std::exp(-v)) * f[i * F + I + j];
    }
  const std::string what = std::string("activation ") +
                           (act == mk::Act::Gelu   ? "gelu"
                            : act == mk::Act::Relu ? "relu"
                                                   : "swiglu") +
                           " -> " + name(out);
  if (launched(mk::activateRows(act, Fb.as<float>(), n, I, out, O.p, nullptr), what))
    report(what, O.get(), want, tolFor(out) + 1e-6);
}

void checkHeads(ElemType t) {
  const int64_t n = 5, heads = 3, D = 40, ld = heads * D + 24, rows = 11, row0 = 4;
  Dev S(static_cast<size_t>(n * ld), ElemType::F32), H(static_cast<size_t>(heads * rows * D), t),
      O(static_cast<size_t>(n * heads * D), t);
  const auto s = S.set(randn(S.n));
  std::vector<double> want(O.n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < heads * D; ++j) want[i * heads * D + j] = s[i * ld + j];
  const std::string what = std::string("scatter + gather heads ") + name(t);
  if (launched(mk::scatterHeads(t, S.as<float>(), ld, n, heads, D, H.p, rows, row0, nullptr), what) &&
      launched(mk::gatherHeads(t, H.p, rows, row0, n, heads, D, O.p, nullptr), what)) {
    report(what, O.get(), want, tolFor(t));
  }
}

void checkAttend(ElemType t, int64_t H, int64_t G, int64_t D, int64_t nq, int64_t qRows, int64_t qRow0,
                 int64_t qPos0, int64_t kvLen, int64_t kvRows, bool causal) {
  Dev Q(static_cast<size_t>(H * qRows * D), t), K(static_cast<size_t>(G * kvRows * D), t),
      V(static_cast<size_t>(G * kvRows * D), t), O(static_cast<size_t>(H * qRows * D), t);
  const auto q = Q.set(randn(Q.n)), k = K.set(randn(K.n)), v = V.set(randn(V.n));
  const double scale = 1 / std::sqrt(double(D));
  std::vector<double> want;
  std::vector<size_t> idx;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / (H / G);
    for (int64_t i = 0; i < nq; ++i) {
      const int64_t len = causal ? std::min(kvLen, qPos0 + i + 1) : kvLen;
      std::vector<double> s(static_cast<size_t>(len));
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        double d = 0;
        for (int64_t e = 0; e < D; ++e)
          d += double(q[(h * qRows + qRow0 + i) * D + e]) * k[(g * kvRows + j) * D + e];
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      for (auto& x : s) sum += (x = std::exp(x - mx));
      for (int64_t e = 0; e < D; ++e) {
        double o = 0;
        for (int64_t j = 0; j < len; ++j) o += s[j] * v[(g * kvRows + j) * D + e];
        want.push_back(o / sum);
        idx.push_back(static_cast<size_t>((h * qRows + qRow0 + i) * D + e));
      }
    }
  }
  mk::RowAttnArgs a;
  a.dtype = t;
  a.heads = H;
  a.kvHeads = G;
  a.headDim = D;
  a.nq = nq;
  a.qRowsPerHead = qRows;
  a.qRow0 = qRow0;
  a.qPos0 = qPos0;
  a.kvLen = kvLen;
  a.kvRowsPerHead = kvRows;
  a.causal = causal;
  a.scale = static_cast<float>(scale);
  a.q = Q.p;
  a.k = K.p;
  a.v = V.p;
  a.o = O.p;
  char what[200];
  std::snprintf(what, sizeof what,
                "attendRows %s H%lld G%lld D%lld nq%lld rows %lld@%lld pos0 %lld kv %lld/%lld %s", name(t),
                (long long)H, (long long)G, (long long)D, (long long)nq, (long long)qRows, (long long)qRow0,
                (long long)qPos0, (long long)kvLen, (long long)kvRows, causal ? "causal" : "full");
  if (launched(mk::attendRows(a), what)) {
    const auto o = O.get();
    std::vector<float> got(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) got[i] = o[idx[i]];
    report(what, got, want, tolFor(t) + 2e-6);
  }
}

void checkArgmax(int64_t n, bool ties) {
  Dev Vb(static_cast<size_t>(n), ElemType::F32), Out(1, ElemType::F32);
  auto v = randn(static_cast<size_t>(n));
  for (auto& x : v) x -= 10.f;  // all negative
  int64_t best = n / 3;
  v[best] = 5.f;
  if (ties) {
    v[n - 1] = 5.f;      // a tie later: the first index wins
    v[n / 7 + 1] = 5.f;  // and one earlier
    best = n / 7 + 1 < best ? n / 7 + 1 : best;
  }
  Vb.set(v);
  const std::string what = "argmax n" + std::to_string(n) + (ties ? " ties" : "");
  if (launched(mk::argmaxRow(Vb.as<float>(), n, Out.as<int32_t>(), nullptr), what)) {
    int32_t got = -1;
    die(cudaMemcpy(&got, Out.p, 4, cudaMemcpyDeviceToHost), "download");
    const bool ok = got == best;
    ++cases;
    if (!ok) ++failures;
    std::printf("%s %s: got %d want %lld\n", ok ? "PASS" : "FAIL", what.c_str(), got, (long long)best);
  }
}

void checkEmbed(ElemType t) {
  const int64_t vocab = 50, E = 24, P = 16, n = 4, pos0 = 3;
  Dev Wte(static_cast<size_t>(vocab * E), t), Wpe(static_cast<size_t>(P * E), t), Tok(n, ElemType::F32),
      X(static_cast<size_t>(n * E), ElemType::F32);
  const auto wte = Wte.set(randn(Wte.n)), wpe = Wpe.set(randn(Wpe.n));
  const int32_t tokens[n] = {7, 0, 49, 50};  // the last is outside the vocabulary: a NaN row
  die(cudaMemcpy(Tok.p, tokens, sizeof tokens, cudaMemcpyHostToDevice), "upload");
  const std::string what = std::string("embed ") + name(t);
  if (!launched(mk::embedRows(t, Tok.as<int32_t>(), n, pos0, Wte.p, vocab, Wpe.p, E, X.as<float>(), nullptr),
                what))
    return;
  const auto x = X.get();
  std::vector<double> want;
  std::vector<float> got;
  bool nanRow = true;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < E; ++k) {
      if (i == n - 1) {
        nanRow = nanRow && std::isnan(x[i * E + k]);
        continue;
      }
      want.push_back(double(wte[tokens[i] * E + k]) + wpe[(pos0 + i) * E + k]);
      got.push_back(x[i * E + k]);
    }
  report(what, got, want, 1e-6);
  ++cases;
  if (!nanRow) ++failures;
  std::printf("%s embed %s: token outside the vocabulary gives a NaN row\n", nanRow ? "PASS" : "FAIL",
              name(t));
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < 1) {
    std::printf("model_kernels_check: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s (cc %d.%d)\n", prop.name, prop.major, prop.minor);
  for (ElemType t : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
    checkGemm(t, 1, 97, 64, 64, true, false);        // GEMV, 16-byte path
    checkGemm(t, 1, 33, 30, 30, false, true);        // GEMV, scalar path (K not a multiple of 8)
    checkGemm(t, 1, 50257, 768, 768, false, false);  // an LM head row
    checkGemm(t, 1, 5, 1, 1, true, true);
    checkGemm(t, 29, 97, 64, 64, true, false);
    checkGemm(t, 65, 130, 33, 40, true, true);  // edge tiles, lda > K
    checkGemm(t, 128, 2304, 768, 768, true, false);
    for (bool layer : {true, false}) {
      checkNorm(t, layer, 7, 64);
      checkNorm(t, layer, 3, 1000);
    }
    checkActivation(mk::Act::Gelu, t, 5, 130);
    checkActivation(mk::Act::Relu, t, 5, 130);
    checkActivation(mk::Act::SwiGLU, t, 5, 130);
    checkHeads(t);
    checkEmbed(t);
    for (int64_t D : {8, 16, 40, 64, 100, 256}) {
      checkAttend(t, 4, 2, D, 7, 7, 0, 0, 7, 7, true);       // prefill, causal
      checkAttend(t, 4, 1, D, 1, 40, 25, 25, 26, 40, true);  // decode row of a cache
      checkAttend(t, 2, 2, D, 5, 9, 3, 0, 13, 13, false);    // cross-attention, n != m
    }
    checkAttend(t, 6, 3, 64, 3, 300, 290, 290, 293, 300, true);
  }
  checkRope(5, 6, 64, 6 * 64 + 128, 0);
  checkRope(1, 2, 16, 32, 1000);
  checkArgmax(97, false);
  checkArgmax(50257, true);
  checkArgmax(1, false);
  std::printf("model_kernels_check: %d of %d failed\n", failures, cases);
  return failures ? 1 : 0;
}
