// "dilated-grouped": the head-group scheme of popular PyTorch dilated-attention packages
// (attention-definitions.md). Heads split into k = pairs contiguous groups (the first
// heads mod k groups get one extra head); group g uses only pair g with offset g mod r_g for all
// its heads; positions the group does not select output zeros. No division by k (the packages
// divide the whole output by k; dilbench does not).
#include <algorithm>

#include "../core/descriptor.h"
#include "../core/errors.h"
#include "family.h"

namespace dilbench {
namespace {

// Group of head h among k groups of heads.
int64_t groupOfHead(int64_t heads, int64_t k, int64_t h) {
  const int64_t base = heads / k, extra = heads % k;
  const int64_t bigHeads = extra * (base + 1);  // heads in the first `extra` groups
  if (h < bigHeads) return h / (base + 1);
  return extra + (h - bigHeads) / std::max<int64_t>(base, 1);
}

std::vector<family::DilatedPart> groupedParts(const std::vector<DilatedPair>& pairs, int64_t heads,
                                              int64_t h) {
  const int64_t k = static_cast<int64_t>(pairs.size());
  const int64_t g = groupOfHead(heads, k, h);
  return {{pairs[g], g % pairs[g].r}};
}

class DilatedGroupedCpu final : public Kernel, public TelemetrySource {
 public:
  std::string name() const override { return "dilated-grouped"; }
  Device device() const override { return Device::CPU; }
  std::string description() const override {
    return "Dilated attention with head groups (group g uses pair g, offset g mod r_g), as in "
           "popular PyTorch packages but without their division by the number of groups";
  }
  void validate(const AttentionProblem& p) const override { resolveDilatedPairs(p); }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    return family::dilatedWorkspaceBytes(p, threads, resolveDilatedPairs(p));
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    const auto pairs = resolveDilatedPairs(p);
    return family::dilatedCounts(p, [&](int64_t h) { return groupedParts(pairs, p.heads, h); });
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    const auto pairs = resolveDilatedPairs(p);
    family::runDilated(p, t, ctx, pairs, [&](int64_t h) { return groupedParts(pairs, p.heads, h); });
    tel_.valid = true;
  }
  KernelTelemetry telemetry() const override { return tel_; }

 private:
  KernelTelemetry tel_;
};

}  // namespace

DILBENCH_REGISTER_KERNEL(DilatedGroupedCpu, "dilated-grouped", CPU)
DILBENCH_DESCRIBE_IMPLEMENTATION(
    {"dilated-grouped", "dilated-grouped", ExactDense::Never, "", {"segmentLengths", "dilationRates"}, {}})
}  // namespace dilbench
