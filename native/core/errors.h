// Coded errors shared by every native layer. The bindings map ErrorCode to the JS error codes
// ERR_DILBENCH_*; nothing below bindings/ knows about Node.
#pragma once
#include <stdexcept>
#include <string>

namespace dilbench {

enum class ErrorCode {
  InvalidConfig,  // ERR_DILBENCH_INVALID_CONFIG: a parameter is out of its allowed range
  OutOfMemory,    // ERR_DILBENCH_OUT_OF_MEMORY: an allocation (host or device) failed or is over budget
  Cancelled,      // ERR_DILBENCH_CANCELLED: a CancelToken stopped the run between iterations
  Unsupported,    // ERR_DILBENCH_UNSUPPORTED: valid request this build/device cannot run (e.g. no CUDA)
  Internal,       // ERR_DILBENCH_INTERNAL: a bug; should never be seen
};

const char* errorCodeName(ErrorCode code);  // "ERR_DILBENCH_INVALID_CONFIG", ...

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string field = {})
      : std::runtime_error(message), code_(code), field_(std::move(field)) {}
  ErrorCode code() const noexcept { return code_; }
  // The offending parameter's name as the user spells it (camelCase), or empty.
  const std::string& field() const noexcept { return field_; }

 private:
  ErrorCode code_;
  std::string field_;
};

[[noreturn]] inline void throwInvalid(const std::string& field, const std::string& message) {
  throw Error(ErrorCode::InvalidConfig, field + ": " + message, field);
}

}  // namespace dilbench
