"""CPU: keep freed activation buffers in the process heap for the next forward pass (glibc malloc).

By default glibc serves every allocation above its mmap threshold (128 KiB, growing to at most 32 MiB) with a fresh
mmap and returns it to the OS on free, and gives each thread its own arena. A forward pass over a few thousand
tokens allocates and frees dozens of such buffers (activations, fp32 copies inside RMSNorm, attention outputs), so
every pass page-faults all of them in again: in bf16 on a 2-core AMX CPU that was 13-25% of a 4k-token cold
request (docs/engine.md, the AMX section; `bench/prefill_shapes.py --default-malloc` measures without it). With
mmap off, no trimming and one arena, freed buffers are reused; the process keeps its peak heap (what a server
sizes for anyway) instead of handing it back.

The settings are process-wide, so they are applied once, before the engine's worker thread first allocates (a
thread picks its arena then). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
TRIM_THRESHOLD_BYTES = 2**31 - 1  # the largest mallopt takes (an int): keep up to 2 GiB free at the heap's top


def keep_freed_memory() -> bool:
    """mmap off, no trimming, one arena; True when glibc accepted all three."""
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it; musl's mallopt is a stub
    except (OSError, AttributeError):
        logger.info("not glibc: freed host memory is left to the allocator's defaults")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    accepted = [mallopt(M_MMAP_MAX, 0), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES), mallopt(M_ARENA_MAX, 1)]
    return all(result == 1 for result in accepted)
