import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_settings_come_from_prefixed_environment(monkeypatch) -> None:
    monkeypatch.setenv("SLMRANK_MAX_CANDIDATES", "12")
    monkeypatch.setenv("SLMRANK_API_KEYS", "a, b,")
    s = Settings()
    assert s.max_candidates == 12 and s.api_key_set == {"a", "b"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 0},
        {"max_candidates": 0},
        {"backend": "triton"},
        {"backend": "vllm"},
        {"engine_dns": "engines.svc"},
        {"dtype": "int3"},
        {"not_a_setting": 1},
    ],
)
def test_invalid_settings_fail_at_startup(kwargs) -> None:
    with pytest.raises(ValidationError):
        Settings(**kwargs)


def test_remote_backend_needs_engines() -> None:
    s = Settings(backend="vllm", engine_urls="http://a:1/, http://b:2")
    assert s.engine_url_list == ["http://a:1", "http://b:2"]
