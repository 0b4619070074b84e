"""The real server: `slmrank serve` under uvicorn on 127.0.0.1, called over HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.service.conftest import rank_body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_model_dir):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SLMRANK_DEVICE": "cpu", "SLMRANK_DTYPE": "float32"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slmrank",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(tiny_model_dir),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("server did not become ready in 90 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_rank_over_real_http(server_url) -> None:
    r = httpx.post(f"{server_url}/rank", json=rank_body(4), timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert len(body["ranked"]) == 4 and body["ranked"][0]["rank"] == 1


def test_bad_request_over_real_http_then_still_serving(server_url) -> None:
    r = httpx.post(f"{server_url}/rank", content=b"{", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert httpx.post(f"{server_url}/rank", json=rank_body(1), timeout=30).status_code == 200
