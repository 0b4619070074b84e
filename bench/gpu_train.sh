#!/usr/bin/env bash
# Train the `gpu` preset's teacher for a few hundred steps in bf16 on one GPU; print tokens/s, MFU, peak memory
# and the device name (bench/train_step.py's worker), and write them to $OUT (or bench/results) as JSON.
#
#   bash bench/gpu_train.sh                 # on a CUDA machine: 300 steps
#   bash bench/gpu_train.sh --cpu-dry-run   # the same path on this CPU: smoke shapes, 3 steps (tested)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=${PYTHON:-.venv/bin/python}
WORK=${WORK:-$(mktemp -d)}
RESULTS=${OUT:-bench/results}
mkdir -p "$RESULTS"
export HF_HUB_OFFLINE=1 PYTHONPATH=$PWD
if [ "${1:-}" = "--cpu-dry-run" ]; then
  ARGS=(--config smoke --device cpu --steps 3 --members 24 --threads 1)
  NAME=train-step-gpu-dryrun
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  ARGS=(--config gpu --device cuda --steps "${STEPS:-300}" --members "${MEMBERS:-600}" --threads 8)
  NAME=train-step-gpu
fi
"$PY" -m slmrank data movielens --out "$WORK/movielens" >/dev/null
"$PY" bench/train_step.py --worker sampled --precision bf16 --data "$WORK/movielens" --work "$WORK" \
  --result "$RESULTS/$NAME.json" "${ARGS[@]}" 2>"$WORK/stderr.log" | tail -n 20
echo "written: $RESULTS/$NAME.json"
