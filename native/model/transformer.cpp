// The transformer models of issue 7 (see transformer.h).
#include "transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "../core/errors.h"
#include "../core/kernel.h"
#include "../core/thread_pool.h"
#include "../cpu/attention_block.h"
#include "../cuda/model/model_device.h"
#include "step_team.h"
#include "weights.h"

namespace dilbench {
namespace model {

namespace {

struct Linear {
  PackedMatrix w;
  PoolBuffer<float> b;
};
struct NormW {
  PoolBuffer<float> g, b;  // b empty for rmsnorm
};
struct Layer {
  NormW ln1, ln2, lnX;
  Linear qkv, proj, fc, fcProj, xq, xkv, xproj;
};

// K and V of one layer: [G, cap, D] each.
struct KvCache {
  PoolBuffer<float> k, v;
  int64_t cap = 0;
  int64_t len = 0;
};

void throwIfCancelled(const CancelToken* c) {
  if (c && c->cancelled()) throw Error(ErrorCode::Cancelled, "model run cancelled");
}

double nowNs() {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

// fn(task, worker) for task in [0, tasks): inline, as a stage of team (decode steps), or as a
// ThreadPool job. fn is passed as std::ref(fn), which std::function stores in place: no heap
// allocation per dispatch.
template <class Fn>
void parallel(int64_t tasks, int threads, StepTeam* team, Fn& fn) {
  if (threads <= 1 || tasks <= 1) {
    for (int64_t i = 0; i < tasks; ++i) fn(i, 0);
  } else if (team) {
    team->stage(tasks, std::ref(fn));
  } else {
    ThreadPool::global().parallelFor(tasks, threads, std::ref(fn));
  }
}

// Grows b to at least `floats` floats (never shrinks). The old block goes back to the pool
// before the new one is taken, so the pool's peak never counts both.
void grow(MemoryPool& pool, PoolBuffer<float>& b, int64_t floats) {
  if (b.data() && static_cast<int64_t>(b.size()) >= floats) return;
  b.reset();
  b = PoolBuffer<float>(pool, static_cast<size_t>(floats));
}

// Scratch of one run (generate or forward): the row buffers of runStack and the decode loop,
// grown to the most rows a step of the run has needed, and the per-worker attendRows scratch.
// A KV-cache decode step (1 row) fits in what the prefill sized, so steady-state decode takes
// nothing from the pool. Taken from the model's pool, so the run's peak and workspaceBytes
// still count it.
struct Workspace {
  PoolBuffer<float> x, h, qkv, a, f, xq, attend;
};

}  // namespace

struct Transformer::Impl {
  ModelConfig c;
  int64_t E = 0, D = 0, H = 0, G = 0, I = 0, F = 0, V = 0;
  MemoryPool pool{hostAllocator(), true};
  PackedMatrix wte;  // wte^T packed: K = E, N = vocab (the tied LM head; embedding rows read from it)
  PackedMatrix lmHead;
  bool tied = true;
  PoolBuffer<float> wpe;        // [maxPositions, E]
  std::vector<Layer> enc, dec;  // enc: the layers of decoder / encoder models too
  NormW lnf, decLnf;

  // ---- per run ----
  struct Run {
    const RunOptions* o = nullptr;
    const CancelToken* cancel = nullptr;
    int threads = 1;
    StepTeam* team = nullptr;  // set while KV-cache decode steps run inside a StepTeam
    std::unique_ptr<Kernel> kernel;
    ExecContext ctx;
  };

  // ---------------------------------------------------------------------------------------
  void embed(const int32_t* tok, int64_t n, int64_t pos0, float* x) const {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = tok[i];
      float* xr = x + i * E;
      const float* panel = wte.buf.data() + (t / kNR) * E * kNR + t % kNR;
      for (int64_t k = 0; k < E; ++k) xr[k] = panel[k * kNR];
      if (c.positional == Positional::Learned) {
        const float* pr = wpe.data() + (pos0 + i) * E;
        for (int64_t k = 0; k < E; ++k) xr[k] += pr[k];
      }
    }
  }

