// Sessions: validation, planning, seeded inputs, timed sampling and one-shot computation.
// Seeded inputs: N(0, 1) per native/core/random.h, streams q = 1, k = 2, v = 3.
#include "session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../cpu/family.h"
#include "backend.h"
#include "errors.h"
#include "pattern_cache.h"
#include "random.h"
#include "thread_pool.h"

namespace dilbench {

namespace {

void validateOptions(const SessionOptions& o) {
  const int hw = std::max(1, ThreadPool::global().hardwareThreads());
  if (o.threads < 1 || o.threads > hw) {
    throwInvalid("threads", "must be an integer in 1.." + std::to_string(hw) +
                                " (this machine's hardware threads), got " + std::to_string(o.threads));
  }
}

uint64_t addChecked(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    throwInvalid("seqLen", "too large: the planned memory overflows 64-bit arithmetic");
  }
  return r;
}

struct Prepared {
  AttentionProblem problem;  // with seqLen = effective seqLen
  std::unique_ptr<Kernel> kernel;
  Plan plan;
};

Prepared prepare(const AttentionProblem& p, const SessionOptions& o) {
  validateOptions(o);
  p.validateCommon();
  Prepared r;
  r.kernel = KernelRegistry::instance().create(p.implementation, p.device);
  const auto dts = r.kernel->dtypes();
  if (std::find(dts.begin(), dts.end(), p.dtype) == dts.end()) {
    std::string allowed;
    for (auto d : dts) allowed += (allowed.empty() ? "" : ", ") + std::string(dtypeName(d));
    throw Error(ErrorCode::Unsupported,
                std::string("dtype: '") + dtypeName(p.dtype) + "' is not supported by '" + p.implementation +
                    "' on " + deviceName(p.device) + " (supported: " + allowed + ")",
                "dtype");
  }
  r.kernel->validate(p);
  r.problem = p;
  const int64_t eff = r.kernel->effectiveSeqLen(p);
  if (eff != p.seqLen) {
    r.problem.seqLen = eff;
    r.problem.validateCommon();
    r.kernel->validate(r.problem);
  }
  const AttentionProblem& e = r.problem;
  const uint64_t eb = dtypeBytes(e.dtype);
  const uint64_t qBytes = static_cast<uint64_t>(e.qElements()) * eb;    // overflow-checked by
  const uint64_t kvBytes = static_cast<uint64_t>(e.kvElements()) * eb;  // validateCommon
  Plan& plan = r.plan;
  plan.effectiveSeqLen = eff;
  plan.inputBytes = addChecked(qBytes, addChecked(kvBytes, kvBytes));
  plan.outputBytes = qBytes;
  plan.workspaceBytes = r.kernel->workspaceBytes(e, o.threads);
  const uint64_t qc = MemoryPool::sizeClass(static_cast<size_t>(qBytes));
  const uint64_t kvc = MemoryPool::sizeClass(static_cast<size_t>(kvBytes));
  plan.totalBytes = addChecked(addChecked(qc, qc), addChecked(addChecked(kvc, kvc), plan.workspaceBytes));
  plan.counts = r.kernel->counts(e);
  return r;
}

std::string mib(uint64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  return std::to_string(b) + " bytes (" + buf + ")";
}

void checkBudget(const Plan& plan, const SessionOptions& o, Backend& backend) {
  if (o.memoryLimitBytes != 0 && plan.totalBytes > o.memoryLimitBytes) {
    throw Error(ErrorCode::OutOfMemory,
                "memoryLimitBytes: the run needs " + mib(plan.totalBytes) + " but the limit is " +
                    mib(o.memoryLimitBytes),
                "memoryLimitBytes");
  }
  const uint64_t avail = backend.availableMemoryBytes();
  if (avail != 0 && plan.totalBytes > avail) {
    throw Error(ErrorCode::OutOfMemory,
                std::string("the run needs ") + mib(plan.totalBytes) + " but only " + mib(avail) + " of " +
                    deviceName(backend.device()) + " memory is available",
                "seqLen");
  }
}

void throwCancelled() { throw Error(ErrorCode::Cancelled, "cancelled"); }

}  // namespace

Plan planSession(const AttentionProblem& p, const SessionOptions& o) { return prepare(p, o).plan; }

namespace detail {
struct SessionCore {
  AttentionProblem problem;
  SessionOptions options;
  Backend& backend;
  std::unique_ptr<Kernel> kernel;
  MemoryPool pool;
  std::unique_ptr<Timer> timer;
  // Dilated index patterns, kept for the session's lifetime when usePatternCache is on; off,
  // every request rebuilds them (the baseline of the optimization-impact suite).
  std::unique_ptr<PatternCache> patterns;
  void* q = nullptr;
  void* k = nullptr;
  void* v = nullptr;
  void* o = nullptr;
  bool haveOutput = false;
  std::vector<double> lastClocksMHz;  // of the last completed sample() (see Session)

