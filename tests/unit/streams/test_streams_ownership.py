"""Device → raw-topic partition: the same as the producers' default partitioners."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from aiokafka.partitioner import DefaultPartitioner as AioPartitioner
from hypothesis import given
from hypothesis import strategies as st
from kafka.cluster import ClusterMetadata
from kafka.partitioner.default import DefaultPartitioner
from streams_support import GAS, METAL, T0, WATER, NothingWritten, make_registry

from schemas.registry import Registry
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.ownership import devices_in, partition_of
from streams.pipeline import Pipeline


class _Cluster(ClusterMetadata):  # type: ignore[misc]
    """Metadata of one topic with ``count`` partitions, all available."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self._count = count

    def topics(self, *args: Any, **kwargs: Any) -> set[str]:
        return {"raw"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._count))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._count))


@given(mn=st.text(min_size=0, max_size=40), count=st.integers(min_value=1, max_value=64))
def test_a_device_maps_to_the_partition_kafka_python_and_aiokafka_produce_to(
    mn: str, count: int
) -> None:
    key = mn.encode()
    expected = DefaultPartitioner().partition("raw", mn, key, None, None, _Cluster(count))
    assert partition_of(mn, count) == expected
    assert AioPartitioner()(key, list(range(count)), list(range(count))) == expected


def test_known_mn_partitions() -> None:
    # Values of kafka-python's murmur2: a change of hashing shows here even without it.
    assert [partition_of("88888880000001", n) for n in (1, 4, 10)] == [0, 1, 3]
    assert [partition_of("GAS1", n) for n in (4, 10)] == [3, 9]


def test_the_devices_of_some_partitions_are_exactly_theirs() -> None:
    registry = make_registry()
    everyone = [GAS, METAL, WATER]
    by_partition = {p: devices_in(registry, {p}, 4) for p in range(4)}
    assert sorted(mn for group in by_partition.values() for mn in group) == sorted(everyone)
    assert devices_in(registry, set(range(4)), 4) == sorted(everyone)
    assert devices_in(registry, set(), 4) == []


class _Recording(Engine):
    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.forgotten: list[str] = []
        self.expected: list[str] = []

    def forget(self, device_ids: Iterable[str]) -> None:
        ids = list(device_ids)
        self.forgotten += ids
        super().forget(ids)

    def expect(self, device_ids: Iterable[str], since: datetime) -> None:
        ids = list(device_ids)
        self.expected += ids
        super().expect(ids, since)


def test_a_worker_forgets_the_devices_of_partitions_it_lost_and_expects_its_own() -> None:
    registry = make_registry()
    pipeline = Pipeline(registry, engine_factory=_Recording, normalize=normalize_packet,
                        sink=NothingWritten(), store=MemoryStore())  # fmt: skip
    engine = cast(_Recording, pipeline._engine)
    mine = partition_of(GAS, 4)
    pipeline.own({mine}, 4, T0)
    assert GAS in engine.expected and GAS not in engine.forgotten
    assert sorted(engine.expected + engine.forgotten) == sorted([GAS, METAL, WATER])
    assert all(partition_of(mn, 4) != mine for mn in engine.forgotten)
    pipeline.own(set(), None, T0)  # partition count unknown: a fresh engine
    assert pipeline._engine is not engine
