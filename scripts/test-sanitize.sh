#!/usr/bin/env bash
# npm run test:sanitize - the native tests (test/native) and the native-boundary fuzz test
# (test/fuzz) against an AddressSanitizer + UndefinedBehaviorSanitizer build of the addon.
#
#   1. builds the addon with -DDILBENCH_SANITIZE=ON (CUDA off) into build-sanitize/
#   2. runs vitest with LD_PRELOAD of gcc's libasan (+ libubsan; ASan must come first in the
#      process, and node itself is not instrumented), DILBENCH_ADDON_PATH pointing the loader at
#      the sanitized binary, ASAN_OPTIONS=detect_leaks=0 (Node leaks by design at exit) and
#      UBSAN_OPTIONS=halt_on_error=1 so the first report kills the process
#   3. fails when vitest fails or when any sanitizer report appears in the output
#
# Environment: JOBS (build parallelism, default 2), DILBENCH_FUZZ_RUNS (fuzz cases; default 2000
# here: about 6 s under the sanitizers), SANITIZE_BUILD_DIR (default build-sanitize),
# SANITIZE_TESTS (default "test/native test/fuzz").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
JOBS=${JOBS:-2}
TESTS=${SANITIZE_TESTS:-"test/native test/fuzz"}
start=$(date +%s)

echo "[sanitize] building the addon with ASan+UBSan into $BUILD_DIR/ (-j$JOBS)"
mkdir -p "$BUILD_DIR"
CMAKE_BUILD_PARALLEL_LEVEL=$JOBS npx cmake-js compile --out "$BUILD_DIR" \
  --CDDILBENCH_SANITIZE=ON --CDDILBENCH_CUDA=OFF >"$BUILD_DIR/build.log" 2>&1 || {
  tail -40 "$BUILD_DIR/build.log"
  echo "[sanitize] build failed (log: $BUILD_DIR/build.log)"
  exit 1
}
ADDON="$ROOT/$BUILD_DIR/Release/dilbench.node"
[ -f "$ADDON" ] || ADDON=$(find "$ROOT/$BUILD_DIR" -name dilbench.node -print -quit)
[ -f "$ADDON" ] || { echo "[sanitize] no dilbench.node under $BUILD_DIR"; exit 1; }
if ! nm -D "$ADDON" 2>/dev/null | grep '__asan_' >/dev/null; then  # no -q: SIGPIPE under pipefail
  echo "[sanitize] $ADDON is not instrumented (no __asan_ symbols)"
  exit 1
fi

LIBASAN=$(g++ -print-file-name=libasan.so)
LIBUBSAN=$(g++ -print-file-name=libubsan.so)
[ -f "$LIBASAN" ] || { echo "[sanitize] libasan not found (g++ -print-file-name=libasan.so)"; exit 1; }
PRELOAD="$LIBASAN"
[ -f "$LIBUBSAN" ] && PRELOAD="$PRELOAD:$LIBUBSAN"

LOG=$(mktemp -t dilbench-sanitize.XXXXXX)
echo "[sanitize] running vitest ($TESTS) with $ADDON"
set +e
# shellcheck disable=SC2086
env LD_PRELOAD="$PRELOAD" \
  DILBENCH_ADDON_PATH="$ADDON" \
  DILBENCH_FUZZ_RUNS="${DILBENCH_FUZZ_RUNS:-2000}" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_odr_violation=0:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  node "$ROOT/node_modules/vitest/vitest.mjs" run $TESTS 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

reports=$(grep -cE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$LOG" || true)
elapsed=$(( $(date +%s) - start ))
if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
  echo "[sanitize] FAILED: vitest exit $rc, $reports sanitizer report line(s) (log: $LOG), ${elapsed}s"
  exit 1
fi
if ! grep -q 'fuzz\].*cases tried' "$LOG" && [[ "$TESTS" == *fuzz* ]]; then
  echo "[sanitize] FAILED: the fuzz test did not run against the sanitized addon (log: $LOG)"
  exit 1
fi
echo "[sanitize] OK: no sanitizer report (${elapsed}s)"
rm -f "$LOG"
