"""The worker's C-heap settings (streams/process_memory.py) take effect on this machine's glibc."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import process_memory


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(process_memory._libc() is None, reason="not glibc")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    """Objects too large for Python's own allocator (here 4 KiB each, 128 MiB in all) come
    from glibc's heap; freed with one kept at the top, their pages stay resident until
    ``release_free_memory`` hands them back."""
    held = [bytes(4096) for _ in range(32_768)]
    top = held.pop()
    del held
    before = _rss_kib()
    assert process_memory.release_free_memory()
    after = _rss_kib()
    assert len(top) == 4096
    assert before - after > 64 * 1024, f"{before} KiB -> {after} KiB"


@pytest.mark.skipif(process_memory._libc() is None, reason="not glibc")
def test_the_arena_limit_is_accepted() -> None:
    assert process_memory.limit_malloc_arenas(process_memory.WORKER_MALLOC_ARENAS)
