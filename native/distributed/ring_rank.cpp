// dilbench-ring-rank: one rank of a real ring-attention run over MPI (issue 19). Launched by an
// MPI launcher (dilbench ring --distributed does it on one machine; on several machines the user
// runs mpirun/srun on this executable directly). Node is never an MPI process.
//
// Each rank holds its query chunk(s) and key/value chunk(s) (plain, or zigzag when causal). At
// each of the P steps it posts the non-blocking send of the key/value chunk it holds to rank+1
// and the receive of the next one from rank-1 (double-buffered), computes its queries against
// the chunk it holds with the CPU flash tile code (family::attendRowsMerge, which merges blocks
// with the online-softmax rule lse' = logaddexp(lse, lse_b)), then waits for both transfers.
// While computing it calls MPI_Testall between row pieces so that a single-threaded MPI makes
// progress on the transfers (without it most MPIs move a large message only inside Wait).
//
// --implementation ring-dilated: the same ring over plain chunks, exchanging only the sparsified
// keys and values of the dilated segments that span ranks (ring_dilated_rank.h).
//
// Measured per iteration, rank and step: compute ns (without the polls), poll ns (in MPI_Testall
// during the compute), wait ns (in MPI_Waitall after the compute), bytes sent; per iteration and
// rank: ring wall ns (barrier to last wait). Before the ring: a ping-pong between each pair of
// neighbours at the step's message size. Rank 0 gathers everything, checks the gathered output
// against the float64 reference or flash, and writes one JSON file (--output); the flags, the
// check and the JSON live in ring_common. Errors go to stderr as "dilbench-ring-rank: error
// (rank r): ..." and exit 2 (bad arguments) or 1.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/random.h"
#include "cpu/family.h"
#include "ring_common.h"
#include "ring_dilated_rank.h"
#include "ring_layout.h"
#include "ring_mpi_step.h"

using namespace dilbench;
using namespace dilbench::distributed;

