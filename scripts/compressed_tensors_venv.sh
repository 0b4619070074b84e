#!/usr/bin/env bash
# Create .venv-ct: the compressed-tensors library in its own environment, used by the tests to decompress this
# project's FP8/INT8/W4A16 exports with the maintained library and compare with our own loader. Its own venv
# keeps its pins away from the project's. Idempotent: does nothing if already installed.
set -euo pipefail

VENV="${1:-.venv-ct}"
PY="$VENV/bin/python"
CT_VERSION="0.20.0"

if [[ -x "$PY" ]] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('compressed-tensors') != '$CT_VERSION')" 2>/dev/null; then
  echo "compressed_tensors_venv.sh: $VENV already has compressed-tensors==$CT_VERSION"
  exit 0
fi
python3 -m venv "$VENV"
"$PY" -m pip install -q torch==2.13.0   # the local CPU wheel first, so nothing pulls a CUDA build
"$PY" -m pip install -q "compressed-tensors==$CT_VERSION" "transformers>=4.56" safetensors
"$PY" -c "import compressed_tensors" && echo "compressed_tensors_venv.sh: $VENV ready"
