#!/usr/bin/env bash
# The GPU run, in one call (<= 8 minutes on an H100/H200): the CUDA tests, then P50/P99 TTFT of the embedded engine
# against plain transformers on a 2.1B-shape random model (bf16, then FP8 weights) at 16k and 32k prefixes,
# k = 1, 4, 32, cold and hot. Results: bench/results/gpu-<device>*.md (and $OUT/ when the device tool runs it).
#
#   bench/gpu/run.sh                 # on the GPU machine, from the repository root
#   bench/gpu/run.sh --cpu-dry-run   # the same steps on a tiny shape on CPU (tests/bench runs this)
#
# The GPU image has CUDA, PyTorch and transformers but no package index: whatever else is missing travels as
# wheels in .whl/ (bench/gpu/wheels.sh downloads them here) and is installed to /tmp/site first.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
RESULTS=${OUT:-bench/results}
mkdir -p "$RESULTS"

if [ "${1:-}" = "--cpu-dry-run" ]; then
    DEVICE=cpu; NAME=${NAME:-gpu-dry-run}; RESULTS=${RESULTS_DIR:-$RESULTS}
    COMMON=(--cpu-dry-run --out-dir "$RESULTS")
else
    if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
        export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
    DEVICE=cuda
    NAME=${NAME:-gpu-$($PY -c 'import torch; print(torch.cuda.get_device_name(0).replace(" ", "-"))')}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$RESULTS/$NAME-smi.txt"
    # CUDA tests first: the bf16 engine, FlashInfer/SDPA cascade attention and the FP8 GEMM paths.
    timeout 150 $PY -m pytest -q -m gpu -p no:cacheprovider tests/ranking 2>&1 | tail -30 | tee "$RESULTS/$NAME-tests.txt"
    COMMON=(--device cuda --dtype bfloat16 --shape 2.1b --prefix-lens 16384,32768 --ks 1,4,32 --members 6
            --threads 8 --matmul-size 8192 --cache-gib 24 --baseline-kv-gib 16 --max-plain-tokens 140000
            --max-batch-tokens 32768 --out-dir "$RESULTS")
fi

timeout 200 $PY bench/prefill_shapes.py "${COMMON[@]}" --name "$NAME" || echo "bf16 run failed: $?"
timeout 150 $PY bench/prefill_shapes.py "${COMMON[@]}" --fp8 --name "$NAME-fp8" || echo "fp8 run failed: $?"
ls -l "$RESULTS"
