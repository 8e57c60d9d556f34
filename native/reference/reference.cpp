// Float64 references, written as plainly as the definitions in attention-definitions.md.
#include "reference.h"

#include <cmath>
#include <limits>
#include <string>

#include "../core/cancel.h"
#include "../core/descriptor.h"
#include "../core/errors.h"
#include "reference_family.h"

namespace dilbench {
namespace {

// Dense attention (optionally causal) for every (batch, head), grouped-query aware.
std::vector<double> denseReference(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                   const CancelToken* cancel) {
  const int64_t B = p.batch, H = p.heads, KH = p.kvHeads, N = p.seqLen, D = p.headDim;
  const int64_t group = H / KH;
  const double scale = p.resolvedScale();
  std::vector<double> out(static_cast<size_t>(B * H * N * D), 0.0);
  std::vector<double> s(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      if (cancel && cancel->cancelled()) throw Error(ErrorCode::Cancelled, "cancelled");
      const int64_t kh = h / group;
      const float* Q = q + (b * H + h) * N * D;
      const float* K = k + (b * KH + kh) * N * D;
      const float* V = v + (b * KH + kh) * N * D;
      double* O = out.data() + (b * H + h) * N * D;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t last = p.causal ? i : N - 1;  // allowed keys: j <= last
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= last; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += static_cast<double>(Q[i * D + d]) * static_cast<double>(K[j * D + d]);
          s[j] = scale * dot;
          if (s[j] > mx) mx = s[j];
        }
        if (last < 0) continue;  // no allowed key: zero row
        double sum = 0;
        for (int64_t j = 0; j <= last; ++j) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        double* o = O + i * D;
        for (int64_t j = 0; j <= last; ++j) {
          const double w = s[j] / sum;
          for (int64_t d = 0; d < D; ++d) o[d] += w * static_cast<double>(V[j * D + d]);
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<double> referenceAttention(const AttentionProblem& p, const float* q, const float* k,
                                       const float* v, const CancelToken* cancel) {
  // The reference is the declared function's (descriptor.h), so a plugin declaring "dense" is
  // checked against the same float64 code as naive and flash.
  const FunctionSpec* fn = findFunction(functionOf(p.implementation));
  if (!fn) {
    throw Error(ErrorCode::Unsupported,
                "no float64 reference for implementation '" + p.implementation +
                    "': it declares no function dilbench knows (" + functionOf(p.implementation) + ")",
                "implementation");
  }
  if (fn->name == "dense") return denseReference(p, q, k, v, cancel);
  AttentionProblem defining = p;
  defining.implementation = fn->definedBy;
  if (hasFamilyReference(defining.implementation)) return referenceFamily(defining, q, k, v, cancel);
  throw Error(ErrorCode::Unsupported, "no float64 reference for function '" + fn->name + "' yet",
              "implementation");
}

}  // namespace dilbench
