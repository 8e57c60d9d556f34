#include "ring_dilated_rank.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "ring_mpi_step.h"

namespace dilbench {
namespace distributed {

namespace {
constexpr int64_t kRowsPerPiece = 256;  // progress poll granularity (query rows of one head)
constexpr int kTagKv = 19;
}  // namespace

DilatedRingRank::DilatedRingRank(const Args& a, int rank, int ranks, const std::vector<RowRange>& chunks,
                                 const float* q, const float* k, const float* v)
    : a_(a), rank_(rank), P_(ranks), chunks_(chunks), pairs_(dilatedPairs(a)) {
  const int64_t B = a.batch, H = a.heads, KVH = a.kvHeads, L = a.seqLen, D = a.headDim;
  chunk_ = chunks_[size_t(rank)];
  rows_ = chunk_.size();
  int64_t maxFloats = 1, maxRows = 1;
  for (int r = 0; r < P_; ++r) {
    messages_.push_back(dilatedMessage(chunks_, r, pairs_, B, H, KVH, L));
    maxFloats = std::max(maxFloats, messages_.back().floats(D));
    maxRows = std::max(maxRows, chunks_[size_t(r)].size());
  }
  // rows selected by several pairs travel once per pair, so a message can outgrow the chunk
  if (maxFloats > std::numeric_limits<int>::max()) {
    usageError("--seq-len: one sparsified key/value message would exceed 2^31 floats (MPI counts are int)");
  }
  q_.resize(size_t(B * H * rows_ * D));
  k_.resize(size_t(B * KVH * rows_ * D));
  v_.resize(k_.size());
  gatherChunks(q, B * H, L, D, {chunk_}, q_.data());
  gatherChunks(k, B * KVH, L, D, {chunk_}, k_.data());
  gatherChunks(v, B * KVH, L, D, {chunk_}, v_.data());
  o_.resize(q_.size());
  lse_.resize(size_t(B * H * rows_));
  for (auto& b : buf_) b.resize(size_t(maxFloats));
  qPos_.resize(size_t(maxRows + 1));
  kPos_.resize(size_t(maxRows + 1));
  const int64_t gather = std::min(rows_, family::maxSegmentRows(pairs_)) + 1;
  kGather_.resize(size_t(gather * D));
  vGather_.resize(size_t(gather * D));
  scratch_.resize(size_t(family::tileScratchFloats(D)));

  // The message this rank forwards first: its selected rows of every spanning segment.
  const DilatedMessage& m = messages_[size_t(rank)];
  own_.resize(size_t(m.floats(D)));
  float* kOut = own_.data();
  float* vOut = kOut + m.rows * D;
  for (const DilatedPiece& pc : m.pieces) {
    for (int64_t t = 0; t < pc.sel.count; ++t) {
      const int64_t local = pc.sel.first - chunk_.begin + t * pairs_[size_t(pc.pair)].r;
      std::memcpy(kOut + (pc.msgRow + t) * D, k_.data() + (pc.kvHead * rows_ + local) * D,
                  sizeof(float) * size_t(D));
      std::memcpy(vOut + (pc.msgRow + t) * D, v_.data() + (pc.kvHead * rows_ + local) * D,
                  sizeof(float) * size_t(D));
    }
  }
}

int64_t DilatedRingRank::maxMessageFloats() const {
  int64_t n = 0;
  for (const auto& m : messages_) n = std::max(n, m.floats(a_.headDim));
  return n;
}

// Step 0: every segment part inside the chunk, keys and values from the rank's own rows.
template <class Poll>
void DilatedRingRank::attendOwn(const Poll& poll) {
  const int64_t B = a_.batch, H = a_.heads, KVH = a_.kvHeads, L = a_.seqLen, D = a_.headDim, G = H / KVH;
  const float scale = float(1.0 / std::sqrt(double(D)));
  const family::TileScratch ts = family::carveTileScratch(scratch_.data(), D);
  if (rows_ <= 0) return;
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H, kvHead = b * KVH + h / G;
    const float* kHead = k_.data() + kvHead * rows_ * D;
    const float* vHead = v_.data() + kvHead * rows_ * D;
    for (const DilatedPair& pr : pairs_) {
      const int64_t off = h % pr.r;
      for (int64_t s = chunk_.begin / pr.w; s <= (chunk_.end - 1) / pr.w; ++s) {
        const Selection sel = selectedIn(pr, off, s, L, chunk_.begin, chunk_.end);
        if (sel.count == 0) continue;
        // positions relative to the chunk start: rows of q_/k_/o_ and what the mask compares
        for (int64_t t = 0; t < sel.count; ++t) qPos_[size_t(t)] = sel.first - chunk_.begin + t * pr.r;
        const float* kk = family::gatherRows(kHead, qPos_.data(), sel.count, D, kGather_.data());
        const float* vv = family::gatherRows(vHead, qPos_.data(), sel.count, D, vGather_.data());
        for (int64_t r0 = 0; r0 < sel.count; r0 += kRowsPerPiece) {
          const int64_t nr = std::min(kRowsPerPiece, sel.count - r0);
          family::attendRowsMerge(q_.data() + bh * rows_ * D, qPos_.data() + r0, nr, kk, vv, D, qPos_.data(),
                                  sel.count, D, scale, a_.causal, o_.data() + bh * rows_ * D,
                                  lse_.data() + bh * rows_, ts);
          poll();
        }
      }
    }
  }
}

// Steps 1..P-1: the spanning segments' rows that rank `src` forwarded (msg: K part, V part).
template <class Poll>
void DilatedRingRank::attendVisiting(int64_t src, const float* msg, const Poll& poll) {
  const int64_t B = a_.batch, H = a_.heads, KVH = a_.kvHeads, L = a_.seqLen, D = a_.headDim, G = H / KVH;
  const float scale = float(1.0 / std::sqrt(double(D)));
  const family::TileScratch ts = family::carveTileScratch(scratch_.data(), D);
  const RowRange kc = chunks_[size_t(src)];
  const DilatedMessage& m = messages_[size_t(src)];
  if (rows_ <= 0 || m.rows == 0) return;
  if (a_.causal && kc.begin > chunk_.end - 1) return;  // every key after every query
  const float* kPart = msg;
  const float* vPart = msg + m.rows * D;
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H, kvHead = b * KVH + h / G;
    for (size_t i = 0; i < pairs_.size(); ++i) {
      const DilatedPair& pr = pairs_[i];
      const int64_t off = h % pr.r;
      // segments holding rows of both chunks
      const int64_t sFirst = std::max(chunk_.begin, kc.begin) / pr.w;
      const int64_t sLast = (std::min(chunk_.end, kc.end) - 1) / pr.w;
      for (int64_t s = sFirst; s <= sLast; ++s) {
        const DilatedPiece* pc = m.find(kvHead, int64_t(i), off, s);
        if (!pc) continue;
        const Selection sel = selectedIn(pr, off, s, L, chunk_.begin, chunk_.end);
        if (sel.count == 0) continue;
        for (int64_t t = 0; t < sel.count; ++t) qPos_[size_t(t)] = sel.first - chunk_.begin + t * pr.r;
        // may be negative (keys before the chunk): the mask only compares positions
        for (int64_t t = 0; t < pc->sel.count; ++t)
          kPos_[size_t(t)] = pc->sel.first - chunk_.begin + t * pr.r;
        const float* kk = kPart + pc->msgRow * D;
        const float* vv = vPart + pc->msgRow * D;
        for (int64_t r0 = 0; r0 < sel.count; r0 += kRowsPerPiece) {
          const int64_t nr = std::min(kRowsPerPiece, sel.count - r0);
          family::attendRowsMerge(q_.data() + bh * rows_ * D, qPos_.data() + r0, nr, kk, vv, D, kPos_.data(),
                                  pc->sel.count, D, scale, a_.causal, o_.data() + bh * rows_ * D,
                                  lse_.data() + bh * rows_, ts);
          poll();
        }
      }
    }
  }
}