  void norm(const NormW& w, const float* x, float* y, int64_t n) const {
    const float eps = static_cast<float>(c.normEps);
    for (int64_t i = 0; i < n; ++i) {
      const float* xr = x + i * E;
      float* yr = y + i * E;
      if (c.norm == Norm::LayerNorm) {
        double s = 0;
        for (int64_t k = 0; k < E; ++k) s += xr[k];
        const float mean = static_cast<float>(s / E);
        double ss = 0;
        for (int64_t k = 0; k < E; ++k) ss += double(xr[k] - mean) * double(xr[k] - mean);
        const float r = static_cast<float>(1.0 / std::sqrt(ss / E + eps));
        for (int64_t k = 0; k < E; ++k) yr[k] = (xr[k] - mean) * r * w.g.data()[k] + w.b.data()[k];
      } else {
        double ss = 0;
        for (int64_t k = 0; k < E; ++k) ss += double(xr[k]) * xr[k];
        const float r = static_cast<float>(1.0 / std::sqrt(ss / E + eps));
        for (int64_t k = 0; k < E; ++k) yr[k] = xr[k] * r * w.g.data()[k];
      }
    }
  }

  // Rotates heads [h0, h0 + nh) of rows x (row stride ld) at positions pos0 + i.
  void rope(float* x, int64_t ld, int64_t n, int64_t nh, int64_t pos0) const {
    const int64_t half = D / 2;
    for (int64_t i = 0; i < n; ++i) {
      const double pos = static_cast<double>(pos0 + i);
      for (int64_t j = 0; j < half; ++j) {
        const double ang = pos * std::pow(c.ropeTheta, -2.0 * double(j) / double(D));
        const float cs = static_cast<float>(std::cos(ang)), sn = static_cast<float>(std::sin(ang));
        for (int64_t h = 0; h < nh; ++h) {
          float* r = x + i * ld + h * D;
          const float a = r[j], b = r[j + half];
          r[j] = a * cs - b * sn;
          r[j + half] = b * cs + a * sn;
        }
      }
    }
  }

  void linear(Run& r, const Linear& l, const float* a, int64_t lda, int64_t n, float* out, int64_t ldo,
              bool accumulate) const {
    gemm(n, a, lda, l.w, l.b.data(), out, ldo, accumulate, r.threads, r.team);
  }

