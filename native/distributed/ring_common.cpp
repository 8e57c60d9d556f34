#include "ring_common.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/cpu_features.h"
#include "core/errors.h"
#include "core/kernel.h"
#include "core/memory_pool.h"
#include "core/thread_pool.h"
#include "reference/reference.h"

namespace dilbench {
namespace distributed {

[[noreturn]] void usageError(const std::string& msg) { throw Error(ErrorCode::InvalidConfig, msg); }

namespace {
int64_t parseInt(const std::string& flag, const std::string& v, int64_t lo) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || x < lo) {
    usageError(flag + ": '" + v + "' is not an integer >= " + std::to_string(lo));
  }
  return x;
}

std::vector<int64_t> parseIntList(const std::string& flag, const std::string& v, int64_t lo) {
  std::vector<int64_t> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parseInt(flag, item, lo));
  if (out.empty())
    usageError(flag + ": '" + v + "' is not a comma-separated list of integers >= " + std::to_string(lo));
  return out;
}

}  // namespace

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usageError(f + ": needs a value");
      return argv[++i];
    };
    if (f == "--implementation") {
      a.implementation = val();
      if (a.implementation != "ring" && a.implementation != "ring-dilated") {
        usageError("--implementation: '" + a.implementation + "' is not one of: ring, ring-dilated");
      }
    } else if (f == "--segment-lengths") a.segmentLengths = parseIntList(f, val(), 1);
    else if (f == "--dilation-rates") a.dilationRates = parseIntList(f, val(), 1);
    else if (f == "--batch") a.batch = parseInt(f, val(), 1);
    else if (f == "--heads") a.heads = parseInt(f, val(), 1);
    else if (f == "--kv-heads") a.kvHeads = parseInt(f, val(), 1);
    else if (f == "--seq-len") a.seqLen = parseInt(f, val(), 1);
    else if (f == "--head-dim") a.headDim = parseInt(f, val(), 1);
    else if (f == "--causal") a.causal = true;
    else if (f == "--layouts") {
      std::stringstream ss(val());
      std::string item;
      while (std::getline(ss, item, ',')) a.layouts.push_back(distributed::parseLayout(item));
    } else if (f == "--seed") a.seed = uint64_t(parseInt(f, val(), 0));
    else if (f == "--iterations") a.iterations = int(parseInt(f, val(), 1));
    else if (f == "--warmup") a.warmup = int(parseInt(f, val(), 0));
    else if (f == "--check") {
      a.check = val();
      if (a.check != "auto" && a.check != "reference" && a.check != "flash" && a.check != "dilated" &&
          a.check != "none") {
        usageError("--check: '" + a.check +
                   "' is not one of: auto, reference, flash (ring), dilated (ring-dilated), none");
      }
    } else if (f == "--reference-flops-limit") a.referenceFlopsLimit = double(parseInt(f, val(), 0));
    else if (f == "--pingpong-reps") a.pingpongReps = int(parseInt(f, val(), 1));
    else if (f == "--no-poll") a.poll = false;
    else if (f == "--output") a.output = val();
    else if (f == "--dump-output") a.dumpOutput = val();
    else if (f == "--fault-rank") a.faultRank = int(parseInt(f, val(), 0));
    else if (f == "--fault") {
      a.fault = val();
      if (a.fault != "die" && a.fault != "hang")
        usageError("--fault: '" + a.fault + "' is not one of: die, hang");
    } else if (f == "--fault-step") a.faultStep = int(parseInt(f, val(), 0));
    else if (f == "--run-id") a.runId = val();  // a marker in the command line (orphan checks)
    else if (f == "--gpu-transport") {
      a.gpuTransport = val();
      if (a.gpuTransport != "nccl" && a.gpuTransport != "cuda-aware-mpi") {
        usageError("--gpu-transport: '" + a.gpuTransport + "' is not one of: nccl, cuda-aware-mpi");
      }
    } else usageError("unknown flag '" + f + "'");
  }
  if (a.kvHeads == 0) a.kvHeads = a.heads;
  if (a.heads % a.kvHeads != 0) {
    usageError("--kv-heads: " + std::to_string(a.kvHeads) + " does not divide --heads " +
               std::to_string(a.heads));
  }
  const bool dilated = a.implementation == "ring-dilated";
  if (dilated) {
    if (a.check == "flash")
      usageError("--check: flash checks ring; ring-dilated is checked against dilated (or reference)");
    for (Layout l : a.layouts) {
      if (l != Layout::Plain)
        usageError(
            "--layouts: ring-dilated keeps contiguous chunks (plain): dilated segments are local structure");
    }
  } else {
    if (a.check == "dilated")
      usageError("--check: dilated checks ring-dilated; ring is checked against flash (or reference)");
    if (!a.segmentLengths.empty() || !a.dilationRates.empty()) {
      usageError("--segment-lengths / --dilation-rates: only with --implementation ring-dilated");
    }
  }
  if (a.layouts.empty()) a.layouts.push_back(a.causal && !dilated ? Layout::Zigzag : Layout::Plain);
  if (!a.causal) {
    for (Layout l : a.layouts) {
      if (l != Layout::Plain)
        usageError("--layouts: zigzag balances the causal mask; without --causal only plain is allowed");
    }
  }
  if (a.output.empty()) usageError("--output: required (rank 0 writes the result JSON there)");
  if (dilated) dilatedPairs(a);  // the pairs' errors before MPI does anything else
  return a;
}

