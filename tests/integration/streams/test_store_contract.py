"""One contract, two stores: ``MemoryStore`` (the replay's) and ``PgStore`` (the worker's, over
the real PostgreSQL) answer every ``Store`` read the same way for the same writes, so
``Engine.prepare`` hydrates replay and streaming alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from ingest.hj212 import CHINA_TZ
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.store import MemoryStore, Store
from streams.replay_spill import SpilledAggregates, SpilledHours
from streams.sink import PgSink, SinkBatch
from streams.store import PgStore

HOUR = timedelta(hours=1)
H10 = datetime(2026, 3, 2, 10, tzinfo=CHINA_TZ)
RECEIVED = datetime(2026, 3, 2, 3, 15, tzinfo=UTC)  # 11:15 China time
SKEW = timedelta(minutes=10)


def minute(device: str, start: datetime, avg: float = 12.5) -> Measurement:
    return Measurement(device_id=device, outlet_id="O1", factor="a21026",
                       factor_as_sent="a21026", period=PeriodKind.MINUTE, period_start=start,
                       avg=avg, flag="N", received_at=RECEIVED)  # fmt: skip


def hourly(start: datetime, load: float) -> AggregateValue:
    return AggregateValue(outlet_id="O1", device_id="MN1", factor="a21026",
                          period=PeriodKind.HOUR, period_start=start, valid=True, valid_count=60,
                          invalid_count=0, flag_counts={"N": 60}, mean=12.5, min=1.0, max=30.0,
                          load_kg=load, registry_version="v1")  # fmt: skip


def daily(day: datetime, load: float | None) -> AggregateValue:
    return AggregateValue(outlet_id="O1", device_id="MN1", factor="a21026",
                          period=PeriodKind.DAY, period_start=day, valid=True, valid_count=24,
                          invalid_count=0, flag_counts={"N": 24}, mean=12.5, load_kg=load,
                          registry_version="v1")  # fmt: skip


def daily_verdict(day: datetime, evidence: dict[str, object]) -> Verdict:
    return Verdict(enterprise_id="E1", outlet_id="O1", factor="a21026", rule=Rule.DAILY_LOAD,
                   period=PeriodKind.DAY, period_start=day, value=9.0, limit=10.0, ratio=0.9,
                   status=VerdictStatus.WARNING, evidence=evidence,
                   registry_version="v1")  # fmt: skip


SUBSTITUTED = {
    "measured_load_kg": 7.25,
    "substituted_load_kg": 1.25,
    "substituted_hours": [
        {"hour": "2026-03-02T10:00:00+08:00", "rate_kgh": 0.5, "method": "hj75_max180"},
        {"hour": "2026-03-02T11:00:00+08:00", "rate_kgh": 0.5, "method": "hj75_max180"},
        {"hour": "2026-03-02T12:00:00+08:00", "rate_kgh": 0.25, "method": "hj75_max720"},
    ],
    "unsubstituted_hours": 1,
}
VERDICTS = [
    daily_verdict(datetime(2026, 3, 1, tzinfo=CHINA_TZ), {"daily_load_kg": 9.5}),
    daily_verdict(datetime(2026, 3, 2, tzinfo=CHINA_TZ), SUBSTITUTED),
]
MINUTES = [minute("MN1", H10 + timedelta(minutes=i)) for i in range(75)]
RESENT = minute("MN1", H10 + timedelta(minutes=3), avg=99.0)  # the later write wins
AHEAD = minute("MN1", H10 + timedelta(hours=1, minutes=50))  # a clock far ahead: no watermark
OTHER = minute("MN2", H10 + timedelta(minutes=5))
AGGREGATES = [
    hourly(H10, 0.4),
    daily(datetime(2026, 3, 1, tzinfo=CHINA_TZ), 9.5),
    daily(datetime(2026, 3, 2, tzinfo=CHINA_TZ), 7.25),
    daily(datetime(2025, 12, 31, tzinfo=CHINA_TZ), 1.0),
]


@pytest.fixture(params=["memory", "spilled", "spilled_aggregates", "postgres"])
def written(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store holding MINUTES, RESENT, AHEAD, OTHER and AGGREGATES."""
    measurements = [*MINUTES, RESENT, AHEAD, OTHER]
    if request.param == "spilled_aggregates":
        # the replay's store since issue 15's fourth slice: hourly aggregates in a file too,
        # one device-hour held as objects (every other read comes from the file)
        store = MemoryStore(cold=SpilledHours(), hourly=SpilledAggregates(held=1))
        store.add(measurements)
        store.record([*AGGREGATES, *VERDICTS])
        yield store
        return
    if request.param in ("memory", "spilled"):
        # "spilled": the replay's bounded store, the minute values in its file
        spilled = request.param == "spilled"
        store = MemoryStore(cold=SpilledHours()) if spilled else MemoryStore()
        store.add(measurements)
        store.record([*AGGREGATES, *VERDICTS])
        yield store
        return
    pool: ConnectionPool = request.getfixturevalue("sink_pool")
    batch = SinkBatch(measurements=measurements, aggregates=AGGREGATES, verdicts=VERDICTS)
    PgSink(pool).flush(batch)
    yield PgStore(pool)