  // Full attention of n rows through the registry kernel: q, k, v rows inside qkv (row stride ld,
  // q heads at column 0, k at kOff, v at vOff, G kv heads); out [n, H*D].
  void attentionKernel(Run& r, const float* qs, const float* ks, const float* vs, int64_t ld, int64_t n,
                       bool causal, float* out) {
    AttentionProblem p;
    p.implementation = r.o->implementation;
    p.device = Device::CPU;
    p.batch = 1;
    p.heads = H;
    p.kvHeads = G;
    p.seqLen = n;
    p.headDim = D;
    p.causal = causal;
    p.validateCommon();
    r.kernel->validate(p);
    if (r.kernel->effectiveSeqLen(p) != n) {
      throw Error(ErrorCode::InvalidConfig,
                  "implementation: " + p.implementation + " cannot run a sequence of length " +
                      std::to_string(n) + " exactly (it would run " +
                      std::to_string(r.kernel->effectiveSeqLen(p)) + ")",
                  "implementation");
    }
    PoolBuffer<float> q(pool, H * n * D), k(pool, G * n * D), v(pool, G * n * D), o(pool, H * n * D);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < H; ++h) std::memcpy(q.data() + (h * n + i) * D, qs + i * ld + h * D, D * 4);
      for (int64_t g = 0; g < G; ++g) {
        std::memcpy(k.data() + (g * n + i) * D, ks + i * ld + g * D, D * 4);
        std::memcpy(v.data() + (g * n + i) * D, vs + i * ld + g * D, D * 4);
      }
    }
    Tensors t;
    t.q = q.data();
    t.k = k.data();
    t.v = v.data();
    t.o = o.data();
    r.kernel->run(p, t, r.ctx);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t h = 0; h < H; ++h) std::memcpy(out + i * H * D + h * D, o.data() + (h * n + i) * D, D * 4);
  }

  // Query rows q (row stride ldq, H heads of D) at positions pos0 + i against K/V [G, cap, D]:
  // causal: row i sees kv rows [0, pos0 + i]; else all kvLen rows. out [n, H*D].
  static constexpr int64_t kAttendTile = 256;
  void attendRows(Run& r, Workspace& ws, const float* q, int64_t ldq, int64_t n, int64_t pos0, const float* K,
                  const float* Vv, int64_t cap, int64_t kvLen, bool causal, float* out) {
    const int64_t gs = H / G;
    constexpr int64_t kTile = kAttendTile;
    const float scale = static_cast<float>(1.0 / std::sqrt(double(D)));
    const int64_t per = attendScratchPerWorker();
    ensureAttendScratch(r, ws);
    float* scratch = ws.attend.data();
    // A decode step against a short cache is microseconds of work: below 512 KiB of K rows it
    // runs on the calling thread, as a fork/join on a loaded machine can cost a time slice
    // (NOTES.md). Each (row, kv head) task computes the same either way.
    constexpr int64_t kInlineKFloats = int64_t(1) << 17;
    const int threads = n * G * kvLen * D < kInlineKFloats ? 1 : r.threads;
    auto body = [&](int64_t task, int worker) {
      const int64_t i = task / G, g = task % G;
      float* base = scratch + per * worker;
      OnlineSoftmaxState st;
      st.acc = base;
      st.rowMax = base + gs * D;
      st.rowSum = base + gs * D + gs;
      st.rows = gs;
      st.headDim = D;
      float* sc = base + gs * D + 2 * gs;
      resetOnlineSoftmax(st);
      const int64_t len = causal ? std::min(kvLen, pos0 + i + 1) : kvLen;
      const float* qr = q + i * ldq + g * gs * D;
      const float* kg = K + g * cap * D;
      const float* vg = Vv + g * cap * D;
      for (int64_t j = 0; j < len; j += kTile) {
        attendBlock(qr, D, gs, kg + j * D, vg + j * D, D, std::min(kTile, len - j), D, scale, BlockMask{}, st,
                    sc);
      }
      finalizeOnlineSoftmax(st, out + i * H * D + g * gs * D, D, nullptr);
    };
    parallel(n * G, threads, r.team, body);
  }

  int64_t attendScratchPerWorker() const {
    const int64_t gs = H / G;
    return gs * D + 2 * gs + attendBlockScratchFloats(gs, kAttendTile, D);
  }
  void ensureAttendScratch(const Run& r, Workspace& ws) {
    grow(pool, ws.attend, attendScratchPerWorker() * std::max(1, r.threads));
  }

  static void storeKv(const float* ks, const float* vs, int64_t ld, int64_t n, int64_t G, int64_t D,
                      KvCache& c, int64_t pos0) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t g = 0; g < G; ++g) {
        std::memcpy(c.k.data() + (g * c.cap + pos0 + i) * D, ks + i * ld + g * D, D * 4);
        std::memcpy(c.v.data() + (g * c.cap + pos0 + i) * D, vs + i * ld + g * D, D * 4);
      }
  }

  // x [n, E] at positions pos0.. through one stack. selfCache: per-layer caches (null =
  // no cache: full attention of these n rows). cross: per-layer cross K/V caches (enc-dec
  // decoder) or null; encOut/m: encoder output to compute the cross K/V from when cross is null.
  void runStack(Run& r, Workspace& ws, std::vector<Layer>& layers, float* x, int64_t n, int64_t pos0,
                bool causal, std::vector<KvCache>* selfCache, std::vector<KvCache>* cross,
                const float* encOut, int64_t m) {
    const int64_t QKV = (H + 2 * G) * D;
    grow(pool, ws.h, n * E);
    grow(pool, ws.qkv, n * QKV);
    grow(pool, ws.a, n * H * D);
    grow(pool, ws.f, n * F);
    if (!layers.empty() && layers[0].xq.w.buf.data()) grow(pool, ws.xq, n * H * D);
    PoolBuffer<float>& h = ws.h;
    PoolBuffer<float>& qkv = ws.qkv;
    PoolBuffer<float>& a = ws.a;
    PoolBuffer<float>& f = ws.f;
    PoolBuffer<float>& xq = ws.xq;
    for (size_t li = 0; li < layers.size(); ++li) {
      throwIfCancelled(r.cancel);
      Layer& L = layers[li];
      norm(L.ln1, x, h.data(), n);
      linear(r, L.qkv, h.data(), E, n, qkv.data(), QKV, false);
      if (c.positional == Positional::Rope) {
        rope(qkv.data(), QKV, n, H, pos0);
        rope(qkv.data() + H * D, QKV, n, G, pos0);
      }
      const float* qs = qkv.data();
      const float* ks = qkv.data() + H * D;
      const float* vs = qkv.data() + (H + G) * D;
      if (selfCache) {
        KvCache& kc = (*selfCache)[li];
        storeKv(ks, vs, QKV, n, G, D, kc, pos0);
        kc.len = pos0 + n;
        if (pos0 == 0 && n > 1) {
          attentionKernel(r, qs, ks, vs, QKV, n, causal, a.data());
        } else {
          attendRows(r, ws, qs, QKV, n, pos0, kc.k.data(), kc.v.data(), kc.cap, kc.len, causal, a.data());
        }
      } else {
        attentionKernel(r, qs, ks, vs, QKV, n, causal, a.data());
      }
      linear(r, L.proj, a.data(), H * D, n, x, E, true);
      if (L.xq.w.buf.data()) {
        // cross-attention over the encoder output
        norm(L.lnX, x, h.data(), n);
        linear(r, L.xq, h.data(), E, n, xq.data(), H * D, false);
        KvCache local;
        KvCache* kc = cross ? &(*cross)[li] : &local;
        if (!cross || kc->len == 0) {
          if (!cross) {
            kc->cap = m;
            kc->k = PoolBuffer<float>(pool, G * m * D);
            kc->v = PoolBuffer<float>(pool, G * m * D);
          }
          PoolBuffer<float> kv(pool, m * 2 * G * D);
          linear(r, L.xkv, encOut, E, m, kv.data(), 2 * G * D, false);
          storeKv(kv.data(), kv.data() + G * D, 2 * G * D, m, G, D, *kc, 0);
          kc->len = m;
        }
        attendRows(r, ws, xq.data(), H * D, n, 0, kc->k.data(), kc->v.data(), kc->cap, kc->len, false,
                   a.data());
        linear(r, L.xproj, a.data(), H * D, n, x, E, true);
      }
      norm(L.ln2, x, h.data(), n);
      linear(r, L.fc, h.data(), E, n, f.data(), F, false);
      float* fd = f.data();
      const int64_t cnt = n * F;
      if (c.activation == Activation::Gelu) {
        constexpr float k0 = 0.7978845608028654f;
        for (int64_t i = 0; i < cnt; ++i) {
          const float v = fd[i];
          // tanh(u) = 1 - 2 / (1 + e^(2u)): exp is several times cheaper than tanh in libm
          const float u = k0 * (v + 0.044715f * v * v * v);
          fd[i] = 0.5f * v * (2.f - 2.f / (1.f + std::exp(2.f * u)));
        }
      } else if (c.activation == Activation::Relu) {
        for (int64_t i = 0; i < cnt; ++i) fd[i] = fd[i] > 0.f ? fd[i] : 0.f;
      } else {
        for (int64_t i = 0; i < n; ++i) {
          float* row = fd + i * F;
          for (int64_t j = 0; j < I; ++j) {
            const float g = row[j];
            row[j] = g / (1.f + std::exp(-g)) * row[I + j];
          }
        }
      }
      linear(r, L.fcProj, f.data(), F, n, x, E, true);
    }
  }

  void lmLogits(Run& r, const float* xn, int64_t n, float* logits) const {
    gemm(n, xn, E, tied ? wte : lmHead, nullptr, logits, V, false, r.threads, r.team);
  }

  static int32_t argmax(const float* v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (v[i] > v[best]) best = i;
    return static_cast<int32_t>(best);
  }

  void initRun(Run& r, const RunOptions& o, const CancelToken* cancel) {
    r.o = &o;
    r.cancel = cancel;
    r.threads = std::max(1, std::min(o.threads, ThreadPool::global().hardwareThreads()));
    r.kernel = KernelRegistry::instance().create(o.implementation, Device::CPU);
    r.ctx.pool = &pool;
    r.ctx.threadPool = &ThreadPool::global();
    r.ctx.threads = r.threads;
    r.ctx.cancel = cancel;
  }

  std::vector<KvCache> makeCaches(size_t layers, int64_t cap) {
    std::vector<KvCache> v(layers);
    for (auto& kc : v) {
      kc.cap = cap;
      kc.k = PoolBuffer<float>(pool, G * cap * D);
      kc.v = PoolBuffer<float>(pool, G * cap * D);
    }
    return v;
  }
};