AttentionProblem singleProcessProblem(const Args& a) {
  AttentionProblem p;
  p.implementation = a.implementation == "ring-dilated" ? "dilated" : "flash";
  p.batch = a.batch;
  p.heads = a.heads;
  p.kvHeads = a.kvHeads;
  p.seqLen = a.seqLen;
  p.headDim = a.headDim;
  p.causal = a.causal;
  p.seed = a.seed;
  p.segmentLengths = a.segmentLengths;
  p.dilationRates = a.dilationRates;
  return p;
}

std::vector<DilatedPair> dilatedPairs(const Args& a) {
  try {
    return resolveDilatedPairs(singleProcessProblem(a));
  } catch (const Error& e) {
    // the kernels name the field segmentLengths / dilationRates; here they are flags
    usageError(std::string("--segment-lengths / --dilation-rates: ") + e.what());
  }
}

double problemFlops(const Args& a) {
  if (a.implementation == "ring-dilated") {
    const AttentionProblem p = singleProcessProblem(a);
    return KernelRegistry::instance().create(p.implementation, Device::CPU)->counts(p).flops;
  }
  return 4.0 * double(a.headDim) * double(a.batch * a.heads) * family::pairCount(a.seqLen, a.causal);
}

double nsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

void maybeFault(const Args& a, int rank, int step) {
  if (a.faultRank != rank || step != a.faultStep || a.fault.empty()) return;
  if (a.fault == "die") {
    std::fprintf(stderr, "dilbench-ring-rank: rank %d exits at step %d (injected fault)\n", rank, step);
    std::_Exit(3);
  }
  std::fprintf(stderr, "dilbench-ring-rank: rank %d hangs at step %d (injected fault)\n", rank, step);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

void gatherChunks(const float* src, int64_t BH, int64_t L, int64_t D, const std::vector<RowRange>& chunks,
                  float* dst) {
  const int64_t rows = distributed::totalRows(chunks);
  for (int64_t bh = 0; bh < BH; ++bh) {
    int64_t r = 0;
    for (const auto& c : chunks) {
      std::memcpy(dst + (bh * rows + r) * D, src + (bh * L + c.begin) * D,
                  sizeof(float) * size_t(c.size() * D));
      r += c.size();
    }
  }
}

Check checkOutput(const Args& a, const std::vector<float>& full, const std::vector<float>& q,
                  const std::vector<float>& k, const std::vector<float>& v) {
  Check c;
  AttentionProblem p = singleProcessProblem(a);
  const double flops = problemFlops(a);
  std::string mode = a.check;
  if (mode == "auto") mode = flops <= a.referenceFlopsLimit ? "reference" : p.implementation;
  if (mode == "none") {
    c.reason = "--check none";
    return c;
  }
  std::vector<double> ref;
  if (mode == "reference") {
    ref = referenceAttention(p, q.data(), k.data(), v.data());
    c.against = "float64-reference";
  } else {
    auto kernel = KernelRegistry::instance().create(p.implementation, Device::CPU);
    p.validateCommon();
    kernel->validate(p);
    MemoryPool pool(hostAllocator(), true);
    ExecContext ctx;
    ctx.pool = &pool;
    ctx.threadPool = &ThreadPool::global();
    ctx.threads = ThreadPool::global().hardwareThreads();
    std::vector<float> o(size_t(p.qElements()));
    Tensors t{q.data(), k.data(), v.data(), o.data()};
    kernel->run(p, t, ctx);
    ref.assign(o.begin(), o.end());
    c.against = p.implementation;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    if (!std::isfinite(full[i])) c.finite = false;
    const double d = double(full[i]) - ref[i];
    c.maxAbs = std::max(c.maxAbs, std::fabs(d));
    num += d * d;
    den += ref[i] * ref[i];
  }
  c.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

std::string jsonArray(const std::vector<double>& xs) {
  std::ostringstream s;
  s.precision(17);
  s << '[';
  for (size_t i = 0; i < xs.size(); ++i) s << (i ? "," : "") << xs[i];
  s << ']';
  return s.str();
}

std::string jsonString(const std::string& x) {
  std::string out = "\"";
  for (char ch : x) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", ch);
      out += b;
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

void appendRecord(const StepRecord& r, std::vector<double>& out) {
  out.insert(out.end(), r.computeNs.begin(), r.computeNs.end());
  out.insert(out.end(), r.waitNs.begin(), r.waitNs.end());
  out.insert(out.end(), r.bytesSent.begin(), r.bytesSent.end());
  out.insert(out.end(), r.pollNs.begin(), r.pollNs.end());
  out.push_back(r.wallNs);
}

std::vector<float> placeGathered(const float* flat, const std::vector<int>& displs, int64_t BH, int64_t L,
                                 int64_t D, const std::vector<std::vector<RowRange>>& chunksOf) {
  std::vector<float> full(size_t(BH * L * D), 0.0f);
  for (size_t r = 0; r < chunksOf.size(); ++r) {
    const int64_t rows = totalRows(chunksOf[r]);
    const float* base = flat + displs[r];
    for (int64_t bh = 0; bh < BH; ++bh) {
      int64_t rr = 0;
      for (const auto& c : chunksOf[r]) {
        std::memcpy(full.data() + (bh * L + c.begin) * D, base + (bh * rows + rr) * D,
                    sizeof(float) * size_t(c.size() * D));
        rr += c.size();
      }
    }
  }
  return full;
}

std::string layoutJson(Layout layout, const std::vector<std::vector<RowRange>>& chunksOf, const PingPong& pp,
                       const std::vector<double>& all, size_t perRank, int iterations, int P,
                       const Check& chk) {
  const size_t per = size_t(recordDoubles(P));
  std::ostringstream js;
  js << "{\"layout\":" << jsonString(layoutName(layout)) << ",\"chunks\":[";
  for (int r = 0; r < P; ++r) {
    js << (r ? "," : "") << '[';
    for (size_t c = 0; c < chunksOf[size_t(r)].size(); ++c) {
      js << (c ? "," : "") << '[' << chunksOf[size_t(r)][c].begin << ',' << chunksOf[size_t(r)][c].end << ']';
    }
    js << ']';
  }
  js << "],\"pingPong\":{\"bytes\":" << pp.bytes << ",\"oneWayNs\":" << jsonArray(pp.oneWayNs) << "}";
  js << ",\"iterations\":[";
  for (int it = 0; it < iterations; ++it) {
    js << (it ? "," : "") << "{\"ranks\":[";
    for (int r = 0; r < P; ++r) {
      const double* x = all.data() + size_t(r) * perRank + size_t(it) * per;
      js << (r ? "," : "") << "{\"computeNs\":" << jsonArray({x, x + P})
         << ",\"waitNs\":" << jsonArray({x + P, x + 2 * P})
         << ",\"bytesSent\":" << jsonArray({x + 2 * P, x + 3 * P})
         << ",\"pollNs\":" << jsonArray({x + 3 * P, x + 4 * P}) << ",\"wallNs\":" << x[4 * P] << '}';
    }
    js << "]}";
  }
  js << "],\"check\":{\"against\":" << jsonString(chk.against) << ",\"reason\":" << jsonString(chk.reason)
     << ",\"maxAbsError\":" << (chk.finite ? chk.maxAbs : -1)
     << ",\"relL2Error\":" << (chk.finite ? chk.relL2 : -1)
     << ",\"finite\":" << (chk.finite ? "true" : "false") << "}}";
  return js.str();
}

void writeRunJson(const Args& a, int P, const std::string& transport, const std::string& layoutsJson) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  int verLen = 0;
  char ver[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  MPI_Get_library_version(ver, &verLen);
  std::string verLine(ver, size_t(verLen));
  if (auto nl = verLine.find_first_of(std::string("\n\0", 2)); nl != std::string::npos) verLine.resize(nl);
  std::ostringstream js;
  js.precision(17);
  js << "{\"format\":\"dilbench-ring-rank/1\",\"transport\":" << jsonString(transport) << ",\"ranks\":" << P
     << ",\"implementation\":" << jsonString(a.implementation) << ",\"batch\":" << a.batch
     << ",\"heads\":" << a.heads << ",\"kvHeads\":" << a.kvHeads << ",\"seqLen\":" << a.seqLen
     << ",\"headDim\":" << a.headDim << ",\"causal\":" << (a.causal ? "true" : "false")
     << ",\"seed\":" << a.seed << ",\"iterations\":" << a.iterations << ",\"warmup\":" << a.warmup
     << ",\"progressPolls\":" << (a.poll ? "true" : "false") << ",\"threadsPerRank\":1"
     << ",\"simdLevel\":" << jsonString(simdLevelName(activeSimdLevel()))
     << ",\"mpiLibrary\":" << jsonString(verLine) << ",\"rank0Host\":" << jsonString(host)
     << ",\"flopsPerIteration\":" << problemFlops(a);
  if (a.implementation == "ring-dilated") {
    std::vector<double> w, r;
    for (const DilatedPair& pr : dilatedPairs(a)) w.push_back(double(pr.w)), r.push_back(double(pr.r));
    js << ",\"segmentLengths\":" << jsonArray(w) << ",\"dilationRates\":" << jsonArray(r);
  }
  js << ",\"layouts\":" << layoutsJson << "}\n";
  const std::string tmp = a.output + ".tmp";
  {
    std::ofstream f(tmp);
    f << js.str();
    if (!f) throw Error(ErrorCode::Internal, "--output: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), a.output.c_str()) != 0) {
    throw Error(ErrorCode::Internal, "--output: cannot rename " + tmp + " to " + a.output);
  }
}

int rankMain(int argc, char** argv, int (*body)(int, char**)) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = 0;
  try {
    code = body(argc, argv);
  } catch (const Error& e) {
    // every rank parses the same arguments, so only rank 0 reports a usage error
    if (rank == 0 || e.code() != ErrorCode::InvalidConfig) {
      std::fprintf(stderr, "dilbench-ring-rank: error (rank %d): %s\n", rank, e.what());
    }
    code = e.code() == ErrorCode::InvalidConfig ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dilbench-ring-rank: error (rank %d): %s\n", rank, e.what());
    code = 1;
  }
  if (code != 0) MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
  return code;
}

}  // namespace distributed
}  // namespace dilbench
