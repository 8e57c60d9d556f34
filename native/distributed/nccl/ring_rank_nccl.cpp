// dilbench-ring-rank-nccl: one rank of a real ring on GPUs (issue 19), NCCL send/recv on a
// communication stream, bootstrapped through MPI (rank 0's ncclUniqueId is broadcast). One GPU
// per rank (local rank modulo the devices). Same flags and rank-0 JSON as dilbench-ring-rank
// (ring_common.h; transport "nccl"), fp32.
//
// The fallback, --gpu-transport cuda-aware-mpi (transport "cuda-aware-mpi"): MPI_Isend/Irecv on
// the device buffers, for machines whose MPI is CUDA-aware but that have no NCCL. The same source
// built without NCCL (DILBENCH_HAVE_NCCL 0) is dilbench-ring-rank-cuda-mpi, which has only this
// transport. The rank refuses it when Open MPI says it is not CUDA-aware (MPIX_Query_cuda_support);
// another MPI cannot be asked, and a non-CUDA-aware one then fails on the first transfer.
//
// NOT VERIFIED: built only where nvcc (and, for the NCCL transport, NCCL's headers) are found
// (DILBENCH_NCCL); the machines this was written on had neither NCCL nor two GPUs nor a
// CUDA-aware MPI, so neither transport has been compiled by nvcc's build nor run (the source is
// syntax-checked with g++ against the CUDA and MPI headers). scripts/gpu-verify.sh runs the NCCL
// one where a machine has two or more GPUs.
//
// Each rank keeps the full-size device tensors of the CUDA ring kernel (the launches of
// cuda::planRing address rows by their sequence position) but holds valid key/value rows only
// for the chunk it currently has: at step t it packs that chunk into a send buffer, and on the
// communication stream sends it to rank+1 and receives the next chunk from rank-1 into the rows
// of its source (ncclGroupStart/End), while the compute stream runs the planned launch (t, rank)
// of the CUDA family kernel, which merges into the running (acc, lse2). The compute stream waits
// for the communication before step t+1. Timings: compute from events on the compute stream;
// wait = host time blocked on the communication after the compute finished.
#include <cuda_runtime.h>
#include <mpi.h>
#ifndef DILBENCH_HAVE_NCCL
#define DILBENCH_HAVE_NCCL 1
#endif
#if DILBENCH_HAVE_NCCL
#include <nccl.h>
#endif
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // Open MPI: MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/random.h"
#include "cuda/attention_cuda.h"
#include "cuda/family_cuda_plan.h"
#include "distributed/ring_common.h"

using namespace dilbench;
using namespace dilbench::distributed;

namespace {

void cudaCheck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(ErrorCode::Internal, std::string(what) + ": " + cudaGetErrorString(e));
}
#if DILBENCH_HAVE_NCCL
void ncclCheck(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(ErrorCode::Internal, std::string(what) + ": " + ncclGetErrorString(r));
}
#endif

enum class GpuTransport { Nccl, CudaAwareMpi };
constexpr int kTagKv = 19, kTagPing = 20;

// Whether the MPI library takes device pointers: "yes", "no", or "unknown" (not Open MPI).
const char* cudaAwareMpi() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1 ? "yes" : "no";  // built with CUDA: asked at run time
#elif defined(MPIX_CUDA_AWARE_SUPPORT)
  return "no";  // Open MPI built without CUDA support
#else
  return "unknown";
#endif
}

GpuTransport chooseTransport(const Args& a, int rank) {
  const std::string t =
      a.gpuTransport.empty() ? (DILBENCH_HAVE_NCCL ? "nccl" : "cuda-aware-mpi") : a.gpuTransport;
  if (t == "nccl") {
    if (!DILBENCH_HAVE_NCCL)
      usageError("--gpu-transport: nccl is not built in (no NCCL at build time); cuda-aware-mpi only");
    return GpuTransport::Nccl;
  }
  const std::string aware = cudaAwareMpi();
  if (aware == "no") {
    throw Error(
        ErrorCode::Unsupported,
        "--gpu-transport cuda-aware-mpi: this MPI is not CUDA-aware (Open MPI's MPIX_Query_cuda_support)");
  }
  if (aware == "unknown" && rank == 0) {
    std::fprintf(
        stderr,
        "dilbench-ring-rank: cannot ask this MPI whether it is CUDA-aware; a non-CUDA-aware MPI fails on the first transfer\n");
  }
  return GpuTransport::CudaAwareMpi;
}
void raiseIf(const char* msg, const char* what) {
  if (msg) throw Error(ErrorCode::Internal, std::string(what) + ": " + msg);
}