StepRecord DilatedRingRank::pass(bool faultArmed) {
  const int64_t P = P_, D = a_.headDim;
  const int next = int((rank_ + 1) % P), prev = int((rank_ + P - 1) % P);
  StepRecord rec;
  rec.computeNs.assign(size_t(P), 0);
  rec.waitNs.assign(size_t(P), 0);
  rec.pollNs.assign(size_t(P), 0);
  rec.bytesSent.assign(size_t(P), 0);
  // the rank starts holding its own message (not timed: the input is already in place)
  std::copy(own_.begin(), own_.end(), buf_[0].begin());
  std::fill(o_.begin(), o_.end(), 0.0f);
  std::fill(lse_.begin(), lse_.end(), -std::numeric_limits<float>::infinity());

  MPI_Barrier(MPI_COMM_WORLD);
  const auto wall0 = Clock::now();
  int cur = 0;
  for (int64_t step = 0; step < P; ++step) {
    if (faultArmed) maybeFault(a_, rank_, int(step));
    const int64_t src = ((rank_ - step) % P + P) % P;
    MpiStepExchange xfer(rec, step, step + 1 < P, a_.poll);
    if (step + 1 < P) {
      const int64_t inSrc = ((rank_ - step - 1) % P + P) % P;
      xfer.post(buf_[1 - cur].data(), messages_[size_t(inSrc)].floats(D), prev, buf_[cur].data(),
                messages_[size_t(src)].floats(D), next, kTagKv);
    }
    auto poll = [&xfer]() { xfer.poll(); };
    xfer.startCompute();
    if (step == 0) attendOwn(poll);
    else attendVisiting(src, buf_[cur].data(), poll);
    xfer.finish();
    cur = 1 - cur;
  }
  rec.wallNs = nsSince(wall0);
  return rec;
}

}  // namespace distributed
}  // namespace dilbench
