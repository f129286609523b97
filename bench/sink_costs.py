"""What the sink's history keeping costs (issue 15 item 3), measured in the pipeline benchmark.

Two fresh migrated schemas, written batch by batch in turn with the same rows by the real
``PgSink`` (so load from elsewhere on the machine falls on both alike):

1. **Trail and lock triggers** (migration 009): ``gw_trail`` on ``verdicts`` (each insert or
   update appends to the hash chain of ``audit_trail``) and ``gw_after_lock`` on
   ``aggregates`` (each write looks up ``period_locks``). One schema keeps them, the other has
   them disabled (``ALTER TABLE … DISABLE TRIGGER``, possible for the owner in a throwaway
   schema only) after a first, untimed batch created the chunks: on TimescaleDB the
   statement recurses to the chunks that exist, while a chunk created later gets the
   hypertable's triggers enabled (before the p99 slice the figure was taken that way and
   showed no cost: both schemas ran the triggers). Figures: hourly values + verdicts per
   second with and without, the cost, and the milliseconds per 1 000 verdicts alone.
2. **Revision tables** (migration 007): a batch that re-sends stored minutes with other values
   (staging, the replaced versions copied into ``measurement_revisions``, the upsert), against
   a batch of new keys (one ``COPY`` straight into ``measurements``). Figure: rows/s of each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.pipeline_fleet import DAY0
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.sink import PgSink, SinkBatch, create_pool

OUTLETS = 1000
"""Outlets per batch: one hourly value and one verdict each (an hour closing for 1 000
stacks); ``ROUNDS`` batches, each a new hour."""
ROUNDS = 6
MINUTES = 16_000
"""Minute measurements per batch in the revision comparison (the worker's batch)."""


def measure(schema: Callable[[], str]) -> list[str]:
    """The two cost lines (see the module docstring)."""
    with_triggers, without = schema(), schema()
    with create_pool(with_triggers) as a, create_pool(without) as b:
        a.wait(timeout=30)
        b.wait(timeout=30)
        on, off = PgSink(a), PgSink(b)
        warm_up = _outputs(DAY0 - timedelta(hours=1))  # creates the chunks the rounds write
        on.flush(warm_up)
        off.flush(warm_up)
        with psycopg.connect(without, autocommit=True) as conn:
            conn.execute("ALTER TABLE verdicts DISABLE TRIGGER gw_trail")
            conn.execute("ALTER TABLE aggregates DISABLE TRIGGER gw_after_lock")
        seconds_on = seconds_off = verdicts_on = verdicts_off = 0.0
        for hour in range(ROUNDS):
            batch = _outputs(DAY0 + timedelta(hours=hour))
            seconds_on += on.flush(batch).seconds
            seconds_off += off.flush(batch).seconds
        for hour in range(ROUNDS):
            alone = SinkBatch(verdicts=_outputs(DAY0 + timedelta(hours=ROUNDS + hour)).verdicts)
            verdicts_off += off.flush(alone).seconds
            verdicts_on += on.flush(alone).seconds
        rows = ROUNDS * OUTLETS * 2
        new_s = resent_s = 0.0
        for minute in range(ROUNDS):
            first = _minutes(minute, 10.0)
            new_s += off.flush(SinkBatch(measurements=first)).seconds
            resent_s += off.flush(SinkBatch(measurements=_minutes(minute, 11.0))).seconds
    cost = 1 - (rows / seconds_on) / (rows / seconds_off)
    return [
        f"trail + lock triggers (migration 009): hourly values + verdicts {rows / seconds_on:,.0f}"
        f" rows/s with them, {rows / seconds_off:,.0f} without ({cost:+.0%} cost)",
        f"verdict upsert (sink flush of verdicts alone): {verdicts_on / ROUNDS * 1000:,.0f} ms"
        f" per {OUTLETS:,} verdicts with the trail trigger, {verdicts_off / ROUNDS * 1000:,.0f}"
        " ms without",
        f"revision tables (migration 007): re-sent minutes (staging + revisions + upsert) "
        f"{ROUNDS * MINUTES / resent_s:,.0f} rows/s vs new minutes (COPY) "
        f"{ROUNDS * MINUTES / new_s:,.0f} rows/s",
    ]


def _outputs(hour: datetime) -> SinkBatch:
    aggregates, verdicts = [], []
    for index in range(OUTLETS):
        outlet = f"BENCH-O{index:05d}"
        aggregates.append(
            AggregateValue(outlet_id=outlet, device_id=f"BENCH{index:06d}", factor="a21026",
                           period=PeriodKind.HOUR, period_start=hour, valid=True,
                           valid_count=60, invalid_count=0, flag_counts={"N": 60},
                           mean=20.0 + index % 7, registry_version="bench")
        )  # fmt: skip
        verdicts.append(
            Verdict(enterprise_id=f"BENCH-E{index // 10:04d}", outlet_id=outlet,
                    factor="a21026", rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR,
                    period_start=hour, value=20.0 + index % 7, limit=35.0,
                    ratio=(20.0 + index % 7) / 35.0, status=VerdictStatus.COMPLIANT,
                    evidence=_evidence(), registry_version="bench")
        )  # fmt: skip
    return SinkBatch(aggregates=aggregates, verdicts=verdicts)


def _evidence() -> dict[str, Any]:
    return {"valid_minutes": 60, "flags": {"N": 60}}


def _minutes(minute: int, value: float) -> list[Measurement]:
    template = Measurement(
        device_id="", outlet_id="", factor="a21026", factor_as_sent="a21026",
        period=PeriodKind.MINUTE, period_start=DAY0, avg=value, flag="N",
        received_at=datetime.now(UTC),
    )  # fmt: skip
    start = DAY0 + timedelta(hours=12, minutes=minute)
    return [
        template._replace(device_id=f"BENCH{index:06d}", outlet_id=f"BENCH-O{index:05d}",
                          period_start=start)
        for index in range(MINUTES)
    ]  # fmt: skip
