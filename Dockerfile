# syntax=docker/dockerfile:1
# slmrank gateway image: the FastAPI service with the embedded CPU engine and the small default
# model (models/default). On GPU clusters the same image routes to SGLang engine pods
# (SLMRANK_BACKEND=sglang); the engines run the official SGLang image.
#
#   docker build -t registry.example.com/slmrank/gateway:0.1.0 .
#
# Not built in this repository's CI (no Docker daemon there); `hadolint Dockerfile` keeps it
# lint-clean. See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a virtual environment with torch (CPU) and the project ----------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch's CPU-only wheel lives on the PyTorch index; the PyPI wheel would pull GBs of CUDA
# libraries the gateway never uses. Installed first so the project layer reuses it.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.13.0

WORKDIR /src
COPY pyproject.toml README.md ./
COPY slmrank ./slmrank
COPY ranking ./ranking
COPY service ./service
COPY training ./training
COPY compression ./compression
COPY loadtest ./loadtest
# torch==2.13.0 is already satisfied (2.13.0+cpu), so this adds only the other dependencies.
RUN pip install --no-cache-dir /src

# ---- runtime: the venv, the default model, a non-root user --------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SLMRANK_HOST=0.0.0.0 \
    SLMRANK_PORT=8000 \
    SLMRANK_MODEL_DIR=/app/models/default

RUN groupadd --system --gid 10001 slmrank \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin slmrank

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only for the service user: the process cannot alter its own model.
COPY models/default /app/models/default

USER 10001:10001
EXPOSE 8000

# slim has no curl; urllib raises on any non-2xx answer, so a failing /healthz exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["slmrank", "serve", "--host", "0.0.0.0", "--port", "8000"]
