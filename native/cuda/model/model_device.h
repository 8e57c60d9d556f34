// The seam between the model of native/model (transformer.h, compiled into every build) and a
// device implementation of the same computation (native/cuda/model, compiled only with CUDA).
// Plain C++, no CUDA headers: transformer.cpp includes it to choose the device, and the CUDA
// build registers its factory at static-init time (registerCudaModelFactory), so a CPU-only
// build links without any CUDA symbol and answers "built without CUDA".
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../../core/cancel.h"
#include "../../core/problem.h"
#include "../../model/transformer.h"

namespace dilbench {
namespace model {

// One model living on a device. Transformer validates the config, the weights, the tokens and
// the lengths before calling in; the device model still checks what it relies on (headDim,
// implementation) and throws Error with the field.
class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  // Each tensor of expectedTensors(config), in that order, as fp32 values of spec.shape.
  virtual void loadTensor(const TensorSpec& spec, const std::vector<float>& data) = 0;
  // After the last loadTensor: checks that every tensor arrived.
  virtual void finishLoading() = 0;
  // Bytes of the weights on the device as stored (dtype matrices and embeddings, fp32 vectors).
  virtual uint64_t weightBytes() const = 0;
  virtual Generation generate(const std::vector<int32_t>& prompt, int64_t newTokens, const RunOptions& o,
                              const CancelToken* cancel) = 0;
  virtual std::vector<float> forward(const std::vector<int32_t>& tokens, const RunOptions& o,
                                     const CancelToken* cancel) = 0;
};

// Creates the device model (no weights yet) or throws Error(Unsupported, field 'device') with
// the reason (e.g. no CUDA device) / Error(Unsupported, field 'dtype').
using DeviceModelFactory = std::unique_ptr<DeviceModel> (*)(const ModelConfig& config, DType dtype);

// Called by native/cuda/model at static-init time; defined in transformer.cpp.
void registerCudaModelFactory(DeviceModelFactory factory);

}  // namespace model
}  // namespace dilbench
