"""Restart hydration: what a restarted worker reads from PostgreSQL to resume late in the day.

Setup: the local stack's PostgreSQL (``greenwatch stack up`` first; never started or stopped
here), a fresh migrated schema dropped at the end, a synthetic registry of ``DEVICES`` flue-gas
CEMS sending 4 factors (SO2, O2, flow, temperature) every minute. An engine processes the day
from 00:00 to ``RESTART`` (China time) and the sink stores its measurements, aggregates and
verdicts, as a worker does. Then a fresh engine (a restart) receives one minute of every
device at ``RESTART`` and is hydrated two ways, over the same rows:

- **minutes**: every hour of the day from its stored minutes (what the worker did before);
- **hourly aggregates**: ``Engine.hydration_plan`` → ``PgStore.closed_hours`` (the stored
  watermark and the hourly aggregates of closed hours) → ``device_hours`` only for the hour
  the batch touches and the hours still open (what ``streams.pipeline`` does now).

Figures: rows returned to the worker and wall time of the reads and of the engine's
hydration, per run and per 10 000 devices (linear: one range per device). The machine is shared
and the figures vary between runs; nothing asserts a time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bench.db import migrated_schema, unreachable
from ingest.hj212 import CHINA_TZ
from runtime.settings import Settings, database_dsn
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.registry import Registry, hash_password, parse_registry
from schemas.verdict import Verdict
from streams.domain.engine import DeviceHour, Engine
from streams.sink import PgSink, SinkBatch, create_pool
from streams.store import PgStore

DEVICES = int(os.environ.get("BENCH_HYDRATION_DEVICES", "100"))
RESTART = datetime(2026, 3, 2, 16, 30, tzinfo=CHINA_TZ)
FACTORS = {"a21026": 20.0, "a19001": 7.0, "a00000": 150.0, "a01012": 90.0}
FLEET = 10_000


def run() -> list[str]:
    dsn = database_dsn(Settings())
    if missing := unreachable(dsn):
        return missing
    registry = _registry()
    with migrated_schema(dsn, "bench") as scoped:
        pool = create_pool(scoped, max_size=1)
        try:
            stored = _store_day(registry, PgSink(pool))
            store = PgStore(pool)
            batch = [_minute(i, f, RESTART) for i in range(DEVICES) for f in FACTORS]
            old = _timed(lambda: _by_minutes(Engine(registry), store, batch))
            new = _timed(lambda: _by_aggregates(Engine(registry), store, batch))
        finally:
            pool.close()
    scale = FLEET / DEVICES
    lines = [f"{DEVICES} devices, {stored} minute rows stored for 00:00–{RESTART:%H:%M}"]
    for name, (rows, seconds) in (("minutes", old), ("hourly aggregates", new)):
        lines.append(
            f"restart at {RESTART:%H:%M} hydrated from {name}: {rows} rows in {seconds:.2f} s"
            f" (~{rows * scale:,.0f} rows, ~{seconds * scale:.0f} s per {FLEET:,} devices)"
        )
    return lines


def _by_minutes(engine: Engine, store: PgStore, batch: list[Measurement]) -> int:
    hours = engine.missing_hours(batch)
    stored = store.device_hours(hours)
    for key in sorted(hours):
        engine.hydrate(key, stored[key])
    return sum(len(rows) for rows in stored.values())


def _by_aggregates(engine: Engine, store: PgStore, batch: list[Measurement]) -> int:
    plan = engine.hydration_plan(batch)
    outlets = {d: f"BENCH-O{d[5:]}" for d, _ in plan.closed}
    closed = store.closed_hours(plan.closed, outlets, engine.skew)
    for device, watermark in sorted(closed.watermarks.items()):
        engine.hydrate_watermark(device, watermark)
    refused: set[DeviceHour] = {
        k for k in sorted(plan.closed) if not engine.hydrate_closed(k, closed.hourly[k])
    }
    hours = set(plan.minutes) | refused
    stored = store.device_hours(hours)
    for key in sorted(hours):
        engine.hydrate(key, stored[key])
    aggregates = sum(len(rows) for rows in closed.hourly.values())
    return aggregates + len(closed.watermarks) + sum(len(rows) for rows in stored.values())


def _timed(work: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    rows = work()
    return rows, time.perf_counter() - started


def _store_day(registry: Registry, sink: PgSink) -> int:
    """Run an engine over every minute from 00:00 to ``RESTART`` and store what it issues,
    one transaction per 10 minutes of the fleet; the number of minute rows stored."""
    engine, stored = Engine(registry), 0
    day = RESTART.replace(hour=0, minute=0)
    for start in range(0, int((RESTART - day) / timedelta(minutes=1)), 10):
        times = [day + timedelta(minutes=start + k) for k in range(10)]
        batch = [_minute(i, f, at) for at in times for i in range(DEVICES) for f in FACTORS]
        outputs = engine.ingest(batch)
        aggregates = [o for o in outputs if isinstance(o, AggregateValue)]
        verdicts = [o for o in outputs if isinstance(o, Verdict)]
        sink.flush(SinkBatch(batch, aggregates, verdicts))
        stored += len(batch)
    return stored


def _minute(index: int, factor: str, at: datetime) -> Measurement:
    return Measurement(
        device_id=_mn(index),
        outlet_id=f"BENCH-O{index:06d}",
        factor=factor,
        factor_as_sent=factor,
        period=PeriodKind.MINUTE,
        period_start=at,
        avg=FACTORS[factor] + (index + at.minute) % 7,
        flag="N",
        received_at=at + timedelta(minutes=1),
    )


def _mn(index: int) -> str:
    return f"BENCH{index:06d}"


def _registry() -> Registry:
    outlets = [
        {"id": f"BENCH-O{i:06d}", "name": f"stack {i}", "medium": "gas",
         "standard": "ULE-coal-power",
         "devices": [{"mn": _mn(i), "password_sha256": hash_password(_mn(i), "pw")}]}
        for i in range(DEVICES)
    ]  # fmt: skip
    return parse_registry(
        {
            "version": "bench-hydration-1",
            "region": {"code": "520000", "name": "bench"},
            "enterprises": [{"id": "BENCH-E", "name": "bench", "region_code": "520100",
                             "industry_code": "4411", "outlets": outlets}],
        }
    )  # fmt: skip
