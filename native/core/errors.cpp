#include "errors.h"

namespace dilbench {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidConfig: return "ERR_DILBENCH_INVALID_CONFIG";
    case ErrorCode::OutOfMemory: return "ERR_DILBENCH_OUT_OF_MEMORY";
    case ErrorCode::Cancelled: return "ERR_DILBENCH_CANCELLED";
    case ErrorCode::Unsupported: return "ERR_DILBENCH_UNSUPPORTED";
    case ErrorCode::Internal: return "ERR_DILBENCH_INTERNAL";
  }
  return "ERR_DILBENCH_INTERNAL";
}

}  // namespace dilbench
