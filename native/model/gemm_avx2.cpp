// AVX2+FMA build of the portable 32-column tile (this file gets -mavx2 -mfma from CMake).
#include "gemm.h"
#include "gemm_tile_portable.h"

namespace dilbench {
namespace model {

void gemmTileAvx2(int64_t mr, int64_t K, const float* A, int64_t lda, const float* P, const float* bias,
                  float* C, int64_t ldc, int64_t ncols, bool accumulate) {
  portableTileDispatch(mr, K, A, lda, P, bias, C, ldc, ncols, accumulate);
}

}  // namespace model
}  // namespace dilbench