  SessionCore(const AttentionProblem& p, const SessionOptions& opts, Backend& b, std::unique_ptr<Kernel> kern)
      : problem(p),
        options(opts),
        backend(b),
        kernel(std::move(kern)),
        pool(b.allocator(), opts.useMemoryPool),
        timer(b.makeTimer()),
        patterns(opts.usePatternCache ? std::make_unique<PatternCache>() : nullptr) {
    pool.setLimit(opts.memoryLimitBytes);
    // Test hook (test/reliability): DILBENCH_POOL_FAIL_AFTER=n makes the n-th allocation of every
    // new session's pool fail with OutOfMemory (1 = the first input buffer). Unset: no effect.
    if (const char* fa = std::getenv("DILBENCH_POOL_FAIL_AFTER")) {
      char* end = nullptr;
      const long long n = std::strtoll(fa, &end, 10);
      if (end != fa && n >= 1) pool.setFailAfter(n);
    }
    const size_t eb = dtypeBytes(p.dtype);
    const size_t qBytes = static_cast<size_t>(p.qElements()) * eb;
    const size_t kvBytes = static_cast<size_t>(p.kvElements()) * eb;
    q = pool.allocate(qBytes);
    k = pool.allocate(kvBytes);
    v = pool.allocate(kvBytes);
    o = pool.allocate(qBytes);
  }
  ~SessionCore() {
    for (void* ptr : {q, k, v, o}) pool.deallocate(ptr);
  }

  Tensors tensors() const { return Tensors{q, k, v, o}; }

  ExecContext context(const CancelToken* cancel) {
    ExecContext ctx;
    ctx.pool = &pool;
    ctx.threadPool = &ThreadPool::global();
    ctx.threads = options.threads;
    ctx.cancel = cancel;
    ctx.patterns = patterns.get();
    ctx.stream = backend.stream();
    return ctx;
  }

  void upload(void* dst, const float* src, size_t count) { backend.upload(dst, src, count, problem.dtype); }

  void fillInputs() {
    const size_t qn = static_cast<size_t>(problem.qElements());
    const size_t kvn = static_cast<size_t>(problem.kvElements());
    const bool direct = backend.device() == Device::CPU && problem.dtype == DType::F32;
    std::vector<float> host;
    auto fill = [&](void* dst, size_t n, uint64_t t) {
      if (direct) {
        fillNormal(static_cast<float*>(dst), n, problem.seed, t, 1.0, options.threads);
      } else {
        host.resize(n);
        fillNormal(host.data(), n, problem.seed, t, 1.0, options.threads);
        upload(dst, host.data(), n);
      }
    };
    fill(q, qn, 1);
    fill(k, kvn, 2);
    fill(v, kvn, 3);
    backend.synchronize();
  }

  void runOnce(const CancelToken* cancel) {
    if (cancel && cancel->cancelled()) throwCancelled();
    haveOutput = false;
    ExecContext ctx = context(cancel);
    kernel->run(problem, tensors(), ctx);
    backend.synchronize();
    haveOutput = true;
  }

  std::vector<float> download(const void* src, size_t count) const {
    std::vector<float> out(count);
    backend.download(out.data(), src, count, problem.dtype);
    return out;
  }
};
}  // namespace detail

struct Session::Impl : detail::SessionCore {
  using detail::SessionCore::SessionCore;
};

Session::Session(const AttentionProblem& p, const SessionOptions& o) : options_(o) {
  Prepared prep = prepare(p, o);
  problem_ = prep.problem;
  plan_ = prep.plan;
  Backend& backend = backendFor(problem_.device);
  checkBudget(plan_, o, backend);
  impl_ = std::make_unique<Impl>(problem_, o, backend, std::move(prep.kernel));
  impl_->fillInputs();
}

Session::~Session() = default;

std::vector<double> Session::sample(int iterations, bool cold, const CancelToken* cancel) {
  if (iterations < 1)
    throwInvalid("iterations", "must be an integer >= 1, got " + std::to_string(iterations));
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(iterations));
  Impl& im = *impl_;
  im.lastClocksMHz.clear();  // a failed call leaves none
  // One clock read per iteration, after the timer has stopped (a read inside would delay the
  // stop event of a short kernel); only where the backend has a clock and it answers now.
  const bool clocked = im.backend.maxComputeClockMHz() > 0 && im.backend.computeClockMHz() > 0;
  std::vector<double> clocks;
  if (clocked) clocks.reserve(static_cast<size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    if (cancel && cancel->cancelled()) throwCancelled();
    if (cold) {
      im.backend.flushCache();
      im.backend.synchronize();
    }
    ExecContext ctx = im.context(cancel);
    im.haveOutput = false;
    im.timer->start();
    im.kernel->run(im.problem, im.tensors(), ctx);
    ns.push_back(im.timer->stopNs());
    if (clocked) clocks.push_back(im.backend.computeClockMHz());
    im.haveOutput = true;
  }
  im.lastClocksMHz = std::move(clocks);
  return ns;
}

const std::vector<double>& Session::lastSampleClocksMHz() const { return impl_->lastClocksMHz; }

double Session::maxClockMHz() const { return impl_->backend.maxComputeClockMHz(); }

std::vector<float> Session::output(const CancelToken* cancel) {
  Impl& im = *impl_;
  if (!im.haveOutput) im.runOnce(cancel);
  return im.download(im.o, static_cast<size_t>(problem_.qElements()));
}

