#!/usr/bin/env bash
# One full round of GPU work on the device machine (run there through ../shared/gpu/run.sh, which has already
# built build/gpu and exported QUARTET_LIB): every GPU test, every benchmark, the PyTorch training baseline.
# Logs and JSON land in $OUT; a short table is printed last.  Usage: bash scripts/gpu-round.sh [tests|bench|all]
set -uo pipefail
what=${1:-all}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
date -u +%Y-%m-%dT%H:%MZ | tee -a "$OUT/gpu.txt"
summary=()
if [ "$what" = all ] || [ "$what" = tests ]; then
  bun test test/gpu 2>&1 | tee "$OUT/gpu-tests.log"
  summary+=("gpu tests: $(grep -E '^ *[0-9]+ (pass|fail|skip)$' "$OUT/gpu-tests.log" | tr -s ' \n' ' ')")
  bun test test/linear numerics 2>&1 | tail -5 > "$OUT/cpu-tests-on-gpu-machine.log"
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  for b in quant gemm linear; do
    [ -f "bench/$b.ts" ] || continue
    timeout 300 bun "bench/$b.ts" > "$OUT/bench-$b.txt" 2>&1
    summary+=("bench $b: exit $?")
  done
  # the baseline travels in .gpu/ (copied there from ../shared/baselines by hand: ../shared does not travel)
  base=.gpu/torch_train_baseline.py
  [ "${BASELINE:-0}" = 1 ] && [ -f "$base" ] && timeout 240 python3 "$base" > "$OUT/torch-baseline.txt" 2>&1
fi
if [ "$what" = all ] || [ "$what" = train ]; then
  # short 30M runs (batch 64 x 512, as the PyTorch baseline) per recipe, on pre-tokenized shards carried in .gpu/
  mkdir -p runs
  for recipe in bf16 nvidia quartet2; do
    timeout 300 bun examples/train.ts --preset 30M --recipe "$recipe" --device cuda --batch 64 --grad-accum 1 \
      --steps "${TRAIN_STEPS:-150}" --eval-every 25 --eval-batches 4 --checkpoint-every 0 --sample-tokens 0 \
      --data .gpu/shards --out runs --name "30M-$recipe" > "runs/train-$recipe.log" 2>&1
    summary+=("train $recipe: exit $? $(tail -3 "runs/train-$recipe.log" | tr '\n' ' ')")
  done
  tar czf "$OUT/runs.tgz" --exclude=checkpoints runs 2>/dev/null
fi
echo
printf '%s\n' "${summary[@]}"
for f in "$OUT"/bench-*.txt; do echo "== $f"; grep -v '^{' "$f" | tail -25; done
