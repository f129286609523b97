"""A prepare's store reads wait for the batches in flight only when they could see their rows
(``streams.committed_reads``, issue 15 seventh slice): a batch of devices that no batch in
flight writes is prepared while the batch before commits; a read of a device (or outlet) in
flight still waits for every earlier COMMIT, so the engine never rebuilds a window from rows
still in flight. (A MemoryStore stands in for PostgreSQL and a sink whose COMMIT waits for
the test; tests/integration/streams run the real worker.)"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

import pytest
from streams_support import ADDED, GAS, SO2, T0, edition

from ingest.hj212 import encode
from schemas.envelope import RawEnvelope
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from streams.committed_reads import InFlight, footprint
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.pipeline import Pipeline, PreparedBatch, RawRecord
from streams.sink import FlushResult, SinkBatch, SourcePosition

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
MINUTE = timedelta(minutes=1)


def _minutes(mn: str, first: int, count: int) -> list[RawRecord]:
    records = []
    for index in range(first, first + count):
        start = T0 + index * MINUTE
        values: dict[str, dict[str, float | str]] = {
            SO2: {"Avg": 20.0, "Flag": "N"},
            "a19001": {"Avg": 6.0, "Flag": "N"},
        }
        frame = encode(st="22", cn="2051", mn=mn, data_time=start, values=values).encode()
        envelope = RawEnvelope(protocol="hj212", device_id=mn, peer="127.0.0.1:1",
                               received_at=start + MINUTE, payload=frame)  # fmt: skip
        records.append(RawRecord(SourcePosition("raw", 0, index),
                                 envelope.model_dump_json().encode(), start))  # fmt: skip
    return records


class HeldSink:
    """Every flush waits for ``go`` (a long COMMIT), then records what it wrote."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.flushed: list[set[str]] = []

    def flush(self, batch: SinkBatch) -> FlushResult:
        self.go.wait(20)
        self.flushed.append({m.device_id for m in batch.measurements})
        return FlushResult(0, 0, 0, 0, {}, 0.0)

    def with_retry(self, read: Callable[[], T]) -> T:
        return read()

    def stop(self) -> None:
        return None


class ReadLog(MemoryStore):
    """Records, per read of ``recent``, which devices were committed at that moment."""

    def __init__(self, sink: HeldSink) -> None:
        super().__init__()
        self.sink = sink
        self.reads: list[tuple[set[str], int]] = []

    def recent(
        self, anchors: Mapping[str, datetime], span: timedelta, skew: timedelta
    ) -> dict[str, list[Measurement]]:
        self.reads.append((set(anchors), len(self.sink.flushed)))
        return dict(super().recent(anchors, span, skew))


def _in_thread(work: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


def test_a_batch_of_other_devices_is_prepared_while_the_one_before_commits() -> None:
    sink = HeldSink()
    store = ReadLog(sink)
    pipeline = Pipeline(edition("v1", added=ADDED), engine_factory=Engine,
                        normalize=normalize_packet, sink=sink, store=store)  # fmt: skip
    first = pipeline.prepare(_minutes(GAS, 0, 5))

    def commits(batches: list[PreparedBatch]) -> None:
        for batch in batches:
            pipeline.commit(batch)

    # batch 1 (GAS1) commits, held; batch 2 is of GAS2 alone: its reads need not wait
    second, done = _in_thread(lambda: pipeline.prepare(_minutes(ADDED, 0, 5)))
    second.join(5)  # main waited here for batch 1's COMMIT (forever: nothing commits it)
    assert done, "batch 2 waited for batch 1's COMMIT though it reads no device of it"
    committing, _ = _in_thread(lambda: commits([first, done[0]]))

    # the engine forgets everything: GAS1 is read again, and batch 1 still writes it
    pipeline.reset()
    third, again = _in_thread(lambda: pipeline.prepare(_minutes(GAS, 5, 5)))
    third.join(0.3)
    assert not again  # waits for batch 1's (and 2's) COMMIT before reading GAS1
    sink.go.set()
    third.join(5)
    committing.join(5)
    assert again
    assert store.reads == [({GAS}, 0), ({ADDED}, 0), ({GAS}, 2)]


def test_a_footprint_is_every_device_and_outlet_whose_rows_a_commit_writes() -> None:
    start = T0
    hourly = AggregateValue(outlet_id="G1", device_id=GAS, factor=SO2, period=PeriodKind.HOUR,
                            period_start=start, valid=True, valid_count=60,
                            invalid_count=0, registry_version="v1")  # fmt: skip
    batch = footprint([ADDED], [hourly])
    assert (batch.devices, batch.outlets) == ({ADDED, GAS}, {"G1"})
    flying = InFlight()
    flying.add(1, batch)
    assert not flying.clear({GAS}, ())
    assert not flying.clear((), {"G1"})
    assert flying.clear({"WAT1"}, {"W1"})
    flying.committed(1)
    assert flying.clear({GAS}, {"G1"})
