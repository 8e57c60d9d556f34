#!/usr/bin/env bash
# Second device-machine session: kernels + decode checks, decode bandwidth, the CUDA addon end
# to end under Node (sessions, pool, OOM, timing), backend selection, compute-sanitizer.
# Needs (carried): build-cuda-tools/cuda_bench, build-cuda/Release/dilbench.node,
# .portable-node/node.xz, dist/src/native (tsc output).
set -u
OUT=${1:-${OUT:-/tmp/dilbench-gpu}}
mkdir -p "$OUT"
B=build-cuda-tools/cuda_bench
xz -dc .portable-node/node.xz > /tmp/node && chmod +x /tmp/node
echo "== cuda_bench check"
"$B" check > "$OUT/check2.txt" 2>&1; grep -E "FAIL|failure|error" "$OUT/check2.txt"; grep "^decode" "$OUT/check2.txt"
echo "== decode bandwidth"
"$B" decode --csv "$OUT/decode.csv" 2>&1 | tee "$OUT/decode.txt"
echo "== addon under Node"
/tmp/node test/gpu/run-gpu-checks.mjs build-cuda/Release/dilbench.node > "$OUT/gpu_checks.txt" 2>&1; echo "rc=$?"
grep -v "^PASS" "$OUT/gpu_checks.txt"
echo "== backend selection"
/tmp/node --input-type=module -e "
const m = await import('./dist/src/native/select-backend.js');
const d = m.diagnoseBackend(process.cwd());
console.log(JSON.stringify({ selection: d.selection, driver: d.driver, probe: d.probe }, null, 1));
const l = await import('./dist/src/native/loader.js');
const b = l.loadBinding();
console.log('loader loaded, cuda devices:', b.info().cuda.deviceCount);
process.env.DILBENCH_BACKEND = 'cpu';
console.log('forced cpu:', JSON.stringify(m.selectBinaryPath(process.cwd())));
" > "$OUT/select.txt" 2>&1; cat "$OUT/select.txt"
echo "== compute-sanitizer"
CHECK_MAX_N=320 timeout 240 compute-sanitizer --tool racecheck "$B" check > "$OUT/racecheck.txt" 2>&1; echo "racecheck rc=$?"; grep -E "ERROR SUMMARY|hazard|failure" "$OUT/racecheck.txt" | tail -5
CHECK_MAX_N=320 timeout 150 compute-sanitizer --tool memcheck "$B" check > "$OUT/memcheck.txt" 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|failure" "$OUT/memcheck.txt" | tail -3
