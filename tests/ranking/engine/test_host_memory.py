"""keep_freed_memory: glibc stops serving large buffers by mmap (checked in a fresh process: the settings are
process-wide), and the engine applies it on CPU unless configured off."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap

import pytest

from ranking.engine import embedded_engine
from ranking.engine.embedded_engine import EmbeddedEngine, EngineConfig

# A 64 MiB malloc in a fresh process; prints by how much it grew the bytes glibc holds in mmapped chunks.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from ranking.engine.host_memory import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.mallinfo2.restype = MallInfo2
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(64 * 2**20)
    print(libc.mallinfo2().hblkhd - before)
    libc.free(block)
    """
)


def _mmapped_growth(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(not ctypes.util.find_library("c") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
                    reason="needs glibc >= 2.33 (mallinfo2)")  # fmt: skip
def test_large_buffers_come_from_the_heap_once_kept() -> None:
    assert _mmapped_growth("default") >= 64 * 2**20  # glibc's default: a fresh mmap
    assert _mmapped_growth("keep") == 0


@pytest.mark.parametrize("keep", [True, False])
def test_the_engine_applies_it_on_cpu_unless_configured_off(
    tiny_loaded, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(embedded_engine, "keep_freed_memory", lambda: calls.append(True) or True)
    EmbeddedEngine(tiny_loaded, EngineConfig(keep_freed_memory=keep))
    assert calls == ([True] if keep else [])
