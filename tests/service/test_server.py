"""The real server: `slmrank serve` under uvicorn on 127.0.0.1, called over HTTP."""

import httpx
import pytest

from tests.live_server import live_server
from tests.service.conftest import rank_body


@pytest.fixture(scope="module")
def server_url(tiny_model_dir, tmp_path_factory):
    with live_server(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


def test_rank_over_real_http(server_url) -> None:
    r = httpx.post(f"{server_url}/rank", json=rank_body(4), timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert len(body["ranked"]) == 4 and body["ranked"][0]["rank"] == 1


def test_bad_request_over_real_http_then_still_serving(server_url) -> None:
    r = httpx.post(f"{server_url}/rank", content=b"{", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert httpx.post(f"{server_url}/rank", json=rank_body(1), timeout=30).status_code == 200