namespace {

constexpr int64_t kRowsPerPiece = 256;  // progress poll granularity (rows of one head)
constexpr int kTagKv = 19, kTagPing = 20;

struct RankState {
  int rank = 0, size = 1;
  Layout layout = Layout::Plain;
  std::vector<RowRange> myChunks;
  int64_t myRows = 0;
  std::vector<float> q;         // [B*H, myRows, D]
  std::vector<float> o;         // [B*H, myRows, D]
  std::vector<float> lse;       // [B*H, myRows]
  std::vector<float> kv[2];     // K then V, [B*KVH, rows, D] each, of the chunk held
  std::vector<int64_t> qIota;   // 0..maxRows
  std::vector<int64_t> kShift;  // key positions relative to a query chunk's start (masked blocks)
  std::vector<float> scratch;
};

// One ring pass: o, lse of this rank's queries against every key/value chunk.
StepRecord ringPass(const Args& a, RankState& st, const std::vector<std::vector<RowRange>>& chunksOf,
                    const std::vector<float>& kLocal, const std::vector<float>& vLocal, bool faultArmed) {
  const int64_t B = a.batch, H = a.heads, KVH = a.kvHeads, D = a.headDim, P = st.size;
  const int64_t G = H / KVH;
  const int next = int((st.rank + 1) % P), prev = int((st.rank + P - 1) % P);
  const float scale = float(1.0 / std::sqrt(double(D)));
  StepRecord rec;
  rec.computeNs.assign(size_t(P), 0);
  rec.waitNs.assign(size_t(P), 0);
  rec.pollNs.assign(size_t(P), 0);
  rec.bytesSent.assign(size_t(P), 0);
  // The rank starts holding its own key/value chunk (not timed: the input is already in place).
  const int64_t kvFloatsOwn = KVH * B * st.myRows * D;
  std::memcpy(st.kv[0].data(), kLocal.data(), sizeof(float) * size_t(kvFloatsOwn));
  std::memcpy(st.kv[0].data() + kvFloatsOwn, vLocal.data(), sizeof(float) * size_t(kvFloatsOwn));
  std::fill(st.o.begin(), st.o.end(), 0.0f);
  std::fill(st.lse.begin(), st.lse.end(), -std::numeric_limits<float>::infinity());
  const family::TileScratch ts = family::carveTileScratch(st.scratch.data(), D);

  MPI_Barrier(MPI_COMM_WORLD);
  const auto wall0 = Clock::now();
  int cur = 0;
  for (int64_t step = 0; step < P; ++step) {
    if (faultArmed) maybeFault(a, st.rank, int(step));
    const int64_t src = ((st.rank - step) % P + P) % P;  // whose chunk this rank holds now
    const auto& kvChunks = chunksOf[size_t(src)];
    const int64_t kvRows = distributed::totalRows(kvChunks);
    MpiStepExchange xfer(rec, step, step + 1 < P, a.poll);
    if (step + 1 < P) {
      const int64_t inSrc = ((st.rank - step - 1) % P + P) % P;
      const int64_t inFloats =
          distributed::kvMessageFloats(B, KVH, distributed::totalRows(chunksOf[size_t(inSrc)]), D);
      const int64_t outFloats = distributed::kvMessageFloats(B, KVH, kvRows, D);
      xfer.post(st.kv[1 - cur].data(), inFloats, prev, st.kv[cur].data(), outFloats, next, kTagKv);
    }
    xfer.startCompute();
    const float* kBuf = st.kv[cur].data();
    const float* vBuf = kBuf + KVH * B * kvRows * D;
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const int64_t kvh = b * KVH + h / G;
      int64_t qRow0 = 0;
      for (const auto& qc : st.myChunks) {
        int64_t kRow0 = 0;
        for (const auto& kc : kvChunks) {
          const BlockKind kind = distributed::blockKind(qc, kc, a.causal);
          if (kind != BlockKind::Skip) {
            const float* kRows = kBuf + (kvh * kvRows + kRow0) * D;
            const float* vRows = vBuf + (kvh * kvRows + kRow0) * D;
            const int64_t* kPos = st.qIota.data();
            if (kind == BlockKind::Masked) {
              // positions relative to the query chunk's start (may be negative): the mask only
              // compares them, attendRowsMerge indexes q, o and lse by the query positions
              for (int64_t j = 0; j < kc.size(); ++j) st.kShift[size_t(j)] = kc.begin - qc.begin + j;
              kPos = st.kShift.data();
            }
            for (int64_t r0 = 0; r0 < qc.size(); r0 += kRowsPerPiece) {
              const int64_t nr = std::min(kRowsPerPiece, qc.size() - r0);
              const int64_t base = (bh * st.myRows + qRow0) * D;
              family::attendRowsMerge(st.q.data() + base, st.qIota.data() + r0, nr, kRows, vRows, D, kPos,
                                      kc.size(), D, scale, kind == BlockKind::Masked, st.o.data() + base,
                                      st.lse.data() + bh * st.myRows + qRow0, ts);
              xfer.poll();
            }
          }
          kRow0 += kc.size();
        }
        qRow0 += qc.size();
      }
    }
    xfer.finish();
    cur = 1 - cur;
  }
  rec.wallNs = nsSince(wall0);
  return rec;
}