// ---- device models ------------------------------------------------------------------------------

namespace {
DeviceModelFactory& cudaModelFactory() {
  static DeviceModelFactory f = nullptr;
  return f;
}
}  // namespace

void registerCudaModelFactory(DeviceModelFactory factory) { cudaModelFactory() = factory; }
bool cudaModelCompiled() { return cudaModelFactory() != nullptr; }

// ---- construction -----------------------------------------------------------------------------

Transformer::Transformer(const ModelConfig& config, WeightsSource weights, int threads, Placement placement)
    : cfg_(config), placement_(placement) {
  cfg_.validate();
  if (placement_.device == Device::CPU && placement_.dtype != DType::F32) {
    throw Error(ErrorCode::Unsupported,
                std::string("dtype: the CPU model runs fp32 only (got '") + dtypeName(placement_.dtype) +
                    "'); use dtype 'fp32', or device 'cuda' for fp16 / bf16",
                "dtype");
  }
  if (placement_.device == Device::CUDA && !cudaModelFactory()) {
    throw Error(
        ErrorCode::Unsupported,
        "device: 'cuda' is not available for models: this build of dilbench was built without CUDA "
        "(rebuild with the CUDA toolkit: DILBENCH_CMAKE_ARGS=-DDILBENCH_CUDA=ON npm rebuild dilbench) "
        "- use device 'cpu'",
        "device");
  }
  const auto specs = expectedTensors(cfg_);
  for (const auto& s : specs) checkTensor(s, weights);
  threads = std::max(1, std::min(threads, ThreadPool::global().hardwareThreads()));
  if (placement_.device == Device::CUDA) {
    // Throws Unsupported ('device') with the reason when no device is usable, before any
    // tensor is materialized.
    device_ = cudaModelFactory()(cfg_, placement_.dtype);
    for (size_t t = 0; t < specs.size(); ++t) {
      const std::vector<float> data = materializeTensor(specs[t], t, weights, threads);
      params_ += static_cast<int64_t>(data.size());
      device_->loadTensor(specs[t], data);
    }
    device_->finishLoading();
    weightBytes_ = device_->weightBytes();
    return;
  }
  impl_ = std::make_unique<Impl>();
  Impl& m = *impl_;
  m.c = cfg_;
  m.E = cfg_.hidden;
  m.D = cfg_.resolvedHeadDim();
  m.H = cfg_.heads;
  m.G = cfg_.kvHeads;
  m.I = cfg_.intermediate;
  m.F = cfg_.activation == Activation::SwiGLU ? 2 * m.I : m.I;
  m.V = cfg_.vocabSize;
  m.tied = cfg_.tiedEmbeddings || cfg_.arch == Arch::Encoder;
  m.enc.resize(static_cast<size_t>(cfg_.layers));
  if (cfg_.arch == Arch::EncoderDecoder) m.dec.resize(static_cast<size_t>(cfg_.resolvedDecoderLayers()));

  auto packInto = [&](PackedMatrix& pm, const std::vector<float>& data, int64_t K, int64_t N,
                      bool transposed) {
    pm.K = K;
    pm.N = N;
    pm.buf = PoolBuffer<float>(m.pool, static_cast<size_t>(PackedMatrix::floatsFor(K, N)));
    packB(data.data(), transposed ? K : N, transposed, K, N, pm.buf.data());
  };
  auto copyInto = [&](PoolBuffer<float>& b, const std::vector<float>& data) {
    b = PoolBuffer<float>(m.pool, data.size());
    std::memcpy(b.data(), data.data(), data.size() * sizeof(float));
  };
  for (size_t t = 0; t < specs.size(); ++t) {
    const TensorSpec& s = specs[t];
    std::vector<float> data = materializeTensor(s, t, weights, threads);
    int64_t cnt = 1;
    for (int64_t d : s.shape) cnt *= d;
    params_ += cnt;
    const std::string& n = s.name;
    if (n == "wte.weight") {
      packInto(m.wte, data, m.E, m.V, true);
      continue;
    }
    if (n == "wpe.weight") {
      copyInto(m.wpe, data);
      continue;
    }
    if (n == "lm_head.weight") {
      packInto(m.lmHead, data, m.E, m.V, true);
      continue;
    }
    // norms and layer tensors
    std::vector<Layer>* stack = nullptr;
    std::string rest = n;
    if (n.rfind("dec.h.", 0) == 0) {
      stack = &m.dec;
      rest = n.substr(6);
    } else if (n.rfind("h.", 0) == 0) {
      stack = &m.enc;
      rest = n.substr(2);
    }
    NormW* nw = nullptr;
    std::string field;
    Linear* lin = nullptr;
    if (!stack) {
      const size_t dot = n.rfind('.');
      const std::string base = n.substr(0, dot);
      field = n.substr(dot + 1);
      nw = base == "ln_f" ? &m.lnf : &m.decLnf;
    } else {
      const size_t dot = rest.find('.');
      Layer& L = (*stack)[std::stoul(rest.substr(0, dot))];
      std::string sub = rest.substr(dot + 1);
      const size_t last = sub.rfind('.');
      field = sub.substr(last + 1);
      const std::string base = sub.substr(0, last);
      if (base == "ln_1") nw = &L.ln1;
      else if (base == "ln_2") nw = &L.ln2;
      else if (base == "ln_cross") nw = &L.lnX;
      else if (base == "attn.c_attn") lin = &L.qkv;
      else if (base == "attn.c_proj") lin = &L.proj;
      else if (base == "mlp.c_fc") lin = &L.fc;
      else if (base == "mlp.c_proj") lin = &L.fcProj;
      else if (base == "crossattn.q_attn") lin = &L.xq;
      else if (base == "crossattn.kv_attn") lin = &L.xkv;
      else if (base == "crossattn.c_proj") lin = &L.xproj;
      else throw Error(ErrorCode::Internal, "unhandled tensor " + n);
    }
    if (nw) {
      copyInto(field == "weight" ? nw->g : nw->b, data);
    } else if (field == "weight") {
      packInto(lin->w, data, s.shape[0], s.shape[1], false);
    } else {
      copyInto(lin->b, data);
    }
  }
  weightBytes_ = static_cast<uint64_t>(params_) * sizeof(float);
}

