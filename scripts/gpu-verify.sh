#!/usr/bin/env bash
# Everything the CUDA code still needs a GPU for, as one script a GPU session can run without
# thinking: correctness against float64 references (kernels, family, model), the addon end to end
# under Node, compute-sanitizer, and speed beside PyTorch SDPA. Written by sessions that had no
# GPU; see native/cuda/NOTES.md and native/cuda/model/NOTES.md for what each step checks.
#
#   bash scripts/gpu-verify.sh pack          here (nvcc, no GPU needed): builds the sm_90 addon, the
#                                            standalone harnesses and Node into gpu-carry/ (< 64 MiB)
#   bash scripts/gpu-verify.sh run GROUP...  on the GPU machine, repo root, with gpu-carry and
#                                            .portable-node carried; GROUP: checks | node | sanitize |
#                                            speed | all, or single step names; logs and SUMMARY.txt
#                                            go to $OUT (or /tmp/dilbench-gpu); multigpu: the NCCL
#                                            ring (scripts/gpu-verify-nccl.sh: the rank by hand, then
#                                            `dilbench ring --distributed --device cuda`), >= 2 GPUs only
#   bash scripts/gpu-verify.sh steps         lists the steps and their groups
#
# Each group's time limits add up to under 10 minutes, one device command each. A step that fails or times out is recorded and the
# next one runs; the exit status is the number of failed steps (capped at 100).
set -u
cd "$(dirname "$0")/.."
CARRY=${GPU_CARRY:-gpu-carry}
ARCH=${CUDA_ARCHS:-90-real}

# name | group | timeout s | command (run with bash -c in the repo root; $C = carry folder)
STEPS=(
  "smi|checks|20|nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv"
  "info|checks|30|\$C/cuda_bench info"
  "kernels-check|checks|240|\$C/cuda_bench check"
  "model-kernels-check|checks|150|\$C/model_kernels_check"
  "addon-checks|node|280|\$C/node test/gpu/run-gpu-checks.mjs \$C/dilbench.node"
  "model-checks|node|280|\$C/node test/gpu/run-model-checks.mjs \$C/dilbench.node"
  "peak|checks|60|\$C/node -e \"require(process.argv[1]).measureDevicePeak('cuda', 2).then((p) => console.log(JSON.stringify(p, null, 1)), (e) => { console.error(e.message); process.exit(1); })\" \$PWD/\$C/dilbench.node"
  "memcheck-family|sanitize|180|CHECK_FAMILY_ONLY=1 CHECK_MAX_N=320 compute-sanitizer --tool memcheck --error-exitcode 3 \$C/cuda_bench check"
  "racecheck-family|sanitize|200|CHECK_FAMILY_ONLY=1 CHECK_MAX_N=320 compute-sanitizer --tool racecheck --error-exitcode 3 \$C/cuda_bench check"
  "memcheck-model|sanitize|180|compute-sanitizer --tool memcheck --error-exitcode 3 \$C/model_kernels_check"
  "bandwidth|speed|60|\$C/cuda_bench bandwidth"
  "decode-bandwidth|speed|120|\$C/cuda_bench decode --csv \$OUT/decode.csv"
  "flash-bench|speed|180|\$C/cuda_bench bench --impl flash --csv \$OUT/flash.csv"
  "nccl-ring|multigpu|480|bash scripts/gpu-verify-nccl.sh"
  "sdpa|speed|200|python3 native/cuda/tools/sdpa_compare.py --csv \$OUT/sdpa.csv && python3 native/cuda/tools/sdpa_compare.py --merge \$OUT/flash.csv \$OUT/sdpa.csv"
)

field() { echo "$1" | cut -d'|' -f"$2"; }

