#!/usr/bin/env bash
# The NCCL ring (native/distributed/nccl, issue 19) on a machine with two or more GPUs, and its
# CUDA-aware MPI fallback (--gpu-transport cuda-aware-mpi) where the MPI is CUDA-aware: 2 ranks,
# one GPU each, causal and not, the gathered output checked on rank 0 against the CPU flash
# kernel (the rank exits 0 whatever the errors; this script fails when a check is over 2e-4 /
# 2e-5). Run by `scripts/gpu-verify.sh run multigpu` with the carry folder in $C. Never run yet:
# written on machines without NCCL and with at most one GPU.
set -u
C=${C:-gpu-carry}
OUT=${OUT:-/tmp/dilbench-gpu}
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "${gpus:-0}" -lt 2 ]; then
  echo "nccl-ring SKIPPED: needs >= 2 GPUs, this machine has ${gpus:-0}"
  exit 0
fi
command -v mpirun >/dev/null || { echo "nccl-ring FAIL: no mpirun on this machine (Open MPI runtime needed)"; exit 1; }
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
fail=0
# (rank executable, transport): NCCL, and the CUDA-aware MPI fallback (from the NCCL rank, or the
# rank built without NCCL); the fallback is skipped when the rank says this MPI is not CUDA-aware
runs=()
if [ -x "$C/dilbench-ring-rank-nccl" ]; then
  runs+=("dilbench-ring-rank-nccl nccl" "dilbench-ring-rank-nccl cuda-aware-mpi")
elif [ -x "$C/dilbench-ring-rank-cuda-mpi" ]; then
  echo "nccl-ring FAIL: $C/dilbench-ring-rank-nccl not packed (the pack machine found no NCCL: set NCCL_HOME); running the CUDA-aware MPI fallback only"
  fail=1
  runs+=("dilbench-ring-rank-cuda-mpi cuda-aware-mpi")
else
  echo "nccl-ring FAIL: $C/dilbench-ring-rank-nccl not packed (the pack machine found no NCCL: set NCCL_HOME)"; exit 1
fi
for run in "${runs[@]}"; do
 set -- $run
 exe=$1 transport=$2
 for causal in "" "--causal"; do
  json="$OUT/nccl-ring-$transport${causal:+-causal}.json"
  echo "== mpirun -np 2 $exe --gpu-transport $transport --seq-len 8191 --heads 8 --kv-heads 2 $causal --check flash"
  mpirun -np 2 $root "$C/$exe" --gpu-transport "$transport" --seq-len 8191 --heads 8 --kv-heads 2 --head-dim 64 $causal \
    --iterations 3 --check flash --output "$json" 2>"$OUT/nccl-ring-$transport.err"
  rc=$?
  cat "$OUT/nccl-ring-$transport.err" >&2
  if [ $rc -ne 0 ] && grep -q "not CUDA-aware" "$OUT/nccl-ring-$transport.err"; then
    echo "nccl-ring SKIPPED $transport: this machine's MPI is not CUDA-aware"; break
  fi
  [ $rc -eq 0 ] || { echo "nccl-ring FAIL: $transport launch failed"; fail=1; continue; }
  python3 - "$json" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
for l in d["layouts"]:
    c = l["check"]
    walls = [max(r["wallNs"] for r in it["ranks"]) / 1e6 for it in l["iterations"]]
    waits = [sum(r["waitNs"]) / 1e6 for r in l["iterations"][-1]["ranks"]]
    ok = c["finite"] and c["maxAbsError"] <= 2e-4 and c["relL2Error"] <= 2e-5
    print(f"nccl-ring {'PASS' if ok else 'FAIL'} {d['transport']} layout {l['layout']}: vs {c['against']} max abs {c['maxAbsError']:.2e} "
          f"rel L2 {c['relL2Error']:.2e}; wall ms {walls}; wait ms per rank {waits}; ping-pong one-way ns {l['pingPong']['oneWayNs']}")
    sys.exit(0 if ok else 1)
PY
 done
done
exit $fail