def test_device_hours_give_back_the_minutes_in_time_order_last_write_winning(
    written: Store,
) -> None:
    found = written.device_hours([("MN1", H10), ("MN1", H10 + 3 * HOUR), ("NOBODY", H10)])

    assert set(found) == {("MN1", H10), ("MN1", H10 + 3 * HOUR), ("NOBODY", H10)}
    hour = found[("MN1", H10)]
    assert [m.period_start for m in hour] == [H10 + timedelta(minutes=i) for i in range(60)]
    assert hour[3].avg == 99.0 and hour[4].avg == 12.5
    assert found[("MN1", H10 + 3 * HOUR)] == [] and found[("NOBODY", H10)] == []


def test_closed_hours_give_back_the_issued_aggregate_and_the_watermark(written: Store) -> None:
    found = written.closed_hours(
        [("MN1", H10), ("MN1", H10 + HOUR), ("MN2", H10), ("NOOUTLET", H10)],
        {"MN1": "O1", "MN2": "O1"},
        SKEW,
    )

    assert found.watermarks == {
        "MN1": H10 + timedelta(minutes=75),
        "MN2": H10 + timedelta(minutes=6),
    }
    assert found.hourly[("MN1", H10)] == [AGGREGATES[0]]
    assert found.hourly[("MN1", H10)][0].period_start.utcoffset() == timedelta(hours=8)
    assert found.hourly[("MN1", H10 + HOUR)] == [] and found.hourly[("MN2", H10)] == []
    assert ("NOOUTLET", H10) not in found.hourly


def test_stored_devices_are_those_with_values_in_their_span_a_clock_ahead_too(
    written: Store,
) -> None:
    outlets = {"MN1": "O1", "MN2": "O1", "NOBODY": "O1"}
    spans = {
        "MN1": (H10 + HOUR, H10 + 2 * HOUR),  # only AHEAD there: beyond the skew, still data
        "MN2": (H10 + 2 * HOUR, H10 + 3 * HOUR),  # its one minute is at 10:05
        "NOBODY": (H10, H10 + HOUR),
    }
    assert written.stored_devices(spans, outlets) == {"MN1"}
    later = {"MN1": (H10 + 5 * HOUR, H10 + 6 * HOUR), "MN2": (H10, H10 + HOUR)}
    assert written.stored_devices(later, outlets) == {"MN2"}


def test_closed_hours_of_another_outlet_are_not_this_ones(written: Store) -> None:
    found = written.closed_hours([("MN1", H10)], {"MN1": "O2"}, SKEW)

    assert found.hourly[("MN1", H10)] == []


