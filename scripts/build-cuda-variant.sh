#!/usr/bin/env bash
# Builds the CUDA variant of the addon (cmake-js, -DDILBENCH_CUDA=ON) into build-cuda/ and copies
# it to variants/cuda/prebuilds/<platform>-<arch>/dilbench.node, where the loader looks for it
# (src/native/select-backend.ts). Needs nvcc (CUDA 12+), cmake and a C++17 compiler; no GPU.
#   JOBS=N          parallel compile jobs (default: 2)
#   CUDA_ARCHS=...  override CMAKE_CUDA_ARCHITECTURES (default: 80-real;86-real;89-real;90-real;90-virtual)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
command -v nvcc >/dev/null 2>&1 || [ -x "${CUDACXX:-}" ] || [ -x /usr/local/cuda/bin/nvcc ] || {
  echo "build-cuda-variant: nvcc not found (install the CUDA toolkit or set CUDACXX)" >&2
  exit 1
}
args=(compile --out build-cuda --CDDILBENCH_CUDA=ON -p "$JOBS")
if [ -n "${CUDA_ARCHS:-}" ]; then args+=("--CDCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS}"); fi
start=$(date +%s)
npx --no-install cmake-js "${args[@]}"
echo "build-cuda-variant: compiled in $(( $(date +%s) - start )) s"
platform=$(node -p 'process.platform + "-" + process.arch')
dest="variants/cuda/prebuilds/${platform}"
mkdir -p "$dest"
cp build-cuda/Release/dilbench.node "$dest/dilbench.node"
strip --strip-unneeded "$dest/dilbench.node" 2>/dev/null || true
echo "build-cuda-variant: wrote $dest/dilbench.node"
node -e 'const c = require(process.argv[1]).info().cuda; console.log(`build-cuda-variant: loads; CUDA compiled in: ${c.compiled}, devices: ${c.deviceCount}`)' "$PWD/$dest/dilbench.node"
