"""``Pipeline.prepare_registry``: the worker's seam for a registry version published while it
runs. Batches prepared after it are decoded and judged under the new version, the metrics
say which version is in use. (An empty store stands in for PostgreSQL: these are the pure
pipeline's decisions; tests/integration/streams/test_worker_registry_follow.py runs the real
worker.)"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry
from streams_support import ADDED, GAS, SO2, T0, WATER, NothingWritten, edition

from ingest.hj212 import encode
from schemas.envelope import RawEnvelope
from schemas.measurement import AggregateValue
from schemas.verdict import Verdict, VerdictStatus
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.metrics import StreamMetrics
from streams.pipeline import Pipeline, PreparedBatch, RawRecord
from streams.sink import SourcePosition

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _pipeline(metrics: StreamMetrics) -> Pipeline:
    return Pipeline(edition("v1"), engine_factory=Engine, normalize=normalize_packet,
                    sink=NothingWritten(), store=MemoryStore(), metrics=metrics)  # fmt: skip


def _minutes(mn: str, first: int, count: int, so2: float) -> list[RawRecord]:
    """Minute frames (CN 2051) of ``mn`` from ``T0 + first`` minutes, as raw records."""
    records = []
    for index in range(first, first + count):
        start = T0 + index * MINUTE
        values: dict[str, dict[str, float | str]] = {
            SO2: {"Avg": so2, "Flag": "N"},
            "a19001": {"Avg": 6.0, "Flag": "N"},
        }
        frame = encode(st="22", cn="2051", mn=mn, data_time=start, values=values).encode()
        envelope = RawEnvelope(protocol="hj212", device_id=mn, peer="127.0.0.1:1",
                               received_at=start + MINUTE, payload=frame)  # fmt: skip
        position = SourcePosition("raw", 0, index)
        records.append(RawRecord(position, envelope.model_dump_json().encode(), start))
    return records


def _run(pipeline: Pipeline, prepared: PreparedBatch) -> PreparedBatch:
    """Commit ``prepared`` as the commit lane does (the next batch's reads wait for it)."""
    pipeline.commit(prepared)
    return prepared


def _verdicts(batch: PreparedBatch) -> list[Verdict]:
    return [o for o in batch.outputs if isinstance(o, Verdict)]


def test_batches_after_the_swap_are_decoded_and_judged_under_the_new_version() -> None:
    scraped = CollectorRegistry()
    pipeline = _pipeline(StreamMetrics.create(scraped))
    before = _run(pipeline, pipeline.prepare(_minutes(GAS, 0, 70, 20.0)))  # hour 0 closes at 01:10
    [hour0] = _verdicts(before)
    assert (hour0.status, hour0.registry_version) == (VerdictStatus.COMPLIANT, "v1")

    swap = _run(pipeline, pipeline.prepare_registry(edition("v2", so2_limit=15.0, added=ADDED)))

    assert (swap.sequence, swap.raw, swap.outputs) == (before.sequence + 1, 0, [])
    after = pipeline.prepare(_minutes(GAS, 70, 60, 20.0) + _minutes(ADDED, 120, 71, 20.0))
    assert after.rejected == []  # ADDED was unknown to v1, is known to v2
    [hour1] = [v for v in _verdicts(after) if v.period_start == T0 + HOUR]
    assert (hour1.status, hour1.limit, hour1.registry_version) == (
        VerdictStatus.EXCEEDANCE,
        15.0,
        "v2",
    )
    added = [o for o in after.outputs if isinstance(o, AggregateValue) and o.device_id == ADDED]
    assert {a.registry_version for a in added} == {"v2"} and added
    info = "greenwatch_streams_registry_info"
    assert scraped.get_sample_value(info, {"version": "v2"}) == 1.0
    assert scraped.get_sample_value(info, {"version": "v1"}) is None  # no longer exposed
    assert scraped.get_sample_value("greenwatch_streams_registry_swaps_total") == 1.0


def test_frames_of_a_removed_device_become_unknown_device_dead_letters() -> None:
    pipeline = _pipeline(StreamMetrics.create(CollectorRegistry()))
    assert _run(pipeline, pipeline.prepare(_minutes(WATER, 0, 1, 30.0))).rejected == []
    _run(pipeline, pipeline.prepare_registry(edition("v2", without_water=True)))
    rejected = pipeline.prepare(_minutes(WATER, 1, 1, 30.0)).rejected
    assert [r.letter.reason for r in rejected] == ["unknown_device"]


def test_the_windows_the_engine_holds_are_a_metric() -> None:
    scraped = CollectorRegistry()
    pipeline = _pipeline(StreamMetrics.create(scraped))
    held = "greenwatch_streams_windows_held"
    _run(pipeline, pipeline.prepare(_minutes(GAS, 0, 70, 20.0)))  # the day's hours, rebuilt
    assert (scraped.get_sample_value(held, {"kind": "hour"}) or 0) > 0
    assert (scraped.get_sample_value(held, {"kind": "day"}) or 0) > 0
    pipeline.own(set(), 4, T0 + HOUR)  # a rebalance took every partition: state forgotten
    assert scraped.get_sample_value(held, {"kind": "hour"}) == 0.0
    assert scraped.get_sample_value(held, {"kind": "day"}) == 0.0


def test_the_windows_gauge_is_counted_at_most_once_a_second_after_batches() -> None:
    """Counting the held windows walks every device (~1.7 ms at 10 000 devices): a worker
    taking small batches refreshes the gauge once a second, and at once on a rebalance."""
    counted: list[int] = []

    class Counting(Engine):
        def held_windows(self) -> tuple[int, int]:
            counted.append(1)
            return super().held_windows()

    now = [100.0]
    scraped = CollectorRegistry()
    pipeline = Pipeline(edition("v1"), engine_factory=Counting, normalize=normalize_packet,
                        sink=NothingWritten(), store=MemoryStore(),
                        metrics=StreamMetrics.create(scraped), clock=lambda: now[0])  # fmt: skip
    held = "greenwatch_streams_windows_held"
    _run(pipeline, pipeline.prepare(_minutes(GAS, 0, 3, 20.0)))
    assert len(counted) == 1 and (scraped.get_sample_value(held, {"kind": "hour"}) or 0) > 0
    for first in (3, 6, 9):  # within the second: not counted again
        now[0] += 0.2
        _run(pipeline, pipeline.prepare(_minutes(GAS, first, 3, 20.0)))
    assert len(counted) == 1  # main: once per batch
    now[0] += 0.5
    _run(pipeline, pipeline.prepare(_minutes(GAS, 12, 3, 20.0)))
    assert len(counted) == 2
    pipeline.own(set(), 4, T0 + HOUR)  # a rebalance: at once
    assert len(counted) == 3 and scraped.get_sample_value(held, {"kind": "hour"}) == 0.0
