#!/usr/bin/env bash
# Builds the host-emulation checks of the CUDA code, which need neither nvcc nor a GPU, so a CPU-only
# machine (CI) checks what it can of code it cannot run:
#   build-family-cuda/family_cuda_check      the CUDA family kernels' index maths and arithmetic
#                                            (native/cuda/family_cuda_math.cuh) on every query row
#   build-model-fake/model_fake_check        the CUDA model's host code on host stand-ins (ASan+UBSan)
#   build-model-fake-addon/Release/dilbench.node  the whole addon on those stand-ins (one fake device)
# npm test runs them when they are built (test/native/family-cuda-check.test.ts,
# model-device.test.ts, the inference side tests) and says why it skips them otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${DILBENCH_JOBS:-$(nproc)}
cmake -S . -B build-family-cuda -DDILBENCH_TOOLS=ON -DDILBENCH_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-family-cuda --target family_cuda_check -j"$jobs"
cmake -S native/cuda/model/fake -B build-model-fake >/dev/null
cmake --build build-model-fake -j"$jobs"
npx cmake-js compile -d native/cuda/model/fake/addon --out build-model-fake-addon