Transformer::~Transformer() = default;

// ---- runs ---------------------------------------------------------------------------------------

namespace {
void checkTokens(const std::vector<int32_t>& t, int64_t vocab, const char* field) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 0 || t[i] >= vocab) {
      throwInvalid(field, "token " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                              " is outside the vocabulary 0.." + std::to_string(vocab - 1));
    }
  }
}
}  // namespace

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens, const RunOptions& o,
                                        const CancelToken* cancel) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n < 1) throwInvalid("tokens", "must hold at least one token");
  if (n > cfg_.maxPositions) {
    throwInvalid("tokens", "length " + std::to_string(n) + " exceeds maxPositions " +
                               std::to_string(cfg_.maxPositions));
  }
  checkTokens(tokens, cfg_.vocabSize, "tokens");
  if (device_) return device_->forward(tokens, o, cancel);
  Impl& m = *impl_;
  Impl::Run r;
  m.initRun(r, o, cancel);
  Workspace ws;
  PoolBuffer<float> x(m.pool, n * m.E), xn(m.pool, n * m.E);
  m.embed(tokens.data(), n, 0, x.data());
  const bool causal = cfg_.arch == Arch::Decoder;
  m.runStack(r, ws, m.enc, x.data(), n, 0, causal, nullptr, nullptr, nullptr, 0);
  m.norm(m.lnf, x.data(), xn.data(), n);
  if (cfg_.arch == Arch::Encoder) return std::vector<float>(xn.data(), xn.data() + n * m.E);
  std::vector<float> logits(static_cast<size_t>(n * m.V));
  if (cfg_.arch == Arch::Decoder) {
    m.lmLogits(r, xn.data(), n, logits.data());
    return logits;
  }
  // encoder-decoder: decoder over the same tokens, cross-attending the encoder output xn
  PoolBuffer<float> y(m.pool, n * m.E), yn(m.pool, n * m.E);
  m.embed(tokens.data(), n, 0, y.data());
  m.runStack(r, ws, m.dec, y.data(), n, 0, true, nullptr, nullptr, xn.data(), n);
  m.norm(m.decLnf, y.data(), yn.data(), n);
  m.lmLogits(r, yn.data(), n, logits.data());
  return logits;
}