template <typename T>
struct DeviceBuffer {
  T* p = nullptr;
  explicit DeviceBuffer(size_t n) {
    cudaCheck(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)), "cudaMalloc");
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Copies the rows of `chunks` of every (batch, kv head) between the full tensor ([BKV, L, D]) and a
// packed message ([BKV, rows, D]); toPacked chooses the direction. K and V alike.
void copyChunks(float* k, float* v, float* packed, const std::vector<RowRange>& chunks, int64_t BKV,
                int64_t L, int64_t D, bool toPacked, cudaStream_t s) {
  const int64_t rows = totalRows(chunks);
  int64_t r0 = 0;
  for (const auto& c : chunks) {
    if (c.size() > 0) {
      for (int part = 0; part < 2; ++part) {
        float* full = (part ? v : k) + c.begin * D;
        float* pk = packed + part * BKV * rows * D + r0 * D;
        const size_t width = size_t(c.size() * D) * sizeof(float);
        const size_t fullPitch = size_t(L * D) * sizeof(float), packPitch = size_t(rows * D) * sizeof(float);
        cudaCheck(toPacked ? cudaMemcpy2DAsync(pk, packPitch, full, fullPitch, width, size_t(BKV),
                                               cudaMemcpyDeviceToDevice, s)
                           : cudaMemcpy2DAsync(full, fullPitch, pk, packPitch, width, size_t(BKV),
                                               cudaMemcpyDeviceToDevice, s),
                  "cudaMemcpy2DAsync");
      }
    }
    r0 += c.size();
  }
}

int localRank() {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  int r = 0;
  MPI_Comm_rank(local, &r);
  MPI_Comm_free(&local);
  return r;
}

