from service.engine_factory import engine_config
from service.settings import Settings


def test_engine_settings_reach_the_engine_config() -> None:
    config = engine_config(
        Settings(engine_prefix_cache=False, engine_kv_cache_bytes=1234, engine_max_batch_tokens=99,
                 engine_max_batch_requests=3, engine_max_queue=7, engine_attention_backend="sdpa",
                 engine_keep_freed_memory=False)
    )  # fmt: skip
    assert (config.enable_prefix_cache, config.kv_cache_bytes, config.max_batch_tokens) == (False, 1234, 99)
    assert (config.max_batch_requests, config.max_queue, config.attention_backend) == (3, 7, "sdpa")
    assert config.keep_freed_memory is False
