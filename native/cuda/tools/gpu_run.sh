#!/usr/bin/env bash
# One device-machine session: build (if needed), check, time, compare with PyTorch SDPA.
# Usage (repo root, on the GPU machine): bash native/cuda/tools/gpu_run.sh [OUTDIR]
set -u
OUT=${1:-${OUT:-/tmp/dilbench-gpu}}
mkdir -p "$OUT"
B=${CUDA_BENCH:-build-cuda-tools/cuda_bench}
if [ ! -x "$B" ]; then
  cmake -S native/cuda -B build-cuda-tools -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/build.log" 2>&1 &&
    cmake --build build-cuda-tools -j16 >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/smi.txt"
"$B" info | tee "$OUT/info.txt"
"$B" bandwidth | tee "$OUT/bandwidth.txt"
"$B" check 2>&1 | tee "$OUT/check.txt" | grep -E "FAIL|failure|error" ; tail -1 "$OUT/check.txt"
for cfg in ${FLASH_CFGS:-0 1 2}; do
  echo "== flash config $cfg"
  DILBENCH_FLASH_CFG=$cfg "$B" bench --impl flash --csv "$OUT/flash_cfg$cfg.csv" > "$OUT/flash_cfg$cfg.txt" 2>&1
  cat "$OUT/flash_cfg$cfg.txt" | tail -n +1 | awk '{print}' | head -30
done
"$B" bench --impl naive --no-causal --reps 8 --csv "$OUT/naive.csv" > "$OUT/naive.txt" 2>&1; cat "$OUT/naive.txt"
python3 native/cuda/tools/sdpa_compare.py --csv "$OUT/sdpa.csv" > "$OUT/sdpa.txt" 2>&1
tail -26 "$OUT/sdpa.txt"
for cfg in ${FLASH_CFGS:-0 1 2}; do
  echo "== side by side, config $cfg"
  python3 native/cuda/tools/sdpa_compare.py --merge "$OUT/flash_cfg$cfg.csv" "$OUT/sdpa.csv"
done
