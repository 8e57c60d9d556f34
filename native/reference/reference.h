// Float64 references: the definitions of attention-definitions.md written as plainly as
// possible. Used by tests and validation runs; never optimised beyond being correct.
#pragma once
#include <vector>

#include "../core/problem.h"

namespace dilbench {

// q, k, v in fp32 (as the kernels see them), computed in float64; returns o
// [batch, heads, seqLen, headDim]. Dispatches on p.implementation to the definition it names
// (naive and flash share dense attention). Throws Error(Unsupported) for a name with no
// reference yet. Cancellable between (batch, head) pairs.
std::vector<double> referenceAttention(const AttentionProblem& p, const float* q, const float* k,
                                       const float* v, const class CancelToken* cancel = nullptr);

}  // namespace dilbench
