// Per-iteration timing. The CPU uses a monotonic clock; the CUDA backend implements the same
// interface with CUDA events on the kernel's stream (native/cuda).
#pragma once
#include <chrono>

namespace dilbench {

class Timer {
 public:
  virtual ~Timer() = default;
  virtual void start() = 0;
  virtual double stopNs() = 0;  // nanoseconds since start(); waits for the work to finish
  virtual const char* name() const = 0;
};

class SteadyClockTimer final : public Timer {
 public:
  void start() override { t0_ = std::chrono::steady_clock::now(); }
  double stopNs() override {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0_).count();
  }
  const char* name() const override { return "steady_clock"; }

 private:
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace dilbench
