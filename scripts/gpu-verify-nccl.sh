#!/usr/bin/env bash
# The NCCL ring (native/distributed/nccl, issue 19) on a machine with two or more GPUs, and its
# CUDA-aware MPI fallback (--gpu-transport cuda-aware-mpi) where the MPI is CUDA-aware: 2 ranks,
# one GPU each, causal and not, the gathered output checked on rank 0 against the CPU flash
# kernel (the rank exits 0 whatever the errors; this script fails when a check is over 2e-4 /
# 2e-5). Then the same through the orchestrator: `node bin/dilbench.js ring --distributed --device
# cuda --ranks 2` (the CLI runtime unpacked from $C/cli-runtime.tar.xz, the addon and the GPU rank
# from $C), its result file checked: device cuda and the transport on every row, the check passed,
# per-step measurements of both ranks. Run by `scripts/gpu-verify.sh run multigpu` with the carry
# folder in $C. Never run yet: written on machines without NCCL and with at most one GPU.
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

# ---- the orchestrator path: dilbench ring --distributed --device cuda ------------------------------
set -- ${runs[0]}
transport=$2
if [ ! -f "$C/cli-runtime.tar.xz" ]; then
  echo "nccl-ring FAIL orchestrator: $C/cli-runtime.tar.xz not packed (scripts/gpu-verify.sh pack makes it)"; exit 1
fi
[ -f dist/src/cli/main.js ] || tar -xJf "$C/cli-runtime.tar.xz" || { echo "nccl-ring FAIL orchestrator: cannot unpack the CLI runtime"; exit 1; }
node=${NODE:-$C/node}
orch="$OUT/orchestrator-$transport"
rm -rf "$orch"
echo "== dilbench doctor (the distributed GPUs line)"
DILBENCH_ADDON_PATH="$PWD/$C/dilbench.node" "$node" bin/dilbench.js doctor | grep -A1 "distributed"
echo "== node bin/dilbench.js ring --distributed --device cuda --gpu-transport $transport --ranks 2 --total-tokens 8191 --heads 8 --kv-heads 2 --causal --check flash"
DILBENCH_ADDON_PATH="$PWD/$C/dilbench.node" "$node" bin/dilbench.js ring --distributed --device cuda --gpu-transport "$transport" --ranks 2 \
  --total-tokens 8191 --heads 8 --kv-heads 2 --head-dim 64 --causal --runs 3 --warmup 1 --check flash --timeout 240 --output-dir "$orch"
rc=$?
echo "orchestrator exit status $rc"
python3 - "$orch" "$transport" <<'PY' || fail=1
import glob, json, sys
out, transport = sys.argv[1], sys.argv[2]
files = glob.glob(out + "/*.json")
if len(files) != 1:
    print(f"nccl-ring FAIL orchestrator: {len(files)} result JSON files in {out}"); sys.exit(1)
d = json.load(open(files[0]))
cfg = d["config"]
problems = []
if d.get("suite") != "ring-distributed": problems.append(f"suite {d.get('suite')}")
if cfg.get("device") != "cuda" or cfg.get("gpuTransport") != transport: problems.append(f"config device {cfg.get('device')} transport {cfg.get('gpuTransport')}")
if not d["results"]: problems.append("no rows")
for r in d["results"]:
    m = r.get("distributed") or {}
    v = r.get("validation") or {}
    if r["device"] != "cuda" or r.get("params", {}).get("transportKind") != transport: problems.append(f"row device {r['device']} transport {r.get('params', {}).get('transportKind')}")
    if r["status"] != "ok" or not v.get("passed"): problems.append(f"row status {r['status']}: {r.get('reason')}")
    if len(m.get("perStep", [])) != 2 or len(m.get("perRank", [])) != 2 or not all(w > 0 for w in m.get("wallMs", [0])): problems.append("per-step/per-rank measurements missing")
    p = r.get("projected") or {}
    print(f"orchestrator row: {r['seqLen']} tokens, layout {m.get('layout')}, wall ms {m.get('medianWallMs')}, projected {p.get('projectedWallMs', p.get('skipped'))}, "
          f"ping-pong GB/s {(m.get('pingPong') or {}).get('medianGBps')}, overlap {m.get('overlapEfficiency')}, check {v.get('against')} max abs {v.get('maxAbsError')}")
print(f"nccl-ring {'FAIL' if problems else 'PASS'} orchestrator ({transport}): " + ("; ".join(problems) if problems else f"{files[0]}"))
sys.exit(1 if problems else 0)
PY
exit $fail
