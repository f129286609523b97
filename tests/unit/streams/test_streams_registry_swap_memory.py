"""A registry swapped in from the registry topic shares its models' fields sets, as the
registry the worker starts with does (``Pipeline.prepare_registry`` →
``streams.registry_memory.share_fields_sets``; docs/perf.md, "Fourth slice")."""

from __future__ import annotations

from streams_support import NothingWritten, edition

from schemas.registry import Registry
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.pipeline import Pipeline


def _fields_sets(registry: Registry) -> list[int]:
    """The ids of the fields sets of the registry's outlets and devices."""
    outlets = [o for e in registry.enterprises for o in e.outlets]
    devices = [d for o in outlets for d in o.devices]
    return [id(m.__pydantic_fields_set__) for m in (*outlets, *devices)]


def test_a_registry_swapped_in_later_shares_its_fields_sets() -> None:
    pipeline = Pipeline(edition("v1"), engine_factory=Engine, normalize=normalize_packet,
                        sink=NothingWritten(), store=MemoryStore())  # fmt: skip
    published = edition("v2", added="ADDED-DEVICE-0001")
    unshared = len(set(_fields_sets(published)))
    pipeline.commit(pipeline.prepare_registry(published))
    assert len(set(_fields_sets(published))) < unshared
