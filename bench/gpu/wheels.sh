#!/usr/bin/env bash
# Downloads (here, where PyPI is reachable) the wheels bench/gpu/run.sh needs on the GPU image, which has PyTorch,
# transformers and tokenizers but not the service's web stack that the test suite's imports reach.
# Same versions as this checkout's .venv; Python 3.12, manylinux x86_64. Writes .whl/ (git-ignored via
# .git/info/exclude; carry it to the device).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV_PY=${VENV_PY:-.venv/bin/python}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p .whl
for name in fastapi starlette pydantic pydantic-core pydantic-settings annotated-types typing-inspection \
            python-dotenv uvicorn annotated-doc; do
    version=$($VENV_PY -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    [ -n "$version" ] || continue
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$name==$version"
done
du -sh .whl
