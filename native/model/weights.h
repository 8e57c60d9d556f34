// Internal: materializing the tensors of a model (seeded or given), see transformer.h.
#pragma once
#include <vector>

#include "transformer.h"

namespace dilbench {
namespace model {

// The data of spec (the t-th tensor of expectedTensors, t from 0): seeded per the rule in
// transformer.h, or the given tensor after checking its shape and length. Throws
// Error(InvalidConfig, field = tensor name) when missing or mismatched. Given tensors are moved
// out of `source` (source is consumed tensor by tensor to bound memory).
// Throws like materializeTensor when a given tensor is missing or mismatched (no-op when seeded).
void checkTensor(const TensorSpec& spec, const WeightsSource& source);

std::vector<float> materializeTensor(const TensorSpec& spec, uint64_t t, WeightsSource& source, int threads);

}  // namespace model
}  // namespace dilbench