// Ping-pong of `bytes` between every rank p and p+1 (mod P), one pair at a time.
PingPong pingPong(int rank, int P, int64_t floats, int reps) {
  PingPong pp;
  pp.bytes = double(floats) * sizeof(float);
  std::vector<float> buf(size_t(std::max<int64_t>(floats, 1)), 1.0f);
  const int pairs = P == 2 ? 1 : P;
  for (int p = 0; p < pairs; ++p) {
    const int a = p, b = (p + 1) % P;
    std::vector<double> times;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int r = 0; r < reps + 1; ++r) {  // the first round trip warms the path up, not counted
      if (rank == a) {
        const auto t0 = Clock::now();
        MPI_Send(buf.data(), int(floats), MPI_FLOAT, b, kTagPing, MPI_COMM_WORLD);
        MPI_Recv(buf.data(), int(floats), MPI_FLOAT, b, kTagPing, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (r > 0) times.push_back(nsSince(t0) / 2);
      } else if (rank == b) {
        MPI_Recv(buf.data(), int(floats), MPI_FLOAT, a, kTagPing, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf.data(), int(floats), MPI_FLOAT, a, kTagPing, MPI_COMM_WORLD);
      }
    }
    double med = 0;
    if (rank == a) {
      std::sort(times.begin(), times.end());
      med = times[times.size() / 2];
    }
    // rank 0 collects the pair's figure from its first rank
    if (a == 0) {
      pp.oneWayNs.push_back(med);
    } else if (rank == a) {
      MPI_Send(&med, 1, MPI_DOUBLE, 0, kTagPing, MPI_COMM_WORLD);
    } else if (rank == 0) {
      MPI_Recv(&med, 1, MPI_DOUBLE, a, kTagPing, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      pp.oneWayNs.push_back(med);
    }
  }
  return pp;
}

// The dense ring of one layout: the timed passes into recs, the ping-pong into pp; returns this
// rank's output rows ([B*H, rows, D]).
std::vector<float> denseRing(const Args& a, int rank, int P, Layout layout,
                             const std::vector<std::vector<RowRange>>& chunksOf, int64_t maxRows,
                             const std::vector<float>& q, const std::vector<float>& k,
                             const std::vector<float>& v, bool faultLayout, std::vector<StepRecord>& recs,
                             PingPong& pp) {
  const int64_t B = a.batch, H = a.heads, KVH = a.kvHeads, L = a.seqLen, D = a.headDim;
  RankState st;
  st.rank = rank;
  st.size = P;
  st.layout = layout;
  st.myChunks = chunksOf[size_t(rank)];
  st.myRows = distributed::totalRows(st.myChunks);
  st.q.resize(size_t(B * H * st.myRows * D));
  st.o.resize(st.q.size());
  st.lse.resize(size_t(B * H * st.myRows));
  for (auto& buf : st.kv) buf.resize(size_t(distributed::kvMessageFloats(B, KVH, maxRows, D)));
  st.qIota.resize(size_t(maxRows + 1));
  std::iota(st.qIota.begin(), st.qIota.end(), int64_t(0));
  st.kShift.resize(size_t(maxRows + 1));
  st.scratch.resize(size_t(family::tileScratchFloats(D)));
  gatherChunks(q.data(), B * H, L, D, st.myChunks, st.q.data());
  std::vector<float> kLocal(size_t(B * KVH * st.myRows * D)), vLocal(kLocal.size());
  gatherChunks(k.data(), B * KVH, L, D, st.myChunks, kLocal.data());
  gatherChunks(v.data(), B * KVH, L, D, st.myChunks, vLocal.data());

  // the largest message of a step, for the ping-pong
  if (P > 1) pp = pingPong(rank, P, distributed::kvMessageFloats(B, KVH, maxRows, D), a.pingpongReps);

  for (int it = 0; it < a.warmup + a.iterations; ++it) {
    const bool timed = it >= a.warmup;
    StepRecord r = ringPass(a, st, chunksOf, kLocal, vLocal, timed && it == a.warmup && faultLayout);
    if (timed) recs.push_back(std::move(r));
  }
  return std::move(st.o);
}

// ring-dilated (plain chunks only): as denseRing, the sparsified keys and values travelling.
std::vector<float> dilatedRing(const Args& a, int rank, int P,
                               const std::vector<std::vector<RowRange>>& chunksOf,
                               const std::vector<float>& q, const std::vector<float>& k,
                               const std::vector<float>& v, bool faultLayout, std::vector<StepRecord>& recs,
                               PingPong& pp) {
  std::vector<RowRange> plain;
  for (const auto& c : chunksOf) plain.push_back(c.at(0));
  distributed::DilatedRingRank dr(a, rank, P, plain, q.data(), k.data(), v.data());
  // the largest message of a step (none travels when every segment lies inside one rank)
  if (P > 1 && dr.maxMessageFloats() > 0) pp = pingPong(rank, P, dr.maxMessageFloats(), a.pingpongReps);
  for (int it = 0; it < a.warmup + a.iterations; ++it) {
    const bool timed = it >= a.warmup;
    StepRecord r = dr.pass(timed && it == a.warmup && faultLayout);
    if (timed) recs.push_back(std::move(r));
  }
  return dr.output();
}

int runMain(int argc, char** argv) {
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  const Args a = parseArgs(argc, argv);
  if (!a.gpuTransport.empty())
    usageError("--gpu-transport: GPU ranks only (dilbench-ring-rank-nccl, dilbench-ring-rank-cuda-mpi)");
  if (P > a.seqLen)
    usageError("ranks: " + std::to_string(P) + " ranks is more than --seq-len " + std::to_string(a.seqLen));
  const int64_t B = a.batch, H = a.heads, KVH = a.kvHeads, L = a.seqLen, D = a.headDim;
  const int64_t qN = B * H * L * D, kvN = B * KVH * L * D;
  if (distributed::kvMessageFloats(B, KVH, (L + P - 1) / P + 1, D) > std::numeric_limits<int>::max()) {
    usageError("--seq-len: one key/value message would exceed 2^31 floats (MPI counts are int)");
  }

  // Every rank draws the same seeded inputs (the sessions' streams q = 1, k = 2, v = 3) and keeps
  // its chunks: the run needs no input distribution, and rank 0 can check the gathered output.
  std::vector<float> q(static_cast<size_t>(qN)), k(static_cast<size_t>(kvN)), v(static_cast<size_t>(kvN));
  fillNormal(q.data(), q.size(), a.seed, 1, 1.0, 1);
  fillNormal(k.data(), k.size(), a.seed, 2, 1.0, 1);
  fillNormal(v.data(), v.size(), a.seed, 3, 1.0, 1);

  std::ostringstream layoutsJson;
  layoutsJson << '[';
  std::vector<float> fullOut;
  for (size_t li = 0; li < a.layouts.size(); ++li) {
    const Layout layout = a.layouts[li];
    std::vector<std::vector<RowRange>> chunksOf(static_cast<size_t>(P));
    int64_t maxRows = 0;
    for (int r = 0; r < P; ++r) {
      chunksOf[size_t(r)] = distributed::rankChunks(L, P, layout, r);
      maxRows = std::max(maxRows, distributed::totalRows(chunksOf[size_t(r)]));
    }
    std::vector<StepRecord> recs;
    PingPong pp;
    const bool faultLayout = li == 0;
    const std::vector<float> myOut =
        a.implementation == "ring-dilated"
            ? dilatedRing(a, rank, P, chunksOf, q, k, v, faultLayout, recs, pp)
            : denseRing(a, rank, P, layout, chunksOf, maxRows, q, k, v, faultLayout, recs, pp);

    // gather every rank's records on rank 0
    std::vector<double> mine;
    for (const auto& r : recs) distributed::appendRecord(r, mine);
    std::vector<double> all(rank == 0 ? mine.size() * size_t(P) : 0);
    MPI_Gather(mine.data(), int(mine.size()), MPI_DOUBLE, all.data(), int(mine.size()), MPI_DOUBLE, 0,
               MPI_COMM_WORLD);

    // the output of the last pass, gathered into [B, H, L, D] on rank 0
    std::vector<int> counts(static_cast<size_t>(P)), displs(static_cast<size_t>(P));
    for (int r = 0; r < P; ++r) {
      counts[size_t(r)] = int(B * H * distributed::totalRows(chunksOf[size_t(r)]) * D);
      displs[size_t(r)] = r ? displs[size_t(r - 1)] + counts[size_t(r - 1)] : 0;
    }
    std::vector<float> flat(rank == 0 ? size_t(qN) : 0);
    MPI_Gatherv(myOut.data(), int(myOut.size()), MPI_FLOAT, flat.data(), counts.data(), displs.data(),
                MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (rank != 0) continue;
    std::vector<float> full = distributed::placeGathered(flat.data(), displs, B * H, L, D, chunksOf);
    const Check chk = checkOutput(a, full, q, k, v);
    if (!a.dumpOutput.empty() && li == 0) fullOut = full;
    layoutsJson << (li ? "," : "")
                << distributed::layoutJson(layout, chunksOf, pp, all, mine.size(), int(recs.size()), P, chk);
  }
  layoutsJson << ']';

  if (rank == 0) {
    if (!a.dumpOutput.empty()) {
      std::ofstream f(a.dumpOutput, std::ios::binary);
      f.write(reinterpret_cast<const char*>(fullOut.data()), std::streamsize(fullOut.size() * sizeof(float)));
      if (!f) throw Error(ErrorCode::Internal, "--dump-output: cannot write " + a.dumpOutput);
    }
    distributed::writeRunJson(a, P, "mpi", layoutsJson.str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return distributed::rankMain(argc, argv, runMain); }