int runMain(int argc, char** argv) {
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  const Args a = parseArgs(argc, argv);
  if (a.implementation != "ring")
    usageError("--implementation: the GPU ring runs ring only (ring-dilated is on CPU ranks)");
  const Layout planned = a.causal ? Layout::Zigzag : Layout::Plain;  // what cuda::planRing runs
  for (Layout l : a.layouts) {
    if (l != planned)
      usageError("--layouts: the CUDA ring runs " + std::string(layoutName(planned)) + " only");
  }
  if (P > a.seqLen) usageError("ranks: more ranks than --seq-len");
  const GpuTransport transport = chooseTransport(a, rank);
  const bool viaNccl = transport == GpuTransport::Nccl;
  int devices = 0;
  cudaCheck(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  if (devices < 1) throw Error(ErrorCode::Unsupported, "no CUDA device");
  cudaCheck(cudaSetDevice(localRank() % devices), "cudaSetDevice");

#if DILBENCH_HAVE_NCCL
  ncclComm_t comm = nullptr;
  if (viaNccl) {
    ncclUniqueId id;
    if (rank == 0) ncclCheck(ncclGetUniqueId(&id), "ncclGetUniqueId");
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclCheck(ncclCommInitRank(&comm, P, id, rank), "ncclCommInitRank");
  }
#endif

  const int64_t B = a.batch, H = a.heads, KVH = a.kvHeads, L = a.seqLen, D = a.headDim;
  const int64_t qN = B * H * L * D, kvN = B * KVH * L * D;
  std::vector<float> q(static_cast<size_t>(qN)), k(static_cast<size_t>(kvN)), v(static_cast<size_t>(kvN));
  fillNormal(q.data(), q.size(), a.seed, 1, 1.0, 1);
  fillNormal(k.data(), k.size(), a.seed, 2, 1.0, 1);
  fillNormal(v.data(), v.size(), a.seed, 3, 1.0, 1);

  cuda::FamilyShape shape;
  shape.batch = B;
  shape.heads = H;
  shape.kvHeads = KVH;
  shape.seqLen = L;
  shape.headDim = D;
  shape.causal = a.causal;
  shape.scale = float(1.0 / std::sqrt(double(D)));
  const std::vector<cuda::FamilyLaunch> plan = cuda::planRing(shape, P);

  std::vector<std::vector<RowRange>> chunksOf(static_cast<size_t>(P));
  int64_t maxRows = 0;
  for (int r = 0; r < P; ++r) {
    chunksOf[size_t(r)] = rankChunks(L, P, planned, r);
    maxRows = std::max(maxRows, totalRows(chunksOf[size_t(r)]));
  }
  const int64_t msgMax = kvMessageFloats(B, KVH, maxRows, D);
  DeviceBuffer<float> dQ(static_cast<size_t>(qN)), dK(static_cast<size_t>(kvN)), dV(static_cast<size_t>(kvN)),
      dO(static_cast<size_t>(qN));
  DeviceBuffer<float> dLse(cuda::familyLseFloats(shape)), sendBuf(static_cast<size_t>(msgMax)),
      recvBuf(static_cast<size_t>(msgMax));
  cudaCheck(cudaMemcpy(dQ.p, q.data(), sizeof(float) * q.size(), cudaMemcpyHostToDevice), "copy q");
  cudaStream_t compute, commStream;
  cudaCheck(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking), "stream");
  cudaCheck(cudaStreamCreateWithFlags(&commStream, cudaStreamNonBlocking), "stream");
  cudaEvent_t c0, c1, commDone;
  cudaCheck(cudaEventCreate(&c0), "event");
  cudaCheck(cudaEventCreate(&c1), "event");
  cudaCheck(cudaEventCreateWithFlags(&commDone, cudaEventDisableTiming), "event");

  cuda::FamilyBuffers fb;
  fb.dtype = cuda::ElemType::F32;
  fb.q = dQ.p;
  fb.k = dK.p;
  fb.v = dV.p;
  fb.o = dO.p;
  fb.acc = dO.p;  // fp32: the output is the accumulator
  fb.lse = dLse.p;
  fb.stream = compute;

  // ping-pong between neighbours at the largest message, one pair at a time
  PingPong pp;
  pp.bytes = double(msgMax) * sizeof(float);
  if (P > 1) {
    const int pairs = P == 2 ? 1 : P;
    for (int p = 0; p < pairs; ++p) {
      const int x = p, y = (p + 1) % P;
      std::vector<double> times;
      MPI_Barrier(MPI_COMM_WORLD);
      for (int r = 0; r < a.pingpongReps + 1; ++r) {
        if (rank != x && rank != y) continue;
        const auto t0 = Clock::now();
        for (int dir = 0; dir < 2; ++dir) {
          const bool sends = (dir == 0) == (rank == x);
          const int peer = rank == x ? y : x;
#if DILBENCH_HAVE_NCCL
          if (viaNccl) {
            ncclCheck(sends ? ncclSend(sendBuf.p, size_t(msgMax), ncclFloat, peer, comm, commStream)
                            : ncclRecv(recvBuf.p, size_t(msgMax), ncclFloat, peer, comm, commStream),
                      "ping-pong");
            cudaCheck(cudaStreamSynchronize(commStream), "ping-pong sync");
            continue;
          }
#endif
          // CUDA-aware MPI reads and writes the device buffers directly
          if (sends) MPI_Send(sendBuf.p, int(msgMax), MPI_FLOAT, peer, kTagPing, MPI_COMM_WORLD);
          else MPI_Recv(recvBuf.p, int(msgMax), MPI_FLOAT, peer, kTagPing, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        if (rank == x && r > 0) times.push_back(nsSince(t0) / 2);
      }
      double med = 0;
      if (rank == x) {
        std::sort(times.begin(), times.end());
        med = times[times.size() / 2];
      }
      if (x == 0) {
        if (rank == 0) pp.oneWayNs.push_back(med);
      } else if (rank == x) {
        MPI_Send(&med, 1, MPI_DOUBLE, 0, kTagPing, MPI_COMM_WORLD);
      } else if (rank == 0) {
        MPI_Recv(&med, 1, MPI_DOUBLE, x, kTagPing, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pp.oneWayNs.push_back(med);
      }
    }
  }

  const int next = (rank + 1) % P, prev = (rank + P - 1) % P;
  std::vector<StepRecord> recs;
  for (int it = 0; it < a.warmup + a.iterations; ++it) {
    // the rank starts holding its own key/value chunk, nothing else
    cudaCheck(cudaMemsetAsync(dK.p, 0, sizeof(float) * size_t(kvN), compute), "memset");
    cudaCheck(cudaMemsetAsync(dV.p, 0, sizeof(float) * size_t(kvN), compute), "memset");
    for (const auto& c : chunksOf[size_t(rank)]) {
      for (int64_t bkv = 0; bkv < B * KVH; ++bkv) {
        const size_t off = size_t((bkv * L + c.begin) * D), n = size_t(c.size() * D) * sizeof(float);
        cudaCheck(cudaMemcpyAsync(dK.p + off, k.data() + off, n, cudaMemcpyHostToDevice, compute), "copy k");
        cudaCheck(cudaMemcpyAsync(dV.p + off, v.data() + off, n, cudaMemcpyHostToDevice, compute), "copy v");
      }
    }
    raiseIf(cuda::familyBegin(fb, size_t(qN), cuda::familyLseFloats(shape)), "familyBegin");
    cudaCheck(cudaStreamSynchronize(compute), "sync");
    StepRecord rec;
    rec.computeNs.assign(size_t(P), 0);
    rec.waitNs.assign(size_t(P), 0);
    rec.pollNs.assign(size_t(P), 0);
    rec.bytesSent.assign(size_t(P), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    const auto wall0 = Clock::now();
    for (int64_t step = 0; step < P; ++step) {
      if (it == a.warmup) maybeFault(a, rank, int(step));
      const int64_t held = ((rank - step) % P + P) % P, incoming = ((rank - step - 1) % P + P) % P;
      const bool sends = step + 1 < P;
      const int64_t outN = kvMessageFloats(B, KVH, totalRows(chunksOf[size_t(held)]), D);
      const int64_t inN = kvMessageFloats(B, KVH, totalRows(chunksOf[size_t(incoming)]), D);
      MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
      if (sends && viaNccl) {
#if DILBENCH_HAVE_NCCL
        copyChunks(dK.p, dV.p, sendBuf.p, chunksOf[size_t(held)], B * KVH, L, D, true, commStream);
        ncclCheck(ncclGroupStart(), "ncclGroupStart");
        ncclCheck(ncclSend(sendBuf.p, size_t(outN), ncclFloat, next, comm, commStream), "ncclSend");
        ncclCheck(ncclRecv(recvBuf.p, size_t(inN), ncclFloat, prev, comm, commStream), "ncclRecv");
        ncclCheck(ncclGroupEnd(), "ncclGroupEnd");
        copyChunks(dK.p, dV.p, recvBuf.p, chunksOf[size_t(incoming)], B * KVH, L, D, false, commStream);
        cudaCheck(cudaEventRecord(commDone, commStream), "event");
#endif
      }
      if (sends) rec.bytesSent[size_t(step)] = double(outN) * sizeof(float);
      cudaCheck(cudaEventRecord(c0, compute), "event");
      for (const auto& l : plan) {
        if (l.step == step && l.rank == rank) raiseIf(cuda::launchFamily(l, fb), "launchFamily");
      }
      cudaCheck(cudaEventRecord(c1, compute), "event");
      double pollNs = 0;
      if (sends && !viaNccl) {
        // MPI orders nothing with CUDA streams: the packed chunk must be in the buffer before
        // the send is posted (the compute launched above reads the held rows too; both only read)
        copyChunks(dK.p, dV.p, sendBuf.p, chunksOf[size_t(held)], B * KVH, L, D, true, commStream);
        cudaCheck(cudaStreamSynchronize(commStream), "sync pack");
        MPI_Irecv(recvBuf.p, int(inN), MPI_FLOAT, prev, kTagKv, MPI_COMM_WORLD, &req[0]);
        MPI_Isend(sendBuf.p, int(outN), MPI_FLOAT, next, kTagKv, MPI_COMM_WORLD, &req[1]);
        // a single-threaded MPI moves data only inside its calls: poll while the GPU computes
        int done = 0;
        while (!done && cudaEventQuery(c1) == cudaErrorNotReady) {
          const auto p0 = Clock::now();
          MPI_Testall(2, req, &done, MPI_STATUSES_IGNORE);
          pollNs += nsSince(p0);
        }
      }
      cudaCheck(cudaEventSynchronize(c1), "sync compute");
      float ms = 0;
      cudaCheck(cudaEventElapsedTime(&ms, c0, c1), "elapsed");
      rec.computeNs[size_t(step)] = double(ms) * 1e6;
      rec.pollNs[size_t(step)] = pollNs;
      if (sends) {
        const auto w0 = Clock::now();
        if (!viaNccl) {
          MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
          copyChunks(dK.p, dV.p, recvBuf.p, chunksOf[size_t(incoming)], B * KVH, L, D, false, commStream);
          cudaCheck(cudaEventRecord(commDone, commStream), "event");
        }
        cudaCheck(cudaEventSynchronize(commDone), "sync comm");
        rec.waitNs[size_t(step)] = nsSince(w0);
        cudaCheck(cudaStreamWaitEvent(compute, commDone, 0), "wait event");
      }
    }
    rec.wallNs = nsSince(wall0);
    if (it >= a.warmup) recs.push_back(std::move(rec));
  }
  raiseIf(cuda::familyFinish(fb, size_t(qN)), "familyFinish");
  cudaCheck(cudaStreamSynchronize(compute), "sync");

  std::vector<double> mine;
  for (const auto& r : recs) appendRecord(r, mine);
  std::vector<double> all(rank == 0 ? mine.size() * size_t(P) : 0);
  MPI_Gather(mine.data(), int(mine.size()), MPI_DOUBLE, all.data(), int(mine.size()), MPI_DOUBLE, 0,
             MPI_COMM_WORLD);

  std::vector<float> oFull(static_cast<size_t>(qN));
  cudaCheck(cudaMemcpy(oFull.data(), dO.p, sizeof(float) * oFull.size(), cudaMemcpyDeviceToHost), "copy o");
  const int64_t myRows = totalRows(chunksOf[size_t(rank)]);
  std::vector<float> oLocal(size_t(B * H * myRows * D));
  gatherChunks(oFull.data(), B * H, L, D, chunksOf[size_t(rank)], oLocal.data());
  std::vector<int> counts(static_cast<size_t>(P)), displs(static_cast<size_t>(P));
  for (int r = 0; r < P; ++r) {
    counts[size_t(r)] = int(B * H * totalRows(chunksOf[size_t(r)]) * D);
    displs[size_t(r)] = r ? displs[size_t(r - 1)] + counts[size_t(r - 1)] : 0;
  }
  std::vector<float> flat(rank == 0 ? size_t(qN) : 0);
  MPI_Gatherv(oLocal.data(), int(oLocal.size()), MPI_FLOAT, flat.data(), counts.data(), displs.data(),
              MPI_FLOAT, 0, MPI_COMM_WORLD);
#if DILBENCH_HAVE_NCCL
  if (comm) ncclCommDestroy(comm);
#endif
  if (rank == 0) {
    const std::vector<float> full = placeGathered(flat.data(), displs, B * H, L, D, chunksOf);
    const Check chk = checkOutput(a, full, q, k, v);
    if (!a.dumpOutput.empty()) {
      std::ofstream f(a.dumpOutput, std::ios::binary);
      f.write(reinterpret_cast<const char*>(full.data()), std::streamsize(full.size() * sizeof(float)));
    }
    const std::string layouts =
        "[" + layoutJson(planned, chunksOf, pp, all, mine.size(), int(recs.size()), P, chk) + "]";
    writeRunJson(a, P, viaNccl ? "nccl" : "cuda-aware-mpi", layouts);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return rankMain(argc, argv, runMain); }