Generation Transformer::generate(const std::vector<int32_t>& prompt, int64_t newTokens, const RunOptions& o,
                                 const CancelToken* cancel) {
  if (cfg_.arch == Arch::Encoder) throwInvalid("arch", "an encoder model does not generate; use forward()");
  const int64_t p = static_cast<int64_t>(prompt.size());
  if (p < 1) throwInvalid("prompt", "must hold at least one token");
  if (newTokens < 1) throwInvalid("newTokens", "must be >= 1, got " + std::to_string(newTokens));
  checkTokens(prompt, cfg_.vocabSize, "prompt");
  const bool encDec = cfg_.arch == Arch::EncoderDecoder;
  if (encDec && p > cfg_.maxPositions) {
    throwInvalid("prompt", "length " + std::to_string(p) + " exceeds maxPositions " +
                               std::to_string(cfg_.maxPositions));
  }
  // Positions fed to the decoder: prompt + newTokens - 1 (decoder), newTokens (enc-dec: start token + all but
  // the last).
  const int64_t used = encDec ? newTokens : p + newTokens - 1;
  if (used > cfg_.maxPositions) {
    throwInvalid("newTokens", std::string(encDec ? "newTokens" : "prompt length + newTokens - 1") + " = " +
                                  std::to_string(used) + " exceeds maxPositions " +
                                  std::to_string(cfg_.maxPositions));
  }
  if (device_) return device_->generate(prompt, newTokens, o, cancel);
  Impl& m = *impl_;
  Impl::Run r;
  m.initRun(r, o, cancel);
  m.pool.resetPeak();
  const uint64_t weightsInUse = m.pool.stats().bytesInUse;
  Generation g;
  const int64_t E = m.E;
  std::vector<int32_t> seq;  // decoder token sequence
  if (encDec) seq.push_back(0);
  else seq = prompt;
  const int64_t cap = encDec ? newTokens : p + newTokens;
  uint64_t kvBytes = 0;
  {
    std::vector<KvCache> self, cross;
    if (o.useCache) {
      const size_t L = encDec ? m.dec.size() : m.enc.size();
      self = m.makeCaches(L, cap);
      if (encDec) {
        cross = m.makeCaches(L, p);
        for (auto& kc : cross) kc.len = 0;
      }
      kvBytes = L * 2 * MemoryPool::sizeClass(static_cast<size_t>(m.G * cap * m.D) * 4);
      if (encDec) kvBytes += L * 2 * MemoryPool::sizeClass(static_cast<size_t>(m.G * p * m.D) * 4);
    }
    PoolBuffer<float> encOut;
    PoolBuffer<float> logits(m.pool, m.V), xn(m.pool, E);
    Workspace ws;
    // Decode steps attend through attendRows; a prefill of more than one row does not, so its
    // scratch is taken here rather than by the first decode step.
    if (o.useCache) m.ensureAttendScratch(r, ws);
    double t0 = nowNs();
    if (encDec) {
      PoolBuffer<float> x(m.pool, p * E);
      encOut = PoolBuffer<float>(m.pool, p * E);
      m.embed(prompt.data(), p, 0, x.data());
      m.runStack(r, ws, m.enc, x.data(), p, 0, false, nullptr, nullptr, nullptr, 0);
      m.norm(m.lnf, x.data(), encOut.data(), p);
    }
    std::vector<Layer>& stack = encDec ? m.dec : m.enc;
    NormW& fin = encDec ? m.decLnf : m.lnf;
    auto runStep = [&](int64_t step) {
      throwIfCancelled(cancel);
      const uint64_t allocsBefore = m.pool.stats().allocations;
      const int64_t len = static_cast<int64_t>(seq.size());
      // KV-cache: after the prefill only the newest row; without a cache every row each step.
      const int64_t pos0 = o.useCache && step > 0 ? len - 1 : 0;
      const int64_t n = len - pos0;
      grow(m.pool, ws.x, n * E);
      float* x = ws.x.data();
      m.embed(seq.data() + pos0, n, pos0, x);
      m.runStack(r, ws, stack, x, n, pos0, true, o.useCache ? &self : nullptr,
                 o.useCache && encDec ? &cross : nullptr, encOut.data(), p);
      m.norm(fin, x + (n - 1) * E, xn.data(), 1);
      m.lmLogits(r, xn.data(), 1, logits.data());
      const int32_t tok = Impl::argmax(logits.data(), m.V);
      g.tokens.push_back(tok);
      seq.push_back(tok);
      const double t1 = nowNs();
      if (step == 0) {
        g.prefillNs = t1 - t0;
      } else {
        g.stepNs.push_back(t1 - t0);
        g.stepPoolAllocations.push_back(static_cast<double>(m.pool.stats().allocations - allocsBefore));
      }
      t0 = t1;
    };
    runStep(0);
    // A threaded KV-cache decode step (one row, attention through attendRows) runs as one
    // StepTeam: one ThreadPool job per token instead of one per GEMV (49 for gpt2). Per step
    // rather than per run, so other users of the pool still get it between tokens (measured
    // equal, NOTES.md). The prefill stays outside: its attention is a registry kernel with its
    // own ThreadPool jobs.
    const bool team = o.useCache && r.threads > 1;
    for (int64_t step = 1; step < newTokens; ++step) {
      if (!team) {
        runStep(step);
        continue;
      }
      auto driver = [&](StepTeam& t) {
        r.team = &t;
        runStep(step);
      };
      StepTeam::run(r.threads, driver);
      r.team = nullptr;
    }
  }
  const PoolStats st = m.pool.stats();
  g.memory.weightsBytes = weightsInUse;
  g.memory.kvCacheBytes = kvBytes;
  g.memory.peakBytes = st.peakBytesInUse;
  const uint64_t fixed = weightsInUse + kvBytes;
  g.memory.workspaceBytes = st.peakBytesInUse > fixed ? st.peakBytesInUse - fixed : 0;
  return g;
}

}  // namespace model
}  // namespace dilbench