pack() {
  command -v nvcc >/dev/null 2>&1 || { echo "gpu-verify pack: nvcc not found" >&2; exit 1; }
  [ -f .portable-node/node.xz ] || { echo "gpu-verify pack: run ../shared/tools/portable-node.sh first (.portable-node/node.xz)" >&2; exit 1; }
  local t0; t0=$(date +%s)
  echo "== addon (CUDA on, sm ${ARCH}) into build-gpu-verify/"
  CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2} npx --no-install cmake-js compile --out build-gpu-verify --CDDILBENCH_CUDA=ON \
    "--CDCMAKE_CUDA_ARCHITECTURES=${ARCH}" >build-gpu-verify.log 2>&1 || { tail -30 build-gpu-verify.log; exit 1; }
  echo "== standalone harnesses (cuda_bench, model_kernels_check) into build-gpu-verify-tools/"
  cmake -S native/cuda -B build-gpu-verify-tools "-DCMAKE_CUDA_ARCHITECTURES=${ARCH}" >build-gpu-verify-tools.log 2>&1 &&
    cmake --build build-gpu-verify-tools -j"${JOBS:-2}" >>build-gpu-verify-tools.log 2>&1 || { tail -30 build-gpu-verify-tools.log; exit 1; }
  mkdir -p "$CARRY"
  cp build-gpu-verify/Release/dilbench.node build-gpu-verify-tools/cuda_bench build-gpu-verify-tools/model_kernels_check "$CARRY/"
  # the NCCL ring rank, built when this machine found MPI and NCCL (native/distributed)
  if [ -x build-gpu-verify/Release/dilbench-ring-rank-nccl ]; then
    cp build-gpu-verify/Release/dilbench-ring-rank-nccl "$CARRY/"
  else
    echo "== no dilbench-ring-rank-nccl (MPI or NCCL not found here): the multigpu step will fail to find it"
  fi
  # without NCCL: the CUDA-aware MPI fallback rank (run by the multigpu step where present)
  [ -x build-gpu-verify/Release/dilbench-ring-rank-cuda-mpi ] && cp build-gpu-verify/Release/dilbench-ring-rank-cuda-mpi "$CARRY/"
  # the CLI's runtime for the multigpu step's orchestrator run (`node bin/dilbench.js ring --distributed
  # --device cuda`): dist/ and the production node_modules, unpacked into the repo root there.
  # onnxruntime-node (optional, `dilbench frameworks` only) and gpt-tokenizer's CommonJS/source
  # copies (the CLI imports its ESM) are left out to keep the carry small.
  echo "== CLI runtime (dist/, production node_modules) into $CARRY/cli-runtime.tar.xz"
  npm run build:ts >/dev/null || { echo "gpu-verify pack: npm run build:ts failed" >&2; exit 1; }
  local mods
  mods=$(npm ls --omit=dev --parseable --all 2>/dev/null | sed "s|^$PWD/||" | grep -E '^node_modules/(@[^/]+/)?[^/]+$' | grep -v '^node_modules/onnxruntime-node$')
  # shellcheck disable=SC2086
  tar -cf - --exclude='node_modules/gpt-tokenizer/cjs' --exclude='node_modules/gpt-tokenizer/src' --exclude='node_modules/gpt-tokenizer/dist' \
    --exclude='*.map' dist/src $mods | xz -T"${JOBS:-2}" -6 >"$CARRY/cli-runtime.tar.xz" || { echo "gpu-verify pack: CLI runtime tar failed" >&2; exit 1; }
  strip --strip-unneeded "$CARRY"/dilbench.node "$CARRY"/cuda_bench "$CARRY"/model_kernels_check 2>/dev/null || true
  # the addon must load here (0 devices) before it is worth a device minute
  node -e 'const c = require(process.argv[1]).info().cuda; if (!c.compiled) process.exit(1); console.log(`addon loads: CUDA compiled in, ${c.deviceCount} device(s) here`)' "$PWD/$CARRY/dilbench.node"
  echo "== packed in $(( $(date +%s) - t0 )) s: $(du -sh "$CARRY" | cut -f1) in $CARRY/, plus $(du -sh .portable-node | cut -f1) in .portable-node/"
  echo "   carry: [\"$CARRY\", \".portable-node\"]; command: bash scripts/gpu-verify.sh run checks"
}

run() {
  OUT=${OUT:-/tmp/dilbench-gpu}
  mkdir -p "$OUT"
  export OUT C="$CARRY"
  [ -x "$C/node" ] || { xz -dc .portable-node/node.xz >"$C/node" && chmod +x "$C/node"; } || { echo "no Node: carry .portable-node" >&2; exit 100; }
  local want=" $* " failed=0 line name group limit cmd t0 rc secs
  [ "$want" = "  " ] && want=" checks "
  for line in "${STEPS[@]}"; do
    name=$(field "$line" 1); group=$(field "$line" 2); limit=$(field "$line" 3); cmd=$(field "$line" 4-)
    case "$want" in *" all "* | *" $group "* | *" $name "*) ;; *) continue ;; esac
    echo "== $name ($group, limit ${limit}s): $cmd"
    t0=$(date +%s)
    timeout "$limit" bash -c "$cmd" >"$OUT/$name.txt" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    [ $rc -ne 0 ] && failed=$((failed + 1))
    # the last line that reads like a verdict, for the summary
    local verdict
    verdict=$(grep -E -i "fail|pass|error summary|mismatch|checks|tflop|GB/s" "$OUT/$name.txt" | tail -1 | cut -c1-160)
    [ -z "$verdict" ] && verdict=$(grep -v '^\s*$' "$OUT/$name.txt" | tail -1 | cut -c1-160)
    printf '%-22s rc=%-3s %4ss  %s\n' "$name" "$rc" "$secs" "$verdict" | tee -a "$OUT/SUMMARY.txt"
    [ $rc -eq 124 ] && echo "   (timed out after ${limit}s)" | tee -a "$OUT/SUMMARY.txt"
  done
  echo "== $failed step(s) failed; logs in $OUT"
  exit $(( failed > 100 ? 100 : failed ))
}

case "${1:-}" in
  pack) pack ;;
  run) shift; run "$@" ;;
  steps)
    for line in "${STEPS[@]}"; do printf '%-22s %-9s %4ss  %s\n' "$(field "$line" 1)" "$(field "$line" 2)" "$(field "$line" 3)" "$(field "$line" 4-)"; done ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
