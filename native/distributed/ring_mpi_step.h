// One step of a CPU ring rank's transfer over MPI (ring_rank.cpp, ring_dilated_rank.cpp): the
// non-blocking receive from the previous rank and send to the next are posted before the compute,
// polled during it (so the transfer progresses without an MPI progress thread), and waited for
// after it. Records bytes sent, compute time without the polls, poll time and wait time of `step`.
#pragma once
#include <mpi.h>

#include <cstdint>

#include "ring_common.h"

namespace dilbench {
namespace distributed {

class MpiStepExchange {
 public:
  // `transfers`: false at the last step (nothing left to pass on); `polling`: Args::poll.
  MpiStepExchange(StepRecord& rec, int64_t step, bool transfers, bool polling)
      : rec_(rec), step_(size_t(step)), transfers_(transfers), polling_(polling && transfers) {}

  void post(float* recvBuf, int64_t recvFloats, int prev, const float* sendBuf, int64_t sendFloats, int next,
            int tag) {
    if (!transfers_) return;
    MPI_Irecv(recvBuf, int(recvFloats), MPI_FLOAT, prev, tag, MPI_COMM_WORLD, &req_[0]);
    MPI_Isend(sendBuf, int(sendFloats), MPI_FLOAT, next, tag, MPI_COMM_WORLD, &req_[1]);
    rec_.bytesSent[step_] = double(sendFloats) * sizeof(float);
  }
  void startCompute() { computeStart_ = Clock::now(); }
  // Called between pieces of the compute.
  void poll() {
    if (!polling_) return;
    int done = 0;
    const auto p0 = Clock::now();
    MPI_Testall(2, req_, &done, MPI_STATUSES_IGNORE);
    pollNs_ += nsSince(p0);
  }
  // Ends the compute and waits for both transfers.
  void finish() {
    rec_.computeNs[step_] = nsSince(computeStart_) - pollNs_;
    rec_.pollNs[step_] = pollNs_;
    const auto w0 = Clock::now();
    if (transfers_) MPI_Waitall(2, req_, MPI_STATUSES_IGNORE);
    rec_.waitNs[step_] = nsSince(w0);
  }

 private:
  StepRecord& rec_;
  size_t step_;
  bool transfers_, polling_;
  MPI_Request req_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  Clock::time_point computeStart_{};
  double pollNs_ = 0;
};

}  // namespace distributed
}  // namespace dilbench
