// "ring": dense attention computed as P simulated ranks would (attention-definitions.md, "ring").
// Rank p keeps its query rows (contiguous chunk p; causal: zigzag chunks p and 2P-1-p of 2P);
// key/value chunks travel around the ring for P steps: at step t rank p holds the key/value
// chunk(s) of rank (p - t) mod P, attends its queries to them (tiles the causal mask removes
// entirely are skipped) and merges the block (o_b, lse_b) into its running (o, lse) with
// lse' = logaddexp(lse, lse_b). The ranks run one after another, each on all the run's threads;
// every (step, rank) is timed with steady_clock and the bytes it forwards are recorded
// (KernelTelemetry). Key/value chunks are read in place (no copy), as the bytes a real ring
// would send are accounted, not simulated with memcpy.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <numeric>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "family.h"

namespace dilbench {
namespace {

constexpr int64_t kRowsPerTask = 512;

struct QPiece {
  int64_t begin, end;
};

class RingCpu final : public Kernel, public TelemetrySource {
 public:
  std::string name() const override { return "ring"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Ring attention over P simulated ranks (zigzag chunks when causal), online-softmax "
           "merge of per-step blocks; per-step per-rank compute time and bytes sent recorded";
  }
  void validate(const AttentionProblem& p) const override { validateRingSize(p); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    return uint64_t(p.batch * p.heads * p.seqLen) * sizeof(float) + uint64_t(p.seqLen) * sizeof(int64_t) +
           uint64_t(std::max(1, threads)) * uint64_t(family::tileScratchFloats(p.headDim)) * sizeof(float);
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    KernelCounts c;
    c.flops = 4.0 * double(p.headDim) * double(p.batch * p.heads) * family::pairCount(p.seqLen, p.causal);
    c.bytesMoved = family::denseBytesMoved(p);
    return c;
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    validateRingSize(p);
    const int64_t B = p.batch, H = p.heads, L = p.seqLen, D = p.headDim, P = p.ringSize;
    const int64_t G = p.groupSize();
    const int workers = family::workerCount(ctx);
    const int64_t scratchFloats = family::tileScratchFloats(D);
    PoolBuffer<float> lseBuf(*ctx.pool, size_t(B * H * L));
    PoolBuffer<int64_t> iotaBuf(*ctx.pool, size_t(L));
    PoolBuffer<float> scratch(*ctx.pool, size_t(workers) * size_t(scratchFloats));
    std::iota(iotaBuf.data(), iotaBuf.data() + L, int64_t(0));
    std::fill(lseBuf.data(), lseBuf.data() + B * H * L, -std::numeric_limits<float>::infinity());
    const float* q = static_cast<const float*>(t.q);
    const float* k = static_cast<const float*>(t.k);
    const float* v = static_cast<const float*>(t.v);
    float* o = static_cast<float*>(t.o);
    std::memset(o, 0, sizeof(float) * size_t(B * H * L * D));
    const float scale = float(p.resolvedScale());
    const int64_t* iota = iotaBuf.data();

    std::vector<std::vector<RowRange>> chunks(P);
    for (int64_t r = 0; r < P; ++r) chunks[r] = ringRankChunks(L, P, p.causal, r);

    KernelTelemetry tel;
    tel.ringSize = P;
    tel.stepRankNs.assign(P, std::vector<double>(P, 0.0));
    tel.stepRankBytesSent.assign(P, std::vector<uint64_t>(P, 0));
    for (int64_t step = 0; step < P; ++step) {
      for (int64_t rank = 0; rank < P; ++rank) {
        family::throwIfCancelled(ctx);
        const int64_t src = ((rank - step) % P + P) % P;
        const auto& kvChunks = chunks[src];
        std::vector<QPiece> pieces;
        for (const auto& c : chunks[rank]) {
          for (int64_t b = c.begin; b < c.end; b += kRowsPerTask) {
            pieces.push_back({b, std::min(c.end, b + kRowsPerTask)});
          }
        }
        const int64_t nPieces = static_cast<int64_t>(pieces.size());
        const auto t0 = std::chrono::steady_clock::now();
        family::parallelFor(ctx, B * H * nPieces, [&](int64_t task, int worker) {
          const int64_t bh = task / nPieces;
          const QPiece& pc = pieces[task % nPieces];
          const int64_t b = bh / H, h = bh % H;
          const int64_t kvh = b * p.kvHeads + h / G;
          const family::TileScratch s =
              family::carveTileScratch(scratch.data() + int64_t(worker) * scratchFloats, D);
          const float* qHead = q + bh * L * D;
          for (const auto& kc : kvChunks) {
            if (kc.size() <= 0) continue;
            family::attendRowsMerge(qHead, iota + pc.begin, pc.end - pc.begin, k + (kvh * L + kc.begin) * D,
                                    v + (kvh * L + kc.begin) * D, D, iota + kc.begin, kc.size(), D, scale,
                                    p.causal, o + bh * L * D, lseBuf.data() + bh * L, s, ctx.cancel);
          }
        });
        const auto t1 = std::chrono::steady_clock::now();
        tel.stepRankNs[step][rank] = std::chrono::duration<double, std::nano>(t1 - t0).count();
        if (step + 1 < P) {
          int64_t rows = 0;
          for (const auto& c : kvChunks) rows += c.size();
          tel.stepRankBytesSent[step][rank] = 2ull * uint64_t(B * p.kvHeads * rows * D) * sizeof(float);
        }
      }
    }
    tel.valid = true;
    tel_ = std::move(tel);
  }
  KernelTelemetry telemetry() const override { return tel_; }

 private:
  KernelTelemetry tel_;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(RingCpu, "ring", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION({"ring",
                                  "dense",
                                  ExactDense::Always,
                                  "flash",
                                  {"ringSize"},
                                  {"ringSize", "stepRankNs", "stepRankBytesSent"}})
}  // namespace dilbench