std::vector<float> Session::input(char which) const {
  const Impl& im = *impl_;
  switch (which) {
    case 'q': return im.download(im.q, static_cast<size_t>(problem_.qElements()));
    case 'k': return im.download(im.k, static_cast<size_t>(problem_.kvElements()));
    case 'v': return im.download(im.v, static_cast<size_t>(problem_.kvElements()));
    default: throwInvalid("which", std::string("must be 'q', 'k' or 'v', got '") + which + "'");
  }
}

PoolStats Session::poolStats() const { return impl_->pool.stats(); }

bool Session::patternCacheStats(PatternCacheStats& out) const {
  if (!impl_->patterns) return false;
  out = impl_->patterns->stats();
  return true;
}

bool Session::telemetry(KernelTelemetry& out) const {
  const auto* src = dynamic_cast<const TelemetrySource*>(impl_->kernel.get());
  if (!src) return false;
  KernelTelemetry t = src->telemetry();
  if (!t.valid) return false;
  out = std::move(t);
  return true;
}

ComputeResources::ComputeResources(Device device)
    : device_(device), pool_(backendFor(device).allocator(), true), patterns_(kKeptBytes) {}

void ComputeResources::trim() {
  const PoolStats st = pool_.stats();
  if (st.bytesReserved - st.bytesInUse > kKeptBytes) pool_.releaseCached();
}

void computeAttentionInto(const AttentionProblem& p, const SessionOptions& o, const float* q, size_t qLen,
                          const float* k, size_t kLen, const float* v, size_t vLen, float* out, size_t outLen,
                          const CancelToken* cancel, std::unique_ptr<ComputeResources>& resources) {
  Prepared prep = prepare(p, o);
  if (prep.problem.seqLen != p.seqLen) {
    throwInvalid("seqLen", "implementation '" + p.implementation + "' runs at seqLen " +
                               std::to_string(prep.problem.seqLen) + ", not " + std::to_string(p.seqLen) +
                               "; pass buffers for that length");
  }
  const size_t qn = static_cast<size_t>(p.qElements());
  const size_t kvn = static_cast<size_t>(p.kvElements());
  auto checkLen = [](const char* field, size_t got, size_t want, const char* shape) {
    if (got != want) {
      throwInvalid(field, "has " + std::to_string(got) + " elements but the problem needs " +
                              std::to_string(want) + " (" + shape + ")");
    }
  };
  checkLen("q", qLen, qn, "batch*heads*seqLen*headDim");
  checkLen("k", kLen, kvn, "batch*kvHeads*seqLen*headDim");
  checkLen("v", vLen, kvn, "batch*kvHeads*seqLen*headDim");
  checkLen("out", outLen, qn, "batch*heads*seqLen*headDim");
  if ((qn && (!q || !out)) || (kvn && (!k || !v)))
    throw Error(ErrorCode::Internal, "null input or output buffer");
  Backend& backend = backendFor(p.device);
  checkBudget(prep.plan, o, backend);

  if (!resources || resources->device() != p.device) resources = std::make_unique<ComputeResources>(p.device);
  ComputeResources* res = resources.get();
  MemoryPool uncached(backend.allocator(), false);
  MemoryPool& mem = o.useMemoryPool ? res->pool() : uncached;
  mem.setLimit(o.memoryLimitBytes);

  ExecContext ctx;
  ctx.pool = &mem;
  ctx.threadPool = &ThreadPool::global();
  ctx.threads = o.threads;
  ctx.cancel = cancel;
  ctx.patterns = o.usePatternCache ? &res->patterns() : nullptr;
  ctx.stream = backend.stream();
  if (cancel && cancel->cancelled()) throwCancelled();

  const AttentionProblem& e = prep.problem;
  if (backend.device() == Device::CPU && e.dtype == DType::F32) {
    prep.kernel->run(e, Tensors{q, k, v, out}, ctx);
  } else {
    const size_t eb = dtypeBytes(e.dtype);
    PoolBuffer<unsigned char> dq(mem, qn * eb), dk(mem, kvn * eb), dv(mem, kvn * eb), dout(mem, qn * eb);
    backend.upload(dq.data(), q, qn, e.dtype);
    backend.upload(dk.data(), k, kvn, e.dtype);
    backend.upload(dv.data(), v, kvn, e.dtype);
    prep.kernel->run(e, Tensors{dq.data(), dk.data(), dv.data(), dout.data()}, ctx);
    backend.synchronize();
    backend.download(out, dout.data(), qn, e.dtype);
  }
  backend.synchronize();
  res->trim();
}

std::vector<float> computeAttention(const AttentionProblem& p, const SessionOptions& o, const float* q,
                                    size_t qLen, const float* k, size_t kLen, const float* v, size_t vLen,
                                    const CancelToken* cancel) {
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(p.qElements(), 0)));
  std::unique_ptr<ComputeResources> resources;
  computeAttentionInto(p, o, q, qLen, k, kLen, v, vLen, out.data(), out.size(), cancel, resources);
  return out;
}

}  // namespace dilbench
