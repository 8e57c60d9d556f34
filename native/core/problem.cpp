// Common problem validation. Limits (documented in the error messages too):
//   batch, heads, kvHeads, seqLen >= 1; heads % kvHeads == 0;
//   headDim in 1..256 (kMaxHeadDim: the CPU tiles and the CUDA kernels keep one row of q/k/v per
//   thread block in registers/shared memory, sized for at most 256);
//   scale finite (<= 0 means 1/sqrt(headDim));
//   every tensor's element and byte count, and q+k+v+o together, must fit in int64 / size_t.
//   seqLen <= 2^30 and heads <= 65536 (plan-time loops and seqLen^2 workspaces stay bounded).
#include "problem.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "errors.h"

namespace dilbench {

namespace {
constexpr int64_t kMaxHeadDim = 256;

void requirePositive(const char* field, int64_t v) {
  if (v < 1) throwInvalid(field, "must be an integer >= 1, got " + std::to_string(v));
}

// a * b with overflow detection; throws InvalidConfig naming `field` on overflow.
int64_t mulChecked(int64_t a, int64_t b, const char* field) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    throwInvalid(field, "too large: the tensor size overflows 64-bit arithmetic");
  }
  return r;
}
}  // namespace

const char* dtypeName(DType d) {
  switch (d) {
    case DType::F32: return "fp32";
    case DType::F16: return "fp16";
    case DType::BF16: return "bf16";
  }
  return "fp32";
}

const char* deviceName(Device d) {
  switch (d) {
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
  }
  return "cpu";
}

size_t dtypeBytes(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
  }
  return 4;
}

double AttentionProblem::resolvedScale() const {
  if (scale > 0 && std::isfinite(scale)) return scale;
  return headDim > 0 ? 1.0 / std::sqrt(static_cast<double>(headDim)) : 1.0;
}

void AttentionProblem::validateCommon() const {
  if (implementation.empty()) throwInvalid("implementation", "must be a non-empty name");
  requirePositive("batch", batch);
  requirePositive("heads", heads);
  requirePositive("kvHeads", kvHeads);
  requirePositive("seqLen", seqLen);
  if (headDim < 1 || headDim > kMaxHeadDim) {
    throwInvalid("headDim",
                 "must be in 1.." + std::to_string(kMaxHeadDim) + ", got " + std::to_string(headDim));
  }
  // seqLen^2-sized workspaces (naive's score matrix) must fit in 64-bit byte counts: 2^30 tokens
  // keeps seqLen^2 * 4 bytes below 2^63 (UBSan found the overflow through test/fuzz).
  constexpr int64_t kMaxSeqLen = int64_t(1) << 30;
  if (seqLen > kMaxSeqLen) {
    throwInvalid("seqLen",
                 "must be at most " + std::to_string(kMaxSeqLen) + ", got " + std::to_string(seqLen));
  }
  // Kernels plan per head (exact flop counts of the dilated family): an absurd head count would
  // keep plan() busy for minutes on the main thread (found by test/fuzz).
  constexpr int64_t kMaxHeads = int64_t(1) << 16;
  if (heads > kMaxHeads) {
    throwInvalid("heads", "must be at most " + std::to_string(kMaxHeads) + ", got " + std::to_string(heads));
  }
  if (heads % kvHeads != 0) {
    throwInvalid("kvHeads", "heads (" + std::to_string(heads) + ") must be a multiple of kvHeads (" +
                                std::to_string(kvHeads) + ")");
  }
  if (std::isnan(scale) || std::isinf(scale)) {
    throwInvalid("scale", "must be a finite number (<= 0 selects 1/sqrt(headDim))");
  }
  const int64_t eb = static_cast<int64_t>(dtypeBytes(dtype));
  // q and o: batch * heads * seqLen * headDim elements; k, v: batch * kvHeads * ...
  const int64_t bh = mulChecked(batch, heads, "heads");
  const int64_t bhs = mulChecked(bh, seqLen, "seqLen");
  const int64_t qElems = mulChecked(bhs, headDim, "headDim");
  const int64_t qBytes = mulChecked(qElems, eb, "seqLen");
  const int64_t bkv = mulChecked(batch, kvHeads, "kvHeads");
  const int64_t bkvs = mulChecked(bkv, seqLen, "seqLen");
  const int64_t kvElems = mulChecked(bkvs, headDim, "headDim");
  const int64_t kvBytes = mulChecked(kvElems, eb, "seqLen");
  // q + o + k + v together, plus headroom for size-class rounding (x1.25) in 64-bit.
  int64_t total = 0;
  if (__builtin_add_overflow(qBytes, qBytes, &total) || __builtin_add_overflow(total, kvBytes, &total) ||
      __builtin_add_overflow(total, kvBytes, &total) || __builtin_add_overflow(total, total / 4, &total)) {
    throwInvalid("seqLen", "too large: the total tensor size overflows 64-bit arithmetic");
  }
  if (static_cast<uint64_t>(total) > static_cast<uint64_t>(std::numeric_limits<size_t>::max() / 2)) {
    throwInvalid("seqLen", "too large: the tensors do not fit in this address space");
  }
}

}  // namespace dilbench
