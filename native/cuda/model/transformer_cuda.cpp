// The transformer of native/model/transformer.h on a CUDA device (DeviceModel of model_device.h),
// registered with the model core at static-init time. Same computation, same tensor names,
// same greedy generation; design and precision choices in NOTES.md beside this file:
//  * matrices and embeddings in the model dtype (fp32 | fp16 | bf16), biases and norm weights
//    fp32; Conv1D weights [K, N] are stored transposed as [N, K] (each output's weights
//    contiguous: coalesced GEMV rows, and the k-contiguous B operand of the tiled GEMM);
//  * residual stream, GEMM outputs, norms, rope, softmax and all accumulation in fp32; GEMM
//    inputs (norm outputs, attention outputs, MLP activations), q / k / v and the KV cache in
//    the dtype;
//  * attention: launchFlash (prefill over the cache through headStrideRows, recompute and
//    encoder passes), launchDecode (one query row against the cache: decode steps and cached
//    cross-attention), launchNaive when asked for 'naive', and attendRows (model_kernels.h)
//    wherever those do not support the head dimension or the layout;
//  * greedy argmax on the device: the step's token id is written into the device token
//    sequence (the next step embeds it from there) and its 4 bytes copied back;
//  * CUDA events around the prefill and each decode step; memory from a MemoryPool over the
//    CUDA backend's cudaMalloc allocator, reported with the CPU model's meaning.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/backend.h"
#include "../../core/errors.h"
#include "../../core/memory_pool.h"
#include "../attention_cuda.h"
#include "../cuda_info.h"
#include "model_device.h"
#include "model_kernels.h"