def test_daily_loads_per_outlet_factor_and_china_year(written: Store) -> None:
    keys = [("O1", "a21026", 2026), ("O1", "a21026", 2025), ("O9", "x", 2026)]
    found = {key: year.loads for key, year in written.daily_years(keys).items()}

    assert dict(found[("O1", "a21026", 2026)]) == {
        datetime(2026, 3, 1).date(): 9.5,
        datetime(2026, 3, 2).date(): 7.25,
    }
    assert dict(found[("O1", "a21026", 2025)]) == {datetime(2025, 12, 31).date(): 1.0}
    assert dict(found[("O9", "x", 2026)]) == {}


def test_daily_substitutions_come_from_the_stored_daily_load_verdicts(written: Store) -> None:
    keys = [("O1", "a21026", 2026), ("O9", "x", 2026)]
    found = {key: year.substituted for key, year in written.daily_years(keys).items()}

    assert dict(found[("O1", "a21026", 2026)]) == {
        datetime(2026, 3, 2).date(): SubstitutedLoad(
            (("hj75_max180", 2, 1.0), ("hj75_max720", 1, 0.25)), unsubstituted=1
        )
    }
    assert dict(found[("O9", "x", 2026)]) == {}


def test_recent_gives_the_latest_span_of_each_device_leaving_out_a_clock_far_ahead(
    written: Store,
) -> None:
    found = written.recent(
        {"MN1": H10 + HOUR, "MN2": H10, "NOBODY": H10}, timedelta(minutes=10), SKEW
    )

    assert set(found) == {"MN1", "MN2", "NOBODY"}
    latest = H10 + timedelta(minutes=74)  # AHEAD (11:50, received 11:15) is beyond the skew
    assert [m.period_start for m in found["MN1"]] == [
        latest - timedelta(minutes=9 - i) for i in range(10)
    ]
    assert found["MN1"][0].period_start.utcoffset() == timedelta(hours=8)
    assert [m.period_start for m in found["MN2"]] == [OTHER.period_start]
    assert found["NOBODY"] == []


RATES = [3.0, 9.0, None, 4.0, 7.0, 2.0]  # None: an invalid hour
RATE_DAY = datetime(2026, 4, 2, tzinfo=CHINA_TZ)


def rated(index: int, rate: float | None) -> AggregateValue:
    start = RATE_DAY - timedelta(hours=len(RATES) - index)
    return AggregateValue(outlet_id="O1", device_id="MN1", factor="a21026",
                          period=PeriodKind.HOUR, period_start=start, valid=rate is not None,
                          valid_count=60 if rate is not None else 10, invalid_count=0,
                          emission_rate_kgh=rate if rate is not None else 99.0,
                          registry_version="v1")  # fmt: skip


@pytest.fixture(params=["memory", "spilled", "postgres"])
def rates_written(request: pytest.FixtureRequest) -> Iterator[Store]:
    hours = [rated(i, r) for i, r in enumerate(RATES)]
    late = rated(0, 1.0).model_copy(update={"period_start": RATE_DAY + HOUR})  # after the day
    if request.param == "memory":
        store = MemoryStore()
        store.record([*hours, late])
        yield store
        return
    pool: ConnectionPool = request.getfixturevalue("sink_pool")
    PgSink(pool).flush(SinkBatch(aggregates=[*hours, late]))
    yield PgStore(pool)


def test_rate_histories_give_the_staircase_of_the_valid_rates_before_the_day(
    rates_written: Store,
) -> None:
    key = ("MN1", "O1", "a21026", RATE_DAY)
    found = rates_written.rate_histories([key, ("MN9", "O1", "a21026", RATE_DAY)])

    stored = found[key]
    assert stored.steps == ((0, 2.0), (1, 7.0), (3, 9.0))  # invalid 99.0 left out
    assert stored.count == 5 and stored.last_valid == RATE_DAY - HOUR
    assert stored.quarter_valid == 5  # 2 April: the hours since 1 April 18:00 are this quarter
    assert stored.quarter_first == RATE_DAY - 6 * HOUR
    assert found[("MN9", "O1", "a21026", RATE_DAY)].count == 0
