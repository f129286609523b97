"""The worker's registry file, read in a child process so that the worker keeps only the result.

Reading a registry YAML builds a node graph many times the size of the registry it yields: a
province of 10 000 devices (a 4 MB file) peaks at ~257 MiB of Python objects to produce a
24 MiB document and a 33 MiB ``Registry``; the freed memory stays in the worker's heap (it is
fragmented, so neither the allocator nor ``malloc_trim`` give it back) and was most of the
worker's resident memory (issue 15: 289 MiB of its 471 MiB at 10 000 devices, docs/perf.md).

``load_registry_apart(path)`` reads and validates the file in a forked child
(``schemas.registry.load_registry``, the same checks and errors), which hands back the
registry topic's own JSON snapshot (``encode_snapshot``); the worker validates that JSON
(``decode_snapshot``: the path a registry published on the topic takes), so its peak is the
JSON text and the models. Blocks until the child is done; raises ``RegistryError`` (with the
file's reason and line) as ``load_registry`` does.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from schemas.registry import (
    Registry,
    RegistryError,
    decode_snapshot,
    encode_snapshot,
    load_registry,
    snapshot_of,
)


def load_registry_apart(path: Path) -> Registry:
    """The registry of the YAML file ``path``, read in a child process (module docstring)."""
    # fork: the child already has every module imported, and the worker has started no
    # thread yet when it reads its registry.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as child:
        outcome = child.submit(_snapshot_json, str(path)).result()
    if isinstance(outcome, tuple):
        raise RegistryError(*outcome)
    return decode_snapshot(outcome, str(path)).registry


def _snapshot_json(path: str) -> bytes | tuple[str, str]:
    """In the child: the snapshot JSON of the file's registry, or (source, reason) of the
    ``RegistryError`` it raised (returned, not raised: plain values cross the pipe)."""
    try:
        registry = load_registry(Path(path))
    except RegistryError as error:
        return error.source, error.reason
    return encode_snapshot(snapshot_of(registry, datetime.now(UTC)))