namespace dilbench {
namespace model {
namespace {

using cuda::ElemType;
namespace mk = cuda::model;

[[noreturn]] void fail(cudaError_t e, const std::string& what) {
  cudaGetLastError();  // clear a non-sticky error so the process can go on
  const ErrorCode code = e == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Internal;
  throw Error(code, "CUDA model: " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}
void checkLaunch(const char* msg, const char* what) {
  if (msg) throw Error(ErrorCode::Internal, std::string("CUDA model: ") + what + ": " + msg);
}
void throwIfCancelled(const CancelToken* c) {
  if (c && c->cancelled()) throw Error(ErrorCode::Cancelled, "model run cancelled");
}

ElemType elemOf(DType t) {
  switch (t) {
    case DType::F16: return ElemType::F16;
    case DType::BF16: return ElemType::BF16;
    default: return ElemType::F32;
  }
}

using Bytes = PoolBuffer<unsigned char>;

struct DLinear {
  Bytes w;  // [N, K] of the dtype
  PoolBuffer<float> b;
  int64_t K = 0, N = 0;
  bool present() const { return w.data() != nullptr; }
};
struct DNorm {
  PoolBuffer<float> g, b;  // b empty for rmsnorm
};
struct DLayer {
  DNorm ln1, ln2, lnX;
  DLinear qkv, proj, fc, fcProj, xq, xkv, xproj;
};

// K and V of one layer on the device: [G, cap, D] each, in the dtype.
struct DCache {
  Bytes k, v;
  int64_t cap = 0;
  int64_t len = 0;
};

// A head-major tensor [heads, rows, D] of the dtype, viewed from row `row0`.
struct HeadView {
  void* p = nullptr;
  int64_t rows = 0;
  int64_t row0 = 0;
};

class Events {
 public:
  explicit Events(size_t n) : ev_(n, nullptr) {
    for (auto& e : ev_) check(cudaEventCreate(&e), "cudaEventCreate");
  }
  ~Events() {
    for (auto e : ev_)
      if (e) cudaEventDestroy(e);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  cudaEvent_t operator[](size_t i) const { return ev_[i]; }
  double elapsedNs(size_t a, size_t b) const {
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, ev_[a], ev_[b]), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1e6;
  }

 private:
  std::vector<cudaEvent_t> ev_;
};

class CudaTransformer final : public DeviceModel {
 public:
  CudaTransformer(const ModelConfig& c, DType dtype)
      : c_(c),
        dtype_(dtype),
        et_(elemOf(dtype)),
        esize_(dtypeBytes(dtype)),
        pool_(backendFor(Device::CUDA).allocator(), true) {
    E_ = c.hidden;
    D_ = c.resolvedHeadDim();
    H_ = c.heads;
    G_ = c.kvHeads;
    I_ = c.intermediate;
    F_ = c.activation == Activation::SwiGLU ? 2 * I_ : I_;
    V_ = c.vocabSize;
    tied_ = c.tiedEmbeddings || c.arch == Arch::Encoder;
    if (D_ > mk::kRowAttnMaxHeadDim) {
      throw Error(ErrorCode::Unsupported,
                  "headDim: the CUDA model supports head dimensions up to " +
                      std::to_string(mk::kRowAttnMaxHeadDim) + " (got " + std::to_string(D_) +
                      "); use device 'cpu'",
                  "headDim");
    }
    enc_.resize(static_cast<size_t>(c.layers));
    if (c.arch == Arch::EncoderDecoder) dec_.resize(static_cast<size_t>(c.resolvedDecoderLayers()));
    expected_ = expectedTensors(c).size();
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaMallocHost(reinterpret_cast<void**>(&hostToken_), sizeof(int32_t)), "cudaMallocHost");
  }

  ~CudaTransformer() override {
    cudaSetDevice(0);
    if (stream_) cudaStreamSynchronize(stream_);
    releaseStaging();
    if (hostToken_) cudaFreeHost(hostToken_);
    clearWeights();  // back to pool_, which returns its blocks to cudaMalloc when destroyed
    if (stream_) cudaStreamDestroy(stream_);
  }

  void loadTensor(const TensorSpec& s, const std::vector<float>& data) override {
    check(cudaSetDevice(0), "cudaSetDevice");
    const std::string& n = s.name;
    ++loaded_;
    if (n == "wte.weight") return uploadMatrix(wte_, data.data(), data.size());
    if (n == "wpe.weight") return uploadMatrix(wpe_, data.data(), data.size());
    if (n == "lm_head.weight") return uploadMatrix(lmHead_, data.data(), data.size());
    std::vector<DLayer>* stack = nullptr;
    std::string rest = n;
    if (n.rfind("dec.h.", 0) == 0) {
      stack = &dec_;
      rest = n.substr(6);
    } else if (n.rfind("h.", 0) == 0) {
      stack = &enc_;
      rest = n.substr(2);
    }
    if (!stack) {
      const size_t dot = n.rfind('.');
      DNorm& nw = n.substr(0, dot) == "ln_f" ? lnf_ : decLnf_;
      return uploadVector(n.substr(dot + 1) == "weight" ? nw.g : nw.b, data);
    }
    const size_t dot = rest.find('.');
    const size_t li = std::stoul(rest.substr(0, dot));
    if (li >= stack->size()) throw Error(ErrorCode::Internal, "CUDA model: layer index out of range in " + n);
    DLayer& L = (*stack)[li];
    const std::string sub = rest.substr(dot + 1);
    const size_t last = sub.rfind('.');
    const std::string field = sub.substr(last + 1), base = sub.substr(0, last);
    DNorm* nw = base == "ln_1" ? &L.ln1 : base == "ln_2" ? &L.ln2 : base == "ln_cross" ? &L.lnX : nullptr;
    if (nw) return uploadVector(field == "weight" ? nw->g : nw->b, data);
    DLinear* lin = base == "attn.c_attn"         ? &L.qkv
                   : base == "attn.c_proj"       ? &L.proj
                   : base == "mlp.c_fc"          ? &L.fc
                   : base == "mlp.c_proj"        ? &L.fcProj
                   : base == "crossattn.q_attn"  ? &L.xq
                   : base == "crossattn.kv_attn" ? &L.xkv
                   : base == "crossattn.c_proj"  ? &L.xproj
                                                 : nullptr;
    if (!lin) throw Error(ErrorCode::Internal, "CUDA model: unhandled tensor " + n);
    if (field == "bias") return uploadVector(lin->b, data);
    // Conv1D [K, N] -> [N, K], in 32 x 32 blocks.
    const int64_t K = s.shape.at(0), N = s.shape.at(1);
    if (static_cast<int64_t>(data.size()) != K * N)
      throw Error(ErrorCode::Internal, "CUDA model: size of " + n);
    std::vector<float> t(data.size());
    for (int64_t k0 = 0; k0 < K; k0 += 32)
      for (int64_t n0 = 0; n0 < N; n0 += 32)
        for (int64_t k = k0; k < std::min(K, k0 + 32); ++k)
          for (int64_t j = n0; j < std::min(N, n0 + 32); ++j) t[j * K + k] = data[k * N + j];
    lin->K = K;
    lin->N = N;
    uploadMatrix(lin->w, t.data(), t.size());
  }

  void finishLoading() override {
    releaseStaging();
    if (loaded_ != expected_) {
      throw Error(ErrorCode::Internal, "CUDA model: " + std::to_string(loaded_) + " of " +
                                           std::to_string(expected_) + " tensors loaded");
    }
    if (c_.positional == Positional::Rope) {
      // invFreq[j] = theta^(-2j/D), computed as the CPU model does (double).
      std::vector<double> f(static_cast<size_t>(D_ / 2));
      for (size_t j = 0; j < f.size(); ++j) f[j] = std::pow(c_.ropeTheta, -2.0 * double(j) / double(D_));
      invFreq_ = PoolBuffer<double>(pool_, f.size());
      check(cudaMemcpyAsync(invFreq_.data(), f.data(), f.size() * sizeof(double), cudaMemcpyHostToDevice,
                            stream_),
            "upload");
    }
    check(cudaStreamSynchronize(stream_), "weight upload");
  }

  uint64_t weightBytes() const override { return weightBytes_; }

  std::vector<float> forward(const std::vector<int32_t>& tokens, const RunOptions& o,
                             const CancelToken* cancel) override {
    Run r = startRun(o, cancel);
    const int64_t n = static_cast<int64_t>(tokens.size());
    PoolBuffer<int32_t> dTok(pool_, tokens.size());
    check(cudaMemcpyAsync(dTok.data(), tokens.data(), tokens.size() * 4, cudaMemcpyHostToDevice, stream_),
          "upload");
    PoolBuffer<float> x(pool_, n * E_);
    embed(dTok.data(), n, 0, x.data());
    const bool causal = c_.arch == Arch::Decoder;
    runStack(r, enc_, x.data(), n, 0, causal, nullptr, nullptr, nullptr, 0);
    std::vector<float> out;
    if (c_.arch == Arch::Encoder) {
      PoolBuffer<float> xn(pool_, n * E_);
      norm(lnf_, x.data(), n, ElemType::F32, xn.data());
      out.resize(static_cast<size_t>(n * E_));
      download(out.data(), xn.data(), out.size());
      return out;
    }
    Bytes xn(pool_, n * E_ * esize_);
    norm(lnf_, x.data(), n, et_, xn.data());
    PoolBuffer<float> logits(pool_, n * V_);
    if (c_.arch == Arch::Decoder) {
      lmHead(xn.data(), n, logits.data());
    } else {
      // Decoder over the same tokens, cross-attending the encoder output xn.
      PoolBuffer<float> y(pool_, n * E_);
      embed(dTok.data(), n, 0, y.data());
      runStack(r, dec_, y.data(), n, 0, true, nullptr, nullptr, xn.data(), n);
      Bytes yn(pool_, n * E_ * esize_);
      norm(decLnf_, y.data(), n, et_, yn.data());
      lmHead(yn.data(), n, logits.data());
    }
    out.resize(static_cast<size_t>(n * V_));
    download(out.data(), logits.data(), out.size());
    return out;
  }

  Generation generate(const std::vector<int32_t>& prompt, int64_t newTokens, const RunOptions& o,
                      const CancelToken* cancel) override {
    Run r = startRun(o, cancel);
    const bool encDec = c_.arch == Arch::EncoderDecoder;
    const int64_t p = static_cast<int64_t>(prompt.size());
    check(cudaStreamSynchronize(stream_), "kernel execution");
    pool_.resetPeak();
    const uint64_t weightsInUse = pool_.stats().bytesInUse;
    Generation g;
    // Decoder token sequence on the device: the prompt (decoder) or the start token 0.
    const int64_t cap = encDec ? newTokens : p + newTokens;
    uint64_t kvBytes = 0;
    {
      PoolBuffer<int32_t> seq(pool_, static_cast<size_t>(cap + 1));
      PoolBuffer<int32_t> encTok;
      if (encDec) {
        const int32_t start = 0;
        check(cudaMemcpyAsync(seq.data(), &start, 4, cudaMemcpyHostToDevice, stream_), "upload");
        encTok = PoolBuffer<int32_t>(pool_, prompt.size());
        check(
            cudaMemcpyAsync(encTok.data(), prompt.data(), prompt.size() * 4, cudaMemcpyHostToDevice, stream_),
            "upload");
      } else {
        check(cudaMemcpyAsync(seq.data(), prompt.data(), prompt.size() * 4, cudaMemcpyHostToDevice, stream_),
              "upload");
      }
      // Host-to-device copies from pageable memory: finish them before the sources go away.
      check(cudaStreamSynchronize(stream_), "upload");
      std::vector<DCache> self, cross;
      std::vector<DLayer>& stack = encDec ? dec_ : enc_;
      if (o.useCache) {
        self = makeCaches(stack.size(), cap);
        kvBytes = stack.size() * 2 * MemoryPool::sizeClass(static_cast<size_t>(G_ * cap * D_) * esize_);
        if (encDec) {
          cross = makeCaches(stack.size(), p);
          kvBytes += stack.size() * 2 * MemoryPool::sizeClass(static_cast<size_t>(G_ * p * D_) * esize_);
        }
        // q / o of the steps over the cache: [H, cap, D] (decode reads row pos of them), and
        // [H, p, D] for the cross-attention query row (row p - 1).
        r.qCap = Bytes(pool_, H_ * cap * D_ * esize_);
        r.oCap = Bytes(pool_, H_ * cap * D_ * esize_);
        r.cap = cap;
        if (encDec) {
          r.xqCap = Bytes(pool_, H_ * p * D_ * esize_);
          r.xoCap = Bytes(pool_, H_ * p * D_ * esize_);
        }
      }
      Bytes encOut;
      PoolBuffer<float> logits(pool_, V_);
      Bytes xn(pool_, E_ * esize_);
      // Two events: each step ends with a synchronize, so its time is read right away and its
      // end event becomes the next step's start.
      Events ev(2);
      size_t startEv = 0;
      check(cudaEventRecord(ev[startEv], stream_), "cudaEventRecord");
      if (encDec) {
        PoolBuffer<float> x(pool_, p * E_);
        embed(encTok.data(), p, 0, x.data());
        runStack(r, enc_, x.data(), p, 0, false, nullptr, nullptr, nullptr, 0);
        encOut = Bytes(pool_, p * E_ * esize_);
        norm(lnf_, x.data(), p, et_, encOut.data());
      }
      const DNorm& fin = encDec ? decLnf_ : lnf_;
      int64_t len = encDec ? 1 : p;
      for (int64_t step = 0; step < newTokens; ++step) {
        throwIfCancelled(cancel);
        if (o.useCache) {
          const int64_t pos0 = step == 0 ? 0 : len - 1;
          const int64_t n = len - pos0;
          PoolBuffer<float> x(pool_, n * E_);
          embed(seq.data() + pos0, n, pos0, x.data());
          runStack(r, stack, x.data(), n, pos0, true, &self, encDec ? &cross : nullptr, encOut.data(), p);
          norm(fin, x.data() + (n - 1) * E_, 1, et_, xn.data());
        } else {
          PoolBuffer<float> x(pool_, len * E_);
          embed(seq.data(), len, 0, x.data());
          runStack(r, stack, x.data(), len, 0, true, nullptr, nullptr, encOut.data(), p);
          norm(fin, x.data() + (len - 1) * E_, 1, et_, xn.data());
        }
        lmHead(xn.data(), 1, logits.data());
        checkLaunch(mk::argmaxRow(logits.data(), V_, seq.data() + len, stream_), "argmax");
        check(cudaMemcpyAsync(hostToken_, seq.data() + len, 4, cudaMemcpyDeviceToHost, stream_),
              "token copy");
        const size_t endEv = 1 - startEv;
        check(cudaEventRecord(ev[endEv], stream_), "cudaEventRecord");
        check(cudaEventSynchronize(ev[endEv]), "kernel execution");
        const double ns = ev.elapsedNs(startEv, endEv);
        if (step == 0) g.prefillNs = ns;
        else g.stepNs.push_back(ns);
        startEv = endEv;
        g.tokens.push_back(*hostToken_);
        ++len;
      }
      r.qCap.reset();
      r.oCap.reset();
      r.xqCap.reset();
      r.xoCap.reset();
    }
    const PoolStats st = pool_.stats();
    g.memory.weightsBytes = weightsInUse;
    g.memory.kvCacheBytes = kvBytes;
    g.memory.peakBytes = st.peakBytesInUse;
    const uint64_t fixed = weightsInUse + kvBytes;
    g.memory.workspaceBytes = st.peakBytesInUse > fixed ? st.peakBytesInUse - fixed : 0;
    return g;
  }

 private:
  enum class Attn { Flash, Naive };
  struct Run {
    Attn impl = Attn::Flash;
    const CancelToken* cancel = nullptr;
    Bytes qCap, oCap, xqCap, xoCap;  // cached generation only
    int64_t cap = 0;
  };

  Run startRun(const RunOptions& o, const CancelToken* cancel) {
    Run r;
    if (o.implementation == "flash") {
      r.impl = Attn::Flash;
    } else if (o.implementation == "naive") {
      r.impl = Attn::Naive;
    } else {
      throw Error(
          ErrorCode::Unsupported,
          "implementation: the CUDA model runs attention 'flash' or 'naive' (got '" + o.implementation + "')",
          "implementation");
    }
    r.cancel = cancel;
    check(cudaSetDevice(0), "cudaSetDevice");
    return r;
  }

  // ---- upload -----------------------------------------------------------------------------------

  void uploadVector(PoolBuffer<float>& dst, const std::vector<float>& data) {
    dst = PoolBuffer<float>(pool_, data.size());
    check(cudaMemcpyAsync(dst.data(), data.data(), data.size() * 4, cudaMemcpyHostToDevice, stream_),
          "upload");
    check(cudaStreamSynchronize(stream_), "upload");  // data is pageable and may go away
    weightBytes_ += data.size() * 4;
  }

  // fp32 host values into a device buffer of the dtype; fp16 / bf16 are converted on the device
  // (round to nearest even, convertFromF32) through a fixed fp32 staging buffer.
  void uploadMatrix(Bytes& dst, const float* src, size_t count) {
    dst = Bytes(pool_, count * esize_);
    weightBytes_ += count * esize_;
    if (et_ == ElemType::F32) {
      check(cudaMemcpyAsync(dst.data(), src, count * 4, cudaMemcpyHostToDevice, stream_), "upload");
      check(cudaStreamSynchronize(stream_), "upload");
      return;
    }
    if (!staging_)
      check(cudaMalloc(reinterpret_cast<void**>(&staging_), kStagingFloats * 4), "cudaMalloc (staging)");
    for (size_t off = 0; off < count; off += kStagingFloats) {
      const size_t n = std::min(kStagingFloats, count - off);
      check(cudaMemcpyAsync(staging_, src + off, n * 4, cudaMemcpyHostToDevice, stream_), "upload");
      checkLaunch(cuda::convertFromF32(dst.data() + off * esize_, staging_, n, et_, stream_),
                  "upload conversion");
      check(cudaStreamSynchronize(stream_), "upload");
    }
  }

  void releaseStaging() {
    if (staging_) {
      cudaStreamSynchronize(stream_);
      cudaFree(staging_);
      staging_ = nullptr;
    }
  }

  void clearWeights() {
    wte_.reset();
    wpe_.reset();
    lmHead_.reset();
    invFreq_.reset();
    enc_.clear();
    dec_.clear();
    lnf_ = DNorm();
    decLnf_ = DNorm();
  }

  void download(float* dst, const float* src, size_t count) {
    check(cudaMemcpyAsync(dst, src, count * 4, cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "kernel execution");
  }

  std::vector<DCache> makeCaches(size_t layers, int64_t cap) {
    std::vector<DCache> v(layers);
    for (auto& kc : v) {
      kc.cap = cap;
      kc.k = Bytes(pool_, G_ * cap * D_ * esize_);
      kc.v = Bytes(pool_, G_ * cap * D_ * esize_);
    }
    return v;
  }

  // ---- building blocks --------------------------------------------------------------------------

  void embed(const int32_t* dTokens, int64_t n, int64_t pos0, float* x) {
    const void* wpe = c_.positional == Positional::Learned ? wpe_.data() : nullptr;
    checkLaunch(mk::embedRows(et_, dTokens, n, pos0, wte_.data(), V_, wpe, E_, x, stream_), "embedding");
  }

  void norm(const DNorm& w, const float* x, int64_t n, ElemType out, void* y) {
    const float* beta = c_.norm == Norm::LayerNorm ? w.b.data() : nullptr;
    checkLaunch(mk::normRows(x, n, E_, w.g.data(), beta, static_cast<float>(c_.normEps), out, y, stream_),
                "norm");
  }

  void linear(const DLinear& l, const void* a, int64_t lda, int64_t n, float* out, int64_t ldo,
              bool accumulate) {
    checkLaunch(mk::gemm(et_, n, l.N, l.K, a, lda, l.w.data(), l.b.data(), out, ldo, accumulate, stream_),
                "gemm");
  }

  void lmHead(const void* xn, int64_t n, float* logits) {
    const Bytes& w = tied_ ? wte_ : lmHead_;
    checkLaunch(mk::gemm(et_, n, V_, E_, xn, E_, w.data(), nullptr, logits, V_, false, stream_), "LM head");
  }

  void scatter(const float* src, int64_t ld, int64_t n, int64_t heads, const HeadView& dst) {
    checkLaunch(mk::scatterHeads(et_, src, ld, n, heads, D_, dst.p, dst.rows, dst.row0, stream_),
                "head scatter");
  }

  // Attention of nq query rows (q, o views; row i at position qPos0 + i) against kvLen rows of
  // k / v ([G, k.rows, D]). Chooses launchDecode, launchFlash / launchNaive or attendRows.
  void attend(Run& r, const HeadView& q, int64_t nq, int64_t qPos0, const HeadView& k, const HeadView& v,
              int64_t kvLen, bool causal, const HeadView& o) {
    const float scale = static_cast<float>(1.0 / std::sqrt(double(D_)));
    const bool sameLayout = q.rows == o.rows && q.row0 == o.row0;
    if (nq == 1 && sameLayout && cuda::decodeSupports(et_, D_) && q.rows == k.rows && q.row0 == kvLen - 1 &&
        (!causal || qPos0 == kvLen - 1)) {
      cuda::DecodeArgs d;
      d.dtype = et_;
      d.heads = H_;
      d.kvHeads = G_;
      d.headDim = D_;
      d.rowsPerHead = q.rows;
      d.pos = kvLen - 1;
      d.scale = scale;
      d.q = q.p;
      d.k = k.p;
      d.v = v.p;
      d.o = o.p;
      d.stream = stream_;
      Bytes ws(pool_, cuda::decodeWorkspaceBytes(d));
      checkLaunch(cuda::launchDecode(d, ws.data()), "decode attention");
      return;
    }
    const bool whole = sameLayout && q.row0 == 0 && qPos0 == 0 && nq == kvLen && q.rows == k.rows;
    if (whole) {
      cuda::AttnArgs a;
      a.dtype = et_;
      a.heads = H_;
      a.kvHeads = G_;
      a.seqLen = nq;
      a.headDim = D_;
      a.causal = causal;
      a.scale = scale;
      a.q = q.p;
      a.k = k.p;
      a.v = v.p;
      a.o = o.p;
      a.stream = stream_;
      if (r.impl == Attn::Flash && cuda::flashSupports(et_, D_)) {
        a.headStrideRows = q.rows;
        checkLaunch(cuda::launchFlash(a), "flash attention");
        return;
      }
      if (r.impl == Attn::Naive && q.rows == nq && cuda::naiveSupports(et_, D_)) {
        Bytes ws(pool_, cuda::naiveWorkspaceBytes(a));
        checkLaunch(cuda::launchNaive(a, ws.data()), "naive attention");
        return;
      }
    }
    mk::RowAttnArgs a;
    a.dtype = et_;
    a.heads = H_;
    a.kvHeads = G_;
    a.headDim = D_;
    a.nq = nq;
    a.qRowsPerHead = q.rows;
    a.qRow0 = q.row0;
    a.qPos0 = qPos0;
    a.kvLen = kvLen;
    a.kvRowsPerHead = k.rows;
    a.causal = causal;
    a.scale = scale;
    a.q = q.p;
    a.k = k.p;
    a.v = v.p;
    a.o = o.p;
    a.stream = stream_;
    if (!sameLayout) throw Error(ErrorCode::Internal, "CUDA model: q and o views differ");
    checkLaunch(mk::attendRows(a), "row attention");
  }

  // x [n, E] (fp32) at positions pos0.. through one stack. self: per-layer caches (null: full
  // attention of these n rows); cross: per-layer cross K/V caches (null: computed from encOut
  // [m, E] of the dtype, when the layers have cross-attention).
  void runStack(Run& r, std::vector<DLayer>& layers, float* x, int64_t n, int64_t pos0, bool causal,
                std::vector<DCache>* self, std::vector<DCache>* cross, const void* encOut, int64_t m) {
    const int64_t QKV = (H_ + 2 * G_) * D_, HD = H_ * D_;
    Bytes h(pool_, n * E_ * esize_), a(pool_, n * HD * esize_), act(pool_, n * I_ * esize_);
    PoolBuffer<float> qkv(pool_, n * QKV), f(pool_, n * F_);
    for (size_t li = 0; li < layers.size(); ++li) {
      throwIfCancelled(r.cancel);
      DLayer& L = layers[li];
      norm(L.ln1, x, n, et_, h.data());
      linear(L.qkv, h.data(), E_, n, qkv.data(), QKV, false);
      if (c_.positional == Positional::Rope) {
        // q heads then k heads are adjacent columns: rotate H + G heads from column 0.
        checkLaunch(mk::ropeRows(qkv.data(), QKV, n, H_ + G_, D_, pos0, invFreq_.data(), stream_), "rope");
      }
      const float* qs = qkv.data();
      const float* ks = qkv.data() + HD;
      const float* vs = qkv.data() + (H_ + G_) * D_;
      // Attention over the cache (decode steps; flash prefill through headStrideRows), or over
      // contiguous copies of these n rows (no cache, or a naive prefill).
      const bool overCache = self && (n == 1 || r.impl == Attn::Flash);
      if (self) {
        DCache& kc = (*self)[li];
        scatter(ks, QKV, n, G_, {kc.k.data(), kc.cap, pos0});
        scatter(vs, QKV, n, G_, {kc.v.data(), kc.cap, pos0});
        kc.len = pos0 + n;
        if (overCache) {
          const HeadView q{r.qCap.data(), r.cap, pos0}, o{r.oCap.data(), r.cap, pos0};
          scatter(qs, QKV, n, H_, q);
          attend(r, q, n, pos0, {kc.k.data(), kc.cap, 0}, {kc.v.data(), kc.cap, 0}, kc.len, causal, o);
          checkLaunch(mk::gatherHeads(et_, o.p, o.rows, o.row0, n, H_, D_, a.data(), stream_), "head gather");
        }
      }
      if (!overCache) {
        if (pos0 != 0) throw Error(ErrorCode::Internal, "CUDA model: uncached attention at position > 0");
        Bytes q(pool_, HD * n * esize_), k(pool_, G_ * n * D_ * esize_), v(pool_, G_ * n * D_ * esize_),
            o(pool_, HD * n * esize_);
        scatter(qs, QKV, n, H_, {q.data(), n, 0});
        scatter(ks, QKV, n, G_, {k.data(), n, 0});
        scatter(vs, QKV, n, G_, {v.data(), n, 0});
        attend(r, {q.data(), n, 0}, n, 0, {k.data(), n, 0}, {v.data(), n, 0}, n, causal, {o.data(), n, 0});
        checkLaunch(mk::gatherHeads(et_, o.data(), n, 0, n, H_, D_, a.data(), stream_), "head gather");
      }
      linear(L.proj, a.data(), HD, n, x, E_, true);
      if (L.xq.present()) crossAttention(r, L, li, x, n, h.data(), a.data(), cross, encOut, m);
      norm(L.ln2, x, n, et_, h.data());
      linear(L.fc, h.data(), E_, n, f.data(), F_, false);
      const mk::Act kind = c_.activation == Activation::Gelu   ? mk::Act::Gelu
                           : c_.activation == Activation::Relu ? mk::Act::Relu
                                                               : mk::Act::SwiGLU;
      checkLaunch(mk::activateRows(kind, f.data(), n, I_, et_, act.data(), stream_), "activation");
      linear(L.fcProj, act.data(), I_, n, x, E_, true);
    }
  }

  // x += crossProj(attention of q = xq(normX(x)) over the encoder output's K / V).
  void crossAttention(Run& r, DLayer& L, size_t li, float* x, int64_t n, void* h, void* a,
                      std::vector<DCache>* cross, const void* encOut, int64_t m) {
    if (!encOut || m < 1)
      throw Error(ErrorCode::Internal, "CUDA model: cross-attention without an encoder output");
    const int64_t HD = H_ * D_, GD = G_ * D_;
    norm(L.lnX, x, n, et_, h);
    PoolBuffer<float> xq(pool_, n * HD);
    linear(L.xq, h, E_, n, xq.data(), HD, false);
    auto projectKv = [&](const HeadView& k, const HeadView& v) {
      PoolBuffer<float> kv(pool_, m * 2 * GD);
      linear(L.xkv, encOut, E_, m, kv.data(), 2 * GD, false);
      scatter(kv.data(), 2 * GD, m, G_, k);
      scatter(kv.data() + GD, 2 * GD, m, G_, v);
    };
    if (cross && n == 1) {
      DCache& cc = (*cross)[li];
      if (cc.len == 0) {
        projectKv({cc.k.data(), cc.cap, 0}, {cc.v.data(), cc.cap, 0});
        cc.len = m;
      }
      // The query row sits at row m - 1 of [H, m, D], where launchDecode reads it.
      const HeadView q{r.xqCap.data(), m, m - 1}, o{r.xoCap.data(), m, m - 1};
      scatter(xq.data(), HD, 1, H_, q);
      attend(r, q, 1, m - 1, {cc.k.data(), cc.cap, 0}, {cc.v.data(), cc.cap, 0}, m, false, o);
      checkLaunch(mk::gatherHeads(et_, o.p, o.rows, o.row0, 1, H_, D_, a, stream_), "head gather");
    } else {
      if (cross) throw Error(ErrorCode::Internal, "CUDA model: cached cross-attention of several rows");
      Bytes k(pool_, GD * m * esize_), v(pool_, GD * m * esize_), q(pool_, HD * n * esize_),
          o(pool_, HD * n * esize_);
      projectKv({k.data(), m, 0}, {v.data(), m, 0});
      scatter(xq.data(), HD, n, H_, {q.data(), n, 0});
      attend(r, {q.data(), n, 0}, n, 0, {k.data(), m, 0}, {v.data(), m, 0}, m, false, {o.data(), n, 0});
      checkLaunch(mk::gatherHeads(et_, o.data(), n, 0, n, H_, D_, a, stream_), "head gather");
    }
    linear(L.xproj, a, HD, n, x, E_, true);
  }

  static constexpr size_t kStagingFloats = size_t(4) << 20;  // 16 MiB of fp32 per upload chunk

  ModelConfig c_;
  DType dtype_;
  ElemType et_;
  size_t esize_;
  int64_t E_ = 0, D_ = 0, H_ = 0, G_ = 0, I_ = 0, F_ = 0, V_ = 0;
  bool tied_ = true;
  size_t expected_ = 0, loaded_ = 0;
  uint64_t weightBytes_ = 0;
  cudaStream_t stream_ = nullptr;
  int32_t* hostToken_ = nullptr;
  float* staging_ = nullptr;
  // pool_ before every buffer: members are destroyed in reverse order, buffers first.
  MemoryPool pool_;
  Bytes wte_, wpe_, lmHead_;
  PoolBuffer<double> invFreq_;
  std::vector<DLayer> enc_, dec_;
  DNorm lnf_, decLnf_;
};

std::unique_ptr<DeviceModel> makeCudaModel(const ModelConfig& config, DType dtype) {
  if (cuda::deviceCount() < 1) {
    const std::string why = cuda::deviceCountError();
    throw Error(ErrorCode::Unsupported,
                "device: 'cuda' cannot run the model: no CUDA device (" +
                    (why.empty() ? std::string("the driver reports 0 devices") : why) +
                    "; check the driver and CUDA_VISIBLE_DEVICES) - use device 'cpu'",
                "device");
  }
  return std::make_unique<CudaTransformer>(config, dtype);
}

const bool registeredCudaModel = [] {
  registerCudaModelFactory(&makeCudaModel);
  return true;
}();

}  // namespace
}  // namespace model
}  // namespace dilbench
