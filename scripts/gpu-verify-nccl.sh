#!/usr/bin/env bash
# The NCCL ring (native/distributed/nccl, issue 19) on a machine with two or more GPUs: 2 ranks,
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
[ -x "$C/dilbench-ring-rank-nccl" ] || { echo "nccl-ring FAIL: $C/dilbench-ring-rank-nccl not packed (the pack machine found no NCCL: set NCCL_HOME)"; exit 1; }
command -v mpirun >/dev/null || { echo "nccl-ring FAIL: no mpirun on this machine (Open MPI runtime needed)"; exit 1; }
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
fail=0
for causal in "" "--causal"; do
  json="$OUT/nccl-ring${causal:+-causal}.json"
  echo "== mpirun -np 2 dilbench-ring-rank-nccl --seq-len 8191 --heads 8 --kv-heads 2 $causal --check flash"
  mpirun -np 2 $root "$C/dilbench-ring-rank-nccl" --seq-len 8191 --heads 8 --kv-heads 2 --head-dim 64 $causal \
    --iterations 3 --check flash --output "$json" || { echo "nccl-ring FAIL: launch failed"; fail=1; continue; }
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
exit $fail
