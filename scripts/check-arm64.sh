#!/usr/bin/env bash
# The NEON kernels' float64 checks on an x86 machine: cross-compiles native/tools (kernel_bench,
# family_check) for aarch64 with Debian's g++-aarch64-linux-gnu (cmake/aarch64-linux-gnu.cmake)
# into build-arm64-tools/ (or $DILBENCH_ARM64_BUILD_DIR) and runs them under qemu-aarch64.
# Correctness only: emulated time means nothing. Each tool prints the SIMD level its kernels ran at; this script fails unless it is neon.
#   bash scripts/check-arm64.sh           build, then run the quick set (what the vitest test runs)
#   bash scripts/check-arm64.sh --full    the full kernel_bench and family_check matrices (slow
#                                         under emulation: tens of minutes on 2 cores)
#   bash scripts/check-arm64.sh --build   build only
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user (.ci/install-arm64-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
for tool in aarch64-linux-gnu-g++ qemu-aarch64 cmake; do
  command -v "$tool" >/dev/null || { echo "check-arm64: $tool not found (bash .ci/install-arm64-tools.sh)" >&2; exit 3; }
done
build=${DILBENCH_ARM64_BUILD_DIR:-build-arm64-tools}  # the vitest test builds in a temp dir
jobs=${DILBENCH_JOBS:-2}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
    -DDILBENCH_TOOLS=ON -DDILBENCH_CUDA=OFF >/dev/null
fi
t0=$(date +%s)
cmake --build "$build" --target kernel_bench family_check -j "$jobs" >/dev/null
echo "check-arm64: aarch64 tools built in $(( $(date +%s) - t0 )) s"
[ "$mode" = "--build" ] && exit 0

run() {  # run <tool> <args...>: under qemu, output shown, fails on a non-zero exit
  echo "== qemu-aarch64 $build/$*"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/$@"
}
expect_line() {  # expect_line <regex> <log>: the tool's own report (level used, failure count)
  grep -Eq "$1" "$2" || { echo "check-arm64: no line matching '$1' in the output" >&2; exit 1; }
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Conversions at every level bit for bit (all fp16 patterns, 8.2M fp32 patterns) and flash,
# naive, kv-cache on fp16/bf16 storage vs float64.
run family_check half | tee "$log"
expect_line '^SIMD level: neon' "$log"
expect_line 'half conversions: [0-9]+ values checked, 0 mismatches' "$log"
if [ "$mode" = "--full" ]; then
  run family_check check | tee "$log"
  expect_line '^SIMD level: neon' "$log"
  run kernel_bench check | tee "$log"
else
  # Every family kernel (fp32 kv-cache decode, dilated, ring, block-sparse: all on the NEON tiles)
  # at lengths 1, 7, 127; then attendBlock, the model GEMM and flash/naive at every level (generic
  # and neon) at 127 rows, which covers the tile edges without the 1000/4096 cases.
  FC_MAX_LEN=127 run family_check check | tee "$log"
  expect_line '^SIMD level: neon' "$log"
  expect_line '^[0-9]+ cases, 0 failures' "$log"
  KB_ONLY_N=127 run kernel_bench check | tee "$log"
fi
expect_line '^ok +(flash|naive) +neon ' "$log"
expect_line '^ok +gemm +neon ' "$log"
echo "check-arm64: NEON checks passed ($mode)"
