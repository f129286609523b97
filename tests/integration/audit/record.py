"""A real record for reproduce and export tests: a day of minute measurements of the demo
thermal power stack (DEMO-TP01-G1), run through the domain engine exactly as the worker does
and written by the worker's own sink (``streams.sink.PgSink``): measurements, hourly and daily
values and verdicts, as a worker would have left them."""

from __future__ import annotations

from datetime import datetime, timedelta

from audit_data import ROOT

from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.registry import Registry, load_registry
from schemas.verdict import Verdict
from streams.domain.engine import Engine
from streams.domain.store import MemoryStore
from streams.sink import PgSink, SinkBatch, create_pool

DEVICE = "DEMO-TP01-G1"
OUTLET = "E-TP-01-G1"


def demo_registry() -> Registry:
    return load_registry(ROOT / "schemas" / "examples" / "demo-province.yaml")


def minutes(day: datetime, hours: int = 24) -> list[Measurement]:
    """Minute values of every gas factor; SO2 (a21026, limit 35 at 6% O2) over the limit from
    10:00 to 11:59 China time, near it at 14:00."""
    found: list[Measurement] = []
    for hour in range(hours):
        so2 = 60.0 if hour in (10, 11) else 25.0 if hour == 14 else 12.0
        for minute in range(60):
            at = day + timedelta(hours=hour, minutes=minute)
            values = {
                "a21026": so2 + (minute % 7) * 0.1,
                "a21002": 30.0 + (hour % 5),
                "a34013": 4.0,
                "a19001": 6.0 + (minute % 2) * 0.4,
                "a00000": 120.0,
                "a01012": 90.0,
                "a01013": 0.5,
                "a01014": 8.0,
            }
            for factor, value in values.items():
                found.append(
                    Measurement(
                        device_id=DEVICE,
                        outlet_id=OUTLET,
                        factor=factor,
                        factor_as_sent=factor,
                        period=PeriodKind.MINUTE,
                        period_start=at,
                        avg=round(value, 3),
                        flag="N",
                        received_at=at + timedelta(seconds=3),
                    )
                )
    return found


def write_record(dsn: str, registry: Registry, measurements: list[Measurement]) -> list[Verdict]:
    """Run the engine over ``measurements`` and store everything with the worker's sink;
    returns the verdicts issued."""
    engine = Engine(registry)
    store = MemoryStore()
    engine.prepare(measurements, store)
    store.add(measurements)
    outputs = [*engine.ingest(measurements), *engine.close_all()]
    verdicts = [o for o in outputs if isinstance(o, Verdict)]
    aggregates = [o for o in outputs if isinstance(o, AggregateValue)]
    pool = create_pool(dsn)
    try:
        batch = SinkBatch(measurements=measurements, aggregates=aggregates, verdicts=verdicts)
        PgSink(pool).flush(batch)
    finally:
        pool.close()
    return verdicts
