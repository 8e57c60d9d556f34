// Float64 references of the attention family of issue 3, written as plainly as possible from
// docs/attention-definitions.md (loops, no tiling, no shared code with the kernels
// except the parameter resolution in native/cpu/family.h: default pairs, kv-cache split, block
// mask). Inputs fp32, computation float64, output o [batch, heads, seqLen, headDim].
#pragma once
#include <string>
#include <vector>

#include "../core/cancel.h"
#include "../core/problem.h"

namespace dilbench {

// kv-cache / kv-cache-recompute: causal dense attention when p.causal; otherwise prefix-LM
// (rows < promptLen attend every prompt row, later rows attend [0, row]). prefill "skip" (a
// benchmark mode, not another function): rows < promptLen are 0, later rows attend [0, row].
std::vector<double> referenceKvCache(const AttentionProblem& p, const float* q, const float* k,
                                     const float* v, const CancelToken* cancel = nullptr);
// dilated (LongNet, lse mixing across pairs); ring-dilated has the same reference.
std::vector<double> referenceDilated(const AttentionProblem& p, const float* q, const float* k,
                                     const float* v, const CancelToken* cancel = nullptr);
std::vector<double> referenceDilatedGrouped(const AttentionProblem& p, const float* q, const float* k,
                                            const float* v, const CancelToken* cancel = nullptr);
// ring: dense attention (causal or not), the same as flash.
std::vector<double> referenceDense(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                   const CancelToken* cancel = nullptr);
// block-sparse: dense attention with keys outside the allowed blocks masked out.
std::vector<double> referenceBlockSparse(const AttentionProblem& p, const float* q, const float* k,
                                         const float* v, const CancelToken* cancel = nullptr);

// True for the names above: kv-cache, kv-cache-recompute, dilated, dilated-grouped, ring,
// ring-dilated, block-sparse.
bool hasFamilyReference(const std::string& implementation);
// Dispatch on p.implementation; throws Error(Unsupported) for other names.
std::vector<double> referenceFamily(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                    const CancelToken* cancel = nullptr);

}  // namespace dilbench
