"""The worker process's C heap: fewer glibc arenas, and freed memory handed back to the system.

A worker allocates from three threads at least (faust's event loop, the thread that decodes
and runs the engine, the one that writes to PostgreSQL), and glibc gives each thread that
contends for the heap an arena of its own, up to 8 per core: memory freed in one arena is not
reused by the others, and stays resident. Python's own allocator takes small objects from
256 KiB blocks it maps itself; what goes to glibc's arenas is everything larger (lists and
dicts of a batch, arrays, the raw messages' bytes, the registry's JSON while it is parsed).

- ``limit_malloc_arenas(n)``: at most ``n`` arenas (``mallopt(M_ARENA_MAX)``, the setting the
  ``MALLOC_ARENA_MAX`` variable makes); call before the process starts threads.
- ``release_free_memory()``: ``malloc_trim(0)``, which returns the free pages of every arena to
  the system; after the registry is loaded (its parse's garbage) and then now and then.

Measured at 10 000 devices (docs/perf.md, "Fourth slice"). Both are glibc functions; on
another C library they do nothing and say so (False).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

M_ARENA_MAX: Final = -8
"""``mallopt`` parameter number of the arena limit (glibc ``malloc.h``)."""
WORKER_MALLOC_ARENAS: Final = 2
"""Arenas of a worker process: the main one and one for its threads (docs/perf.md)."""
TRIM_INTERVAL_S: Final = 1.0
"""How often a worker hands its free heap pages back (``release_free_memory``): a trim of a
10 000-device worker's heap took 0.8 ms and gave back 7 MiB (docs/perf.md), so once a
second costs under 0.1 % of a core."""


@cache
def _libc() -> Any:
    """The C library, or None when it is not glibc (no ``mallopt``/``malloc_trim``)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def resident_mib(pid: int | str = "self") -> tuple[float, float] | None:
    """(resident set ``VmRSS``, its peak ``VmHWM``) of process ``pid`` in MiB, from
    ``/proc/PID/status``; None where there is no such file (not Linux, the process gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text("ascii").splitlines()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    try:
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)
    except (KeyError, IndexError, ValueError):
        return None


def limit_malloc_arenas(arenas: int = WORKER_MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas from now on; True when the C library took it.
    Does not block; call before threads start (arenas already made stay)."""
    libc = _libc()
    if libc is None:
        log.info("not glibc: malloc arenas left as they are")
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Give the free pages of the C heap back to the system (``malloc_trim(0)``); True when
    some were. Holds each arena's lock while it walks it (milliseconds)."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
