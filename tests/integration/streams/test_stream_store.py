"""Hydration reads against the real database: a closed hour comes back from ``aggregates``
exactly as the engine issued it, with the device's stored watermark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from psycopg_pool import ConnectionPool

from schemas.measurement import AggregateValue, Measurement, PeriodKind
from streams.domain.daily import HourSummary
from streams.sink import PgSink, SinkBatch
from streams.store import PgStore

CST = timezone(timedelta(hours=8))
HOUR = datetime(2026, 3, 2, 10, tzinfo=CST)


def minute(start: datetime, received_at: datetime) -> Measurement:
    return Measurement(device_id="MN1", outlet_id="O1", factor="a21026", factor_as_sent="a21026",
                       period=PeriodKind.MINUTE, period_start=start, avg=12.5, flag="N",
                       received_at=received_at)  # fmt: skip


def test_closed_hours_give_back_the_issued_aggregate_and_the_stored_watermark(
    sink_pool: ConnectionPool,
) -> None:
    issued = AggregateValue(
        outlet_id="O1", device_id="MN1", factor="a21026", period=PeriodKind.HOUR,
        period_start=HOUR, valid=True, valid_count=58, invalid_count=2,
        flag_counts={"D": 2, "N": 58}, mean=12.345678901234567, min=1.0, max=30.1,
        o2_measured=6.2, o2_reference=6.0, o2_corrected=12.9, device_o2_corrected=13.0,
        flow_std_m3h=36000.5, emission_rate_kgh=0.4444, load_kg=0.4444, registry_version="v1",
    )  # fmt: skip
    received = datetime(2026, 3, 2, 3, 15, tzinfo=UTC)  # 11:15 CST
    minutes = [minute(HOUR + timedelta(minutes=i), received) for i in range(75)]
    future = minute(HOUR + timedelta(hours=1, minutes=50), received)  # a clock far ahead
    PgSink(sink_pool).flush(SinkBatch(measurements=[*minutes, future], aggregates=[issued]))

    found = PgStore(sink_pool).closed_hours(
        [("MN1", HOUR), ("MN1", HOUR + timedelta(hours=1)), ("NOBODY", HOUR)],
        {"MN1": "O1"},
        timedelta(minutes=10),
    )

    assert found.watermarks == {"MN1": HOUR + timedelta(minutes=75)}
    [again] = found.hourly[("MN1", HOUR)]
    assert again == issued and again.period_start.utcoffset() == timedelta(hours=8)
    assert HourSummary.of(again) == HourSummary.of(issued)
    assert found.hourly[("MN1", HOUR + timedelta(hours=1))] == []
