#pragma once
#include <atomic>

namespace dilbench {

// Set from any thread (the JS AbortSignal's listener); kernels and the session poll it between
// iterations (and may between tiles) and throw Error(Cancelled).
class CancelToken {
 public:
  void cancel() noexcept { flag_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return flag_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

}  // namespace dilbench
