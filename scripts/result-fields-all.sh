#!/usr/bin/env bash
# Before/after field check of every command's result (issue 18): one small result of each command
# on fixed seeds and --runs, made by two checkouts, then compared field by field.
#
#   bash scripts/result-fields-all.sh run ROOT OUT   # one result per command with ROOT's CLI, into OUT
#   bash scripts/result-fields-all.sh diff BEFORE AFTER
#
# e.g. `git worktree add /tmp/old <rev>` (npm ci there), `run /tmp/old /tmp/f/before`,
# `run . /tmp/f/after`, `diff /tmp/f/before /tmp/f/after`. inference and scaling have their own
# check: node scripts/result-fields-diff-engine.mjs. Exit 1 when any result differs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-}; a=${2:-}; b=${3:-}
if [ "$mode" = run ] && [ -n "$a" ] && [ -n "$b" ]; then
  root=$(cd "$a" && pwd); mkdir -p "$b"; cd "$b" || exit 2
  D="node $root/bin/dilbench.js"
  S="--warmup 1 --seed 1 --no-plots --no-peak --quiet --memory-budget 1GiB --output-dir out"
  one() { local name=$1; shift; mkdir -p "$name"; (cd "$name" && "$@" >stdout.txt 2>stderr.txt; echo "$name: exit $?"); }
  one sequence-ranges $D sequence-ranges --range custom --custom-lengths 256,512 --implementations naive,flash --runs 3 $S
  one quick-validation $D quick-validation --sequence-lengths 256 --implementations naive,flash --runs 3 $S
  one optimization-impact $D optimization-impact --sequence-lengths 256 --implementations flash --runs 3 $S
  one extreme $D extreme --min-length 16K --max-length 16K --implementations flash --runs 2 $S
  one ring $D ring --ring-size 2 --total-tokens 1K --implementations ring --runs 2 $S
  # PyTorch joins when DILBENCH_PYTHON names a python with torch; otherwise that side is skipped in both
  one frameworks $D frameworks --seq-lens 256 --frameworks dilbench,onnxruntime-mha,pytorch --runs 3 --warmup 1 --seed 1 --quiet --output-dir out
  first=$(ls "$PWD"/sequence-ranges/out/*.json | head -1)
  one compare $D compare --format json --output compare.json "$first" "$first"
  one report $D report --results-dir "$PWD/sequence-ranges/out" --out rep --format json,csv,md --quiet
  exit 0
fi
if [ "$mode" = diff ] && [ -n "$a" ] && [ -n "$b" ]; then
  status=0
  for c in sequence-ranges quick-validation optimization-impact extreme ring frameworks; do
    x=$(ls "$a"/$c/out/*.json 2>/dev/null | head -1); y=$(ls "$b"/$c/out/*.json 2>/dev/null | head -1)
    if [ -z "$x" ] || [ -z "$y" ]; then echo "$c: no result on one side"; status=1; continue; fi
    echo "$c: $(node "$here/result-fields-diff.mjs" "$x" "$y" | tail -1)" || status=1
    node "$here/result-fields-diff.mjs" "$x" "$y" >/dev/null || status=1
    [ "$(head -1 "${x%.json}.csv")" = "$(head -1 "${y%.json}.csv")" ] && echo "$c: CSV header identical" || { echo "$c: CSV header differs"; status=1; }
  done
  for f in compare/compare.json report/rep/report.json; do
    echo "$f: $(node "$here/result-fields-diff.mjs" "$a/$f" "$b/$f" | tail -1)"
    node "$here/result-fields-diff.mjs" "$a/$f" "$b/$f" >/dev/null || status=1
  done
  for t in "$a"/report/rep/tables/*.csv; do
    n=$(basename "$t")
    [ "$(head -1 "$t")" = "$(head -1 "$b/report/rep/tables/$n" 2>/dev/null)" ] || { echo "report table $n: header differs"; status=1; }
  done
  exit $status
fi
echo "usage: result-fields-all.sh run ROOT OUT | diff BEFORE AFTER" >&2
exit 2
